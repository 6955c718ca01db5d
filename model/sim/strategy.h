// strategy.h - who runs next.
//
// Contract: at every scheduling point where two or more threads are runnable,
// the Scheduler asks its Strategy to choose one. `runnable` is sorted by Tid
// and has n >= 2 entries; `current` is the thread that reached the point (it is
// among the runnable ones) or kNoThread when the current thread blocked or
// exited. The choice must be one of the runnable threads. A strategy is
// deterministic given its seed: that is what makes seeds replay exactly.
//
// Strategies here: RandomStrategy (uniform random walk) and ReplayStrategy
// (follow a recorded path). PCT and bounded-preemption search live in fuzz/.
#pragma once

#include <cstdint>

#include "model/sim/path.h"
#include "model/sim/vector_clock.h"

namespace kqsim::sim {

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Called before each execution.
  virtual void begin_execution() {}
  virtual Tid choose(const Tid* runnable, unsigned n, Tid current) = 0;
  // Called when a thread is created (PCT assigns priorities here).
  virtual void on_spawn(Tid) {}
};

// splitmix64: the seed mixer used everywhere a seed is derived from another.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The seed of execution `index` of an exploration seeded with `seed`.
inline uint64_t execution_seed(uint64_t seed, uint64_t index) { return splitmix64(seed ^ splitmix64(index)); }

// A small fast PRNG (wyrand).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : s_(seed) {}
  void seed(uint64_t s) { s_ = s; }
  uint64_t next() {
    s_ += 0xa0761d6478bd642full;
    __uint128_t m = static_cast<__uint128_t>(s_) * (s_ ^ 0xe7037ed1a0b428dbull);
    return static_cast<uint64_t>(m >> 64) ^ static_cast<uint64_t>(m);
  }
  // Uniform in [0, n).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<__uint128_t>(next()) * n) >> 64); }

 private:
  uint64_t s_;
};

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t seed) : rng_(seed) {}
  void reseed(uint64_t seed) { rng_.seed(seed); }
  Tid choose(const Tid* runnable, unsigned n, Tid) override { return runnable[rng_.below(n)]; }

 private:
  Rng rng_;
};

// Follows a recorded path. When the path runs out, or names a thread that is
// not runnable, it has diverged: it records where, and falls back to the
// lowest runnable thread so the execution can still finish.
class ReplayStrategy final : public Strategy {
 public:
  explicit ReplayStrategy(Path path) : path_(std::move(path)) {}
  void begin_execution() override {
    pos_ = 0;
    diverged_at_ = -1;
  }
  Tid choose(const Tid* runnable, unsigned n, Tid current) override;
  bool diverged() const { return diverged_at_ >= 0; }
  long diverged_at() const { return diverged_at_; }
  size_t consumed() const { return pos_; }

 private:
  Path path_;
  size_t pos_ = 0;
  long diverged_at_ = -1;
};

}  // namespace kqsim::sim
