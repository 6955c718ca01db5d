#include "locks/lock_object.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "locks/kassert.h"
#include "locks/live_waiters.h"
#include "locks/witness.h"
#include "model/sim/chaos.h"

namespace kqsim::locks {

namespace {

uint64_t live_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void refresh(lock_object& lo, const sim::Scheduler& s) {
  if (lo.gen != s.generation()) {
    lo.gen = s.generation();
    lo.owner_tid = kNoThread;
    lo.recurse = 0;
    lo.sharers = 0;
    lo.waiters = 0;
  }
}

void misuse(const std::string& msg, SrcLoc site) {
  sim::Finding f;
  f.kind = sim::FindingKind::kLockMisuse;
  f.message = msg;
  f.sites = {sim::Site::from(site)};
  f.fatal = true;
  if (Witness* w = Witness::current()) {
    w->report(std::move(f));
  } else if (sim::Scheduler* s = sim::Scheduler::current()) {
    s->report(std::move(f));
  }
}

bool busy_sim(const lock_object& lo, bool exclusive) {
  return lo.owner_tid != kNoThread || (exclusive && lo.sharers > 0);
}
bool busy_live(const lock_object& lo, bool exclusive) {
  return lo.live_owner != kNoThread || (exclusive && lo.live_sharers > 0);
}

// The uncommon parts of acquire_sim/release_sim, out of line: what formats a
// message or records a profile stays out of the hot functions' frames.
[[gnu::cold, gnu::noinline]] void recursed_misuse(const lock_object& lo, SrcLoc site) {
  misuse(fmt::format("recursed on non-recursive {} {} @ {}\n first acquired @ {}", lock_class_name(lo.lo_class),
                     lo.lo_name, site.str(), lo.locked_at.str()),
         site);
}
[[gnu::cold, gnu::noinline]] void release_misuse(const lock_object& lo, bool exclusive, SrcLoc site) {
  const char* cls = lock_class_name(lo.lo_class);
  if (!exclusive) misuse(fmt::format("{} {} not share locked @ {}", cls, lo.lo_name, site.str()), site);
  else if (lo.owner_tid == kNoThread) misuse(fmt::format("{} {} not locked @ {}", cls, lo.lo_name, site.str()), site);
  else
    misuse(fmt::format("{} {} not owned @ {}: held by thread {}", cls, lo.lo_name, site.str(), lo.owner_tid), site);
}
[[gnu::noinline]] void blocking_sleep_check(Witness& w, const lock_object& lo, SrcLoc site) {
  if (w.holds_spin())
    w.sleep_check(nullptr, fmt::format("blocking on {} \"{}\"", lock_class_name(lo.lo_class), lo.lo_name), site);
}
[[gnu::noinline]] void profile_acquire(Witness& w, lock_object& lo, bool contended, uint64_t waited) {
  w.profile().record_acquire(w.class_of(lo), contended, waited, LockProfile::Unit::kSteps,
                             &w == Witness::thread_current());
}
[[gnu::noinline]] void profile_release(Witness& w, lock_object& lo, uint64_t held) {
  w.profile().record_release(w.class_of(lo), held, LockProfile::Unit::kSteps, &w == Witness::thread_current());
}
[[gnu::cold, gnu::noinline]] void trace_lock(sim::Scheduler& s, const lock_object& lo, bool exclusive, bool contended,
                                             SrcLoc site) {
  s.trace_note(exclusive ? "lock" : "slock",
               fmt::format("{} \"{}\"{}", lock_class_name(lo.lo_class), lo.lo_name, contended ? " (contended)" : ""),
               site);
}
[[gnu::cold, gnu::noinline]] void trace_unlock(sim::Scheduler& s, const lock_object& lo, bool exclusive,
                                               SrcLoc site) {
  s.trace_note(exclusive ? "unlock" : "sunlock", fmt::format("{} \"{}\"", lock_class_name(lo.lo_class), lo.lo_name),
               site);
}

bool acquire_sim(sim::Scheduler& s, lock_object& lo, bool exclusive, bool try_only, SrcLoc site) {
  refresh(lo, s);
  const Tid me = s.self();
  // A blocking acquisition of a lock held by another thread parks at once:
  // the switch away is the choice, so no point before it (scheduler.h).
  if (!try_only && lo.owner_tid != me && busy_sim(lo, exclusive)) s.step();
  else s.point();
  Witness* w = Witness::current();
  if (lo.owner_tid == me) [[unlikely]] {
    if (exclusive && lo.recursable()) {
      ++lo.recurse;
      return true;
    }
    if (try_only && !exclusive) return false;
    recursed_misuse(lo, site);
    return false;
  }
  const int flags = (exclusive ? LOP_EXCLUSIVE : 0) | (try_only ? LOP_TRYLOCK : 0);
  Witness::HeldStack* held = w != nullptr ? &w->held() : nullptr;  // this thread's, across a park too
  if (w != nullptr && !s.aborting()) w->checkorder(*held, lo, flags, site);
  const bool contended = busy_sim(lo, exclusive);
  const uint64_t t0 = s.steps();
  if (contended) {
    if (try_only) return false;
    if (lo.sleepable() && w != nullptr) blocking_sleep_check(*w, lo, site);
    do {
      ++lo.waiters;
      s.park(&lo, site);
      --lo.waiters;
    } while (busy_sim(lo, exclusive));
  }
  if (exclusive) {
    lo.owner_tid = me;
    lo.locked_at = site;
    lo.acquired_at = s.steps();
  } else {
    ++lo.sharers;
  }
  s.acquire(lo.sync);
  if (w != nullptr) {
    w->lock(*held, lo, flags, site);
    if (w->options().profile && !(lo.lo_flags & MTX_NOPROFILE)) profile_acquire(*w, lo, contended, s.steps() - t0);
  }
  if (s.tracing()) [[unlikely]] trace_lock(s, lo, exclusive, contended, site);
  return true;
}

void release_sim(sim::Scheduler& s, lock_object& lo, bool exclusive, SrcLoc site, bool point) {
  // The point comes before the release, as before every synchronisation
  // operation: another thread may run while this one still holds the lock
  // (and find it held: a failed trylock, contention).
  if (point && !s.aborting()) s.point();
  refresh(lo, s);
  const Tid me = s.self();
  if (s.aborting()) [[unlikely]] {  // unwinding an ended execution: let go quietly
    if (exclusive && lo.owner_tid == me) lo.owner_tid = kNoThread;
    if (!exclusive && lo.sharers > 0) --lo.sharers;
    return;
  }
  if (exclusive ? lo.owner_tid != me : lo.sharers == 0) [[unlikely]] {
    release_misuse(lo, exclusive, site);
    return;
  }
  if (exclusive && lo.recurse > 0) {
    --lo.recurse;
    return;
  }
  if (Witness* w = Witness::current()) {
    w->unlock(lo, site);
    if (exclusive && w->options().profile && !(lo.lo_flags & MTX_NOPROFILE))
      profile_release(*w, lo, s.steps() - lo.acquired_at);
  }
  if (s.tracing()) [[unlikely]] trace_unlock(s, lo, exclusive, site);
  // An exclusive holder's clock already covers lo.sync (its acquisition
  // joined it, and nobody released the lock in between), so the join is a
  // copy; shared holders release concurrently and must join.
  if (exclusive) {
    s.release(lo.sync);
    lo.owner_tid = kNoThread;
  } else {
    s.release_join(lo.sync);
    --lo.sharers;
  }
  if (lo.waiters > 0) s.wake_all(&lo);
}

// Live mode: threads blocked in acquire_live, for live_waiters_text() and
// deadlock detection (live_waiters.h).
struct LiveWaiter {
  Tid tid;
  lock_object* lo;
  SrcLoc site;
};
std::mutex g_live_waiters_mu;
std::vector<LiveWaiter> g_live_waiters;        // g_live_waiters_mu
bool g_live_detect = false;                    // g_live_waiters_mu: a LiveDeadlockScope is alive
std::vector<LiveWaitEdge> g_live_deadlock;     // g_live_waiters_mu: the cycle of the abort in force
std::atomic<bool> g_live_aborted{false};       // written under g_live_waiters_mu

// Follows owner edges from the waiter `from` (the newest entry, under
// g_live_waiters_mu). Returns the cycle back to `from`, or nothing.
//
// Why a cycle found here is a real deadlock: every thread on it is listed,
// and a listed thread is blocked in acquire_live's wait loop, which it leaves
// only by taking its lock (or by an abort), so it releases nothing while
// listed. The first owner is read under the lock's live_m. Each later owner O
// of a lock L waited for by a listed thread W is read after W listed itself
// (this mutex orders both); if O is listed too, O listed itself after it last
// changed L's owner (a release then its listing, in O's program order), so
// the acquire load sees O's latest store, and O cannot change it while listed.
std::vector<LiveWaitEdge> find_cycle(const LiveWaiter& from) {
  std::vector<LiveWaitEdge> chain;
  const LiveWaiter* w = &from;
  // A cycle has at most one edge per listed thread.
  for (size_t hops = 0; hops < g_live_waiters.size(); ++hops) {
    const Tid owner = w->lo->live_owner.load(std::memory_order_acquire);
    if (owner == kNoThread) return {};  // free, or held shared: no single owner to follow
    chain.push_back(LiveWaitEdge{w->tid, w->lo->describe(), w->site, owner});
    if (owner == from.tid) return chain;
    const LiveWaiter* next = nullptr;
    for (const LiveWaiter& x : g_live_waiters)
      if (x.tid == owner) next = &x;
    if (next == nullptr) return {};  // the owner runs
    w = next;
  }
  return {};
}

enum class Wait { kWait, kAborted, kFound };

// Lists `me` as waiting for `lo` (the caller holds lo.live_m: lock order
// live_m -> g_live_waiters_mu), unless an abort is in force (kAborted) or
// this wait closes a deadlock cycle and puts one in force (kFound: `wake`
// holds every listed waiter's lock, to be woken once live_m is dropped).
Wait live_waiting(Tid me, lock_object* lo, SrcLoc site, std::vector<lock_object*>& wake) {
  std::lock_guard<std::mutex> g(g_live_waiters_mu);
  if (g_live_aborted.load(std::memory_order_relaxed)) return Wait::kAborted;
  g_live_waiters.push_back(LiveWaiter{me, lo, site});
  if (!g_live_detect) return Wait::kWait;
  std::vector<LiveWaitEdge> cycle = find_cycle(g_live_waiters.back());
  if (cycle.empty()) return Wait::kWait;
  g_live_waiters.pop_back();
  g_live_deadlock = std::move(cycle);
  g_live_aborted.store(true, std::memory_order_release);
  for (const LiveWaiter& x : g_live_waiters) wake.push_back(x.lo);
  return Wait::kFound;
}

void live_not_waiting(Tid me) {
  std::lock_guard<std::mutex> g(g_live_waiters_mu);
  for (size_t i = 0; i < g_live_waiters.size(); ++i)
    if (g_live_waiters[i].tid == me) {
      g_live_waiters.erase(g_live_waiters.begin() + static_cast<long>(i));
      return;
    }
}

// Wakes the waiters of `locks` and every sleeper, so they see the abort. A
// waiter checks the abort under its lock's live_m before it sleeps: taking
// that mutex once after the abort was put in force means none sleeps through
// the notification.
void wake_for_abort(const std::vector<lock_object*>& locks) {
  for (lock_object* l : locks) {
    { std::lock_guard<std::mutex> g(l->live_m); }
    l->live_cv.notify_all();
  }
  live_wake_sleepers_for_abort();
}

bool acquire_live(lock_object& lo, bool exclusive, bool try_only, SrcLoc site) {
  if (live_abort_now()) throw sim::ExecutionAborted{};
  sim::chaos::point();  // live mode's scheduling point: maybe perturb timing
  Witness* w = Witness::current();
  const Tid me = live_tid();
  const int flags = (exclusive ? LOP_EXCLUSIVE : 0) | (try_only ? LOP_TRYLOCK : 0);
  {
    std::unique_lock<std::mutex> g(lo.live_m);
    if (lo.live_owner == me) {
      if (exclusive && lo.recursable()) {
        ++lo.live_recurse;
        return true;
      }
      g.unlock();
      if (try_only && !exclusive) return false;
      misuse(fmt::format("recursed on non-recursive {} {} @ {}", lock_class_name(lo.lo_class), lo.lo_name, site.str()),
             site);
      panic_at(fmt::format("recursed on non-recursive {} {}", lock_class_name(lo.lo_class), lo.lo_name), site);
    }
  }
  if (w != nullptr) w->checkorder(lo, flags, site);
  const uint64_t t0 = live_now_ns();
  bool contended;
  {
    std::unique_lock<std::mutex> g(lo.live_m);
    contended = busy_live(lo, exclusive);
    if (contended && try_only) return false;
    if (contended) {
      std::vector<lock_object*> wake;
      const Wait wait = live_waiting(me, &lo, site, wake);
      if (wait == Wait::kFound) {
        g.unlock();
        wake_for_abort(wake);
        g.lock();
      } else if (wait == Wait::kWait) {
        while (busy_live(lo, exclusive) && !g_live_aborted.load(std::memory_order_acquire)) lo.live_cv.wait(g);
        live_not_waiting(me);
      }
      // Still busy: an abort is in force. A thread already unwinding waits
      // as before (the stall watchdog covers it).
      if (busy_live(lo, exclusive) && live_abort_now()) throw sim::ExecutionAborted{};
      while (busy_live(lo, exclusive)) lo.live_cv.wait(g);
    }
    if (exclusive) lo.live_owner.store(me, std::memory_order_release);
    else ++lo.live_sharers;
  }
  const uint64_t t1 = live_now_ns();
  if (exclusive) {
    lo.acquired_at = t1;
    lo.locked_at = site;
  }
  if (w != nullptr) {
    w->lock(lo, flags, site);
    if (w->options().profile && !(lo.lo_flags & MTX_NOPROFILE))
      w->profile().record_acquire(w->class_of(lo), contended, t1 - t0, LockProfile::Unit::kNanoseconds);
  }
  return true;
}

void release_live(lock_object& lo, bool exclusive, SrcLoc site) {
  sim::chaos::point();
  Witness* w = Witness::current();
  const Tid me = live_tid();
  uint64_t hold = 0;
  {
    std::unique_lock<std::mutex> g(lo.live_m);
    if (exclusive) {
      if (lo.live_owner != me) {
        g.unlock();
        misuse(fmt::format("{} {} not owned @ {}", lock_class_name(lo.lo_class), lo.lo_name, site.str()), site);
        panic_at(fmt::format("{} {} not owned", lock_class_name(lo.lo_class), lo.lo_name), site);
      }
      if (lo.live_recurse > 0) {
        --lo.live_recurse;
        return;
      }
      hold = live_now_ns() - lo.acquired_at;
    } else if (lo.live_sharers == 0) {
      g.unlock();
      panic_at(fmt::format("{} {} not share locked", lock_class_name(lo.lo_class), lo.lo_name), site);
    }
  }
  if (w != nullptr) {
    w->unlock(lo, site);
    if (exclusive && w->options().profile && !(lo.lo_flags & MTX_NOPROFILE))
      w->profile().record_release(w->class_of(lo), hold, LockProfile::Unit::kNanoseconds);
  }
  {
    std::lock_guard<std::mutex> g(lo.live_m);
    if (exclusive) lo.live_owner.store(kNoThread, std::memory_order_release);
    else --lo.live_sharers;
  }
  lo.live_cv.notify_all();
}

}  // namespace

const char* lock_class_name(LockClass c) {
  switch (c) {
    case LockClass::kSleepMutex: return "sleep mutex";
    case LockClass::kSpinMutex: return "spin mutex";
    case LockClass::kSx: return "sx";
  }
  return "lock";
}

std::string lock_object::describe() const { return fmt::format("{} \"{}\"", lock_class_name(lo_class), lo_name); }

Tid lock_object::owner() const {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s != nullptr) return gen == s->generation() ? owner_tid : kNoThread;
  return live_owner.load(std::memory_order_acquire);
}

bool lock_object::recursable() const {
  return lo_class == LockClass::kSx ? (lo_flags & SX_RECURSE) != 0 : (lo_flags & MTX_RECURSE) != 0;
}

bool lock_object::dupok() const {
  return lo_class == LockClass::kSx ? (lo_flags & SX_DUPOK) != 0 : (lo_flags & MTX_DUPOK) != 0;
}

void lo_init(lock_object& lo, const char* name, const char* type, int flags, LockClass cls) {
  lo.lo_name = name;
  lo.lo_type = type != nullptr ? type : name;
  lo.lo_flags = flags;
  lo.lo_class = cls;
  lo.lo_initialized = true;
  lo.lo_destroyed = false;
  lo.gen = 0;
  lo.owner_tid = kNoThread;
  lo.recurse = lo.sharers = lo.waiters = 0;
  lo.w_cache.store(0, std::memory_order_relaxed);
  lo.live_owner.store(kNoThread, std::memory_order_relaxed);
  lo.live_recurse = lo.live_sharers = 0;
}

bool lo_acquire(lock_object& lo, bool exclusive, bool try_only, SrcLoc site) {
  if (sim::Scheduler* s = sim::Scheduler::current()) return acquire_sim(*s, lo, exclusive, try_only, site);
  return acquire_live(lo, exclusive, try_only, site);
}

void lo_release(lock_object& lo, bool exclusive, SrcLoc site, bool point) {
  if (sim::Scheduler* s = sim::Scheduler::current()) return release_sim(*s, lo, exclusive, site, point);
  release_live(lo, exclusive, site);
}

bool lo_owned_live(const lock_object& lo) {
  std::lock_guard<std::mutex> g(const_cast<lock_object&>(lo).live_m);
  return lo.live_owner == live_tid();
}

uint32_t lo_recursed(const lock_object& lo) {
  if (sim::Scheduler* s = sim::Scheduler::current()) return lo.gen == s->generation() ? lo.recurse : 0;
  std::lock_guard<std::mutex> g(const_cast<lock_object&>(lo).live_m);
  return lo.live_recurse;
}

uint32_t lo_sharers(const lock_object& lo) {
  if (sim::Scheduler* s = sim::Scheduler::current()) return lo.gen == s->generation() ? lo.sharers : 0;
  std::lock_guard<std::mutex> g(const_cast<lock_object&>(lo).live_m);
  return lo.live_sharers;
}

void lo_assert(const lock_object& lo, int what, SrcLoc site) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s != nullptr && s->aborting()) return;
  const bool owned = lo_owned(lo);
  // The common assertion, KQ_OWNED and friends: owned exclusively, nothing
  // else asked (the checks below would all pass).
  if (what == LA_XLOCKED && owned) return;
  const char* cls = lock_class_name(lo.lo_class);
  if ((what & LA_XLOCKED) && !owned) panic_at(fmt::format("{} {} not owned", cls, lo.lo_name), site);
  if ((what & LA_SLOCKED) && lo_sharers(lo) == 0) panic_at(fmt::format("{} {} not share locked", cls, lo.lo_name), site);
  if ((what & LA_LOCKED) && !owned && lo_sharers(lo) == 0)
    panic_at(fmt::format("{} {} not locked", cls, lo.lo_name), site);
  if (what == LA_UNLOCKED && owned) panic_at(fmt::format("{} {} owned", cls, lo.lo_name), site);
  if ((what & LA_RECURSED) && lo_recursed(lo) == 0) panic_at(fmt::format("{} {} not recursed", cls, lo.lo_name), site);
  if ((what & LA_NOTRECURSED) && lo_recursed(lo) != 0) panic_at(fmt::format("{} {} recursed", cls, lo.lo_name), site);
}

LiveDeadlockScope::LiveDeadlockScope() {
  std::lock_guard<std::mutex> g(g_live_waiters_mu);
  g_live_detect = true;
}

LiveDeadlockScope::~LiveDeadlockScope() {
  std::lock_guard<std::mutex> g(g_live_waiters_mu);
  g_live_detect = false;
  g_live_deadlock.clear();
  g_live_aborted.store(false, std::memory_order_release);
}

bool live_aborted() { return g_live_aborted.load(std::memory_order_acquire); }

bool live_abort_now() { return live_aborted() && std::uncaught_exceptions() == 0; }

std::vector<LiveWaitEdge> live_take_deadlock() {
  std::lock_guard<std::mutex> g(g_live_waiters_mu);
  g_live_aborted.store(false, std::memory_order_release);
  return std::exchange(g_live_deadlock, {});
}

std::string live_waiters_text() {
  std::vector<LiveWaiter> copy;
  {
    std::lock_guard<std::mutex> g(g_live_waiters_mu);
    copy = g_live_waiters;
  }
  std::string out;
  for (const LiveWaiter& w : copy) {
    Tid owner;
    uint32_t sharers;
    {
      std::lock_guard<std::mutex> g(const_cast<lock_object*>(w.lo)->live_m);
      owner = w.lo->live_owner.load(std::memory_order_relaxed);
      sharers = w.lo->live_sharers;
    }
    out += fmt::format("live thread {} waits for {} \"{}\" @ {}, ", w.tid, lock_class_name(w.lo->lo_class),
                       w.lo->lo_name, w.site.str());
    if (owner != kNoThread)
      out += fmt::format("held by live thread {}\n", owner);
    else
      out += fmt::format("held shared by {} thread{}\n", sharers, sharers == 1 ? "" : "s");
  }
  return out;
}

Tid live_tid() {
  static std::atomic<Tid> next{0};
  thread_local Tid id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

}  // namespace kqsim::locks
