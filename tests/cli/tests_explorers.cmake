# kqsim run's strategies, shards and options; shrink; merge; replay --choices / --strategy pct.
# (End-to-end checks that need several commands in a row are GoogleTests: tests/fuzz/explorers_test.cc.)
kqsim_add_cli_test(run_pct ARGS "run kern-57945 --design none --strategy pct --schedules 200" EXIT_CODE 1
  STDOUT "pct strategy \\(depth 3, k [0-9]+\\).*replay: kqsim replay kern-57945 --design none --strategy pct --depth 3 --pct-k [0-9]+ --seed [0-9]+.*shrunk: [0-3] preemptions?.*explain: kqsim explain kern-57945 --design none --choices [0-9a-f:,]+")
kqsim_add_cli_test(run_pct_depth ARGS "run kern-57945 --design fine --strategy pct --depth 2 --schedules 100"
  STDOUT "pct strategy \\(depth 2, k [0-9]+\\).*verdict: clean")
kqsim_add_cli_test(run_exhaustive_exhausted ARGS "run kern-57945 --design fine --strategy exhaustive --preemptions 0 --schedules 100000"
  STDOUT "exhausted the space of schedules with <= 0 preemptions in [0-9]+ executions")
kqsim_add_cli_test(run_exhaustive_capped ARGS "run kern-57945 --design fine --strategy exhaustive --schedules 20 --workers 2"
  STDOUT "20 executions.*one thread.*stopped after 20 executions, space not exhausted")
kqsim_add_cli_test(run_exhaustive_finding ARGS "run kern-57945 --design none --strategy exhaustive --schedules 20" EXIT_CODE 1
  STDOUT "first at execution 0, seen in.*replay: kqsim replay kern-57945 --design none --choices [0-9a-f:,]+")
kqsim_add_cli_test(run_shard ARGS "run kern-57945 --design fine --schedules 100 --shard 1/4"
  STDOUT "25 executions.*shard 1/4")
kqsim_add_cli_test(run_no_shrink ARGS "run kern-57945 --design none --schedules 50 --no-shrink" EXIT_CODE 1
  STDOUT "replay: kqsim replay")
kqsim_add_cli_test(run_reproducible ARGS "run kern-57945 --design fine --schedules 50 --reproducible --workers 2"
  STDOUT "^kern-57945 under fine: 50 executions, random strategy, seed 1\nverdict: clean")
kqsim_add_cli_test(run_silent_when_not_a_terminal ARGS "run kern-57945 --design fine --schedules 300" STDERR_LINES 0)
kqsim_add_cli_test(run_help_env ARGS "run --help"
  STDOUT "KQSIM_STRATEGY.*KQSIM_WORKERS.*KQSIM_PCT_DEPTH.*KQSIM_PREEMPTIONS")

# Bad input: one line, exit 2.
kqsim_add_cli_test(run_unknown_strategy ARGS "run kern-57945 --strategy dfs" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: unknown strategy 'dfs' \\(strategies: random, pct, exhaustive\\)$")
kqsim_add_cli_test(run_bad_shard ARGS "run kern-57945 --shard 4/4" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --shard: '4/4' is not I/N with 0 <= I < N$")
kqsim_add_cli_test(run_bad_shard_text ARGS "run kern-57945 --shard half" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--shard: 'half' is not I/N")
kqsim_add_cli_test(run_shard_exhaustive ARGS "run kern-57945 --strategy exhaustive --shard 0/2" EXIT_CODE 2
  STDERR_LINES 1 STDERR "cannot be sharded")
kqsim_add_cli_test(run_bad_depth ARGS "run kern-57945 --strategy pct --depth 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--depth: 0 is not between 1 and 64")
kqsim_add_cli_test(run_depth_without_pct ARGS "run kern-57945 --depth 2" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--depth goes with --strategy pct")
kqsim_add_cli_test(run_bad_preemptions ARGS "run kern-57945 --strategy exhaustive --preemptions x" EXIT_CODE 2
  STDERR_LINES 1 STDERR "--preemptions: 'x' is not a non-negative integer")
kqsim_add_cli_test(run_bad_workers ARGS "run kern-57945 --workers 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--workers: 0 is not between 1 and 1024")

# replay / explain with --choices and pct parameters.
kqsim_add_cli_test(replay_choices ARGS "replay kern-57945 --design none --choices 0:3,1:40" EXIT_CODE 1
  STDOUT "43 choices.*data race")
kqsim_add_cli_test(replay_bad_choices ARGS "replay kern-57945 --design none --choices 0:3,z" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim replay: --choices: '0:3,z' is neither hex digits nor runs")
kqsim_add_cli_test(replay_seed_and_choices ARGS "replay kern-57945 --seed 1 --choices 0" EXIT_CODE 2
  STDERR_LINES 1 STDERR "exactly one of --seed EXECUTION_SEED, --path FILE and --choices HEX")
kqsim_add_cli_test(replay_pct_needs_k ARGS "replay kern-57945 --design none --strategy pct --seed 5" EXIT_CODE 2
  STDERR_LINES 1 STDERR "--strategy pct needs --depth D >= 1 and --pct-k K >= 1")
kqsim_add_cli_test(replay_pct ARGS "replay kern-57945 --design none --strategy pct --depth 3 --pct-k 92 --seed 627405149472732430"
  EXIT_CODE 1 STDOUT "pct \\(depth 3, k 92\\) execution seed 627405149472732430.*data race")
kqsim_add_cli_test(replay_malformed_path ARGS "replay kern-57945 --path ${CMAKE_CURRENT_SOURCE_DIR}/cli/tests_explorers.cmake"
  EXIT_CODE 2 STDERR_LINES 1 STDERR "^kqsim replay: .*tests_explorers.cmake: ")
kqsim_add_cli_test(explain_choices ARGS "explain kern-57945 --design none --choices 0:3,1:40 --tail 5" EXIT_CODE 1
  STDOUT "FINDING data-race")

# shrink
kqsim_add_cli_test(shrink_unknown_scenario ARGS "shrink nosuch --seed 1" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim shrink: unknown scenario 'nosuch'")
kqsim_add_cli_test(shrink_needs_seed ARGS "shrink kern-57945" EXIT_CODE 2 STDERR_LINES 1 STDERR "exactly one of --seed")
kqsim_add_cli_test(shrink_bad_runs ARGS "shrink kern-57945 --seed 1 --runs 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "--runs: '0' is not a positive integer")
kqsim_add_cli_test(shrink_nothing ARGS "shrink kern-57945 --design fine --seed 1 --out /nonexistent/x.json"
  STDOUT "no findings: nothing to shrink")

# merge
kqsim_add_cli_test(merge_no_files ARGS "merge" EXIT_CODE 2 STDERR_LINES 1 STDERR "^kqsim merge: .*files")
kqsim_add_cli_test(merge_unreadable ARGS "merge /nonexistent.json" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim merge: cannot read '/nonexistent.json': No such file or directory$")
kqsim_add_cli_test(merge_malformed ARGS "merge ${CMAKE_CURRENT_SOURCE_DIR}/cli/tests_explorers.cmake" EXIT_CODE 2
  STDERR_LINES 1 STDERR "tests_explorers.cmake: not JSON")
kqsim_add_cli_test(merge_wrong_format ARGS "merge ${PROJECT_SOURCE_DIR}/CMakePresets.json" EXIT_CODE 2
  STDERR_LINES 1 STDERR "CMakePresets.json: not a kqsim-run result")
