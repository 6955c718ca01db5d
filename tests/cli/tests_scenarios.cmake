# The scenario battery's later additions, through the CLI: proxy-flow-reset finds the use of
# the freed flow and prints its replay command; its fix, clear-vs-dispatch and the history
# regressions run clean under fine.
kqsim_add_cli_test(run_proxy_flow_reset_fine ARGS "run proxy-flow-reset --design fine --schedules 300 --seed 1"
  EXIT_CODE 1
  STDOUT "use-after-free: use after free: proxy flow used after it was freed.*freed by thread.*replay: kqsim replay proxy-flow-reset --design fine --seed [0-9]+")
kqsim_add_cli_test(run_proxy_flow_reset_fixed_fine
  ARGS "run proxy-flow-reset-fixed --design fine --schedules 300 --seed 1"
  STDOUT "verdict: clean \\(expected clean: as expected\\)")
kqsim_add_cli_test(run_clear_vs_dispatch_fine ARGS "run clear-vs-dispatch --design fine --schedules 300 --seed 1"
  STDOUT "verdict: clean \\(expected clean: as expected\\)")
kqsim_add_cli_test(list_history_scenarios ARGS "list"
  STDOUT "exit-vs-scan.*fork-vs-kqclose.*proxy-flow-reset.*proxy-flow-reset-fixed.*register-vs-close")
