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
  # -O1 and line tables only (-g1: stack traces keep their functions, files and lines),
  # after the build type's flags, so they win: a test compiled with -O2 -g and ASan+UBSan
  # took 87 s here, with -O1 -g1 36 s, and CI builds everything twice sanitized on 2 cores
  # (its budget is 60 minutes). -O1 is what the sanitizers' docs advise for speed at run time.
  add_compile_options(-fsanitize=${STRATA_SANITIZE} -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=${STRATA_SANITIZE})
  if(STRATA_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
