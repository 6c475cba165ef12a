# Installs a strata build tree into a fresh prefix, then configures, builds and runs the
# consumer project against it. Fails (exit code 1) on the first step that fails.
#
#   cmake -DSTRATA_BINARY_DIR=<strata build> -DWORK_DIR=<scratch dir>
#         -DCONSUMER_SOURCE_DIR=<consumer/> -DGENERATOR=<generator> [-DMAKE_PROGRAM=<ninja>]
#         [-DCXX_COMPILER=<c++>] [-DCXX_FLAGS=<flags>] [-DBUILD_TYPE=<config>]
#         -P run_consumer.cmake
cmake_minimum_required(VERSION 3.22)

foreach(var IN ITEMS STRATA_BINARY_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR)
  if(NOT ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
# Fresh every run: a stale prefix or consumer cache could hide a broken install.
file(REMOVE_RECURSE "${prefix}" "${consumer_build}")

# Runs a command, failing the script with `what` if it fails. Output goes to ctest's log.
function(run what)
  message(STATUS "${what}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc TIMEOUT 300)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${what} failed (${rc})")
  endif()
endfunction()

set(config_args "")
if(BUILD_TYPE)
  set(config_args --config "${BUILD_TYPE}")
endif()
run("install strata" "${CMAKE_COMMAND}" --install "${STRATA_BINARY_DIR}" --prefix "${prefix}"
    ${config_args})

set(configure_args -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
run("configure the consumer" "${CMAKE_COMMAND}" ${configure_args})
run("build the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# A multi-config generator puts the binary in a per-config folder.
find_program(consumer_exe strata_consumer PATHS "${consumer_build}" "${consumer_build}/${BUILD_TYPE}"
             NO_DEFAULT_PATH REQUIRED)
run("run the consumer" "${consumer_exe}")
