# Runs the kqsim binary once and checks what it did. Used by kqsim_add_cli_test() in
# tests/CMakeLists.txt; run as
#   cmake -DKQSIM=<path> -DARGS="<args>" [-DEXIT_CODE=<n>] [-DSTDOUT=<regex>]
#         [-DSTDERR=<regex>] [-DSTDERR_LINES=<n>] -P cli_test.cmake
# ARGS is split like a POSIX shell would. One trailing newline is stripped from stdout and
# stderr before matching, so "^...$" matches a whole one-line output.

if(NOT KQSIM)
  message(FATAL_ERROR "cli_test.cmake: KQSIM (path of the kqsim binary) is not set")
endif()
if(NOT DEFINED EXIT_CODE OR EXIT_CODE STREQUAL "")
  set(EXIT_CODE 0)
endif()

separate_arguments(_args UNIX_COMMAND "${ARGS}")
execute_process(
  COMMAND "${KQSIM}" ${_args}
  RESULT_VARIABLE _rc
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _err)

string(REGEX REPLACE "\n$" "" _out "${_out}")
string(REGEX REPLACE "\n$" "" _err "${_err}")

set(_failures "")
if(NOT _rc STREQUAL EXIT_CODE)
  string(APPEND _failures "  exit code: expected ${EXIT_CODE}, got ${_rc}\n")
endif()
if(NOT STDOUT STREQUAL "" AND NOT _out MATCHES "${STDOUT}")
  string(APPEND _failures "  stdout does not match: ${STDOUT}\n")
endif()
if(NOT STDERR STREQUAL "" AND NOT _err MATCHES "${STDERR}")
  string(APPEND _failures "  stderr does not match: ${STDERR}\n")
endif()
if(NOT DEFINED STDERR_LINES OR STDERR_LINES STREQUAL "")
  # not checked
elseif(_err STREQUAL "")
  if(NOT STDERR_LINES EQUAL 0)
    string(APPEND _failures "  stderr: expected ${STDERR_LINES} line(s), got none\n")
  endif()
else()
  string(REGEX MATCHALL "\n" _newlines "${_err}")
  list(LENGTH _newlines _lines)
  math(EXPR _lines "${_lines} + 1")
  if(NOT _lines EQUAL STDERR_LINES)
    string(APPEND _failures "  stderr: expected ${STDERR_LINES} line(s), got ${_lines}\n")
  endif()
endif()

if(_failures)
  message(FATAL_ERROR "kqsim ${ARGS}\n${_failures}"
                      "--- stdout ---\n${_out}\n--- stderr ---\n${_err}\n--------------")
endif()
message(STATUS "kqsim ${ARGS}: exit ${_rc} as expected")
