// kqsim bench first_finding: time to the first finding, in executions and in
// milliseconds, per strategy, on the scenarios that reproduce a known bug
// (kern-57945, feldman-lor, proxy-flow-reset), median over 50 seeds.
//
// How: for each seed, the first execution index i that makes a finding is
// located (runs of growing length; a run's execution i does not depend on the
// run's length), then a run of exactly i + 1 executions is timed: that is what
// `kqsim run --seed S --schedules i+1` costs, with a fresh witness, replay
// verification off.
#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "knote/design.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/bench.h"

namespace kqsim::cli {

namespace {

constexpr uint64_t kCap = 100'000;  // executions per seed before giving up

fuzz::RunResult run(const scenarios::Scenario& sc, const kern::kq_design& d, fuzz::StrategyKind k, uint64_t seed,
                    uint64_t n) {
  fuzz::RunOptions o;
  o.strategy = k;
  o.seed = seed;
  o.executions = n;
  o.verify_replays = false;
  return fuzz::run_scenario(sc, d, o);
}

// The index of the first execution with a finding, or nullopt within kCap.
std::optional<uint64_t> first_finding(const scenarios::Scenario& sc, const kern::kq_design& d,
                                      fuzz::StrategyKind k, uint64_t seed) {
  for (uint64_t n = 64;; n = std::min(n * 4, kCap)) {
    fuzz::RunResult r = run(sc, d, k, seed, n);
    if (!r.findings.empty()) return r.findings.front().execution;  // ordered by first execution
    if (n == kCap) return std::nullopt;
  }
}

// The design under which the scenario must fail (its expected failure).
const kern::kq_design* failing_design(const scenarios::Scenario& sc) {
  for (const scenarios::DesignExpectation& e : sc.expectations())
    if (e.expected.what == scenarios::Expected::What::kFailure)
      if (const kern::kq_design* d = kern::find_design(e.design)) return d;
  return nullptr;
}

void bench_first_finding(const BenchOptions& o, BenchReport& out) {
  const uint64_t seeds = o.quick ? 3 : 50;
  BenchTable& t = out.table("Time to first finding (median over seeds)",
                            {"scenario", "design", "strategy", "executions", "ms", "found"});
  std::vector<std::string> skipped;
  for (const char* name : {"kern-57945", "feldman-lor", "proxy-flow-reset"}) {
    const scenarios::Scenario* sc = scenarios::find_scenario(name);
    const kern::kq_design* d = sc != nullptr ? failing_design(*sc) : nullptr;
    if (d == nullptr) {
      t.notes.push_back(fmt::format("{}: not measured ({})", name,
                                    sc == nullptr ? "no such scenario registered yet" : "no expected failure"));
      continue;
    }
    for (fuzz::StrategyKind k :
         {fuzz::StrategyKind::kRandom, fuzz::StrategyKind::kPct, fuzz::StrategyKind::kExhaustive}) {
      if (!fuzz::strategy_implemented(k)) {
        if (std::string(name) == "kern-57945") skipped.push_back(fuzz::strategy_name(k));
        continue;
      }
      std::vector<double> execs, ms;
      unsigned found = 0;
      for (uint64_t seed = 1; seed <= seeds; ++seed) {
        std::optional<uint64_t> i = first_finding(*sc, *d, k, seed);
        if (!i) continue;
        ++found;
        const auto t0 = std::chrono::steady_clock::now();
        fuzz::RunResult r = run(*sc, *d, k, seed, *i + 1);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r.findings.empty()) throw std::runtime_error(fmt::format("{}: seed {} did not repeat its finding", name, seed));
        execs.push_back(static_cast<double>(*i + 1));
        ms.push_back(secs * 1e3);
      }
      t.rows.push_back({name, d->name, fuzz::strategy_name(k),
                        found ? fmt::format("{:.0f}", bench_median(execs)) : "-",
                        found ? fmt::format("{:.2f}", bench_median(ms)) : "-", fmt::format("{}/{}", found, seeds)});
    }
  }
  t.notes.push_back(fmt::format("seeds 1..{}; median over the seeds that found something within {} executions; "
                                "one worker, race detection on, the design the scenario is expected to fail under",
                                seeds, kCap));
  if (!skipped.empty()) {
    std::string s;
    for (const std::string& x : skipped) s += (s.empty() ? "" : ", ") + x;
    t.notes.push_back(fmt::format("skipped (not implemented in the runner yet): {}", s));
  }
}

}  // namespace

KQSIM_REGISTER_BENCH(30, first_finding, "time to first finding per strategy on the known bugs, median of 50 seeds",
                     bench_first_finding);

}  // namespace kqsim::cli
