// Benchmarks of the deterministic runtime (issue: foundation).
//
// BM_SchedulingPoints/race:{0,1}: two simulated threads doing instrumented
// loads and stores of private and shared Cells under the uniform random
// strategy; items/s is scheduling points per second. Targets on one core of
// the project machines: >= 20 M points/s with race detection off, >= 5 M/s on.
//
// BM_FiberSwitch: a switch between two fibers through the scheduler (each
// iteration = one forced switch), to compare with the ~12 ns raw
// Boost.Context figure quoted in the design.
//
// BM_EmptyExecution: the fixed cost of one execution with two threads.
#include <benchmark/benchmark.h>

#include "model/sim/cell.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::sim {
namespace {

constexpr int kAccessesPerThread = 50'000;

void BM_SchedulingPoints(benchmark::State& state) {
  SchedulerOptions o;
  o.race_detection = state.range(0) != 0;
  o.access_points = true;  // every access a point, with the detector on too
  o.max_steps = 10'000'000;
  Scheduler s(o);
  RandomStrategy st(1);
  uint64_t points = 0;
  for (auto _ : state) {
    Cell<int> shared;
    Cell<int> mine[2];
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      auto body = [&](int id) {
        for (int i = 0; i < kAccessesPerThread / 2; ++i) {
          mine[id].store(mine[id].load() + 1);
        }
      };
      Tid a = sc.spawn([&] { body(0); });
      Tid b = sc.spawn([&] { body(1); });
      // A shared read by both is race-free and exercises the shared-read path.
      sc.join(a);
      sc.join(b);
      benchmark::DoNotOptimize(shared.load());
    });
    points += e.steps;
  }
  state.SetItemsProcessed(static_cast<int64_t>(points));
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SchedulingPoints)->Arg(0)->Arg(1)->ArgName("race")->Unit(benchmark::kMillisecond);

// Alternates strictly between two threads: every point is a switch.
class Alternate final : public Strategy {
 public:
  Tid choose(const Tid* r, unsigned n, Tid current) override {
    for (unsigned i = 0; i < n; ++i)
      if (r[i] != current && r[i] != 0) return r[i];
    return r[0];
  }
};

void BM_FiberSwitch(benchmark::State& state) {
  SchedulerOptions o;
  o.race_detection = false;
  o.max_steps = 100'000'000;
  Scheduler s(o);
  Alternate st;
  uint64_t switches = 0;
  for (auto _ : state) {
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      auto body = [&] {
        for (int i = 0; i < 100'000; ++i) sc.yield();
      };
      Tid a = sc.spawn(body);
      Tid b = sc.spawn(body);
      sc.join(a);
      sc.join(b);
    });
    switches += e.steps;
  }
  state.SetItemsProcessed(static_cast<int64_t>(switches));
  state.counters["ns/switch"] =
      benchmark::Counter(static_cast<double>(switches), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FiberSwitch)->Unit(benchmark::kMillisecond);

void BM_EmptyExecution(benchmark::State& state) {
  Scheduler s;
  RandomStrategy st(1);
  for (auto _ : state) {
    s.run(st, [] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn([] {});
      Tid b = sc.spawn([] {});
      sc.join(a);
      sc.join(b);
    });
  }
  state.counters["exec/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EmptyExecution);

}  // namespace
}  // namespace kqsim::sim
