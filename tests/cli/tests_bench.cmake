# kqsim bench: the section registry and the verb's usage errors (figures are not tested).
kqsim_add_cli_test(bench_list ARGS "bench --list" STDOUT "scheduling +scheduling points per second")
kqsim_add_cli_test(bench_quick_scheduling ARGS "bench scheduling --quick"
  STDOUT "race detection +a store is +M stores/s.*off +a point .*on +a point \\(--access-points\\) .*on +a step \\(default\\)")
kqsim_add_cli_test(bench_unknown_section ARGS "bench nosuch" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim bench: unknown section 'nosuch' \\(sections: .*scheduling.*\\)$")
kqsim_add_cli_test(bench_zero_repetitions ARGS "bench scheduling --repetitions 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--repetitions: must be at least 1")
