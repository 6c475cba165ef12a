# Finds CAF 0.17 as Debian's libcaf-dev ships it: headers and shared libraries but no CMake
# config, Find module or pkg-config file. Defines the imported targets CAF::core and, when
# libcaf_io is there, CAF::io. Installed with strata, so that strataConfig.cmake finds CAF the
# same way for its users. A CAF elsewhere (e.g. the ThreadSanitizer build of .ci/run) is found
# first when its prefix is in CMAKE_PREFIX_PATH.
include_guard(GLOBAL)

# STRATA_CAF_HINTS: where the CAF that strata was built with lives (set by strataConfig.cmake),
# searched after CMAKE_PREFIX_PATH and before the system paths.
find_path(CAF_INCLUDE_DIR caf/all.hpp HINTS ${STRATA_CAF_HINTS} PATH_SUFFIXES include)
find_library(CAF_CORE_LIBRARY caf_core HINTS ${STRATA_CAF_HINTS} PATH_SUFFIXES lib)
find_library(CAF_IO_LIBRARY caf_io HINTS ${STRATA_CAF_HINTS} PATH_SUFFIXES lib)
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY)
  message(FATAL_ERROR "CAF 0.17 not found: install Debian's libcaf-dev "
                      "(scripts/test.sh does so)")
endif()

find_package(Threads REQUIRED)

if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
if(CAF_IO_LIBRARY AND NOT TARGET CAF::io)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()
