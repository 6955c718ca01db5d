# Performance: the tailq-pingpong scenario and the bench sections (figures are not tested).
kqsim_add_cli_test(perf_tailq_fine_clean ARGS "run tailq-pingpong --design fine --schedules 2000 --seed 1"
  STDOUT "verdict: clean")
kqsim_add_cli_test(perf_tailq_none_races ARGS "run tailq-pingpong --design none --schedules 2000 --seed 1"
  EXIT_CODE 1 STDOUT "data-race: data race: ")
kqsim_add_cli_test(perf_bench_list ARGS "bench --list"
  STDOUT "tailq +the tailq-pingpong targets.*executions +executions per second.*first_finding +time to first finding")
kqsim_add_cli_test(perf_bench_quick_tailq ARGS "bench tailq --quick"
  STDOUT "workers +wall s +M exec/s +cpu s +speedup +peak RSS MB")
kqsim_add_cli_test(perf_bench_quick_executions ARGS "bench executions --quick"
  STDOUT "tailq-pingpong +fine +random ")
kqsim_add_cli_test(perf_bench_quick_first_finding ARGS "bench first_finding --quick"
  STDOUT "kern-57945 +none +random +[0-9]+ +[0-9.]+ +3/3")
# Plain accesses as scheduling points (--access-points): more choices per
# execution, the same verdicts, and the flag is repeated in replay commands.
kqsim_add_cli_test(perf_access_points_fine_clean
  ARGS "run tailq-pingpong --design fine --schedules 2000 --seed 1 --access-points" STDOUT "verdict: clean")
kqsim_add_cli_test(perf_access_points_in_replay
  ARGS "run tailq-pingpong --design none --schedules 20 --no-shrink --access-points" EXIT_CODE 1
  STDOUT "replay: kqsim replay tailq-pingpong --design none --seed [0-9]+ --access-points")
kqsim_add_cli_test(perf_access_points_json ARGS "run tailq-pingpong --design fine --schedules 10 --json /dev/stdout"
  STDOUT "\"access_points\": false")
