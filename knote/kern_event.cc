// kern_event.cc - kern_event proper: kqueue_register, knote(), the pending
// queue, kqueue_scan, knote_fdclose, knlists, kqueue_close and the kqueue
// filter, written once against the locking design in force (knote/design.h).
//
// Read it beside FreeBSD's sys/kern/kern_event.c: names, flags, the order of
// operations and the errno values are FreeBSD's. What is the model's own:
//   - KQ_LOCK/KQ_UNLOCK take the design's kq mutex (per kqueue, global, or
//     none when the design relies on Giant);
//   - kqueue_scan calls f_event the 5.3+ way (in flux, kq unlocked, knlist
//     locked) only when the design says so, else with the kq lock held;
//   - kqueue_wakeup defers the kqueue-in-kqueue notification to the kqueue
//     task (World::kqueue_schedtask) or recurses into KNOTE directly;
//   - every shared field is a sim::Cell, so each access is a scheduling point
//     and a race-detector event; memory is owned by the World.
#include "knote/knote.h"

#include <fmt/format.h>

#include <algorithm>

#include "knote/design.h"
#include "knote/kqueue_scan_poll.h"
#include "locks/kassert.h"
#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/world.h"
#include "model/sim/list_check.h"

namespace kqsim::kern {

// Filters defined in other files of the model (weak: a model built without
// them answers ENXIO for those filters, like FreeBSD's null_filtops).
extern const filterops proc_filtops __attribute__((weak));
extern const filterops sig_filtops __attribute__((weak));
extern const filterops timer_filtops __attribute__((weak));

void kqueue_task(kqueue* kq);

namespace {

using locks::mtx;
using namespace bsd;

const kq_design& design() { return World::current()->design(); }

}  // namespace

// ---- KQ_LOCK and friends (inline in knote.h, for filters and objects) ----

mtx* kq_own_mtx(kqueue* kq) { return &kq->kq_lock; }
mtx* kq_no_mtx(kqueue*) { return nullptr; }

void KQ_FLUX_WAKEUP(kqueue* kq, SrcLoc loc) {
  int st = kq->kq_state.load(loc);
  if ((st & KQ_FLUXWAIT) == KQ_FLUXWAIT) {
    kq->kq_state.store(st & ~KQ_FLUXWAIT, loc);
    locks::wakeup(kq, loc);
  }
}
namespace {
void KQ_FLUX_SLEEP(kqueue* kq, knote* kn, int flags, const char* wmesg = "kqflxwt",
                   SrcLoc loc = SrcLoc::current()) {
  KASSERT(kn->kn_kq == kq, ("knote %u not on kqueue %u", kn->kn_serial, kq->kq_serial));
  kq->kq_state.store(kq->kq_state.load(loc) | KQ_FLUXWAIT, loc);
  locks::msleep(kq, kq_sleep_mtx(kq), locks::PSOCK | flags, wmesg, 0, loc);
}
}  // namespace

void KQ_UNLOCK_FLUX(kqueue* kq, SrcLoc loc) {
  KQ_FLUX_WAKEUP(kq, loc);
  KQ_UNLOCK(kq, loc);
}

namespace {

void KQ_GLOBAL_LOCK(int& haslck, SrcLoc loc = SrcLoc::current()) {
  if (!haslck) locks::mtx_lock(&World::current()->kq_global, loc);
  haslck = 1;
}
void KQ_GLOBAL_UNLOCK(int& haslck, SrcLoc loc = SrcLoc::current()) {
  if (haslck) locks::mtx_unlock(&World::current()->kq_global, loc);
  haslck = 0;
}

}  // namespace

// ---- the in-flux protocol ----

bool kn_in_flux(knote* kn) { return kn->kn_influx.load() > 0; }
void kn_enter_flux(knote* kn) {
  KQ_OWNED(kn->kn_kq);
  kn->kn_influx.store(kn->kn_influx.load() + 1);
}
bool kn_leave_flux(knote* kn) {
  KQ_OWNED(kn->kn_kq);
  int v = kn->kn_influx.load();
  KASSERT(v > 0, ("knote %u leaving flux with kn_influx %d", kn->kn_serial, v));
  kn->kn_influx.store(v - 1);
  return v - 1 == 0;
}

namespace {

knlist* kn_list_lock(knote* kn) {
  knlist* knl = kn->kn_knlist.load();
  if (knl != nullptr) knl->kl_lock(knl->kl_lockarg);
  return knl;
}
void kn_list_unlock(knlist* knl) {
  if (knl == nullptr) return;
  knl->kl_unlock(knl->kl_lockarg);
}

void KNL_ASSERT_LOCK(knlist* knl, int islocked) {
  if (knl->kl_assert_lock != nullptr) knl->kl_assert_lock(knl->kl_lockarg, islocked ? locks::LA_LOCKED : 0);
}

void kqueue_wakeup(kqueue* kq);

}  // namespace

// ---- the pending queue ----

void knote_enqueue(knote* kn) {
  kqueue* kq = kn->kn_kq;
  KQ_OWNED(kq);
  int st = kn->kn_status.load();
  KASSERT((st & KN_QUEUED) == 0, ("knote %u already queued", kn->kn_serial));
  kq->kq_head.insert_tail(kn);
  kn->kn_status.store(st | KN_QUEUED);
  kq->kq_count.store(kq->kq_count.load() + 1);
  kqueue_wakeup(kq);
}

void knote_dequeue(knote* kn) {
  kqueue* kq = kn->kn_kq;
  KQ_OWNED(kq);
  int st = kn->kn_status.load();
  KASSERT(st & KN_QUEUED, ("knote %u not queued", kn->kn_serial));
  kq->kq_head.remove(kn);
  kn->kn_status.store(st & ~KN_QUEUED);
  kq->kq_count.store(kq->kq_count.load() - 1);
}

// KNOTE_ACTIVATE(kn, islock)
void knote_activate(knote* kn, bool islock) {
  if (islock) KQ_OWNED(kn->kn_kq);
  else KQ_LOCK(kn->kn_kq);
  int st = kn->kn_status.load() | KN_ACTIVE;
  kn->kn_status.store(st);
  if ((st & (KN_QUEUED | KN_DISABLED)) == 0) knote_enqueue(kn);
  if (!islock) KQ_UNLOCK(kn->kn_kq);
}

namespace {

// ---- allocation ----

knote* knote_alloc() {
  World* w = World::current();
  knote* kn = w->make<knote>();
  kn->kn_serial = w->next_serial();
  return kn;
}
void knote_free(knote* kn) {
  if (kn != nullptr) kn->kn_freed = true;
}

// ---- filters: file (redirects to fo_kqfilter), kqueue, user, null ----

int filt_fileattach(knote* kn) {
  file* fp = kn->kn_fp;
  if (fp->f_ops == nullptr || fp->f_ops->fo_kqfilter == nullptr) return kEINVAL;
  return fp->f_ops->fo_kqfilter(fp, kn);
}
const filterops file_filtops = {1, filt_fileattach, nullptr, nullptr, nullptr};

int filt_nullattach(knote*) { return kENXIO; }
const filterops null_filtops = {0, filt_nullattach, nullptr, nullptr, nullptr};

void filt_kqdetach(knote* kn);
int filt_kqueue(knote* kn, long hint);
const filterops kqread_filtops = {1, nullptr, filt_kqdetach, filt_kqueue, nullptr};

int filt_userattach(knote* kn) {
  // EVFILT_USER knotes are not attached to anything in the kernel.
  kn->kn_hook = nullptr;
  kn->kn_hookid.store((kn->kn_kevent.fflags.load() & NOTE_TRIGGER) ? 1 : 0);
  return 0;
}
void filt_userdetach(knote*) {}
int filt_user(knote* kn, long) { return kn->kn_hookid.load(); }
void filt_usertouch(knote* kn, struct kevent* kev, unsigned long type) {
  switch (type) {
    case EVENT_REGISTER: {
      if (kev->fflags & NOTE_TRIGGER) kn->kn_hookid.store(1);
      unsigned int ffctrl = kev->fflags & NOTE_FFCTRLMASK;
      unsigned int ff = kev->fflags & NOTE_FFLAGSMASK;
      switch (ffctrl) {
        case NOTE_FFNOP: break;
        case NOTE_FFAND: kn->kn_sfflags.store(kn->kn_sfflags.load() & ff); break;
        case NOTE_FFOR: kn->kn_sfflags.store(kn->kn_sfflags.load() | ff); break;
        case NOTE_FFCOPY: kn->kn_sfflags.store(ff); break;
        default: break;
      }
      kn->kn_sdata.store(kev->data);
      if (kev->flags & EV_CLEAR) {
        kn->kn_hookid.store(0);
        kn->kn_kevent.data.store(0);
        kn->kn_kevent.fflags.store(0);
      }
      break;
    }
    case EVENT_PROCESS:
      *kev = kn->kn_kevent.load();
      kev->fflags = kn->kn_sfflags.load();
      kev->data = kn->kn_sdata.load();
      if (kn->kn_kevent.flags.load() & EV_CLEAR) {
        kn->kn_hookid.store(0);
        kn->kn_kevent.data.store(0);
        kn->kn_kevent.fflags.store(0);
      }
      break;
    default:
      KASSERT(0, ("filt_usertouch() - invalid type (%lu)", type));
  }
}
const filterops user_filtops = {0, filt_userattach, filt_userdetach, filt_user, filt_usertouch};

// ---- kq_knlist / kq_knhash ----

inline unsigned long KN_HASH(uintptr_t val, unsigned long mask) { return (val ^ (val >> 8)) & mask; }

int kqueue_expand(kqueue* kq, const filterops* fops, uintptr_t ident) {
  if (fops->f_isfd) {
    int fd = static_cast<int>(ident);
    KQ_LOCK(kq);
    int size = kq->kq_knlistsize.load();
    if (size <= fd) {
      if ((kq->kq_state.load() & KQ_CLOSING) != 0) {
        KQ_UNLOCK(kq);
        return kEBADF;
      }
      int nsize = size;
      do nsize += KQEXTENT;
      while (nsize <= fd);
      auto list = std::make_unique<kqlist_t[]>(static_cast<size_t>(nsize));
      // bcopy of the old heads: each head is one pointer to its first knote.
      for (int i = 0; i < size; ++i) list[i].head_node().next.raw_set(kq->kq_knlist[i].head_node().next.raw());
      kq->kq_knlist = std::move(list);
      kq->kq_knlistsize.store(nsize);
    }
    KQ_UNLOCK(kq);
  } else {
    KQ_LOCK(kq);
    if (kq->kq_knhashmask.load() == 0) {
      if ((kq->kq_state.load() & KQ_CLOSING) != 0) {
        KQ_UNLOCK(kq);
        return kEBADF;
      }
      kq->kq_knhash = std::make_unique<kqlist_t[]>(KN_HASHSIZE);
      kq->kq_knhashmask.store(KN_HASHSIZE - 1);
    }
    KQ_UNLOCK(kq);
  }
  return 0;
}

int knote_attach(knote* kn, kqueue* kq) {
  KASSERT(kn_in_flux(kn), ("knote %u not marked influx", kn->kn_serial));
  KQ_OWNED(kq);
  if ((kq->kq_state.load() & KQ_CLOSING) != 0) return kEBADF;
  kqlist_t* list;
  if (kn->kn_fop->f_isfd) {
    if (static_cast<int>(kn->kn_id()) >= kq->kq_knlistsize.load()) return kENOMEM;
    list = &kq->kq_knlist[kn->kn_id()];
  } else {
    if (kq->kq_knhash == nullptr) return kENOMEM;
    list = &kq->kq_knhash[KN_HASH(kn->kn_id(), kq->kq_knhashmask.load())];
  }
  list->insert_head(kn);
  return 0;
}

void knote_drop_detached(knote* kn, thread* td) {
  kqueue* kq = kn->kn_kq;
  KASSERT((kn->kn_status.load() & KN_DETACHED) != 0, ("knote %u still attached", kn->kn_serial));
  KQ_LOCK(kq);
  for (;;) {
    int influx = kn->kn_influx.load();
    KASSERT(influx >= 1, ("knote_drop called on %u which is not in flux", kn->kn_serial));
    if (influx == 1) break;
    KQ_FLUX_SLEEP(kq, kn, 0);
  }
  kqlist_t* list;
  if (kn->kn_fop->f_isfd) list = &kq->kq_knlist[kn->kn_id()];
  else list = &kq->kq_knhash[KN_HASH(kn->kn_id(), kq->kq_knhashmask.load())];
  if (!list->empty()) list->remove(kn);
  if (kn->kn_status.load() & KN_QUEUED) knote_dequeue(kn);
  KQ_UNLOCK_FLUX(kq);
  if (kn->kn_fop->f_isfd) {
    fdrop(kn->kn_fp, td);
    kn->kn_fp = nullptr;
  }
  kn->kn_fop = nullptr;
  knote_free(kn);
}

void knote_drop(knote* kn, thread* td) {
  if ((kn->kn_status.load() & KN_DETACHED) == 0) kn->kn_fop->f_detach(kn);
  knote_drop_detached(kn, td);
}

// ---- kqueue reference counting ----

int kqueue_acquire(file* fp, kqueue** kqp) {
  kqueue* kq = static_cast<kqueue*>(fp->f_data);
  if (fp->f_type != DTYPE_KQUEUE || kq == nullptr) return kEINVAL;
  KQ_LOCK(kq);
  if ((kq->kq_state.load() & KQ_CLOSING) == KQ_CLOSING) {
    KQ_UNLOCK(kq);
    return kEBADF;
  }
  kq->kq_refcnt.store(kq->kq_refcnt.load() + 1);
  KQ_UNLOCK(kq);
  *kqp = kq;
  return 0;
}

void kqueue_release(kqueue* kq, int locked) {
  if (locked) KQ_OWNED(kq);
  else KQ_LOCK(kq);
  int r = kq->kq_refcnt.load() - 1;
  kq->kq_refcnt.store(r);
  if (r == 1) locks::wakeup(&kq->kq_refcnt);
  if (!locked) KQ_UNLOCK(kq);
}

void kqueue_wakeup(kqueue* kq) {
  KQ_OWNED(kq);
  int st = kq->kq_state.load();
  if ((st & KQ_SLEEP) == KQ_SLEEP) {
    kq->kq_state.store(st & ~KQ_SLEEP);
    locks::wakeup(kq);
  }
  if (!kq->kq_sel.kl_list.empty()) {
    if (design().defer_kq_wakeup) {
      // kqueue_schedtask
      int s2 = kq->kq_state.load();
      KASSERT((s2 & KQ_TASKDRAIN) != KQ_TASKDRAIN, ("scheduling kqueue task while draining"));
      if ((s2 & KQ_TASKSCHED) != KQ_TASKSCHED) {
        kq->kq_state.store(s2 | KQ_TASKSCHED);
        World::current()->kqueue_schedtask(kq);
      }
    } else {
      // 5.1: notify the kqueues watching this one right here (recursion).
      KNOTE_LOCKED(&kq->kq_sel, 0);
    }
  }
}

// ---- knlist lock callbacks ----

void knlist_mtx_lock(void* arg) { locks::mtx_lock(static_cast<mtx*>(arg)); }
void knlist_mtx_unlock(void* arg) { locks::mtx_unlock(static_cast<mtx*>(arg)); }
void knlist_mtx_assert_lock(void* arg, int what) {
  if (what == locks::LA_LOCKED) locks::mtx_assert(static_cast<mtx*>(arg), locks::MA_OWNED);
  else locks::mtx_assert(static_cast<mtx*>(arg), locks::MA_NOTOWNED);
}
void knlist_null_lock(void*) {}
void knlist_null_assert(void*, int) {}

void knlist_remove_kq(knlist* knl, knote* kn, int knlislocked, int kqislocked) {
  KASSERT(!kqislocked || knlislocked, ("kq locked w/o knl locked"));
  KNL_ASSERT_LOCK(knl, knlislocked);
  KASSERT(kqislocked || kn_in_flux(kn), ("knote %u not in flux", kn->kn_serial));
  KASSERT((kn->kn_status.load() & KN_DETACHED) == 0, ("knote %u was already detached", kn->kn_serial));
  KASSERT(kn->kn_knlist.load() == knl, ("knote %u was not on this knlist", kn->kn_serial));
  if (!knlislocked) knl->kl_lock(knl->kl_lockarg);
  knl->kl_list.remove(kn);
  kn->kn_knlist.store(nullptr);
  if (!knlislocked) kn_list_unlock(knl);
  if (!kqislocked) KQ_LOCK(kn->kn_kq);
  kn->kn_status.store(kn->kn_status.load() | KN_DETACHED);
  if (!kqislocked) KQ_UNLOCK(kn->kn_kq);
}

// ---- the scan ----

uint64_t timespec_ns(const struct timespec* ts) {
  return static_cast<uint64_t>(ts->tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts->tv_nsec);
}

// The scan's copy of a triggered knote: f_touch(EVENT_PROCESS) for filters
// that have one and are not descriptor filters, else kn_kevent as it is.
// Returns whether f_touch ran.
bool kqueue_scan_copyout(knote* kn, struct kevent* kevp) {
  bool touch = (!kn->kn_fop->f_isfd && kn->kn_fop->f_touch != nullptr);
  if (touch) kn->kn_fop->f_touch(kn, kevp, EVENT_PROCESS);
  else *kevp = kn->kn_kevent.load();
  return touch;
}

// After delivering kn: EV_CLEAR resets the state (unless f_touch did),
// EV_DISPATCH disables, and either takes it off the queue; a level-triggered
// knote goes back to the tail. Called with the kq lock held.
void kqueue_scan_requeue(kqueue* kq, knote* kn, bool touch) {
  KQ_OWNED(kq);
  unsigned short kflags = kn->kn_kevent.flags.load();
  if (kflags & (EV_CLEAR | EV_DISPATCH)) {
    if (!touch && (kflags & EV_CLEAR)) {
      kn->kn_kevent.data.store(0);
      kn->kn_kevent.fflags.store(0);
    }
    int st = kn->kn_status.load();
    if (kflags & EV_DISPATCH) st |= KN_DISABLED;
    kn->kn_status.store(st & ~(KN_QUEUED | KN_ACTIVE));
    kq->kq_count.store(kq->kq_count.load() - 1);
  } else {
    kq->kq_head.insert_tail(kn);
  }
}

}  // namespace

int kqueue_scan_deadline(const struct timespec* tsp, uint64_t* asbt) {
  *asbt = kScanForever;
  if (tsp == nullptr) return 0;
  // timespecvalid_interval(): a negative second or a nanosecond field
  // outside [0, 1e9) is EINVAL.
  if (tsp->tv_sec < 0 || tsp->tv_nsec < 0 || tsp->tv_nsec >= 1'000'000'000) return kEINVAL;
  if (tsp->tv_sec == 0 && tsp->tv_nsec == 0) {
    *asbt = kScanNoWait;
  } else if (tsp->tv_sec > INT32_MAX) {
    // FreeBSD: a timeout beyond INT32_MAX seconds waits forever (asbt = 0).
    *asbt = kScanForever;
  } else {
    sim::Scheduler* s = sim::Scheduler::current();
    *asbt = (s != nullptr ? s->now() : locks::live_clock_ns()) + timespec_ns(tsp);  // live: real time
    if (*asbt == kScanForever || *asbt == kScanNoWait) *asbt = kScanNoWait - 1;
  }
  return 0;
}

namespace {

int kqueue_scan(kqueue* kq, int maxevents, struct kevent* ulistp, const struct timespec* tsp, thread* td) {
  // The measurement design "poll" asks every knote's filter instead.
  if (design().poll_scan) return kqueue_scan_poll(kq, maxevents, ulistp, tsp, td, knote_drop);
  if (maxevents == 0) {
    td->td_retval = 0;
    return 0;
  }
  if (maxevents < 0) return kEINVAL;

  // asbt: 0 = wait forever, -1 (kNoWait) = don't wait, else a virtual deadline.
  constexpr uint64_t kForever = kScanForever;
  constexpr uint64_t kNoWait = kScanNoWait;
  uint64_t asbt = kForever;
  if (int e = kqueue_scan_deadline(tsp, &asbt); e != 0) return e;

  const bool filter_under_kq_lock = !design().scan_drops_kq_lock;
  // FreeBSD keeps the marker on the scanning thread's stack. The model keeps
  // it in the World, so that a corrupted kq_head (design "none") never points
  // into a dead stack frame whose contents change with later executions.
  knote& marker = *World::current()->make<knote>();
  marker.kn_status.raw_set(KN_MARKER);
  marker.kn_kq = kq;
  marker.kn_serial = 0;
  int count = maxevents;
  int error = 0;
  int haskqglobal = 0;
  struct kevent* kevp = ulistp;
  int influx;

  KQ_LOCK(kq);
retry:
  kevp = ulistp + (maxevents - count);
  if (kq->kq_count.load() == 0) {
    if (asbt == kNoWait) {
      error = kEWOULDBLOCK;
    } else {
      kq->kq_state.store(kq->kq_state.load() | KQ_SLEEP);
      error = locks::msleep_until(kq, kq_sleep_mtx(kq), locks::PSOCK | locks::PCATCH, "kqread",
                                  asbt == kForever ? sim::kNever : asbt);
    }
    if (error == 0) goto retry;
    if (error == kERESTART) error = kEINTR;
    else if (error == kEWOULDBLOCK) error = 0;
    goto done;
  }

  kq->kq_head.insert_tail(&marker);
  influx = 0;
  while (count) {
    KQ_OWNED(kq);
    knote* kn = kq->kq_head.first();
    if (kn == nullptr) {
      // Only possible when the queue was corrupted under us (the marker is
      // always on it): the list checker reports what broke.
      sim::ListReport r = sim::check_tailq(kq->kq_head, std::nullopt);
      sim::report_list_corruption(r, "kq_head");
      KASSERT(0, ("kqueue_scan: marker lost from kq_head"));
    }
    int st = kn->kn_status.load();
    if ((st == KN_MARKER && kn != &marker) || kn_in_flux(kn)) {
      if (influx) {
        influx = 0;
        KQ_FLUX_WAKEUP(kq);
      }
      KQ_FLUX_SLEEP(kq, kn, 0);
      continue;
    }

    kq->kq_head.remove(kn);
    if ((st & KN_DISABLED) == KN_DISABLED) {
      kn->kn_status.store(st & ~KN_QUEUED);
      kq->kq_count.store(kq->kq_count.load() - 1);
      continue;
    }
    if (kn == &marker) {
      KQ_FLUX_WAKEUP(kq);
      if (count == maxevents) goto retry;
      goto done;
    }
    KASSERT(!kn_in_flux(kn), ("knote %u is unexpectedly in flux", kn->kn_serial));

    unsigned short kflags = kn->kn_kevent.flags.load();
    if ((kflags & EV_DROP) == EV_DROP) {
      kn->kn_status.store(st & ~KN_QUEUED);
      kn_enter_flux(kn);
      kq->kq_count.store(kq->kq_count.load() - 1);
      KQ_UNLOCK(kq);
      knote_drop(kn, td);
      KQ_LOCK(kq);
      continue;
    } else if ((kflags & EV_ONESHOT) == EV_ONESHOT) {
      kn->kn_status.store(st & ~KN_QUEUED);
      kn_enter_flux(kn);
      kq->kq_count.store(kq->kq_count.load() - 1);
      KQ_UNLOCK(kq);
      *kevp = kn->kn_kevent.load();
      knote_drop(kn, td);
      KQ_LOCK(kq);
      kn = nullptr;
    } else if (filter_under_kq_lock) {
      // none / giant / global: the filter runs with the kq lock held.
      if (kn->kn_fop->f_event(kn, 0) == 0) {
        kn->kn_status.store(kn->kn_status.load() & ~(KN_QUEUED | KN_ACTIVE));
        kq->kq_count.store(kq->kq_count.load() - 1);
        continue;
      }
      bool touch = kqueue_scan_copyout(kn, kevp);
      kqueue_scan_requeue(kq, kn, touch);
    } else {
      // fine: in flux, kq unlocked, knlist locked around the filter.
      kn->kn_status.store(st | KN_SCAN);
      kn_enter_flux(kn);
      KQ_UNLOCK(kq);
      if ((st & KN_KQUEUE) == KN_KQUEUE) KQ_GLOBAL_LOCK(haskqglobal);
      knlist* knl = kn_list_lock(kn);
      if (kn->kn_fop->f_event(kn, 0) == 0) {
        KQ_LOCK(kq);
        KQ_GLOBAL_UNLOCK(haskqglobal);
        kn->kn_status.store(kn->kn_status.load() & ~(KN_QUEUED | KN_ACTIVE | KN_SCAN));
        kn_leave_flux(kn);
        kq->kq_count.store(kq->kq_count.load() - 1);
        kn_list_unlock(knl);
        influx = 1;
        continue;
      }
      bool touch = kqueue_scan_copyout(kn, kevp);
      KQ_LOCK(kq);
      KQ_GLOBAL_UNLOCK(haskqglobal);
      kqueue_scan_requeue(kq, kn, touch);
      kn->kn_status.store(kn->kn_status.load() & ~KN_SCAN);
      kn_leave_flux(kn);
      kn_list_unlock(knl);
      influx = 1;
    }

    // we are returning a copy to the user
    kevp++;
    count--;
  }
  kq->kq_head.remove(&marker);
done:
  KQ_OWNED(kq);
  KQ_UNLOCK_FLUX(kq);
  td->td_retval = maxevents - count;
  return error;
}

}  // namespace

// ---- kevent_cells ----

struct kevent kevent_cells::load(SrcLoc loc) const {
  struct kevent k {};
  k.ident = ident;
  k.filter = filter;
  k.flags = flags.load(loc);
  k.fflags = fflags.load(loc);
  k.data = data.load(loc);
  k.udata = udata.load(loc);
  return k;
}

void kevent_cells::store(const struct kevent& k, SrcLoc loc) {
  ident = k.ident;
  filter = k.filter;
  flags.store(k.flags, loc);
  fflags.store(k.fflags, loc);
  data.store(k.data, loc);
  udata.store(k.udata, loc);
}

// ---- the kqueue filter (a kqueue inside a kqueue) ----

namespace {

int kqueue_kqfilter(file* fp, knote* kn) {
  kqueue* kq = static_cast<kqueue*>(kn->kn_fp->f_data);
  (void)fp;
  if (kn->kn_filter() != EVFILT_READ) return kEINVAL;
  kn->kn_status.store(kn->kn_status.load() | KN_KQUEUE);
  kn->kn_fop = &kqread_filtops;
  knlist_add(&kq->kq_sel, kn, 0);
  return 0;
}

void filt_kqdetach(knote* kn) {
  kqueue* kq = static_cast<kqueue*>(kn->kn_fp->f_data);
  knlist_remove(&kq->kq_sel, kn, 0);
}

int filt_kqueue(knote* kn, long) {
  kqueue* kq = static_cast<kqueue*>(kn->kn_fp->f_data);
  int64_t n = kq->kq_count.load();
  kn->kn_kevent.data.store(n);
  return n > 0;
}

void kqueue_drain(kqueue* kq, thread* td) {
  KQ_LOCK(kq);
  KASSERT((kq->kq_state.load() & KQ_CLOSING) != KQ_CLOSING, ("kqueue already closing"));
  kq->kq_state.store(kq->kq_state.load() | KQ_CLOSING);
  if (kq->kq_refcnt.load() > 1) locks::msleep(&kq->kq_refcnt, kq_sleep_mtx(kq), locks::PSOCK, "kqclose", 0);
  KASSERT(kq->kq_refcnt.load() == 1, ("other refs are out there!"));

  // Drop every knote of one list, waiting out the ones in flux.
  auto drain = [&](kqlist_t& list, const char* wmesg) {
    knote* kn;
    while ((kn = list.first()) != nullptr) {
      if (kn_in_flux(kn)) {
        KQ_FLUX_SLEEP(kq, kn, 0, wmesg);
        continue;
      }
      kn_enter_flux(kn);
      KQ_UNLOCK(kq);
      knote_drop(kn, td);
      KQ_LOCK(kq);
    }
  };
  for (int i = 0; i < kq->kq_knlistsize.load(); i++) drain(kq->kq_knlist[i], "kqclo1");
  if (kq->kq_knhashmask.load() != 0)
    for (unsigned long i = 0; i <= kq->kq_knhashmask.load(); i++) drain(kq->kq_knhash[i], "kqclo2");
  if ((kq->kq_state.load() & KQ_TASKSCHED) == KQ_TASKSCHED) {
    // The task runs at the end of a syscall; let it run now.
    KQ_UNLOCK(kq);
    World::current()->run_kqueue_tasks();
    KQ_LOCK(kq);
  }
  KQ_UNLOCK(kq);
}

int kqueue_close(file* fp, thread* td) {
  kqueue* kq = static_cast<kqueue*>(fp->f_data);
  int error = kqueue_acquire(fp, &kq);
  if (error) return error;
  // Knotes of other kqueues watching this one go away with it.
  knlist_clear(&kq->kq_sel, 0);
  kqueue_drain(kq, td);
  filedesc* fdp = kq->kq_fdp;
  kq->kq_fdp = nullptr;
  bool filedesc_unlock = false;
  if (!locks::sx_xlocked(&fdp->fd_sx)) {
    FILEDESC_XLOCK(fdp);
    filedesc_unlock = true;
  }
  auto& l = fdp->fd_kqlist;
  for (auto it = l.begin(); it != l.end(); ++it)
    if (*it == kq) {
      l.erase(it);
      break;
    }
  if (filedesc_unlock) FILEDESC_XUNLOCK(fdp);
  fp->f_data = nullptr;
  return 0;
}

const fileops kqueueops = {nullptr, nullptr, kqueue_kqfilter, kqueue_close};

}  // namespace

void kqueue_task(kqueue* kq) {
  int haskqglobal = 0;
  KQ_GLOBAL_LOCK(haskqglobal);
  KQ_LOCK(kq);
  KNOTE_LOCKED(&kq->kq_sel, 0);
  int st = kq->kq_state.load();
  kq->kq_state.store(st & ~KQ_TASKSCHED);
  if ((st & KQ_TASKDRAIN) == KQ_TASKDRAIN) locks::wakeup(&kq->kq_state);
  KQ_UNLOCK(kq);
  KQ_GLOBAL_UNLOCK(haskqglobal);
}

// ---- public entry points ----

const filterops* kqueue_fo_find(int filt) {
  if (filt > 0 || filt + EVFILT_SYSCOUNT < 0) return nullptr;
  switch (filt) {
    case EVFILT_READ:
    case EVFILT_WRITE:
    case EVFILT_VNODE:
    case EVFILT_PROCDESC:
    case EVFILT_EMPTY:
      return &file_filtops;
    case EVFILT_PROC: return &proc_filtops != nullptr ? &proc_filtops : &null_filtops;
    case EVFILT_SIGNAL: return &sig_filtops != nullptr ? &sig_filtops : &null_filtops;
    case EVFILT_TIMER: return &timer_filtops != nullptr ? &timer_filtops : &null_filtops;
    case EVFILT_USER: return &user_filtops;
    default: return &null_filtops;
  }
}

void knlist_init(knlist* knl, void* lock, void (*kl_lock)(void*), void (*kl_unlock)(void*),
                 void (*kl_assert_lock)(void*, int)) {
  knl->kl_lockarg = lock;
  knl->kl_lock = kl_lock != nullptr ? kl_lock : knlist_mtx_lock;
  knl->kl_unlock = kl_unlock != nullptr ? kl_unlock : knlist_mtx_unlock;
  knl->kl_assert_lock = kl_assert_lock != nullptr ? kl_assert_lock : knlist_mtx_assert_lock;
  knl->kl_autodestroy = 0;
}

void knlist_init_mtx(knlist* knl, locks::mtx* lock) { knlist_init(knl, lock, nullptr, nullptr, nullptr); }

void knlist_add(knlist* knl, knote* kn, int islocked) {
  KNL_ASSERT_LOCK(knl, islocked);
  KASSERT(kn_in_flux(kn), ("knote %u not in flux", kn->kn_serial));
  KASSERT((kn->kn_status.load() & KN_DETACHED) != 0, ("knote %u was not detached", kn->kn_serial));
  KASSERT(kn->kn_knlist.load() == nullptr, ("knote %u was already on a knlist", kn->kn_serial));
  if (!islocked) knl->kl_lock(knl->kl_lockarg);
  knl->kl_list.insert_head(kn);
  if (!islocked) knl->kl_unlock(knl->kl_lockarg);
  KQ_LOCK(kn->kn_kq);
  kn->kn_knlist.store(knl);
  kn->kn_status.store(kn->kn_status.load() & ~KN_DETACHED);
  KQ_UNLOCK(kn->kn_kq);
}

void knlist_remove(knlist* knl, knote* kn, int islocked) { knlist_remove_kq(knl, kn, islocked, 0); }

int knlist_empty(knlist* knl) {
  KNL_ASSERT_LOCK(knl, 1);
  return knl->kl_list.empty();
}

void knlist_destroy(knlist* knl) {
  KASSERT(knl->kl_list.head_node().next.raw() == nullptr, ("destroying knlist with knotes on it"));
}

void knlist_cleardel(knlist* knl, thread* td, int islocked, int killkn) {
  if (islocked) KNL_ASSERT_LOCK(knl, 1);
  else {
    KNL_ASSERT_LOCK(knl, 0);
    knl->kl_lock(knl->kl_lockarg);
  }
  for (;;) {
    bool dropped = false;
    for (knote* kn = knl->kl_list.first(); kn != nullptr;) {
      knote* kn2 = klist::next(kn);
      kqueue* kq = kn->kn_kq;
      KQ_LOCK(kq);
      if (kn_in_flux(kn)) {
        KQ_UNLOCK(kq);
        kn = kn2;
        continue;
      }
      knlist_remove_kq(knl, kn, 1, 1);
      if (killkn) {
        kn_enter_flux(kn);
        KQ_UNLOCK(kq);
        knl->kl_unlock(knl->kl_lockarg);
        knote_drop_detached(kn, td);
        knl->kl_lock(knl->kl_lockarg);
        dropped = true;
        break;
      }
      // Make sure cleared knotes disappear soon.
      kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_EOF | EV_ONESHOT);
      KQ_UNLOCK(kq);
      kn = kn2;
    }
    if (dropped) continue;
    if (knl->kl_list.empty()) break;
    // there are still in flux knotes remaining
    knote* kn = knl->kl_list.first();
    kqueue* kq = kn->kn_kq;
    KQ_LOCK(kq);
    KASSERT(kn_in_flux(kn), ("knote removed w/o list lock"));
    knl->kl_unlock(knl->kl_lockarg);
    kq->kq_state.store(kq->kq_state.load() | KQ_FLUXWAIT);
    // KQ_FLUX_SLEEP with PDROP; Giant designs keep Giant (the syscall's).
    locks::msleep(kq, kq_sleep_mtx(kq), locks::PSOCK | (kq_lock_mtx(kq) != nullptr ? locks::PDROP : 0), "kqkclr", 0);
    knl->kl_lock(knl->kl_lockarg);
  }
  if (!islocked) knl->kl_unlock(knl->kl_lockarg);
}

void KNOTE(knlist* list, long hint, int lockflags, SrcLoc loc) {
  if (list == nullptr) return;
  KNL_ASSERT_LOCK(list, lockflags & KNF_LISTLOCKED);
  if ((lockflags & KNF_LISTLOCKED) == 0) list->kl_lock(list->kl_lockarg);
  sim::Scheduler* s = sim::Scheduler::current();
  if (s != nullptr && s->tracing()) s->trace_note("KNOTE", fmt::format("hint {:#x}", hint), loc);
  // SLIST_FOREACH_SAFE over kn_selnext.
  for (knote* kn = list->kl_list.first(); kn != nullptr;) {
    knote* tkn = klist::next(kn);
    kqueue* kq = kn->kn_kq;
    KQ_LOCK(kq);
    if (kn_in_flux(kn) && (kn->kn_status.load() & KN_SCAN) == 0) {
      // Not ours to touch: its owner will look at the object again.
      KQ_UNLOCK(kq);
    } else if ((lockflags & KNF_NOKQLOCK) != 0) {
      kn_enter_flux(kn);
      KQ_UNLOCK(kq);
      int error = kn->kn_fop->f_event(kn, hint);
      KQ_LOCK(kq);
      kn_leave_flux(kn);
      if (error) knote_activate(kn, true);
      KQ_UNLOCK_FLUX(kq);
    } else {
      if (kn->kn_fop->f_event(kn, hint)) knote_activate(kn, true);
      KQ_UNLOCK(kq);
    }
    kn = tkn;
  }
  if ((lockflags & KNF_LISTLOCKED) == 0) list->kl_unlock(list->kl_lockarg);
}

void knote_fdclose(thread* td, int fd) {
  filedesc* fdp = td->td_proc->p_fd;
  FILEDESC_XLOCK_ASSERT(fdp);
  // We shouldn't have to worry about new kevents appearing on fd since
  // filedesc is locked.
  for (kqueue* kq : fdp->fd_kqlist) {
    KQ_LOCK(kq);
    if (kq->kq_knlistsize.load() <= fd || kq->kq_knlist[fd].empty()) {
      KQ_UNLOCK(kq);
      continue;
    }
    knote* kn;
    while ((kn = kq->kq_knlist[fd].first()) != nullptr) {
      if (kn_in_flux(kn)) {
        KQ_FLUX_SLEEP(kq, kn, 0);
        continue;
      }
      kn_enter_flux(kn);
      KQ_UNLOCK(kq);
      knote_drop(kn, td);
      KQ_LOCK(kq);
    }
    KQ_UNLOCK_FLUX(kq);
  }
}

int kqueue_register(kqueue* kq, struct kevent* kev, thread* td) {
  if ((kev->flags & (EV_ENABLE | EV_DISABLE)) == (EV_ENABLE | EV_DISABLE)) return kEINVAL;

  file* fp = nullptr;
  knote* kn = nullptr;
  knote* tkn = nullptr;
  knlist* knl = nullptr;
  int error = 0;
  int haskqglobal = 0;
  int filedesc_unlock = 0;
  int event;
  const short filt = kev->filter;
  const filterops* fops = kqueue_fo_find(filt);
  if (fops == nullptr) return kEINVAL;

  if (kev->flags & EV_ADD) {
    // Reject an invalid flag pair early.
    if (kev->flags & EV_KEEPUDATA) return kEINVAL;
    tkn = knote_alloc();
  }

findkn:
  if (fops->f_isfd) {
    if (kev->ident > static_cast<uintptr_t>(INT32_MAX)) error = kEBADF;
    else error = fget(td, static_cast<int>(kev->ident), &fp);
    if (error) goto done;

    if ((kev->flags & EV_ADD) == EV_ADD) {
      KQ_LOCK(kq);
      bool small = kq->kq_knlistsize.load() <= static_cast<int>(kev->ident);
      KQ_UNLOCK(kq);
      if (small) {
        fdrop(fp, td);
        fp = nullptr;
        error = kqueue_expand(kq, fops, kev->ident);
        if (error) goto done;
        goto findkn;
      }
    }

    if (fp->f_type == DTYPE_KQUEUE) {
      // If we add some intelligence about what we are doing, we should be
      // able to support events on ourselves.
      if (fp->f_data == kq) {
        error = kEINVAL;
        goto done;
      }
      if (!design().kq_in_kq) {
        // Designs without kqueue-in-kqueue refuse the registration.
        error = kEINVAL;
        goto done;
      }
      // Pre-lock the filedesc before the global lock mutex.
      FILEDESC_XLOCK(td->td_proc->p_fd);
      filedesc_unlock = 1;
      KQ_GLOBAL_LOCK(haskqglobal);
    }

    KQ_LOCK(kq);
    if (static_cast<int>(kev->ident) < kq->kq_knlistsize.load()) {
      kq->kq_knlist[kev->ident].foreach([&](knote* k) {
        if (kev->filter == k->kn_filter()) {
          kn = k;
          return false;
        }
        return true;
      });
    }
  } else {
    if ((kev->flags & EV_ADD) == EV_ADD) {
      error = kqueue_expand(kq, fops, kev->ident);
      if (error != 0) goto done;
    }
    KQ_LOCK(kq);
    if (kev->filter == EVFILT_PROC && (kev->flags & (EV_FLAG1 | EV_FLAG2)) != 0) {
      // An internal creation of a process tracking note (knote_fork): don't
      // coalesce it with an existing note.
    } else if (kq->kq_knhashmask.load() != 0) {
      kqlist_t& list = kq->kq_knhash[KN_HASH(kev->ident, kq->kq_knhashmask.load())];
      list.foreach([&](knote* k) {
        if (kev->ident == k->kn_id() && kev->filter == k->kn_filter()) {
          kn = k;
          return false;
        }
        return true;
      });
    }
  }

  // knote is in the process of changing, wait for it to stabilize.
  if (kn != nullptr && kn_in_flux(kn)) {
    KQ_GLOBAL_UNLOCK(haskqglobal);
    if (filedesc_unlock) {
      FILEDESC_XUNLOCK(td->td_proc->p_fd);
      filedesc_unlock = 0;
    }
    kq->kq_state.store(kq->kq_state.load() | KQ_FLUXWAIT);
    // KQ_FLUX_SLEEP(kq, kn, PDROP); Giant designs keep Giant (the syscall's).
    locks::msleep(kq, kq_sleep_mtx(kq), locks::PSOCK | (kq_lock_mtx(kq) != nullptr ? locks::PDROP : 0), "kqflxwt", 0);
    if (fp != nullptr) {
      fdrop(fp, td);
      fp = nullptr;
    }
    kn = nullptr;
    goto findkn;
  }

  // kn now contains the matching knote, or NULL if no match.
  if (kn == nullptr) {
    if (kev->flags & EV_ADD) {
      kn = tkn;
      tkn = nullptr;
      // Now that the kqueue is locked, make sure the fd didn't change out
      // from under us.
      if (fops->f_isfd && fget_noref(td->td_proc->p_fd, static_cast<int>(kev->ident)) != fp) {
        KQ_UNLOCK(kq);
        tkn = kn;
        error = kEBADF;
        goto done;
      }
      kn->kn_fp = fp;
      kn->kn_kq = kq;
      kn->kn_fop = fops;
      // apply reference counts to knote structure, and do not release it at
      // the end of this routine.
      fops = nullptr;
      fp = nullptr;

      kn->kn_sfflags.store(kev->fflags);
      kn->kn_sdata.store(kev->data);
      kev->fflags = 0;
      kev->data = 0;
      struct kevent k = *kev;
      k.flags &= ~(EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT);
      kn->kn_kevent.store(k);
      int st = KN_DETACHED;
      if ((kev->flags & EV_DISABLE) != 0) st |= KN_DISABLED;
      kn->kn_status.store(st);
      kn_enter_flux(kn);

      error = knote_attach(kn, kq);
      KQ_UNLOCK(kq);
      if (error != 0) {
        tkn = kn;
        goto done;
      }
      if ((error = kn->kn_fop->f_attach(kn)) != 0) {
        knote_drop_detached(kn, td);
        goto done;
      }
      knl = kn_list_lock(kn);
      goto done_ev_add;
    } else {
      // No matching knote and the EV_ADD flag is not set.
      KQ_UNLOCK(kq);
      error = kENOENT;
      goto done;
    }
  }

  if (kev->flags & EV_DELETE) {
    kn_enter_flux(kn);
    KQ_UNLOCK(kq);
    knote_drop(kn, td);
    goto done;
  }

  if (kev->flags & EV_FORCEONESHOT) {
    kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_ONESHOT);
    knote_activate(kn, true);
  }

  if ((kev->flags & EV_ENABLE) != 0) kn->kn_status.store(kn->kn_status.load() & ~KN_DISABLED);
  else if ((kev->flags & EV_DISABLE) != 0) kn->kn_status.store(kn->kn_status.load() | KN_DISABLED);

  // The user may change some filter values after the initial EV_ADD, but
  // doing so will not reset any filter which has already been triggered.
  kn->kn_status.store(kn->kn_status.load() | KN_SCAN);
  kn_enter_flux(kn);
  KQ_UNLOCK(kq);
  knl = kn_list_lock(kn);
  if ((kev->flags & EV_KEEPUDATA) == 0) kn->kn_kevent.udata.store(kev->udata);
  if (!kn->kn_fop->f_isfd && kn->kn_fop->f_touch != nullptr) {
    kn->kn_fop->f_touch(kn, kev, EVENT_REGISTER);
  } else {
    kn->kn_sfflags.store(kev->fflags);
    kn->kn_sdata.store(kev->data);
  }

done_ev_add:
  // KN_DISABLED will be stable while the knote is in flux, so the unlocked
  // read will not race with an update.
  if ((kn->kn_status.load() & KN_DISABLED) == 0) event = kn->kn_fop->f_event(kn, 0);
  else event = 0;

  KQ_LOCK(kq);
  if (event) kn->kn_status.store(kn->kn_status.load() | KN_ACTIVE);
  if ((kn->kn_status.load() & (KN_ACTIVE | KN_DISABLED | KN_QUEUED)) == KN_ACTIVE) knote_enqueue(kn);
  kn->kn_status.store(kn->kn_status.load() & ~KN_SCAN);
  kn_leave_flux(kn);
  kn_list_unlock(knl);
  KQ_UNLOCK_FLUX(kq);

done:
  KQ_GLOBAL_UNLOCK(haskqglobal);
  if (filedesc_unlock) FILEDESC_XUNLOCK(td->td_proc->p_fd);
  if (fp != nullptr) fdrop(fp, td);
  knote_free(tkn);
  return error;
}

int kern_kqueue(thread* td, int* fdp_out) {
  World* w = World::current();
  filedesc* fdp = td->td_proc->p_fd;
  kqueue* kq = w->make<kqueue>();
  kq->kq_serial = w->next_serial();
  kq->kq_lock.init("kqueue", nullptr, locks::MTX_DEF | locks::MTX_DUPOK);
  if (mtx* m = kq_lock_mtx(kq)) knlist_init_mtx(&kq->kq_sel, m);
  else knlist_init(&kq->kq_sel, nullptr, knlist_null_lock, knlist_null_lock, knlist_null_assert);
  // No references yet: kqueue_close() and kevent() take theirs with
  // kqueue_acquire() (FreeBSD zero-allocates the kqueue).
  kq->kq_refcnt.raw_set(0);
  kq->kq_fdp = fdp;

  file* fp = nullptr;
  int fd = -1;
  int error = falloc(td, &fp, &fd, DTYPE_KQUEUE, &kqueueops, kq);
  if (error) return error;
  mtx* order = design().kqueue_lock_before_filedesc ? kq_lock_mtx(kq) : nullptr;
  if (order != nullptr) locks::mtx_lock(order);  // Feldman: kqueue lock, then filedesc
  FILEDESC_XLOCK(fdp);
  fdp->fd_kqlist.push_back(kq);
  FILEDESC_XUNLOCK(fdp);
  if (order != nullptr) locks::mtx_unlock(order);
  *fdp_out = fd;
  return 0;
}

namespace {

// KQ_NEVENTS: FreeBSD copies changes in and events out in batches of this many.
constexpr int kKQ_NEVENTS = 8;

// kqueue_kevent(): apply the change list, then scan. The copyin/copyout
// rules are FreeBSD's, with user memory reduced to "a list or nullptr":
//  - nchanges < 0 is EINVAL; a null changelist with nchanges > 0 fails the
//    first copyin: EFAULT, before any change is applied.
//  - A change that fails (or carries EV_RECEIPT) is reported as an EV_ERROR
//    entry with data = the errno while event slots remain; with none left
//    (nevents == 0) kevent() stops there and returns that change's errno
//    (0 for a successful receipt), later changes unapplied. FreeBSD ignores
//    a failed copyout of an EV_ERROR entry: a null eventlist just loses it.
//    With nevents < 0 FreeBSD would copy EV_ERROR entries out without bound;
//    the model counts them but copies nothing (its user memory has no
//    bound to check against).
//  - Any EV_ERROR entry makes kevent() return their count, without a scan.
//  - The scan: nevents < 0 is EINVAL (after the changes are applied). A
//    null eventlist with nevents > 0 faults on the first copyout: the scan
//    collects at most one batch (kKQ_NEVENTS), which is lost, and returns
//    EFAULT; with no event to copy out it returns 0 like FreeBSD.
int kqueue_kevent(kqueue* kq, thread* td, const struct kevent* changelist, int nchanges,
                  struct kevent* eventlist, int nevents, const struct timespec* timeout) {
  if (nchanges < 0) return kEINVAL;
  if (changelist == nullptr && nchanges > 0) return kEFAULT;
  int nerrors = 0;
  struct kevent* evout = eventlist;
  for (int i = 0; i < nchanges; i++) {
    struct kevent kev = changelist[i];
    if (!kev.filter) continue;
    kev.flags &= ~EV_SYSFLAGS;
    int error = kqueue_register(kq, &kev, td);
    if (error || (kev.flags & EV_RECEIPT)) {
      if (nevents == 0) return error;
      kev.flags = EV_ERROR;
      kev.data = error;
      if (evout != nullptr && nevents > 0) *evout++ = kev;
      if (nevents > 0) nevents--;
      nerrors++;
    }
  }
  if (nerrors) {
    td->td_retval = nerrors;
    return 0;
  }
  if (eventlist == nullptr && nevents > 0) {
    struct kevent lost[kKQ_NEVENTS];
    int error = kqueue_scan(kq, std::min(nevents, kKQ_NEVENTS), lost, timeout, td);
    if (error == 0 && td->td_retval > 0) error = kEFAULT;
    return error;
  }
  return kqueue_scan(kq, nevents, evout, timeout, td);
}

}  // namespace

int kern_kevent(thread* td, int fd, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
                int nevents, const struct timespec* timeout) {
  // FreeBSD's order: the descriptor first (EBADF), then that it is a kqueue
  // (EINVAL), then the counts and lists (kqueue_kevent).
  file* fp;
  int error = fget(td, fd, &fp);
  if (error) return error;
  kqueue* kq;
  error = kqueue_acquire(fp, &kq);
  if (error) {
    fdrop(fp, td);
    return error;
  }
  error = kqueue_kevent(kq, td, changelist, nchanges, eventlist, nevents, timeout);
  kqueue_release(kq, 0);
  fdrop(fp, td);
  return error;
}

std::string kqueue_check(const kqueue* kq) {
  int count = kq->kq_count.raw();
  sim::ListReport r = sim::check_tailq(kq->kq_head, std::optional<size_t>(static_cast<size_t>(count)));
  if (!r.ok) return r.text("kq_head");
  std::string out;
  using Head = sim::TailqHead<knote, &knote::kn_tqe>;
  const sim::TailqEntry* head = &kq->kq_head.head_node();
  size_t bound = static_cast<size_t>(count) + 16;
  for (const sim::TailqEntry* n = head->next.raw(); n != head && n != nullptr && bound-- > 0; n = n->next.raw()) {
    const knote* kn = Head::elem_of(n);
    int st = kn->kn_status.raw();
    if (st != KN_MARKER && (st & KN_QUEUED) == 0)
      out += fmt::format("knote {} is on kq_head without KN_QUEUED (kn_status {:#x})\n", kn->kn_serial, st);
    if (kn->kn_freed) out += fmt::format("freed knote {} is still on kq_head\n", kn->kn_serial);
  }
  return out;
}

}  // namespace kqsim::kern
