# gateway_browser_npm_ci: copies the browser test (package.json, package-lock.json and the
# script) from SOURCE_DIR to WORK_DIR in the build tree and runs `npm ci` there, so that
# node_modules never lands in the source tree. Fails with what to install when Node.js or npm
# is missing (scripts/test.sh installs them).
#
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -P npm_ci.cmake
foreach(var SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_ci.cmake: -D${var}=... is required")
  endif()
endforeach()
find_program(node_program node)
find_program(npm_program npm)
if(NOT node_program OR NOT npm_program)
  message(FATAL_ERROR "the browser test needs Node.js 18+ and npm, and node or npm is not on "
                      "PATH: apt-get install nodejs npm (scripts/test.sh installs them)")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")
file(COPY "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json"
          "${SOURCE_DIR}/browser.test.mjs"
     DESTINATION "${WORK_DIR}")
# --ignore-scripts: no install scripts run (playwright-core has none; it downloads no browser).
execute_process(
  COMMAND "${npm_program}" ci --ignore-scripts --no-audit --no-fund --loglevel=error
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE rc
  TIMEOUT 240)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci in ${WORK_DIR} failed: ${rc}")
endif()
