# Live mode end to end (docs/live.md) and the delivery bench's real pipes (docs/delivery.md).

# Every scenario runs live, the forking ones and proxy-flow-reset included.
kqsim_add_cli_test(live_fork_vs_kqclose ARGS "run fork-vs-kqclose --design fine --mode live --iterations 50 --threads 4 --chaos 0.01"
  STDOUT "fork-vs-kqclose under fine, live: 50 iterations .* 4 OS threads \\(2 copies\\).*verdict: clean")
kqsim_add_cli_test(live_exit_vs_scan ARGS "run exit-vs-scan --design giant --mode live --iterations 50 --threads 4"
  STDOUT "verdict: clean; 0 of 50 iterations failed")
kqsim_add_cli_test(live_proxy_flow_reset_fixed ARGS "run proxy-flow-reset-fixed --design fine --mode live --iterations 100 --threads 6 --chaos 0.02"
  STDOUT "verdict: clean")
# The unfixed proxy: a use-after-free live (about 40% of iterations fail with these
# settings; 300 iterations), exit status 1, naming the live threads.
kqsim_add_cli_test(live_proxy_flow_reset ARGS "run proxy-flow-reset --design fine --mode live --iterations 300 --threads 6 --chaos 0.02"
  EXIT_CODE 1 STDOUT "verdict: use-after-free;.*freed by thread .cpu[0-9]+.")

# bench delivery raises the soft RLIMIT_NOFILE to the hard limit: with a soft limit of 64,
# 200 FIFOs still get Linux figures (numbers, not n/a).
add_test(NAME cli.bench_delivery_raises_nofile
  COMMAND sh -c "ulimit -Sn 64 && exec \"$0\" bench delivery --quick" "$<TARGET_FILE:kqsim>")
set_tests_properties(cli.bench_delivery_raises_nofile PROPERTIES TIMEOUT 60 LABELS "cli"
  PASS_REGULAR_EXPRESSION "\n200 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+\n")
