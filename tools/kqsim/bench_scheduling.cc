// kqsim bench scheduling: scheduling points per second through the runtime,
// with the race detector off and on (the same loop as bench/sim_bench.cc's
// SchedulingPoints, for users without the Google Benchmark binary). With the
// race detector on, plain accesses are points only with access_points set
// (the first two rows); the third row is the default, where they are steps
// checked by the detector but not points (sim::SchedulerOptions).
#include <chrono>

#include <fmt/format.h>

#include "model/sim/cell.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"
#include "tools/kqsim/bench.h"

namespace kqsim::cli {

namespace {

// Stores per second: two threads each doing `per_thread` Cell stores.
double stores_per_second(bool race, bool access_points, uint64_t per_thread) {
  sim::SchedulerOptions so;
  so.race_detection = race;
  so.access_points = access_points;
  so.max_steps = per_thread * 4 + 1000;
  sim::Scheduler s(so);
  sim::RandomStrategy strat(1);
  const auto t0 = std::chrono::steady_clock::now();
  sim::Cell<uint64_t> a, b;
  const sim::Execution& e = s.run(strat, [&] {
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid t1 = sc.spawn([&] {
      for (uint64_t i = 0; i < per_thread; ++i) a.store(i);
    });
    for (uint64_t i = 0; i < per_thread; ++i) b.store(i);
    sc.join(t1);
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return secs > 0 ? static_cast<double>(e.steps) / secs : 0;
}

void bench_scheduling(const BenchOptions& o, BenchReport& out) {
  const uint64_t n = o.quick ? 1000 : 2'000'000;
  BenchTable& t = out.table("Plain accesses per second (two threads, one Cell store each)",
                            {"race detection", "a store is", "M stores/s"});
  struct Row {
    bool race, access_points;
    const char* race_name;
    const char* is;
  };
  for (const Row& row : {Row{false, false, "off", "a point"}, Row{true, true, "on", "a point (--access-points)"},
                         Row{true, false, "on", "a step (default)"}}) {
    std::vector<double> v;
    for (unsigned r = 0; r < o.repetitions; ++r) v.push_back(stores_per_second(row.race, row.access_points, n));
    t.rows.push_back({row.race_name, row.is, fmt::format("{:.1f}", bench_median(v) / 1e6)});
  }
  t.notes.push_back(fmt::format("median of {} runs of {} points per thread, one worker", o.repetitions, n));
}

}  // namespace

KQSIM_REGISTER_BENCH(10, scheduling, "scheduling points per second, race detection off and on", bench_scheduling);

}  // namespace kqsim::cli
