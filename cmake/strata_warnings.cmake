# strata_warnings: an INTERFACE target carrying the project's warning and sanitizer flags.
# Every strata target links it privately; it is exported only as a build-time dependency.
include_guard(GLOBAL)

add_library(strata_warnings INTERFACE)
target_compile_options(strata_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(STRATA_WERROR)
  target_compile_options(strata_warnings INTERFACE -Werror)
endif()

if(STRATA_SANITIZE)
  if(NOT STRATA_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "STRATA_SANITIZE must be 'address,undefined' or 'thread', "
                        "not '${STRATA_SANITIZE}'")
  endif()
  # Sanitizers apply to every target, tests and examples included, so set them globally.
  add_compile_options(-fsanitize=${STRATA_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${STRATA_SANITIZE})
  if(STRATA_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
