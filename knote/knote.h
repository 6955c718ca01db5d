// knote.h - kern_event's structures: struct knote, struct knlist, struct
// kqueue, struct filterops, with FreeBSD's names (sys/sys/event.h,
// sys/sys/eventvar.h).
//
// Which lock protects what (the "fine" design's names; every design maps
// KQ_LOCK and the knlist lock to its own locks, see knote/design.h):
//   knote.kn_status, kn_influx, kn_tqe, kn_link     kq lock (KQ_LOCK)
//   knote.kn_kevent, kn_sfflags, kn_sdata            knlist lock (and in flux)
//   knote.kn_selnext, knlist.kl_list                 knlist lock
//   knote.kn_knlist                                  knlist lock + kq lock
//   kqueue.kq_head, kq_count, kq_state, kq_knlist,
//     kq_knhash, kq_refcnt                           kq lock
//   kqueue.kq_sel (a knlist)                         its own knlist lock (kq lock in "fine")
//
// The in-flux protocol (fine design): a thread that must drop the kq lock
// while working on a knote first raises kn_influx (kn_enter_flux); while
// kn_influx > 0 no other thread may drop or change the knote, except knote()
// for a knote marked KN_SCAN (the scan holds the knlist lock around its
// filter call, so knote() cannot run concurrently). Threads that find a knote
// in flux set KQ_FLUXWAIT and sleep on the kqueue ("kqflxwt"); whoever leaves
// flux wakes them (KQ_FLUX_WAKEUP).
#pragma once

#include <cstdint>
#include <memory>

#include <kqsim/sys/event.h>

#include "locks/mutex.h"
#include "model/kern/kern_types.h"
#include "model/kern/world.h"
#include "model/sim/cell.h"
#include "model/sim/list.h"

namespace kqsim::kern {

using sim::Cell;

// kn_status bits (sys/sys/event.h).
inline constexpr int KN_ACTIVE = 0x01;    // event has been triggered
inline constexpr int KN_QUEUED = 0x02;    // event is on queue
inline constexpr int KN_DISABLED = 0x04;  // event is disabled
inline constexpr int KN_DETACHED = 0x08;  // knote is detached
inline constexpr int KN_MARKER = 0x20;    // ignore this knote
inline constexpr int KN_KQUEUE = 0x40;    // this knote belongs to a kq
inline constexpr int KN_SCAN = 0x100;     // flux set in kqueue_scan()

// kq_state bits (sys/sys/eventvar.h).
inline constexpr int KQ_SEL = 0x01;
inline constexpr int KQ_SLEEP = 0x02;
inline constexpr int KQ_FLUXWAIT = 0x04;
inline constexpr int KQ_ASYNC = 0x08;
inline constexpr int KQ_CLOSING = 0x10;
inline constexpr int KQ_TASKSCHED = 0x20;
inline constexpr int KQ_TASKDRAIN = 0x40;

// knote() lock flags.
inline constexpr int KNF_LISTLOCKED = 0x0001;
inline constexpr int KNF_NOKQLOCK = 0x0002;

// f_touch types.
inline constexpr unsigned long EVENT_REGISTER = 1;
inline constexpr unsigned long EVENT_PROCESS = 2;

inline constexpr int KQEXTENT = 256;   // kq_knlist grows by this many fds
inline constexpr int KN_HASHSIZE = 64;  // kq_knhash buckets
inline constexpr int KQ_NEVENTS = 8;   // scan copies out in batches of this

struct filterops {
  int f_isfd = 0;  // true if ident == file descriptor
  int (*f_attach)(knote* kn) = nullptr;
  void (*f_detach)(knote* kn) = nullptr;
  int (*f_event)(knote* kn, long hint) = nullptr;
  void (*f_touch)(knote* kn, struct kevent* kev, unsigned long type) = nullptr;
};

// kn_kevent: a struct kevent whose mutable fields are instrumented.
struct kevent_cells {
  uintptr_t ident = 0;  // immutable after EV_ADD
  short filter = 0;     // immutable after EV_ADD
  Cell<unsigned short> flags;
  Cell<unsigned int> fflags;
  Cell<int64_t> data;
  Cell<void*> udata;

  struct kevent load(SrcLoc loc = SrcLoc::current()) const;
  void store(const struct kevent& kev, SrcLoc loc = SrcLoc::current());
};

struct knote {
  // Every member has its initialiser; the empty user-provided constructor
  // keeps `knote{}` / `State state{}` from zero-filling the whole object
  // before running them (a measurable cost per execution).
  knote() {}  // NOLINT(modernize-use-equals-default): = default would re-enable the zero-fill
  sim::SlistEntry kn_link;     // for kq: kq_knlist[fd] / kq_knhash bucket; kq lock
  sim::SlistEntry kn_selnext;  // for struct knlist; knlist lock
  Cell<knlist*> kn_knlist;     // f_attach populated
  sim::TailqEntry kn_tqe;      // kq_head; kq lock
  kqueue* kn_kq = nullptr;     // which queue we are on
  kevent_cells kn_kevent;
  void* kn_hook = nullptr;     // filter private
  Cell<int> kn_hookid;         // filter private (EVFILT_USER trigger state)
  Cell<int> kn_status;         // kq lock
  Cell<int> kn_influx;         // kq lock
  Cell<unsigned int> kn_sfflags;  // saved filter flags; knlist lock
  Cell<int64_t> kn_sdata;         // saved data field; knlist lock
  file* kn_fp = nullptr;          // kn_ptr.p_fp
  proc* kn_proc = nullptr;        // kn_ptr.p_proc
  const filterops* kn_fop = nullptr;

  // Model bookkeeping (not in FreeBSD): a serial for reports, and the
  // freed mark that turns a use of a dropped knote into a finding.
  uint32_t kn_serial = 0;
  bool kn_freed = false;

  uintptr_t kn_id() const { return kn_kevent.ident; }
  short kn_filter() const { return kn_kevent.filter; }
};

using klist = sim::SlistHead<knote, &knote::kn_selnext>;   // SLIST_HEAD(klist, knote) over kn_selnext
using kqlist_t = sim::SlistHead<knote, &knote::kn_link>;   // kq_knlist[fd] and kq_knhash buckets

struct knlist {
  klist kl_list;
  void (*kl_lock)(void*) = nullptr;
  void (*kl_unlock)(void*) = nullptr;
  void (*kl_assert_lock)(void*, int) = nullptr;
  void* kl_lockarg = nullptr;
  int kl_autodestroy = 0;
};

struct kqueue {
  kqueue() {}  // NOLINT(modernize-use-equals-default): see knote()
  locks::mtx kq_lock;             // "kqueue"
  Cell<int> kq_refcnt;            // kq lock
  sim::TailqHead<knote, &knote::kn_tqe> kq_head;  // pending events; kq lock
  Cell<int> kq_count;             // number of queued events; kq lock
  knlist kq_sel;                  // kq_sel.si_note: knotes of kqueues watching this one
  Cell<int> kq_state;             // kq lock
  filedesc* kq_fdp = nullptr;
  Cell<int> kq_knlistsize;        // kq lock
  std::unique_ptr<kqlist_t[]> kq_knlist;  // by descriptor; kq lock
  Cell<unsigned long> kq_knhashmask;      // kq lock
  std::unique_ptr<kqlist_t[]> kq_knhash;  // non-descriptor idents; kq lock
  uint32_t kq_serial = 0;         // model: for reports
  Cell<int> kq_pollnext;          // design "poll": the bucket its next scan starts at; kq lock
};

// ---- kern_event.cc: the operations (FreeBSD's names) ----

// kqueue(2) and kevent(2), behind the syscall layer. Return 0 or an errno;
// kevent's count of returned events is in td->td_retval.
int kern_kqueue(thread* td, int* fdp);
int kern_kevent(thread* td, int fd, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
                int nevents, const struct timespec* timeout);

int kqueue_register(kqueue* kq, struct kevent* kev, thread* td);
// knote() of kern_event.c, under the name of its macro: a function named
// knote would hide struct knote in C++.
void KNOTE(knlist* list, long hint, int lockflags, SrcLoc loc = SrcLoc::current());
inline void KNOTE_LOCKED(knlist* list, long hint, SrcLoc loc = SrcLoc::current()) {
  KNOTE(list, hint, KNF_LISTLOCKED, loc);
}
inline void KNOTE_UNLOCKED(knlist* list, long hint, SrcLoc loc = SrcLoc::current()) { KNOTE(list, hint, 0, loc); }

void knlist_init(knlist* knl, void* lock, void (*kl_lock)(void*), void (*kl_unlock)(void*),
                 void (*kl_assert_lock)(void*, int));
void knlist_init_mtx(knlist* knl, locks::mtx* lock);
void knlist_add(knlist* knl, knote* kn, int islocked);
void knlist_remove(knlist* knl, knote* kn, int islocked);
int knlist_empty(knlist* knl);
void knlist_destroy(knlist* knl);
// knlist_clear: detach every knote (they become EV_EOF|EV_ONESHOT);
// knlist_delete: detach and drop them.
void knlist_cleardel(knlist* knl, thread* td, int islocked, int killkn);
inline void knlist_clear(knlist* knl, int islocked) { knlist_cleardel(knl, nullptr, islocked, 0); }
inline void knlist_delete(knlist* knl, thread* td, int islocked) { knlist_cleardel(knl, td, islocked, 1); }
void knote_fdclose(thread* td, int fd);
// ---- kern_event.c's own helpers, exported for filters and objects ----
// KQ_LOCK(kq) takes what the design in force says (knote/design.h); the
// in-flux helpers need the kq lock; knote_activate is KNOTE_ACTIVATE(kn,
// islock); knote_enqueue/knote_dequeue need the kq lock.
//
// kq_lock_mtx(kq) is that mutex, or nullptr: the design's kq_mtx, with its
// two common answers (kq_own_mtx, kq_no_mtx) resolved without the call.
// Inline, as KQ_LOCK/KQ_UNLOCK/KQ_OWNED: they run at every queue operation.
inline locks::mtx* kq_lock_mtx(kqueue* kq) {
  locks::mtx* (*const f)(kqueue*) = World::current()->design().kq_mtx;
  if (f == kq_own_mtx) return &kq->kq_lock;
  if (f == kq_no_mtx) return nullptr;
  return f(kq);
}
// The mutex a thread sleeps on for this kqueue (msleep's interlock): the kq
// lock, or Giant when the design covers kern_event with Giant.
inline locks::mtx* kq_sleep_mtx(kqueue* kq) {
  locks::mtx* m = kq_lock_mtx(kq);
  return m != nullptr ? m : &locks::Giant;
}
inline void KQ_LOCK(kqueue* kq, SrcLoc loc = SrcLoc::current()) {
  if (locks::mtx* m = kq_lock_mtx(kq)) locks::mtx_lock(m, loc);
}
inline void KQ_UNLOCK(kqueue* kq, SrcLoc loc = SrcLoc::current()) {
  if (locks::mtx* m = kq_lock_mtx(kq)) locks::mtx_unlock(m, loc);
}
inline void KQ_OWNED(kqueue* kq, SrcLoc loc = SrcLoc::current()) {
  if (locks::mtx* m = kq_lock_mtx(kq)) locks::mtx_assert(m, locks::MA_OWNED, loc);
}
void KQ_FLUX_WAKEUP(kqueue* kq, SrcLoc loc = SrcLoc::current());
void KQ_UNLOCK_FLUX(kqueue* kq, SrcLoc loc = SrcLoc::current());
bool kn_in_flux(knote* kn);
void kn_enter_flux(knote* kn);
bool kn_leave_flux(knote* kn);
void knote_activate(knote* kn, bool islock);
void knote_enqueue(knote* kn);
void knote_dequeue(knote* kn);

// The filterops table lookup (kqueue_fo_find); nullptr for a bad filter.
const filterops* kqueue_fo_find(int filt);

// Model invariants, checked without scheduling points: kq_head walks both
// ways, kq_count equals its length, every queued knote has KN_QUEUED and
// every KN_QUEUED knote is queued. Returns an empty string when all hold.
std::string kqueue_check(const kqueue* kq);

}  // namespace kqsim::kern
