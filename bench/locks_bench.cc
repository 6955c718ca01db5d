// Benchmarks of the lock layer (issue: locks).
//
// BM_UncontendedLockUnlock/witness:{0,1}: one simulated thread doing
// mtx_lock/mtx_unlock pairs (each pair is two scheduling points plus the
// witness bookkeeping); items/s counts pairs. Target with the witness on:
// <= 100 ns per pair.
//
// BM_WitnessCheckPerAcquisition/classes:N: the cost of an acquisition made
// while holding one lock, with N lock classes already known to the witness
// (N = 10, 100, 1000): the order check must stay flat as N grows.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "locks/mutex.h"
#include "locks/witness.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::locks {
namespace {

constexpr int kPairs = 100'000;

void BM_UncontendedLockUnlock(benchmark::State& state) {
  Witness w(Witness::Options{state.range(0) != 0, state.range(0) != 0});
  WitnessScope ws(&w);
  sim::SchedulerOptions o;
  o.max_steps = 100'000'000;
  sim::Scheduler s(o);
  sim::RandomStrategy st(1);
  mtx m("kqueue", nullptr, MTX_DEF);
  for (auto _ : state) {
    s.run(st, [&] {
      for (int i = 0; i < kPairs; ++i) {
        mtx_lock(&m);
        mtx_unlock(&m);
      }
    });
  }
  state.SetItemsProcessed(state.iterations() * kPairs);
  state.counters["ns/pair"] = benchmark::Counter(static_cast<double>(state.iterations()) * kPairs,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_UncontendedLockUnlock)->Arg(0)->Arg(1)->ArgName("witness")->Unit(benchmark::kMillisecond);

void BM_WitnessCheckPerAcquisition(benchmark::State& state) {
  const int classes = static_cast<int>(state.range(0));
  Witness w;
  WitnessScope ws(&w);
  sim::SchedulerOptions o;
  o.max_steps = 100'000'000;
  sim::Scheduler s(o);
  sim::RandomStrategy st(1);
  // Teach the witness `classes` classes, each ordered after "outer".
  std::vector<std::unique_ptr<mtx>> locks;
  std::vector<std::string> names;
  names.reserve(classes);
  for (int i = 0; i < classes; ++i) names.push_back("class" + std::to_string(i));
  for (int i = 0; i < classes; ++i) locks.push_back(std::make_unique<mtx>(names[i].c_str(), nullptr, MTX_DEF));
  mtx outer("outer", nullptr, MTX_DEF);
  s.run(st, [&] {
    for (auto& l : locks) {
      mtx_lock(&outer);
      mtx_lock(l.get());
      mtx_unlock(l.get());
      mtx_unlock(&outer);
    }
  });
  mtx* hot = locks[static_cast<size_t>(classes / 2)].get();
  for (auto _ : state) {
    s.run(st, [&] {
      mtx_lock(&outer);
      for (int i = 0; i < kPairs; ++i) {
        mtx_lock(hot);  // checks the edge outer -> hot
        mtx_unlock(hot);
      }
      mtx_unlock(&outer);
    });
  }
  state.counters["ns/acquisition"] = benchmark::Counter(static_cast<double>(state.iterations()) * kPairs,
                                                        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WitnessCheckPerAcquisition)->Arg(10)->Arg(100)->Arg(1000)->ArgName("classes")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kqsim::locks
