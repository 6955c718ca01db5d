// timer.cc - EVFILT_TIMER on virtual time, and the softclock that fires it
// (the timer part of FreeBSD's kern_event.c: filt_timerattach,
// filt_timervalidate, filt_timerstart, filt_timerexpire, filt_timertouch,
// filt_timerdetach, filt_timer; and a minimal kern_timeout.c).
//
// Semantics (FreeBSD's)
// ---------------------
//   data      the period (or, with NOTE_ABSTIME, the absolute expiry time),
//             in milliseconds unless fflags name one unit: NOTE_SECONDS,
//             NOTE_MSECONDS, NOTE_USECONDS, NOTE_NSECONDS. Two units, any
//             other fflags bit or data < 0: EINVAL. data 0 is 1 unless
//             EV_ONESHOT (then the timer fires at once).
//   periodic  by default; EV_ONESHOT fires once (and the knote is dropped
//             when retrieved); NOTE_ABSTIME fires once, at virtual time
//             `data` (the model's epoch is virtual time 0 of the execution;
//             a time already past fires at once).
//   EV_CLEAR  set automatically, except with NOTE_ABSTIME.
//   returned  data = expirations since the last retrieval. A periodic timer
//             that fell behind counts max(1, (now - next) / period)
//             expirations, as FreeBSD's filt_timerexpire does.
//   EV_ADD    on an existing timer restarts it with the new data/fflags and
//             throws away undelivered expirations; bad values then set
//             EV_ERROR in the knote with data = the errno (FreeBSD's way).
//   EV_DELETE stops it: filt_timerdetach drains the callout, so no expiry
//             touches the knote after the detach returns.
// Units are exact in nanoseconds of virtual time (FreeBSD converts to
// sbintime, 2^-32 s, and rounds). No kq_calloutmax limit (FreeBSD: ENOMEM
// beyond 4096 timers). Live mode (no Scheduler): EV_ADD fails with
// EOPNOTSUPP; there is no softclock on real time.
//
// The softclock
// -------------
// One per World, started lazily by the first armed timer: a daemon simulated
// thread ("softclock", Scheduler::spawn_daemon; it never keeps an execution
// alive). It sleeps until the earliest armed callout (Scheduler::park with a
// deadline: virtual time jumps there when every thread is idle), then runs
// each due callout's handler without the callout lock. Arming a callout
// earlier than the softclock's current deadline wakes it. Where the state
// lives: the World owns it (World::make) and points to it
// (World::softclock()), so a new World never sees another's. Teardown: the
// daemon is registered with World::add_daemon, and ~World stops it
// (Scheduler::stop_daemon) before freeing the state it runs on; a stopped
// softclock is unwound at the end of the execution without running again
// (it holds no lock and no object while parked or preempted, so unwinding
// touches nothing).
// Designs that run syscalls under Giant (kevent_giant or all_giant) run the
// handlers under Giant, as FreeBSD 5's non-MPSAFE callouts did
// (callout_init(c, 0)); the others run them MPSAFE (callout_init(c, 1)).
//
// Locks and lock order
// --------------------
//   Giant -> kc_mtx -> kq lock        expiry: KNOTE_LOCKED on the timer's knlist,
//                                     and the read of kn_flags (EV_ONESHOT)
//   kc_mtx -> callout lock            touch (kc_mtx held by kqueue_register),
//                                     expiry (cancel check, re-arm)
//   callout lock                      attach/detach arm and drain alone
// kc_mtx ("kqtimer") is the model's knlist lock for one timer knote. FreeBSD
// timer knotes are on no knlist and the callout updates kn_data with no lock
// at all ("XXX - handle locking") and activates with KNOTE_ACTIVATE. The
// model goes through the public knote() path instead: the expiry adds to
// kc_pending (an atomic) and KNOTEs the timer's own knlist; filt_timer moves
// kc_pending into kn_data under whatever lock the design calls f_event with,
// so kn_data has exactly the locking of every other filter's data and the
// race detector reports only races of the design under test. An expiry that
// meets the knote in flux (knote() skips it) stays in kc_pending until the
// next f_event (kqueue_register calls one right after attach and touch).
//
// Callout state machine (callout lock):
//   idle --arm--> pending (on the wheel) --due--> dispatched --gen ok--> running --> idle
//                                                     \--gen changed (stopped/re-armed)--> idle
// c_gen counts stops and restarts: a dispatched handler that finds c_gen
// changed does nothing. filt_timerdetach waits while `running` (msleep on
// the callout); filt_timertouch need not wait: it holds kc_mtx, which a
// running handler holds too.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "locks/kassert.h"
#include "locks/mutex.h"
#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/proc.h"
#include "model/kern/world.h"
#include "model/sim/cell.h"
#include "model/sim/list.h"
#include "model/sim/scheduler.h"

namespace kqsim::kern {

using namespace kqsim::bsd;
using sim::Atomic;

// The timer's state types are named in kqsim::kern (World points to a
// softclock_state); everything else here is file-local.
struct softclock_state;

namespace {

inline constexpr unsigned int NOTE_TIMER_PRECMASK = NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS;
inline constexpr int64_t kSbtMax = std::numeric_limits<int64_t>::max();  // SBT_MAX, in ns

}  // namespace

// kq_timer_cb_data, with its callout.
struct kq_callout {
  // The callout (callout lock).
  sim::TailqEntry c_links;  // on the softclock's wheel while pending
  Cell<bool> c_pending;
  Cell<bool> c_running;     // its handler is running (past the c_gen check)
  Cell<bool> c_drainwait;   // a detach sleeps until it stops running
  Cell<uint32_t> c_gen;     // bumped by every stop and restart
  Cell<uint64_t> c_time;    // absolute virtual time it is due

  // The timer (kc_mtx, or the knote in flux before the first arming).
  knote* kn = nullptr;
  softclock_state* sc = nullptr;  // the World's softclock
  Cell<uint64_t> next;  // next expiry, absolute virtual ns
  Cell<uint64_t> to;    // period in ns; 0: fires once (NOTE_ABSTIME)
  Atomic<int64_t> kc_pending;  // expirations not yet moved into kn_data
  locks::mtx kc_mtx;    // "kqtimer": the knlist lock of kc_knlist
  knlist kc_knlist;     // holds kn only
};

struct softclock_state {
  locks::mtx cc_lock;  // "callout"
  sim::TailqHead<kq_callout, &kq_callout::c_links> cc_wheel;  // pending callouts, unsorted; cc_lock
  // What the parked softclock sleeps until (kNever: no callout); 0 while it
  // is awake (it rescans the wheel before parking again). cc_lock.
  Cell<uint64_t> cc_deadline;
  bool cc_giant = false;       // run handlers under Giant (the design's rule)
  World* cc_world = nullptr;
  // Plain memory, never read by the model: true from the softclock's start
  // until it parks idle, and from its waking until it parks again. While it
  // is false the softclock holds nothing and is between two runs
  // (World::softclock_idle, for checks at quiescent points).
  bool cc_busy = false;

  // What the softclock parks on: a sleep channel, so wakeup(&cc_wheel) finds it.
  struct Wait final : sim::Waitable {
    const void* chan = nullptr;
    std::string describe() const override { return "softclock: wakeup on \"callout\""; }
    const void* channel() const override { return chan; }
  } cc_wait;
};

namespace {

void softclock_main(softclock_state* sc);
void filt_timerexpire(softclock_state* sc, kq_callout* kc, uint32_t gen);

// The World's softclock, created (and its daemon started) on first use.
softclock_state* softclock_get() {
  World* w = World::current();
  sim::Scheduler* s = sim::Scheduler::current();
  if (softclock_state* sc = w->softclock()) return sc;
  softclock_state* sc = w->make<softclock_state>();
  locks::mtx_init(&sc->cc_lock, "callout", nullptr, locks::MTX_DEF);
  sc->cc_wait.chan = &sc->cc_wheel;
  sc->cc_world = w;
  const kq_design& d = w->design();
  sc->cc_giant = d.kevent_giant || d.all_giant;
  w->set_softclock(sc);
  w->add_daemon(s->spawn_daemon([sc] { softclock_main(sc); }, "softclock"));
  return sc;
}

// ---- callouts (kern_timeout.c, reduced to what EVFILT_TIMER needs) ----

// Puts kc on the wheel, due at `when`; callout lock held. Wakes the softclock
// when that is earlier than what it sleeps until.
void callout_schedule_locked(softclock_state* sc, kq_callout* kc, uint64_t when) {
  locks::mtx_assert(&sc->cc_lock, locks::MA_OWNED);
  if (kc->c_pending.load()) sc->cc_wheel.remove(kc);
  kc->c_time.store(when);
  sc->cc_wheel.insert_tail(kc);
  kc->c_pending.store(true);
  if (when < sc->cc_deadline.load()) locks::wakeup(&sc->cc_wheel);
}

// callout_stop: cancels a pending run and any dispatched, not yet running
// one. Callout lock held.
void callout_stop_locked(softclock_state* sc, kq_callout* kc) {
  locks::mtx_assert(&sc->cc_lock, locks::MA_OWNED);
  kc->c_gen.store(kc->c_gen.load() + 1);
  if (kc->c_pending.load()) {
    sc->cc_wheel.remove(kc);
    kc->c_pending.store(false);
  }
}

// callout_reset_sbt(C_ABSOLUTE): stop, then arm at `when`.
void callout_reset(softclock_state* sc, kq_callout* kc, uint64_t when) {
  locks::mtx_lock(&sc->cc_lock);
  callout_stop_locked(sc, kc);
  callout_schedule_locked(sc, kc, when);
  locks::mtx_unlock(&sc->cc_lock);
}

// callout_drain: callout_stop, then wait for a running handler to finish.
void callout_drain(softclock_state* sc, kq_callout* kc) {
  locks::mtx_lock(&sc->cc_lock);
  callout_stop_locked(sc, kc);
  while (kc->c_running.load()) {
    kc->c_drainwait.store(true);
    locks::msleep(kc, &sc->cc_lock, 0, "codrain", 0);
  }
  locks::mtx_unlock(&sc->cc_lock);
}

// The softclock thread: never returns (a daemon, unwound when the execution
// ends). While parked it holds no lock.
void softclock_main(softclock_state* sc) {
  sim::Scheduler* s = sim::Scheduler::current();
  sc->cc_busy = true;
  for (;;) {
    locks::mtx_lock(&sc->cc_lock);
    kq_callout* due = nullptr;
    for (;;) {
      // The earliest callout (the first armed among equals) is due when its
      // time has come.
      uint64_t earliest = sim::kNever;
      sc->cc_wheel.foreach([&](kq_callout* kc) {
        uint64_t t = kc->c_time.load();
        if (t < earliest) {
          earliest = t;
          due = kc;
        }
      });
      if (due != nullptr && earliest <= s->now()) break;
      due = nullptr;
      // msleep on the wheel until `earliest`, with ns precision: release the
      // callout lock and park with no scheduling point in between, so an
      // arming thread (which holds the lock to compare with cc_deadline)
      // cannot slip in.
      sc->cc_deadline.store(earliest);
      SrcLoc loc = SrcLoc::current();
      locks::lo_release(sc->cc_lock, true, loc, /*point=*/false);
      sc->cc_busy = false;
      s->park(&sc->cc_wait, loc, earliest);
      sc->cc_busy = true;
      locks::lo_acquire(sc->cc_lock, true, false, loc);
      sc->cc_deadline.store(0);  // awake: arming need not wake us
    }
    sc->cc_wheel.remove(due);
    due->c_pending.store(false);
    uint32_t gen = due->c_gen.load();
    locks::mtx_unlock(&sc->cc_lock);

    filt_timerexpire(sc, due, gen);
    // The kqueue task (kqueue_schedtask) runs in its own thread in FreeBSD;
    // here whoever queued it runs it, as a syscall would on return.
    sc->cc_world->run_kqueue_tasks();
  }
}

// ---- EVFILT_TIMER ----

kq_callout* timer_of(knote* kn) { return static_cast<kq_callout*>(kn->kn_hook); }

// timer2sbintime, in nanoseconds; -1 for a bad unit. Saturates like SBT_MAX.
int64_t timer2ns(int64_t data, unsigned int flags) {
  auto scaled = [data](int64_t mult) { return data > kSbtMax / mult ? kSbtMax : data * mult; };
  switch (flags & NOTE_TIMER_PRECMASK) {
    case NOTE_SECONDS:
      return scaled(1'000'000'000);
    case NOTE_MSECONDS:
    case 0:
      return scaled(1'000'000);
    case NOTE_USECONDS:
      return scaled(1'000);
    case NOTE_NSECONDS:
      return data;
    default:
      return -1;
  }
}

// Checks kn_sdata/kn_sfflags; *to is the period, or for NOTE_ABSTIME the
// absolute expiry (the model's boot time is virtual time 0).
int filt_timervalidate(knote* kn, int64_t* to) {
  int64_t sdata = kn->kn_sdata.load();
  if (sdata < 0) return kEINVAL;
  if (sdata == 0 && (kn->kn_kevent.flags.load() & EV_ONESHOT) == 0) {
    sdata = 1;
    kn->kn_sdata.store(1);
  }
  // The only fflags supported are the unit and the absolute time indicator.
  unsigned int sfflags = kn->kn_sfflags.load();
  if ((sfflags & ~(NOTE_TIMER_PRECMASK | NOTE_ABSTIME)) != 0) return kEINVAL;
  *to = timer2ns(sdata, sfflags);
  if (*to < 0) return kEINVAL;
  return 0;
}

uint64_t add_sat(uint64_t a, uint64_t b) { return a > sim::kNever - 1 - b ? sim::kNever - 1 : a + b; }

void filt_timerstart(knote* kn, int64_t to) {
  kq_callout* kc = timer_of(kn);
  uint64_t next;
  if ((kn->kn_sfflags.load() & NOTE_ABSTIME) != 0) {
    next = static_cast<uint64_t>(to);
    kc->to.store(0);
  } else {
    next = add_sat(sim::Scheduler::current()->now(), static_cast<uint64_t>(to));
    kc->to.store(static_cast<uint64_t>(to));
  }
  kc->next.store(next);
  callout_reset(kc->sc, kc, next);
}

int filt_timerattach(knote* kn) {
  if (sim::Scheduler::current() == nullptr) return kEOPNOTSUPP;  // live mode: no softclock
  int64_t to = -1;
  if (int error = filt_timervalidate(kn, &to); error != 0) return error;
  KASSERT(to > 0 || (kn->kn_kevent.flags.load() & EV_ONESHOT) != 0 || (kn->kn_sfflags.load() & NOTE_ABSTIME) != 0,
          ("filt_timerattach: periodic timer has a calculated zero timeout"));
  if ((kn->kn_sfflags.load() & NOTE_ABSTIME) == 0)
    kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_CLEAR);  // automatically set

  kq_callout* kc = World::current()->make<kq_callout>();
  locks::mtx_init(&kc->kc_mtx, "kqtimer", nullptr, locks::MTX_DEF);
  knlist_init_mtx(&kc->kc_knlist, &kc->kc_mtx);
  kc->kn = kn;
  kc->sc = softclock_get();
  kn->kn_hook = kc;
  knlist_add(&kc->kc_knlist, kn, 0);
  filt_timerstart(kn, to);
  return 0;
}

void filt_timerdetach(knote* kn) {
  kq_callout* kc = timer_of(kn);
  callout_drain(kc->sc, kc);
  if (knlist* knl = kn->kn_knlist.load()) knlist_remove(knl, kn, 0);
}

// filt_timerexpire, run by the softclock without locks.
void filt_timerexpire(softclock_state* sc, kq_callout* kc, uint32_t gen) {
  if (sc->cc_giant) locks::mtx_lock(&locks::Giant);
  locks::mtx_lock(&kc->kc_mtx);
  locks::mtx_lock(&sc->cc_lock);
  bool live = kc->c_gen.load() == gen;  // not stopped or restarted since dispatch
  if (live) kc->c_running.store(true);
  locks::mtx_unlock(&sc->cc_lock);
  if (live) {
    knote* kn = kc->kn;
    uint64_t to = kc->to.load();
    // FreeBSD reads kn_flags here with no lock; kqueue_register's
    // EV_FORCEONESHOT sets EV_ONESHOT in them under the kq lock. The model
    // reads them under the kq lock (kc_mtx -> kq lock, KNOTE_LOCKED's order
    // below), so that only races of the design under test are reported (found
    // by the kevent fuzzer: tests/data/fuzz_findings/kevent-timer-forceoneshot-race).
    KQ_LOCK(kn->kn_kq);
    const bool oneshot = (kn->kn_kevent.flags.load() & EV_ONESHOT) != 0;
    KQ_UNLOCK(kn->kn_kq);
    if (oneshot || to == 0) {
      kc->kc_pending.fetch_add(1, std::memory_order_relaxed);
    } else {
      uint64_t now = sim::Scheduler::current()->now();
      uint64_t next = kc->next.load();
      if (now >= next) {
        uint64_t delta = (now - next) / to;
        if (delta == 0) delta = 1;
        kc->kc_pending.fetch_add(static_cast<int64_t>(delta), std::memory_order_relaxed);
        next = delta > (sim::kNever - 1 - next) / to ? now : next + delta * to;
        if (now >= next) next = add_sat(now, to);  // overflow
        kc->next.store(next);
      }
      locks::mtx_lock(&sc->cc_lock);
      if (kc->c_gen.load() == gen) callout_schedule_locked(sc, kc, next);
      locks::mtx_unlock(&sc->cc_lock);
    }
    KNOTE_LOCKED(&kc->kc_knlist, 0);
    locks::mtx_lock(&sc->cc_lock);
    kc->c_running.store(false);
    if (kc->c_drainwait.load()) {
      kc->c_drainwait.store(false);
      locks::wakeup(kc);
    }
    locks::mtx_unlock(&sc->cc_lock);
  }
  locks::mtx_unlock(&kc->kc_mtx);
  if (sc->cc_giant) locks::mtx_unlock(&locks::Giant);
}

// kn_data += the expirations the softclock counted; called with whatever
// lock the design holds around f_event (see the top of the file).
int filt_timer(knote* kn, long /*hint*/) {
  kq_callout* kc = timer_of(kn);
  int64_t data = kn->kn_kevent.data.load();
  int64_t pending = kc->kc_pending.exchange(0, std::memory_order_relaxed);
  if (pending != 0) {
    data += pending;
    kn->kn_kevent.data.store(data);
  }
  return data != 0;
}

void filt_timertouch(knote* kn, struct kevent* kev, unsigned long type) {
  switch (type) {
    case EVENT_REGISTER: {
      // Handle re-added timers that update data/fflags.
      if ((kev->flags & EV_ADD) == 0) break;
      kq_callout* kc = timer_of(kn);
      softclock_state* sc = kc->sc;
      // Stop the callout. No wait: a running expiry holds kc_mtx, which our
      // caller (kqueue_register) holds, and a dispatched one sees c_gen move.
      locks::mtx_lock(&sc->cc_lock);
      callout_stop_locked(sc, kc);
      locks::mtx_unlock(&sc->cc_lock);
      // Throw away any undelivered record of expiration: the user re-adding
      // the timer with new parameters is no longer interested in what
      // happened under the old ones. Under the kq lock: dequeue, make it no
      // longer active, clear the count.
      kqueue* kq = kn->kn_kq;
      KQ_LOCK(kq);
      if ((kn->kn_status.load() & KN_QUEUED) != 0) knote_dequeue(kn);
      kn->kn_status.store(kn->kn_status.load() & ~KN_ACTIVE);
      kc->kc_pending.store(0, std::memory_order_relaxed);
      kn->kn_kevent.data.store(0);
      KQ_UNLOCK(kq);
      // Reschedule the timer based on the new data/fflags.
      kn->kn_sfflags.store(kev->fflags);
      kn->kn_sdata.store(kev->data);
      int64_t to = -1;
      if (int error = filt_timervalidate(kn, &to); error != 0) {
        // FreeBSD writes these without the kq lock; the model takes it, so
        // that only races of the design under test are reported.
        KQ_LOCK(kq);
        kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_ERROR);
        kn->kn_kevent.data.store(error);
        KQ_UNLOCK(kq);
      } else {
        filt_timerstart(kn, to);
      }
      break;
    }
    case EVENT_PROCESS: {
      *kev = kn->kn_kevent.load();
      if ((kev->flags & EV_CLEAR) != 0) {
        kn->kn_kevent.data.store(0);
        kn->kn_kevent.fflags.store(0);
      }
      break;
    }
    default:
      KASSERT(false, ("filt_timertouch() - invalid type (%lu)", type));
  }
}

}  // namespace

bool World::softclock_idle() const { return softclock_ == nullptr || !softclock_->cc_busy; }

const filterops timer_filtops = {
    .f_isfd = 0,
    .f_attach = filt_timerattach,
    .f_detach = filt_timerdetach,
    .f_event = filt_timer,
    .f_touch = filt_timertouch,
};

}  // namespace kqsim::kern
