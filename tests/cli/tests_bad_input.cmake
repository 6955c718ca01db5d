# Bad input files for the verbs that read them (replay --path, explain --path):
# one clear error line on stderr and exit 2, never a crash or a partial answer.
# The files are under tests/data/bad/; docs/bad_input.md lists every case.
set(_bad "${CMAKE_CURRENT_SOURCE_DIR}/data/bad")

# kqsim_add_bad_path_test(<name> <file> <stderr regex>): replay and explain both.
function(kqsim_add_bad_path_test name file regex)
  foreach(verb replay explain)
    kqsim_add_cli_test(bad_input_${verb}_${name}
      ARGS "${verb} kern-57945 --design none --path ${_bad}/${file}"
      EXIT_CODE 2 STDERR_LINES 1 STDERR "^kqsim ${verb}: ${regex}")
  endforeach()
endfunction()

kqsim_add_bad_path_test(empty empty.json ".*empty.json: not a kqsim path file \\(empty\\)$")
kqsim_add_bad_path_test(blank blank.json ".*blank.json: not a kqsim path file \\(empty\\)$")
kqsim_add_bad_path_test(truncated truncated.json ".*truncated.json: not a kqsim path file \\(malformed JSON\\)$")
kqsim_add_bad_path_test(malformed malformed.json ".*malformed.json: not a kqsim path file \\(malformed JSON\\)$")
kqsim_add_bad_path_test(binary binary.json ".*binary.json: not a kqsim path file \\(malformed JSON\\)$")
kqsim_add_bad_path_test(deep deep.json ".*deep.json: not a kqsim path file \\(malformed JSON\\)$")
kqsim_add_bad_path_test(not_object not_object.json ".*not_object.json: not a kqsim path file \\(malformed JSON\\)$")
kqsim_add_bad_path_test(format_number format_number.json ".*: not a kqsim path file \\(format is not \"kqsim-path\"\\)$")
kqsim_add_bad_path_test(other_format other_format.json ".*: not a kqsim path file \\(format is not \"kqsim-path\"\\)$")
kqsim_add_bad_path_test(version2 version2.json ".*: unsupported kqsim path file version 2 \\(this kqsim reads version 1\\)$")
kqsim_add_bad_path_test(version_huge version_huge.json ".*: unsupported kqsim path file version 4294967297 .*$")
kqsim_add_bad_path_test(version_string version_string.json ".*: unsupported kqsim path file version \"1\" .*$")
kqsim_add_bad_path_test(seed_negative seed_negative.json ".*: path file field \"seed\" must be a non-negative integer$")
kqsim_add_bad_path_test(seed_fraction seed_fraction.json ".*: path file field \"seed\" must be a non-negative integer$")
kqsim_add_bad_path_test(choices_bad choices_bad.json ".*: bad choice character 'x' at position 2 \\(expected a hex digit\\)$")
kqsim_add_bad_path_test(choices_number choices_number.json ".*: path file has no \"choices\" string$")
kqsim_add_bad_path_test(program_array program_array.json ".*: path file field \"program\" must be a string$")
kqsim_add_bad_path_test(other_scenario other_scenario.json "path file '.*' was recorded for scenario 'feldman-lor', not 'kern-57945'$")
kqsim_add_bad_path_test(directory "" "path file '.*' is a directory$")
kqsim_add_bad_path_test(missing no_such_file.json "cannot read path file '.*no_such_file.json': No such file or directory$")
kqsim_add_cli_test(bad_input_replay_unknown_design
  ARGS "replay kern-57945 --path ${_bad}/unknown_design.json"
  EXIT_CODE 2 STDERR_LINES 1 STDERR "^kqsim replay: unknown design 'bogus' \\(designs: .*\\)$")
# A well-formed path file whose 100000 choices do not fit the scenario: replays
# with a note saying where it stopped fitting (here the run still finds the race).
kqsim_add_cli_test(bad_input_replay_long_choices
  ARGS "replay kern-57945 --design none --path ${_bad}/long_choices.json"
  EXIT_CODE 1 STDOUT "\\(100000 choices\\).*the path stopped fitting at choice")

# The checker's own limits: bad values are usage errors; good ones run.
kqsim_add_cli_test(bad_input_max_memory_zero ARGS "run kern-57945 --max-memory 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --max-memory: '0' is not a number of MiB between 1 and 1048576$")
kqsim_add_cli_test(bad_input_max_memory_text ARGS "replay kern-57945 --seed 1 --max-memory lots" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim replay: --max-memory: 'lots' is not a number of MiB")
kqsim_add_cli_test(bad_input_max_steps_zero ARGS "run kern-57945 --max-steps 0" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --max-steps: must be at least 1$")
kqsim_add_cli_test(limits_max_memory_run ARGS "run kern-57945 --design fine --schedules 20 --max-memory 1"
  STDOUT "verdict: clean")
kqsim_add_cli_test(limits_step_bound ARGS "run kern-57945 --design fine --schedules 1 --max-steps 5" EXIT_CODE 1
  STDOUT "step-bound: step bound exceeded: 5 scheduling points.*raise the bound with --max-steps.*--max-steps 5")
# The recursion-depth bound: --stack-kib (the size the stack-overflow finding tells you to raise).
kqsim_add_cli_test(bad_input_stack_kib_small ARGS "run kern-57945 --stack-kib 8" EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim run: --stack-kib: '8' is not a number of KiB between 16 and 1048576$")
kqsim_add_cli_test(bad_input_stack_kib_text ARGS "explain kern-57945 --seed 1 --stack-kib big" EXIT_CODE 2
  STDERR_LINES 1 STDERR "^kqsim explain: --stack-kib: 'big' is not a number of KiB")
kqsim_add_cli_test(limits_stack_kib_in_replay
  ARGS "run kern-57945 --design none --schedules 5 --no-shrink --stack-kib 512" EXIT_CODE 1
  STDOUT "replay: kqsim replay kern-57945 --design none --seed [0-9]+ --stack-kib 512")
