// kqueue_scan_poll.cc - the poll-style scan (see kqueue_scan_poll.h).
//
// The walk: descriptor buckets kq_knlist[0..kq_knlistsize), then the hash
// buckets kq_knhash[0..kq_knhashmask], starting where the previous call's
// walk stopped when that one filled its buffer (kq_pollnext). The kq lock is
// dropped around every filter call, so a bucket may change meanwhile (knotes
// added at its head, dropped, kq_knlist reallocated by kqueue_expand): after
// each drop the walk starts the bucket again from its head, skipping the
// knotes it has already visited in this pass. A knote in flux is waited for (KQ_FLUX_SLEEP), as
// kqueue_scan waits for one at the head of kq_head.
//
// Per knote (kq lock held, knote not in flux), in kqueue_scan's words:
//   KN_DISABLED              dequeue it if queued; no filter call
//   EV_DROP                  if queued: dequeue, drop (nothing returned)
//   EV_ONESHOT               if queued: dequeue, copy kn_kevent, drop
//   otherwise                KN_SCAN + in flux, kq unlocked, knlist locked,
//                            f_event(kn, 0); kq relocked; then
//     ready, and queued or level-triggered   copy out (f_touch for non-fd
//                            filters), then EV_CLEAR/EV_DISPATCH: reset,
//                            disable, dequeue; level: stays (or is) queued
//     not ready              dequeue it if queued, clear KN_ACTIVE
#include "knote/kqueue_scan_poll.h"

#include <algorithm>
#include <vector>

#include "knote/design.h"
#include "locks/kassert.h"
#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/world.h"

namespace kqsim::kern {

namespace {

using namespace bsd;

class PollScan {
 public:
  PollScan(kqueue* kq, thread* td, void (*drop)(knote*, thread*), struct kevent* kevp, int count)
      : kq_(kq), td_(td), drop_(drop), kevp_(kevp), count_(count) {}

  // One pass over every registered knote; kq lock held on entry and exit.
  // Buckets are numbered kq_knlist[0..nfd) then kq_knhash[0..nhash), as they
  // are when the pass starts (buckets added meanwhile wait for the next
  // pass); the pass starts at kq_pollnext and wraps around once. When the
  // caller's buffer fills up, kq_pollnext becomes the bucket after the last
  // one visited, so that ready knotes further on are not starved by ones
  // that stay ready (FreeBSD gets the same fairness by requeueing a
  // level-triggered knote at the tail of kq_head); after a whole cycle it is
  // 0 again. Returns how many events it copied out.
  int pass() {
    const int start_count = count_;
    const int nfd = kq_->kq_knlistsize.load();
    const unsigned long mask = kq_->kq_knhashmask.load();
    const int total = nfd + (mask != 0 ? static_cast<int>(mask) + 1 : 0);
    int first = kq_->kq_pollnext.load();
    if (first < 0 || first >= total) first = 0;
    int next = 0;
    for (int i = 0; i < total; ++i) {
      if (count_ == 0) {
        next = (first + i) % total;
        break;
      }
      const int b = (first + i) % total;
      if (b < nfd) walk_bucket([this, b] { return &kq_->kq_knlist[b]; });
      else walk_bucket([this, b, nfd] { return &kq_->kq_knhash[b - nfd]; });
    }
    kq_->kq_pollnext.store(next);
    return start_count - count_;
  }

  // Leaving: wake threads that waited for a knote this pass had in flux.
  void flux_wakeup() {
    if (influx_) KQ_FLUX_WAKEUP(kq_);
    influx_ = false;
  }

 private:
  // `head()` re-reads the bucket after every lock drop (kq_knlist may have
  // been reallocated meanwhile).
  template <class Head>
  void walk_bucket(Head head) {
    visited_.clear();
  again:
    for (knote* kn = head()->first(); kn != nullptr && count_ > 0;) {
      if (std::find(visited_.begin(), visited_.end(), kn) != visited_.end()) {
        kn = kqlist_t::next(kn);
        continue;
      }
      if (kn_in_flux(kn)) {
        flux_wakeup();
        kq_->kq_state.store(kq_->kq_state.load() | KQ_FLUXWAIT);
        locks::msleep(kq_, kq_sleep_mtx(kq_), locks::PSOCK, "kqflxwt", 0);
        goto again;
      }
      visited_.push_back(kn);
      if (visit(kn)) goto again;  // the kq lock was dropped
      kn = kqlist_t::next(kn);
    }
  }

  void dequeue_inactive(knote* kn) {
    if ((kn->kn_status.load() & KN_QUEUED) == 0) return;
    knote_dequeue(kn);
    kn->kn_status.store(kn->kn_status.load() & ~KN_ACTIVE);
  }

  // Returns true when it dropped the kq lock.
  bool visit(knote* kn) {
    KQ_OWNED(kq_);
    int st = kn->kn_status.load();
    if ((st & KN_MARKER) != 0) return false;
    if ((st & KN_DISABLED) != 0) {
      dequeue_inactive(kn);
      return false;
    }
    const unsigned short kflags = kn->kn_kevent.flags.load();
    if ((kflags & (EV_DROP | EV_ONESHOT)) != 0) {
      if ((st & KN_QUEUED) == 0) return false;
      knote_dequeue(kn);
      kn_enter_flux(kn);
      KQ_UNLOCK(kq_);
      const bool deliver = (kflags & EV_DROP) == 0;
      if (deliver) *kevp_ = kn->kn_kevent.load();
      drop_(kn, td_);
      KQ_LOCK(kq_);
      if (deliver) {
        ++kevp_;
        --count_;
      }
      return true;
    }
    // A detached knote is asked too, as kqueue_scan asks one: EVFILT_USER
    // knotes are never attached, and knlist_clear() made the others
    // EV_ONESHOT (handled above).
    // Ask the filter, the way the fine scan does.
    kn->kn_status.store(st | KN_SCAN);
    kn_enter_flux(kn);
    KQ_UNLOCK(kq_);
    int haskqglobal = 0;
    if ((st & KN_KQUEUE) == KN_KQUEUE) {
      locks::mtx_lock(&World::current()->kq_global);
      haskqglobal = 1;
    }
    knlist* knl = kn->kn_knlist.load();
    if (knl != nullptr) knl->kl_lock(knl->kl_lockarg);
    const int ready = kn->kn_fop->f_event(kn, 0);
    KQ_LOCK(kq_);
    if (haskqglobal) locks::mtx_unlock(&World::current()->kq_global);
    st = kn->kn_status.load();
    const bool edge = (kflags & (EV_CLEAR | EV_DISPATCH)) != 0;
    if (ready && ((st & KN_QUEUED) != 0 || !edge)) {
      // The knote's data only changes under its knlist lock, which we hold.
      const bool touch = !kn->kn_fop->f_isfd && kn->kn_fop->f_touch != nullptr;
      if (touch) kn->kn_fop->f_touch(kn, kevp_, EVENT_PROCESS);
      else *kevp_ = kn->kn_kevent.load();
      if (edge) {
        if (!touch && (kflags & EV_CLEAR) != 0) {
          kn->kn_kevent.data.store(0);
          kn->kn_kevent.fflags.store(0);
        }
        knote_dequeue(kn);
        st = kn->kn_status.load();
        if ((kflags & EV_DISPATCH) != 0) st |= KN_DISABLED;
        kn->kn_status.store(st & ~KN_ACTIVE);
      } else if ((st & KN_QUEUED) == 0) {
        kn->kn_status.store(st | KN_ACTIVE);
        knote_enqueue(kn);
      }
      ++kevp_;
      --count_;
    } else {
      dequeue_inactive(kn);
    }
    kn->kn_status.store(kn->kn_status.load() & ~KN_SCAN);
    kn_leave_flux(kn);
    if (knl != nullptr) knl->kl_unlock(knl->kl_lockarg);
    influx_ = true;
    return true;
  }

  kqueue* kq_;
  thread* td_;
  void (*drop_)(knote*, thread*);
  struct kevent* kevp_;
  int count_;
  bool influx_ = false;
  std::vector<knote*> visited_;
};

}  // namespace

int kqueue_scan_poll(kqueue* kq, int maxevents, struct kevent* ulistp, const struct timespec* tsp, thread* td,
                     void (*drop)(knote* kn, thread* td)) {
  if (maxevents == 0) {
    td->td_retval = 0;
    return 0;
  }
  if (maxevents < 0) return kEINVAL;

  // As kqueue_scan: 0 = wait forever, kNoWait = don't wait, else a deadline.
  constexpr uint64_t kNoWait = kScanNoWait;
  uint64_t asbt = kScanForever;
  if (int e = kqueue_scan_deadline(tsp, &asbt); e != 0) return e;

  int error = 0;
  int n = 0;
  KQ_LOCK(kq);
  for (;;) {
    if (kq->kq_count.load() == 0) {
      // Nothing was activated since the last pass: sleep until KNOTE()
      // queues something (kqueue_wakeup) or the timeout.
      if (asbt == kNoWait) {
        error = kEWOULDBLOCK;
      } else {
        kq->kq_state.store(kq->kq_state.load() | KQ_SLEEP);
        error = locks::msleep_until(kq, kq_sleep_mtx(kq), locks::PSOCK | locks::PCATCH, "kqread",
                                    asbt == kScanForever ? sim::kNever : asbt);
      }
      if (error == 0) continue;
      if (error == kERESTART) error = kEINTR;
      else if (error == kEWOULDBLOCK) error = 0;
      break;
    }
    PollScan scan(kq, td, drop, ulistp, maxevents);
    n = scan.pass();
    scan.flux_wakeup();
    // Every queued knote the pass saw and did not return was dequeued, so an
    // empty pass leaves kq_count at 0 unless KNOTE() queued something
    // meanwhile: look again (or sleep).
    if (n > 0) break;
  }
  KQ_OWNED(kq);
  KQ_UNLOCK_FLUX(kq);
  td->td_retval = n;
  return error;
}

}  // namespace kqsim::kern
