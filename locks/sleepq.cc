#include "locks/sleepq.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>

#include <fmt/format.h>

#include "locks/kassert.h"
#include "locks/live_waiters.h"
#include "locks/witness.h"
#include "model/kern/bsd_errno.h"

namespace kqsim::locks {

namespace {

// A sleeping thread in deterministic mode: what it waits on.
class SleepWait final : public sim::Waitable {
 public:
  SleepWait(const void* chan, const char* wmesg) : chan_(chan), wmesg_(wmesg) {}
  std::string describe() const override { return fmt::format("wakeup on \"{}\"", wmesg_); }
  const void* channel() const override { return chan_; }

 private:
  const void* chan_;
  const char* wmesg_;
};

// Live mode: sleepers hashed by channel.
struct Sleeper {
  const void* chan;
  bool woken = false;
};
struct Bucket {
  std::mutex m;
  std::condition_variable cv;
  std::list<Sleeper*> sleepers;
};
constexpr size_t kBuckets = 64;
Bucket* buckets() {
  static Bucket all[kBuckets];
  return all;
}
Bucket& bucket(const void* chan) { return buckets()[(reinterpret_cast<uintptr_t>(chan) >> 4) % kBuckets]; }

// The common body. `interlock` may be null; `drop` leaves it released.
// timo > 0: ticks from now; timo == 0: forever; deadline_ns (when timo < 0):
// an absolute virtual-time deadline (deterministic mode) or an absolute
// live_clock_ns() one (live mode).
int sleep_common_inner(const void* chan, lock_object* interlock, bool exclusive, bool drop, const char* wmesg,
                       int timo, SrcLoc loc, uint64_t deadline_ns);

// DROP_GIANT/PICKUP_GIANT: a thread that sleeps gives Giant up for the
// duration of the sleep (all of its recursion), as FreeBSD's sleep paths do.
int sleep_common(const void* chan, lock_object* interlock, bool exclusive, bool drop, const char* wmesg, int timo,
                 SrcLoc loc, uint64_t deadline_ns = sim::kNever) {
  int giant = 0;
  if (interlock != &Giant) {
    while (mtx_owned(&Giant)) {
      mtx_unlock(&Giant, loc);
      ++giant;
    }
  }
  int r = sleep_common_inner(chan, interlock, exclusive, /*drop=*/true, wmesg, timo, loc, deadline_ns);
  // PICKUP_GIANT before the interlock is retaken, as FreeBSD's _sleep does,
  // so the order stays Giant -> interlock.
  for (int i = 0; i < giant; ++i) mtx_lock(&Giant, loc);
  if (interlock != nullptr && !drop) lo_acquire(*interlock, exclusive, false, loc);
  return r;
}

int sleep_common_inner(const void* chan, lock_object* interlock, bool exclusive, bool drop, const char* wmesg,
                       int timo, SrcLoc loc, uint64_t deadline_ns) {
  if (Witness* w = Witness::current())
    w->sleep_check(interlock, fmt::format("Sleeping on \"{}\"", wmesg), loc);
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    if (interlock != nullptr) {
      KASSERT(lo_recursed(*interlock) == 0, ("msleep on recursed lock %s", interlock->lo_name));
      lo_release(*interlock, exclusive, loc, /*point=*/false);
    }
    SleepWait sw(chan, wmesg);
    uint64_t deadline = timo > 0 ? s->now() + static_cast<uint64_t>(timo) * kNsPerTick
                        : timo < 0 ? deadline_ns
                                   : sim::kNever;
    sim::WakeReason r = s->park(&sw, loc, deadline);
    if (interlock != nullptr && !drop) lo_acquire(*interlock, exclusive, false, loc);
    return r == sim::WakeReason::kTimedOut ? bsd::kEWOULDBLOCK : 0;
  }
  // Live mode. A deadlock's abort (live_waiters.h) wakes every sleeper: the
  // predicate reads it under the bucket mutex, which the abort takes before
  // it notifies.
  if (live_abort_now()) throw sim::ExecutionAborted{};
  Bucket& b = bucket(chan);
  Sleeper me{chan};
  bool timed_out = false;
  {
    std::unique_lock<std::mutex> g(b.m);
    auto it = b.sleepers.insert(b.sleepers.end(), &me);
    if (interlock != nullptr) lo_release(*interlock, exclusive, loc);
    auto done = [&] { return me.woken || live_aborted(); };
    if (timo < 0 && deadline_ns != sim::kNever) {
      const std::chrono::steady_clock::time_point until{std::chrono::nanoseconds(deadline_ns)};
      timed_out = !b.cv.wait_until(g, until, done);
    } else if (timo > 0) {
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timo * 1000 / hz);
      timed_out = !b.cv.wait_until(g, until, done);
    } else {
      b.cv.wait(g, done);
    }
    b.sleepers.erase(it);
    if (!me.woken && live_abort_now()) {
      g.unlock();
      throw sim::ExecutionAborted{};  // the interlock stays released
    }
  }
  if (interlock != nullptr && !drop) lo_acquire(*interlock, exclusive, false, loc);
  return timed_out ? bsd::kEWOULDBLOCK : 0;
}

void wake(const void* chan, bool one, SrcLoc loc) {
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    s->point();
    unsigned n = s->wake_channel(chan, one);
    if (s->tracing()) s->trace_note(one ? "wakeup1" : "wakeup", fmt::format("{} woken", n), loc);
    return;
  }
  Bucket& b = bucket(chan);
  {
    std::lock_guard<std::mutex> g(b.m);
    for (Sleeper* sl : b.sleepers) {
      if (sl->chan == chan && !sl->woken) {
        sl->woken = true;
        if (one) break;
      }
    }
  }
  b.cv.notify_all();
}

}  // namespace

void live_wake_sleepers_for_abort() {
  for (size_t i = 0; i < kBuckets; ++i) {
    Bucket& b = buckets()[i];
    { std::lock_guard<std::mutex> g(b.m); }
    b.cv.notify_all();
  }
}

int msleep(const void* chan, mtx* m, int pri, const char* wmesg, int timo, SrcLoc loc) {
  if (m != nullptr) mtx_assert(m, MA_OWNED, loc);
  return sleep_common(chan, m, true, (pri & PDROP) != 0, wmesg, timo, loc);
}

int msleep_spin(const void* chan, mtx* m, const char* wmesg, int timo, SrcLoc loc) {
  return sleep_common(chan, m, true, false, wmesg, timo, loc);
}

int sx_sleep(const void* chan, sx* s, int pri, const char* wmesg, int timo, SrcLoc loc) {
  bool excl = sx_xlocked(s);
  return sleep_common(chan, s, excl, (pri & PDROP) != 0, wmesg, timo, loc);
}

int msleep_until(const void* chan, mtx* m, int pri, const char* wmesg, uint64_t deadline_ns, SrcLoc loc) {
  if (m != nullptr) mtx_assert(m, MA_OWNED, loc);
  return sleep_common(chan, m, true, (pri & PDROP) != 0, wmesg, -1, loc, deadline_ns);
}

uint64_t live_clock_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

int tsleep(const void* chan, int, const char* wmesg, int timo, SrcLoc loc) {
  return sleep_common(chan, nullptr, true, false, wmesg, timo, loc);
}

void wakeup(const void* chan, SrcLoc loc) { wake(chan, false, loc); }
void wakeup_one(const void* chan, SrcLoc loc) { wake(chan, true, loc); }

}  // namespace kqsim::locks
