# kqsim run --mode live (fuzz/live.h, tools/kqsim/live_options.cc): the verb's live path
# and its usage errors. Figures and interleavings are not tested.
kqsim_add_cli_test(live_run_fine ARGS "run kern-57945 --design fine --mode live --iterations 20"
  STDOUT "^kern-57945 under fine, live: 20 iterations in .*2 OS threads \\(1 copy\\).*verdict: clean; 0 of 20")
kqsim_add_cli_test(live_run_threads ARGS "run close-vs-knote --design fine --mode live --iterations 5 --threads 6 --chaos 0.05 --seed 3"
  STDOUT "5 iterations .* 6 OS threads \\(2 copies\\), chaos 0.05 \\([0-9]+ delays\\), seed 3")
kqsim_add_cli_test(live_run_duration ARGS "run stale-after-delete --design giant --mode live --duration 0.2"
  STDOUT "under giant, live: [1-9][0-9]* iterations")
# The reversal can also meet as a real deadlock in an iteration (found and reported, locks/live_waiters.h).
kqsim_add_cli_test(live_run_reversal ARGS "run feldman-lor --design global --mode live --iterations 3" EXIT_CODE 1
  STDOUT "verdict: (deadlock, )?lock-order-reversal.*\\(from the witness\\).*lock order reversal:")
# With chaos, feldman-lor under global deadlocks for real in a few iterations of a hundred: the run
# still finishes with its verdict (a stall would end it with no verdict on stdout).
kqsim_add_cli_test(live_run_deadlocks_finish
  ARGS "run feldman-lor --design global --mode live --iterations 300 --chaos 0.05 --stall-timeout 20" EXIT_CODE 1
  STDOUT "300 iterations .*verdict: (deadlock, )?lock-order-reversal; [0-9]+ of 300 iterations failed an oracle or deadlocked")
kqsim_add_cli_test(live_run_profile ARGS "run kq-in-kq --design fine --mode live --iterations 5 --profile"
  STDOUT "lock profile \\(whole run, ns\\):.*kqueue")
kqsim_add_cli_test(live_bad_mode ARGS "run kern-57945 --mode fast" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --mode: unknown mode 'fast' \\(modes: deterministic, live\\)$")
kqsim_add_cli_test(live_option_without_live ARGS "run kern-57945 --iterations 5" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --iterations needs --mode live$")
kqsim_add_cli_test(live_deterministic_option ARGS "run kern-57945 --mode live --schedules 5" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim run: --schedules does not apply to --mode live")
kqsim_add_cli_test(live_access_points_refused ARGS "run kern-57945 --mode live --access-points" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim run: --access-points does not apply to --mode live")
kqsim_add_cli_test(live_bad_threads ARGS "run kern-57945 --mode live --threads 3" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --threads 3 is not a positive multiple of kern-57945's 2 threads$")
kqsim_add_cli_test(live_bad_chaos ARGS "run kern-57945 --mode live --chaos 1.5" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --chaos: 1.5 is not between 0 and 1$")
kqsim_add_cli_test(live_both_bounds ARGS "run kern-57945 --mode live --iterations 5 --duration 1" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim run: --iterations and --duration: give one of them$")
kqsim_add_cli_test(live_bad_duration ARGS "run kern-57945 --mode live --duration soon" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --duration: 'soon' is not a number$")
kqsim_add_cli_test(live_unknown_scenario ARGS "run nosuch --mode live" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: unknown scenario 'nosuch'")
# kqsim bench live: the section runs (figures are not tested).
kqsim_add_cli_test(bench_quick_live ARGS "bench live --quick"
  STDOUT "Live kevent cycles per second.*giant.*global.*fine.*none +skipped.*Lock profile, fine with [0-9]+ threads")
