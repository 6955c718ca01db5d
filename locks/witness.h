// witness.h - kqsim's WITNESS: lock-order and lock-use checking.
//
// Contract
// --------
// A Witness owns a WitnessGraph (the lock-order graph over lock classes) and
// a LockProfile, and keeps, per thread, the stack of locks it holds. It lives
// as long as an exploration (or a live run): the graph only grows, so a
// reversal is found even when its two halves were seen in different
// executions, different threads, or on different lock instances of one class.
// It can be saved to and merged from a file (WitnessGraph::to_json/merge).
//
// The primitives call, in this order, FreeBSD's hooks:
//   checkorder(lo, flags, site)  before a blocking acquisition: for every held
//       lock H (of another class) add the edge H -> lo to the graph; an edge
//       that closes a cycle is a "lock order reversal" reported once, in
//       WITNESS's form, with where the established order was first seen.
//       Two locks of one class held together are a "duplicate lock of same
//       type" unless either allows it (MTX_DUPOK). Try-locks are not checked
//       (they cannot deadlock) but are recorded as held.
//   lock(lo, flags, site)        after acquiring: push on the held stack.
//   unlock(lo, site)             before releasing: remove from the stack.
// and the runtime calls thread_exit(tid) when a simulated thread returns (locks
// still held are reported). sleep_check() reports sleeping or blocking on a
// sleepable lock while a spin mutex is held.
//
// Which Witness is in force: Witness::current() is the one installed for the
// calling OS thread with set_current() (the explorer installs one per worker),
// else the process-wide one from set_global() (live mode), else none (no
// checking, no profiling). Findings go to the running Scheduler (deterministic
// mode) or are collected in the Witness (live mode: take_findings()).
//
// Thread-safety: all of it. The graph is internally synchronised; the held
// stacks are per simulated thread (deterministic: one OS thread) or
// thread-local (live); live findings are under a mutex.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "locks/lock_object.h"
#include "locks/profile.h"
#include "locks/witness_graph.h"
#include "model/sim/finding.h"

namespace kqsim::locks {

class Witness {
 public:
  struct Options {
    bool check = true;     // order and use checks
    bool profile = true;   // lock profiling
  };

  Witness() : id_(next_id()) {}
  explicit Witness(Options o) : opts_(o), id_(next_id()) {}
  // Unique for the process's lifetime (lock objects cache their class by it).
  uint64_t id() const { return id_; }
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;

  static Witness* current() {
    Witness* w = tls_current_;
    return w != nullptr ? w : global_;
  }
  static void set_current(Witness* w) { tls_current_ = w; }
  static Witness* thread_current() { return tls_current_; }
  static void set_global(Witness* w) { global_ = w; }

  const Options& options() const { return opts_; }
  WitnessGraph& graph() { return graph_; }
  const WitnessGraph& graph() const { return graph_; }
  LockProfile& profile() { return profile_; }

  ClassId class_of(lock_object& lo);

  // A held lock, and a thread's stack of them (gen: the execution it belongs to).
  struct Held {
    lock_object* lo;
    SrcLoc site;
    int flags;
  };
  struct HeldStack {
    uint32_t gen = 0;
    const Witness* owner = nullptr;
    std::vector<Held> locks;
  };

  // The hooks are inline up to the common case (nothing held before an
  // acquisition; the lock released is the last one taken; nothing held at
  // exit): they run at every lock operation of every execution.
  void checkorder(lock_object& lo, int flags, SrcLoc site) {
    if (sim::Scheduler* s = sim::Scheduler::current(); s != nullptr && s->aborting()) return;
    checkorder(held(), lo, flags, site);
  }
  void lock(lock_object& lo, int flags, SrcLoc site) { lock(held(), lo, flags, site); }
  void unlock(lock_object& lo, SrcLoc) { unlock(held(), lo); }

  // The calling thread's held stack (the simulated thread's in the running
  // execution, or the live OS thread's), and the same hooks on it: a simulated
  // lock acquisition looks the stack up once, and it stays the thread's across
  // a park. checkorder(HeldStack&, ...) is for a running execution, not one
  // ending (the caller checks).
  HeldStack& held() {
    if (sim::Scheduler* s = sim::Scheduler::current()) {
      HeldStack& h = sim_held_[s->self()];
      if (h.gen != s->generation()) [[unlikely]] {
        h.gen = s->generation();
        h.locks.clear();
      }
      return h;
    }
    return live_held();
  }
  void checkorder(HeldStack& h, lock_object& lo, int flags, SrcLoc site) {
    if (!opts_.check || (flags & LOP_TRYLOCK) || (lo.lo_flags & MTX_NOWITNESS)) return;
    if (h.locks.empty()) return;
    checkorder_held(h, lo, site);
  }
  void lock(HeldStack& h, lock_object& lo, int flags, SrcLoc site) {
    if (flags & LOP_EXCLUSIVE)
      for (const Held& e : h.locks)
        if (e.lo == &lo) return;  // recursion: one entry
    h.locks.push_back(Held{&lo, site, flags});
  }
  void unlock(HeldStack& h, lock_object& lo) {
    if (!h.locks.empty() && h.locks.back().lo == &lo) {
      h.locks.pop_back();
      return;
    }
    unlock_inner(h, lo);
  }
  // Forgets the calling thread's held locks without a report (a live thread
  // that unwound a deadlock's abort: locks/live_waiters.h).
  void forget_held() { held().locks.clear(); }
  void thread_exit(Tid tid) {
    if (!opts_.check) return;
    HeldStack& h = held();
    if (h.locks.empty()) return;
    report_held_at_exit(h, tid);
  }
  // Reports when the calling thread holds a spin mutex other than `except`
  // and is about to sleep (`what` says how: "msleep on \"kqread\"", "blocking
  // on sleep mutex \"kqueue\""). Returns true when it reported.
  bool sleep_check(const lock_object* except, const std::string& what, SrcLoc site);
  // Whether the calling thread holds a spin mutex.
  bool holds_spin();
  // "exclusive sleep mutex kqueue (kqueue) r = 0 locked @ knote/kern_event.cc:120" per held lock.
  std::string held_text();

  // "sleep mutex \"A\" locked @ x.cc:10, sx \"B\" ..." for simulated thread `tid`
  // of the running execution (deadlock reports).
  std::string holds_of(Tid tid);

  // Files a finding: to the running Scheduler, or into the live list.
  void report(sim::Finding f);
  std::vector<sim::Finding> take_findings();
  size_t live_finding_count();

 private:
  HeldStack& live_held();
  void checkorder_held(HeldStack& h, lock_object& lo, SrcLoc site);
  static void unlock_inner(HeldStack& h, lock_object& lo);
  void report_held_at_exit(HeldStack& h, Tid tid);
  std::string held_line(const Held& h) const;

  static inline thread_local Witness* tls_current_ = nullptr;
  static inline Witness* global_ = nullptr;

  static uint64_t next_id();

  Options opts_;
  uint64_t id_;
  WitnessGraph graph_;
  LockProfile profile_;
  HeldStack sim_held_[sim::kMaxThreads];
  std::mutex live_mu_;
  std::vector<sim::Finding> live_findings_;
};

// Installs `w` as the calling OS thread's witness for a scope.
class WitnessScope {
 public:
  explicit WitnessScope(Witness* w) : prev_(Witness::thread_current()) { Witness::set_current(w); }
  ~WitnessScope() { Witness::set_current(prev_); }
  WitnessScope(const WitnessScope&) = delete;
  WitnessScope& operator=(const WitnessScope&) = delete;

 private:
  Witness* prev_;
};

}  // namespace kqsim::locks
