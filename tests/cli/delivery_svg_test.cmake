# Runs `kqsim bench delivery --quick` with KQSIM_DELIVERY_SVG set (see tests_delivery.cmake):
#   cmake -DKQSIM=<kqsim> -DOUT=<file.svg> -P delivery_svg_test.cmake
file(REMOVE "${OUT}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "KQSIM_DELIVERY_SVG=${OUT}" "${KQSIM}" bench delivery --quick
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "plot written to ")
  message(FATAL_ERROR "no 'plot written to' note:\n${out}")
endif()
file(READ "${OUT}" svg)
if(NOT svg MATCHES "^<\\?xml" OR NOT svg MATCHES "</svg>\n$")
  message(FATAL_ERROR "${OUT} is not an SVG document")
endif()
string(REGEX MATCHALL "<polyline" lines "${svg}")
list(LENGTH lines n)
# steps: fine, poll; time: fine, poll, and Linux poll()/epoll_wait() where measurable.
if(n LESS 4 OR n GREATER 6)
  message(FATAL_ERROR "expected 4 to 6 polylines in ${OUT}, got ${n}")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" -E env "KQSIM_DELIVERY_SVG=/nonexistent-dir/x.svg" "${KQSIM}" bench delivery
  --quick RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX REPLACE "\n$" "" err "${err}")
if(NOT rc EQUAL 1 OR NOT err MATCHES "^kqsim bench: section delivery failed: cannot write the plot to '/nonexistent-dir/x.svg'$")
  message(FATAL_ERROR "unwritable path: exit ${rc}, stderr:\n${err}")
endif()
message(STATUS "delivery svg: ${n} polylines; unwritable path refused")
