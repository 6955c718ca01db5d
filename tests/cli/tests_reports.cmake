# Report files of kqsim explain (--html, --dot, --chrome-trace; fuzz/reports.h, docs/reports.md).
# The formats themselves are tested in tests/reports/reports_test.cc (with Graphviz and headless Chromium).
kqsim_add_cli_test(explain_reports_clean
  ARGS "explain kern-57945 --design fine --seed 1 --tail 1 --html cli-reports-clean.html --dot cli-reports-clean.dot --chrome-trace cli-reports-clean.json"
  STDOUT "no findings.*report: html cli-reports-clean.html.*report: dot cli-reports-clean.dot.*report: chrome-trace cli-reports-clean.json$")
kqsim_add_cli_test(explain_reports_lor
  ARGS "explain feldman-lor --design global --seed 627405149472732430 --tail 1 --dot cli-reports-lor.dot --html cli-reports-lor.html"
  EXIT_CODE 1
  STDOUT "lock order reversal:.*report: html cli-reports-lor.html.*report: dot cli-reports-lor.dot$")
kqsim_add_cli_test(explain_html_unwritable
  ARGS "explain kern-57945 --design fine --seed 1 --html /nonexistent-kqsim-dir/report.html"
  EXIT_CODE 2 STDERR_LINES 1
  STDERR "^kqsim explain: cannot write '/nonexistent-kqsim-dir/report.html': No such file or directory$")
kqsim_add_cli_test(explain_html_missing_file
  ARGS "explain kern-57945 --design fine --seed 1 --html"
  EXIT_CODE 2 STDERR "--html")

# kqsim run writes the same report files for its first finding.
kqsim_add_cli_test(run_html_first_finding
  ARGS "run kern-57945 --design none --schedules 50 --no-shrink --html ${CMAKE_CURRENT_BINARY_DIR}/run-report.html --dot ${CMAKE_CURRENT_BINARY_DIR}/run-report.dot"
  EXIT_CODE 1 STDOUT "report: html .*run-report.html \\(finding \\[1\\]\\).*report: dot .*run-report.dot")
kqsim_add_cli_test(run_html_no_finding
  ARGS "run kern-57945 --design fine --schedules 20 --html ${CMAKE_CURRENT_BINARY_DIR}/run-none.html"
  STDERR "no finding, so no report file was written")
kqsim_add_cli_test(run_html_unwritable
  ARGS "run kern-57945 --design none --schedules 50 --no-shrink --html /nonexistent-kqsim-dir/r.html"
  EXIT_CODE 2 STDERR "^kqsim run: cannot write '/nonexistent-kqsim-dir/r.html'")
