# kqsim bench delivery: the section runs and prints its table (figures are not tested: they
# are measurements; tests/kern/delivery_test.cc checks the deterministic step counts).
kqsim_add_cli_test(bench_list_delivery ARGS "bench --list" STDOUT "delivery +delivery cost per call")
kqsim_add_cli_test(bench_quick_delivery ARGS "bench delivery --quick"
  STDOUT "pipes +fine steps +poll steps +fine ns +poll ns +Linux poll\\(\\) ns +Linux epoll_wait\\(\\) ns.50 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +([0-9]+|n/a) +([0-9]+|n/a).200 +[0-9]+")
kqsim_add_cli_test(list_poll_design ARGS "list" STDOUT "poll +measurement design")

# KQSIM_DELIVERY_SVG: the plot is written and is SVG; an unwritable path is one error line, exit 1.
add_test(NAME cli.bench_delivery_svg
  COMMAND "${CMAKE_COMMAND}" "-DKQSIM=$<TARGET_FILE:kqsim>" "-DOUT=${CMAKE_CURRENT_BINARY_DIR}/delivery_quick.svg"
    -P "${CMAKE_CURRENT_SOURCE_DIR}/cli/delivery_svg_test.cmake")
set_tests_properties(cli.bench_delivery_svg PROPERTIES TIMEOUT 60 LABELS "cli;sanitizer-short")
