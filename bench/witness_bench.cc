// bench/witness_bench.cc: cost of the witness lock-order graph's operations.
//
// The number that matters is BM_AddEdgeExisting: the witness calls add_edge
// on every lock acquisition for every lock already held, and nearly all of
// those calls find an edge that exists. It must stay flat as the number of
// classes grows.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "locks/witness_graph.h"

namespace kqsim::locks {
namespace {

constexpr Site kHeld{"bench/witness_bench.cc", 10};
constexpr Site kWanted{"bench/witness_bench.cc", 20};

// A graph of `n` classes with about 4n random edges consistent with a
// random hidden order (so inserting them exercises reordering), and the
// list of edges in it.
struct Fixture {
  explicit Fixture(int n) : graph(std::make_unique<WitnessGraph>()) {
    std::mt19937 rng(1234);
    for (int i = 0; i < n; ++i) graph->intern_class(fmt::format("class{}", i));
    std::vector<int> hidden(n);
    std::iota(hidden.begin(), hidden.end(), 0);
    std::shuffle(hidden.begin(), hidden.end(), rng);
    for (int k = 0; k < 4 * n; ++k) {
      ClassId b = rng() % n;
      ClassId a = rng() % n;
      if (a == b) continue;
      if (hidden[b] > hidden[a]) std::swap(a, b);
      if (graph->add_edge(b, a, kHeld, kWanted).status == AddStatus::kAdded)
        edges.emplace_back(b, a);
    }
    std::shuffle(edges.begin(), edges.end(), rng);
  }
  std::unique_ptr<WitnessGraph> graph;
  std::vector<std::pair<ClassId, ClassId>> edges;
};

// add_edge on an edge already in the graph, cycling through 256 different
// edges (a witness sees a handful of lock pairs over and over).
void BM_AddEdgeExisting(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  f.edges.resize(std::min<size_t>(f.edges.size(), 256));
  size_t i = 0;
  for (auto _ : state) {
    const auto& [b, a] = f.edges[i];
    AddResult r = f.graph->add_edge(b, a, kHeld, kWanted);
    benchmark::DoNotOptimize(r.status);
    if (++i == f.edges.size()) i = 0;
  }
  state.counters["edges"] = static_cast<double>(f.graph->edge_count());
}
BENCHMARK(BM_AddEdgeExisting)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// The same with every edge of the graph in turn (the table no longer fits
// in L1 for the big graphs).
void BM_AddEdgeExistingAllEdges(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    const auto& [b, a] = f.edges[i];
    AddResult r = f.graph->add_edge(b, a, kHeld, kWanted);
    benchmark::DoNotOptimize(r.status);
    if (++i == f.edges.size()) i = 0;
  }
}
BENCHMARK(BM_AddEdgeExistingAllEdges)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// add_edge on a reversal that has been reported already (also lock-free).
void BM_AddEdgeAlreadyReported(benchmark::State& state) {
  WitnessGraph g;
  const ClassId a = g.intern_class("a");
  const ClassId b = g.intern_class("b");
  g.add_edge(a, b, kHeld, kWanted);
  g.add_edge(b, a, kHeld, kWanted);
  for (auto _ : state) {
    AddResult r = g.add_edge(b, a, kHeld, kWanted);
    benchmark::DoNotOptimize(r.status);
  }
}
BENCHMARK(BM_AddEdgeAlreadyReported);

// Existing-edge lookups from several threads at once on one shared graph.
void BM_AddEdgeExistingThreaded(benchmark::State& state) {
  static Fixture* f = nullptr;
  if (state.thread_index() == 0) f = new Fixture(100);
  // Google Benchmark starts all threads' timing loops together.
  size_t i = static_cast<size_t>(state.thread_index()) * 17;
  for (auto _ : state) {
    const auto& [b, a] = f->edges[i % f->edges.size()];
    AddResult r = f->graph->add_edge(b, a, kHeld, kWanted);
    benchmark::DoNotOptimize(r.status);
    ++i;
  }
  if (state.thread_index() == 0) {
    delete f;
    f = nullptr;
  }
}
BENCHMARK(BM_AddEdgeExistingThreaded)->Threads(1)->Threads(2);

// Inserting a new edge that agrees with the current order (the O(1) case of
// Pearce-Kelly): i -> j for i < j in creation order. Includes interning the
// sites and growing the hash tables, amortised.
void BM_AddEdgeNewConsistent(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::unique_ptr<WitnessGraph> g;
  int i = 0;
  int j = 0;
  auto reset = [&] {
    g = std::make_unique<WitnessGraph>();
    for (int k = 0; k < n; ++k) g->intern_class(fmt::format("class{}", k));
    i = 0;
    j = 1;
  };
  reset();
  for (auto _ : state) {
    AddResult r = g->add_edge(i, j, kHeld, kWanted);
    benchmark::DoNotOptimize(r.status);
    if (++j == n) {
      if (++i == n - 1) {
        state.PauseTiming();
        reset();
        state.ResumeTiming();
      } else {
        j = i + 1;
      }
    }
  }
}
BENCHMARK(BM_AddEdgeNewConsistent)->Arg(100)->Arg(1000);

// Inserting the edges of a random DAG in random order: new edges that often
// disagree with the current order and make Pearce-Kelly reorder a region.
void BM_AddEdgeNewReordering(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  int64_t inserted = 0;
  for (auto _ : state) {
    Fixture f(n);  // builds the graph: 4n insertions
    inserted += static_cast<int64_t>(4 * n);
    benchmark::DoNotOptimize(f.graph.get());
  }
  state.SetItemsProcessed(inserted);  // items/s = attempted insertions/s
}
BENCHMARK(BM_AddEdgeNewReordering)->Arg(100)->Arg(1000);

// Detecting and reporting a fresh two-class reversal (rare: once per pair).
void BM_AddEdgeNewReversal(benchmark::State& state) {
  std::unique_ptr<WitnessGraph> g;
  for (auto _ : state) {
    state.PauseTiming();  // set-up and the previous graph's teardown
    g = std::make_unique<WitnessGraph>();
    const ClassId a = g->intern_class("a");
    const ClassId b = g->intern_class("b");
    g->add_edge(a, b, kHeld, kWanted);
    state.ResumeTiming();
    AddResult r = g->add_edge(b, a, kHeld, kWanted);
    benchmark::DoNotOptimize(r.reversal);
  }
}
BENCHMARK(BM_AddEdgeNewReversal);

}  // namespace
}  // namespace kqsim::locks
