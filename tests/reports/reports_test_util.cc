#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "tests/reports/reports_test.h"

namespace kqsim::testing {

std::optional<fuzz::ReplayRun> traced_finding(const std::string& scenario, const std::string& design,
                                              sim::FindingKind kind, bool race_detection, uint64_t schedules) {
  const scenarios::Scenario* sc = scenarios::find_scenario(scenario);
  const kern::kq_design* d = kern::find_design(design);
  if (sc == nullptr || d == nullptr) return std::nullopt;
  fuzz::RunOptions o;
  o.seed = 1;
  o.executions = schedules;
  o.sched.race_detection = race_detection;
  const fuzz::RunResult r = fuzz::run_scenario(*sc, *d, o);
  for (size_t i = 0; i < r.findings.size(); ++i) {
    if (r.findings[i].finding.kind != kind) continue;
    const fuzz::ReplayMode mode = i < r.replay.size() ? r.replay[i] : fuzz::ReplayMode::kUnchecked;
    if (mode != fuzz::ReplayMode::kAlone && mode != fuzz::ReplayMode::kNoWitness) continue;
    fuzz::ReplaySpec spec;
    spec.scenario = scenario;
    spec.design = design;
    spec.seed = r.findings[i].execution_seed;
    spec.sched.race_detection = race_detection;
    spec.sched.trace = true;
    spec.witness = mode != fuzz::ReplayMode::kNoWitness;
    fuzz::ReplayRun run = fuzz::replay(spec);
    for (const sim::Finding& f : run.result.execution.findings)
      if (f.kind == kind) return run;
  }
  return std::nullopt;
}

std::string build_dir() { return std::filesystem::path(KQSIM_BINARY).parent_path().string(); }

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    if (out != nullptr) out->append(buf, n);
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool have_program(const std::string& name) {
  return run_command("command -v " + name + " >/dev/null 2>&1", nullptr) == 0;
}

}  // namespace kqsim::testing
