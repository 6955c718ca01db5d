// chaos.h - live mode's timing perturbation ("chaos") at scheduling points.
//
// Contract
// --------
// In live mode (no sim::Scheduler on the calling OS thread) the places that
// would be scheduling points in deterministic mode - every sim::Cell and
// sim::Atomic access and every lock acquire/release - call chaos::point().
// When the calling OS thread has a Chaos installed (ChaosScope), point()
// draws from the thread's own RNG and, with probability `p`, delays the
// thread: half of the delays spin for up to `max_spin_ns`, the other half
// yield the CPU or sleep for up to `max_sleep_ns`. The aim is to widen race
// windows on real cores so that ThreadSanitizer and the oracles see more
// interleavings; it chooses nothing.
//
// Reproducibility: the RNG is seeded from (seed, thread index), so a run
// injects the same sequence of delay decisions per thread for the same seed
// and the same per-thread sequence of points; the interleaving itself is up
// to the OS and is not reproducible.
//
// Cost: with no Chaos installed (every deterministic run, and live runs with
// p = 0) point() is one thread-local load and a not-taken branch. It is only
// called on the live branches of Cell/Atomic and the lock primitives, never
// on the deterministic fast path.
//
// Thread-safety: all state is per OS thread.
#pragma once

#include <cstdint>

namespace kqsim::sim::chaos {

struct Knob {
  double p = 0;  // probability of a delay per point, 0..1
  uint64_t seed = 1;
  uint32_t max_spin_ns = 20'000;
  uint32_t max_sleep_ns = 50'000;
};

// One OS thread's chaos state.
class Chaos {
 public:
  Chaos(const Knob& k, uint64_t thread_index);
  // Called from point(): maybe delays the calling thread.
  void maybe_delay();
  uint64_t points() const { return points_; }
  uint64_t delays() const { return delays_; }

 private:
  uint64_t next();
  uint64_t state_;
  uint64_t threshold_;  // delay when the top 32 bits of a draw are below this
  Knob knob_;
  uint64_t points_ = 0;
  uint64_t delays_ = 0;
};

namespace detail {
inline constinit thread_local Chaos* tls_chaos = nullptr;
}

// The live-mode scheduling point.
inline void point() {
  if (Chaos* c = detail::tls_chaos) [[unlikely]]
    c->maybe_delay();
}

// Installs a Chaos for the calling OS thread for a scope (nothing when p <= 0).
class ChaosScope {
 public:
  ChaosScope(const Knob& k, uint64_t thread_index);
  ~ChaosScope();
  ChaosScope(const ChaosScope&) = delete;
  ChaosScope& operator=(const ChaosScope&) = delete;
  // Delays injected so far by this scope (0 when inactive).
  uint64_t delays() const;

 private:
  Chaos chaos_;
  Chaos* prev_;
  bool active_;
};

}  // namespace kqsim::sim::chaos
