// kqsim bench executions: executions per second of every scenario, per
// strategy, with one worker and with all cores (`--workers`), through the
// same runner as `kqsim run` (fuzz::run_scenario, replay verification off).
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "knote/design.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/bench.h"

namespace kqsim::cli {

namespace {

// The design a scenario is measured under: "fine" when it runs there (the
// design FreeBSD ships), else the first design it runs under.
std::string bench_design(const scenarios::Scenario& sc) {
  std::vector<std::string> ds = sc.designs_to_run();
  for (const std::string& d : ds)
    if (d == "fine") return d;
  return ds.empty() ? std::string() : ds.front();
}

double executions_per_second(const scenarios::Scenario& sc, const kern::kq_design& d, fuzz::StrategyKind k,
                             uint64_t n, unsigned workers) {
  fuzz::RunOptions o;
  o.strategy = k;
  o.seed = 1;
  o.executions = n;
  o.workers = workers;
  o.verify_replays = false;
  const auto t0 = std::chrono::steady_clock::now();
  fuzz::RunResult r = fuzz::run_scenario(sc, d, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return secs > 0 ? static_cast<double>(r.executions) / secs : 0;
}

void bench_executions(const BenchOptions& o, BenchReport& out) {
  const uint64_t n = o.quick ? 200 : 20'000;
  const std::string all = fmt::format("{} workers", o.workers);
  BenchTable& t = out.table("Executions per second, per scenario and strategy",
                            {"scenario", "design", "strategy", "1 worker", all, "speedup"});
  std::vector<std::string> skipped;
  for (fuzz::StrategyKind k : {fuzz::StrategyKind::kRandom, fuzz::StrategyKind::kPct, fuzz::StrategyKind::kExhaustive}) {
    if (!fuzz::strategy_implemented(k)) {
      skipped.push_back(fuzz::strategy_name(k));
      continue;
    }
    for (const scenarios::Scenario* sc : scenarios::all_scenarios()) {
      const std::string dn = bench_design(*sc);
      const kern::kq_design* d = kern::find_design(dn);
      if (d == nullptr) continue;
      std::vector<double> one, many;
      for (unsigned r = 0; r < o.repetitions; ++r) {
        one.push_back(executions_per_second(*sc, *d, k, n, 1));
        many.push_back(executions_per_second(*sc, *d, k, n, o.workers));
      }
      const double a = bench_median(one), b = bench_median(many);
      t.rows.push_back({sc->name(), dn, fuzz::strategy_name(k), fmt::format("{:.0f}", a), fmt::format("{:.0f}", b),
                        a > 0 ? fmt::format("{:.2f}x", b / a) : "-"});
    }
  }
  t.notes.push_back(fmt::format("median of {} runs of {} executions each (seed 1, race detection on, wall time "
                                "of fuzz::run_scenario without replay verification)",
                                o.repetitions, n));
  t.notes.push_back("design: fine where the scenario runs under it, else its first design; Giant designs run "
                    "their workers one after another (see kqsim run)");
  if (!skipped.empty()) {
    std::string s;
    for (const std::string& x : skipped) s += (s.empty() ? "" : ", ") + x;
    t.notes.push_back(fmt::format("skipped (not implemented in the runner yet): {}", s));
  }
}

}  // namespace

KQSIM_REGISTER_BENCH(20, executions, "executions per second per scenario and strategy, 1 worker and all cores",
                     bench_executions);

}  // namespace kqsim::cli
