// vector_clock.h - fixed-width vector clocks for the happens-before race detector.
//
// Contract: a VectorClock holds one logical clock per simulated thread slot
// (kMaxThreads of them; a slot is a Tid). Entries start at 0. join() is the
// pointwise maximum; leq() is the happens-before order. Fixed width keeps a
// clock in one cache line so copying and joining are branch-free.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace kqsim::sim {

using Tid = uint32_t;
inline constexpr Tid kNoThread = ~Tid{0};
inline constexpr unsigned kMaxThreads = 16;

struct VectorClock {
  std::array<uint32_t, kMaxThreads> c;

  VectorClock() : c{} {}
  // Leaves the entries unset, for a SyncVar (below): a clock that is only
  // read once written.
  struct Unset {};
  explicit VectorClock(Unset) {}  // NOLINT(cppcoreguidelines-pro-type-member-init)

  uint32_t operator[](Tid t) const { return c[t]; }
  uint32_t& operator[](Tid t) { return c[t]; }
  void clear() { c.fill(0); }
  void join(const VectorClock& o) {
    for (unsigned i = 0; i < kMaxThreads; ++i) c[i] = std::max(c[i], o.c[i]);
  }
  // join() over the first n entries only: the scheduler passes its thread
  // count, since within an execution every entry of a thread >= n is 0 in
  // every clock (slots are cleared at spawn, SyncVars at a new generation).
  void join_first(const VectorClock& o, unsigned n) {
    for (unsigned i = 0; i < n; ++i) c[i] = std::max(c[i], o.c[i]);
  }
  // True when every entry of *this is <= the matching entry of o.
  bool leq(const VectorClock& o) const {
    bool ok = true;
    for (unsigned i = 0; i < kMaxThreads; ++i) ok &= c[i] <= o.c[i];
    return ok;
  }
};

// A synchronisation object's clock (a lock, an atomic, a wait channel): release
// into it, acquire from it. gen ties the stored clock to one execution: a
// SyncVar that outlives its execution reads as empty in the next. vc is
// meaningful only while gen is the running execution's (gen 0 never is), and
// the scheduler writes all of it before gen says so; so constructing a SyncVar
// (every lock and atomic, every execution) stores one word, not 68 bytes.
//
// copied_from: the thread whose release() (a copy of its clock) wrote vc last,
// or kNoThread after a release_join(). That thread's clock only grows, so it
// still covers vc, and its own acquire is a no-op (a mutex re-taken by its last
// holder). Valid, like vc, only while gen is current.
struct SyncVar {
  uint32_t gen = 0;
  Tid copied_from;  // NOLINT(cppcoreguidelines-pro-type-member-init): see above
  VectorClock vc{VectorClock::Unset{}};
};

}  // namespace kqsim::sim
