// cell.h - instrumented shared memory: sim::Cell<T> and sim::Atomic<T>.
//
// Contract
// --------
// Cell<T> is a plain shared variable (what C code would read and write
// without atomics). Under a running Scheduler every load() and store() is one
// step followed by a happens-before check (a scheduling point too only with the
// race detector off or SchedulerOptions::access_points; see scheduler.h,
// "Scheduling points"): two accesses from
// different threads, at least one a write, that no lock or atomic orders, are
// reported as a data race naming both source sites and both threads. Outside a
// Scheduler (live mode, setup code, tests) a Cell is exactly a T: loads and
// stores are plain memory accesses, so ThreadSanitizer sees the real thing;
// each one then calls chaos::point(), live mode's timing perturbation (one
// thread-local test when no chaos is installed; see model/sim/chaos.h).
//
// Atomic<T> wraps std::atomic<T>. Each operation is one scheduling point and,
// under the race detector, a synchronisation edge: stores with release (or
// stronger) order publish the storer's clock, loads with acquire (or
// stronger) order take it, read-modify-writes do both. Relaxed operations are
// scheduling points without edges.
//
// raw()/raw_set() bypass instrumentation: for invariant checkers and reports,
// which must observe without perturbing the schedule.
//
// Costs: load/store = 1 step each (a point only as above); Atomic ops = 1 point each.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "model/sim/chaos.h"
#include "model/sim/scheduler.h"
#include "model/sim/shadow.h"
#include "model/sim/srcloc.h"

namespace kqsim::sim {

template <class T>
class Cell {
 public:
  Cell() : v_() {}
  explicit Cell(T v) : v_(v) {}
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  // Always inline: the call would cost as much as the common case of the
  // check itself (docs/performance.md); the uncommon cases are out of line.
  [[gnu::always_inline]] T load(SrcLoc loc = SrcLoc::current()) const {
    if (Scheduler* s = Scheduler::current()) [[likely]]
      s->on_read(sh_, loc);
    else
      chaos::point();  // live mode: maybe perturb timing (model/sim/chaos.h)
    return v_;
  }
  [[gnu::always_inline]] void store(T v, SrcLoc loc = SrcLoc::current()) {
    if (Scheduler* s = Scheduler::current()) [[likely]]
      s->on_write(sh_, loc);
    else
      chaos::point();
    v_ = v;
  }
  // The same, recorded in the trace as `op` instead of "load"/"store": a
  // static string naming the field ("store tqe_next"), or a callable returning
  // one, called only when the access leaves the inline path (Scheduler::on_read).
  template <class Op>
  [[gnu::always_inline]] T load(SrcLoc loc, Op op) const {
    if (Scheduler* s = Scheduler::current()) [[likely]]
      s->on_read(sh_, loc, op);
    return v_;
  }
  template <class Op>
  [[gnu::always_inline]] void store(T v, SrcLoc loc, Op op) {
    if (Scheduler* s = Scheduler::current()) [[likely]]
      s->on_write(sh_, loc, op);
    v_ = v;
  }
  T raw() const { return v_; }
  void raw_set(T v) { v_ = v; }

 private:
  T v_;
  mutable Shadow sh_;
};

inline constexpr bool is_acquire(std::memory_order o) {
  return o == std::memory_order_acquire || o == std::memory_order_acq_rel || o == std::memory_order_seq_cst ||
         o == std::memory_order_consume;
}
inline constexpr bool is_release(std::memory_order o) {
  return o == std::memory_order_release || o == std::memory_order_acq_rel || o == std::memory_order_seq_cst;
}

template <class T>
class Atomic {
 public:
  Atomic() : v_() {}
  explicit Atomic(T v) : v_(v) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(std::memory_order o = std::memory_order_seq_cst, SrcLoc loc = SrcLoc::current()) const {
    if (Scheduler* s = Scheduler::current()) {
      before(s, loc, "atomic-load");
      T v = v_.load(std::memory_order_relaxed);
      if (is_acquire(o)) s->acquire(sync_);
      return v;
    }
    chaos::point();
    return v_.load(o);
  }
  void store(T v, std::memory_order o = std::memory_order_seq_cst, SrcLoc loc = SrcLoc::current()) {
    if (Scheduler* s = Scheduler::current()) {
      before(s, loc, "atomic-store");
      if (is_release(o)) s->release(sync_);
      v_.store(v, std::memory_order_relaxed);
      return;
    }
    chaos::point();
    v_.store(v, o);
  }
  T exchange(T v, std::memory_order o = std::memory_order_seq_cst, SrcLoc loc = SrcLoc::current()) {
    return rmw([&] { return v_.exchange(v, std::memory_order_relaxed); }, [&] { return v_.exchange(v, o); }, o,
               loc);
  }
  T fetch_add(T d, std::memory_order o = std::memory_order_seq_cst, SrcLoc loc = SrcLoc::current()) {
    return rmw([&] { return v_.fetch_add(d, std::memory_order_relaxed); }, [&] { return v_.fetch_add(d, o); },
               o, loc);
  }
  T fetch_sub(T d, std::memory_order o = std::memory_order_seq_cst, SrcLoc loc = SrcLoc::current()) {
    return rmw([&] { return v_.fetch_sub(d, std::memory_order_relaxed); }, [&] { return v_.fetch_sub(d, o); },
               o, loc);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order o = std::memory_order_seq_cst,
                               SrcLoc loc = SrcLoc::current()) {
    bool ok = false;
    rmw(
        [&] {
          ok = v_.compare_exchange_strong(expected, desired, std::memory_order_relaxed);
          return T{};
        },
        [&] {
          ok = v_.compare_exchange_strong(expected, desired, o);
          return T{};
        },
        o, loc);
    return ok;
  }
  T raw() const { return v_.load(std::memory_order_relaxed); }

 private:
  void before(Scheduler* s, SrcLoc loc, const char* op) const {
    s->point();
    if (s->tracing()) s->trace_note(op, {}, loc);
  }
  template <class Sim, class Live>
  T rmw(Sim sim_op, Live live_op, std::memory_order o, SrcLoc loc) {
    if (Scheduler* s = Scheduler::current()) {
      before(s, loc, "atomic-rmw");
      if (is_acquire(o)) s->acquire(sync_);
      T old = sim_op();
      if (is_release(o)) s->release_join(sync_);
      return old;
    }
    chaos::point();
    return live_op();
  }

  std::atomic<T> v_;
  mutable SyncVar sync_;
};

}  // namespace kqsim::sim
