// pct.h - Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi,
// Nagarakatte, ASPLOS 2010) as a kqsim Strategy.
//
// Contract: each execution gives every thread a distinct random priority
// (d + a random offset) when it is spawned, and picks d-1 change points
// uniformly among the first k choice points. At a choice point the runnable
// thread with the highest priority runs; when the i-th change point is
// reached, the running thread's priority drops to d-1-i (below every initial
// priority). For a program with n threads and k choice points, a bug of depth
// d (d ordering constraints) is found by one execution with probability at
// least 1/(n * k^(d-1)); depth 1 bugs need no change point at all.
//
// k is learnt: it starts at `k_hint` and becomes the largest number of choice
// points seen in an execution so far, unless `learn_k` is false: then k stays
// `k_hint`, so that an execution depends only on (seed, depth, k) and replays
// alone (run_scenario uses it so). reseed() starts a new execution's
// randomness (the explorer derives one seed per execution).
#pragma once

#include <cstdint>
#include <vector>

#include "model/sim/strategy.h"

namespace kqsim::fuzz {

class PctStrategy final : public sim::Strategy {
 public:
  PctStrategy(uint64_t seed, unsigned depth, uint64_t k_hint = 100, bool learn_k = true);
  void reseed(uint64_t seed) { rng_.seed(seed); }
  void begin_execution() override;
  void on_spawn(sim::Tid t) override;
  sim::Tid choose(const sim::Tid* runnable, unsigned n, sim::Tid current) override;
  unsigned depth() const { return depth_; }
  uint64_t k() const { return k_; }

 private:
  sim::Rng rng_;
  unsigned depth_;
  uint64_t k_;
  bool learn_k_;
  uint64_t step_ = 0;
  uint64_t prio_[sim::kMaxThreads] = {};
  std::vector<uint64_t> change_points_;  // sorted
  size_t next_change_ = 0;
};

}  // namespace kqsim::fuzz
