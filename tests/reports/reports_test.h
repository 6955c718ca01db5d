// reports_test.h - what the report tests share: executions that make the
// findings the reports must show, found by exploring (so the tests do not
// depend on one seed staying interesting as the model changes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fuzz/run.h"
#include "model/sim/finding.h"

namespace kqsim::testing {

// Explores `scenario` under `design` (random strategy, seed 1, up to
// `schedules` executions, race detector as given) and replays, with tracing,
// the first execution that makes a finding of kind `kind` and replays alone.
// nullopt when there is none.
std::optional<fuzz::ReplayRun> traced_finding(const std::string& scenario, const std::string& design,
                                              sim::FindingKind kind, bool race_detection, uint64_t schedules);

// The directory of the kqsim binary (the build directory), for test outputs.
std::string build_dir();

// Runs a shell command, returns its exit status and stdout.
int run_command(const std::string& cmd, std::string* out);

bool have_program(const std::string& name);

}  // namespace kqsim::testing
