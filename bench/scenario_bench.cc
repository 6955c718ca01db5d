// Whole-scenario benchmarks (docs/performance.md).
//
// BM_ScenarioExecution/<scenario>: one execution of a scenario under "fine"
// (its first design when it does not run under fine) per iteration, on a
// reused Scheduler and Witness, random strategy, race detection on - the
// per-execution loop of fuzz::run_scenario without its bookkeeping.
// items/s is executions per second; the counter points/exec is the mean
// number of scheduling points per execution. The tailq-pingpong target: >=
// 1.5 M executions/s on one core.
#include <benchmark/benchmark.h>

#include <string>

#include "knote/design.h"
#include "locks/witness.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"
#include "scenarios/scenario.h"

namespace kqsim {
namespace {

void BM_ScenarioExecution(benchmark::State& state, const char* name) {
  const scenarios::Scenario* sc = scenarios::find_scenario(name);
  if (sc == nullptr) {
    state.SkipWithError("scenario not registered");
    return;
  }
  std::vector<std::string> ds = sc->designs_to_run();
  std::string dn = ds.empty() ? "fine" : ds.front();
  for (const std::string& d : ds)
    if (d == "fine") dn = d;
  const kern::kq_design* d = kern::find_design(dn);
  locks::Witness w;
  locks::WitnessScope ws(&w);
  sim::Scheduler s;
  sim::RandomStrategy st(0);
  uint64_t i = 0, points = 0;
  for (auto _ : state) {
    st.reseed(sim::execution_seed(1, i++));
    const sim::Execution& e = s.run(st, [&] { sc->execute(*d); });
    points += e.steps;
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.counters["points/exec"] = i ? static_cast<double>(points) / static_cast<double>(i) : 0;
  state.SetLabel(dn);
}

BENCHMARK_CAPTURE(BM_ScenarioExecution, tailq_pingpong, "tailq-pingpong");
BENCHMARK_CAPTURE(BM_ScenarioExecution, kern_57945, "kern-57945");
BENCHMARK_CAPTURE(BM_ScenarioExecution, feldman_lor, "feldman-lor");
BENCHMARK_CAPTURE(BM_ScenarioExecution, close_vs_knote, "close-vs-knote");

}  // namespace
}  // namespace kqsim
