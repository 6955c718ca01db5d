// proc.cc - fork, exit, kill, getpid, and the EVFILT_PROC and EVFILT_SIGNAL
// filters (FreeBSD's kern_fork.c / kern_exit.c / kern_sig.c and the
// filt_proc* / knote_fork part of kern_event.c). See proc.h for the contract.
//
// Locking (every design; the design only changes what KQ_LOCK takes):
//   p_mtx -> kq lock              knote() on p_klist, knote_fork
//   filedesc sx                   fork's descriptor copy, exit's close loop
//                                 (never together with p_mtx)
// Filter entry points:
//   filt_procattach   no lock on entry (knote in flux); takes PROC_LOCK of
//                     the target for knlist_add and the zombie check.
//   filt_procdetach   no lock on entry; knlist_remove(kn_knlist, kn, 0).
//   filt_proc         p_mtx (the knlist lock) and whatever the design holds
//                     around f_event; reads p_xexit only on NOTE_EXIT, which
//                     exit1 posts with p_mtx held.
//   filt_sigattach / filt_sigdetach / filt_signal: the same, on curproc.
//
// KNOTE_ACTIVATE. FreeBSD's filt_procattach activates a knote directly
// (KNOTE_ACTIVATE) for the NOTE_CHILD knote of NOTE_TRACK and for a knote
// registered on an already-exiting process. kern_event.cc does not export
// knote activation; both cases are reached instead through the f_event(kn, 0)
// call kqueue_register makes right after f_attach: the NOTE_CHILD knote has
// kn_fflags != 0, and the exiting case sets kn_hookid = 1, which filt_proc
// returns once kn_ptr.p_proc is gone. Observable behaviour is the same.
#include "model/kern/proc.h"

#include <cstdio>
#include <vector>

#include "locks/kassert.h"
#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/syscall_scope.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/live_host.h"
#include "model/sim/scheduler.h"

namespace kqsim::kern {

using namespace kqsim::bsd;

namespace {

bool is_zombie(proc* p) { return (p->p_flag.load() & P_ZOMBIE) != 0; }

// ---- EVFILT_PROC ----

int filt_proc(knote* kn, long hint);

int filt_procattach(knote* kn) {
  World* w = World::current();
  unsigned int sfflags = kn->kn_sfflags.load();
  // A design without NOTE_TRACK support (design.note_track false) refuses it.
  if ((sfflags & NOTE_TRACK) != 0 && !w->design().note_track) return kEINVAL;

  // pfind_any (zombies included) for NOTE_EXIT, pfind otherwise.
  proc* p = w->pfind(static_cast<int>(kn->kn_id()));
  if (p == nullptr) return kESRCH;
  PROC_LOCK(p);
  int pflag = p->p_flag.load();
  if ((pflag & P_ZOMBIE) != 0 && (sfflags & NOTE_EXIT) == 0) {
    PROC_UNLOCK(p);
    return kESRCH;
  }
  bool exiting = (pflag & P_WEXIT) != 0;
  bool immediate = false;

  kn->kn_proc = p;
  unsigned short flags = kn->kn_kevent.flags.load();
  flags |= EV_CLEAR;  // automatically set
  // EV_FLAG2: knote_fork's registration for the NOTE_CHILD notice.
  if ((flags & EV_FLAG2) != 0) {
    flags &= ~EV_FLAG2;
    kn->kn_kevent.data.store(kn->kn_sdata.load());  // ppid
    kn->kn_kevent.fflags.store(NOTE_CHILD);
    kn->kn_sfflags.store(sfflags & ~NOTE_PCTRLMASK);
    immediate = true;
  }
  // EV_FLAG1: knote_fork's registration for the child's other events.
  flags &= ~EV_FLAG1;
  kn->kn_kevent.flags.store(flags);

  knlist_add(p->p_klist, kn, 1);

  // Immediate activation of a NOTE_CHILD knote happens through
  // kqueue_register's f_event(kn, 0) (kn_fflags is NOTE_CHILD); for a
  // process already exiting, filt_proc records the exit now and kn_hookid
  // makes the following f_event(kn, 0) report it (see the top of the file).
  if (!immediate && exiting && filt_proc(kn, NOTE_EXIT)) kn->kn_hookid.store(1);
  PROC_UNLOCK(p);
  return 0;
}

// The process may have exited: knlist_clear() then detached the knote
// (KN_DETACHED, kn_knlist NULL) and kern_event does not call f_detach. The
// knote may still be on a zombie's list (registered after the exit).
void filt_procdetach(knote* kn) {
  if (knlist* knl = kn->kn_knlist.load()) knlist_remove(knl, kn, 0);
  kn->kn_proc = nullptr;
}

int filt_proc(knote* kn, long hint) {
  proc* p = kn->kn_proc;
  if (p == nullptr)  // already activated, from the attach filter or NOTE_EXIT
    return kn->kn_hookid.load();

  // Mask off extra data.
  unsigned int event = static_cast<unsigned int>(hint) & NOTE_PCTRLMASK;
  unsigned int sfflags = kn->kn_sfflags.load();
  // If the user is interested in this event, record it.
  if ((sfflags & event) != 0) kn->kn_kevent.fflags.store(kn->kn_kevent.fflags.load() | (sfflags & event));
  unsigned int fflags = kn->kn_kevent.fflags.load();

  // Process is gone, so flag the event as finished.
  if ((event & NOTE_EXIT) != 0) {
    // Report the exit status.
    if ((fflags & NOTE_EXIT) != 0) kn->kn_kevent.data.store(KW_EXITCODE(p->p_xexit.load(), 0));
    unsigned short flags = kn->kn_kevent.flags.load() | EV_EOF | EV_ONESHOT;
    if (fflags == 0) flags |= EV_DROP;
    kn->kn_kevent.flags.store(flags);
    kn->kn_proc = nullptr;
    return 1;
  }
  return fflags != 0;
}

// ---- EVFILT_SIGNAL (kern_sig.c) ----

int filt_sigattach(knote* kn) {
  proc* p = curthread()->td_proc;
  kn->kn_proc = p;
  kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_CLEAR);  // automatically set
  knlist_add(p->p_klist, kn, 0);
  return 0;
}

void filt_sigdetach(knote* kn) {
  // After the process exited, knlist_clear() detached the knote already.
  if (knlist* knl = kn->kn_knlist.load()) knlist_remove(knl, kn, 0);
}

// Signal knotes share p_klist with process knotes: NOTE_SIGNAL in the hint
// tells a signal from a process event.
int filt_signal(knote* kn, long hint) {
  if ((hint & NOTE_SIGNAL) != 0) {
    hint &= ~static_cast<long>(NOTE_SIGNAL);
    if (static_cast<long>(kn->kn_id()) == hint) kn->kn_kevent.data.store(kn->kn_kevent.data.load() + 1);
  }
  return kn->kn_kevent.data.load() != 0;
}

// ---- knote_fork (kern_event.c) ----

// Called with the parent's p_klist locked. Activates every knote interested
// in NOTE_FORK, and for each EVFILT_PROC knote with NOTE_TRACK registers two
// knotes on the child in the same kqueue: a one-shot NOTE_CHILD notice
// (data = parent pid) and one that tracks the child's own events. The
// tracking knote is kept in flux while the list lock is dropped for
// kqueue_register (which takes kq locks and the child's p_mtx), so it can be
// neither dropped nor have its kqueue closed under us. FreeBSD applies
// NOTE_TRACK to any knote on the list; the model only to EVFILT_PROC knotes
// (an EVFILT_SIGNAL knote's fflags have no meaning).
//
// Difference from kern_event.c: FreeBSD activates each knote as it walks the
// list; here the tracked knotes leave flux first and one KNOTE_LOCKED() pass
// then activates every knote, all under the same hold of the list lock, so no
// scan can observe the difference.
void knote_fork(knlist* list, int pid, thread* td) {
  struct Track {
    knote* kn;
    kqueue* kq;
    struct kevent kev;
    int error;
  };
  std::vector<Track> tracks;
  list->kl_list.foreach([&](knote* kn) {
    if (kn->kn_fop != &proc_filtops || (kn->kn_sfflags.load() & NOTE_TRACK) == 0) return;
    kqueue* kq = kn->kn_kq;
    KQ_LOCK(kq);
    if (kn_in_flux(kn) && (kn->kn_status.load() & KN_SCAN) == 0) {
      KQ_UNLOCK(kq);
      return;
    }
    kn_enter_flux(kn);
    KQ_UNLOCK(kq);
    Track t{kn, kq, {}, 0};
    t.kev.ident = static_cast<uintptr_t>(pid);
    t.kev.filter = kn->kn_filter();
    t.kev.flags = kn->kn_kevent.flags.load();
    t.kev.fflags = kn->kn_sfflags.load();
    t.kev.data = static_cast<int64_t>(kn->kn_id());  // parent
    t.kev.udata = kn->kn_kevent.udata.load();        // preserve udata
    tracks.push_back(t);
  });
  if (!tracks.empty()) {
    list->kl_unlock(list->kl_lockarg);
    for (Track& t : tracks) {
      // First the child notice: a separate knote, since NOTE_CHILD and
      // NOTE_EXIT both use the data field.
      struct kevent kev = t.kev;
      kev.flags = static_cast<unsigned short>(t.kev.flags | EV_ADD | EV_ENABLE | EV_ONESHOT | EV_FLAG2);
      t.error = kqueue_register(t.kq, &kev, td);
      // Then a knote tracking the child's own events.
      kev = t.kev;
      kev.flags = static_cast<unsigned short>(t.kev.flags | EV_ADD | EV_ENABLE | EV_FLAG1);
      int error = kqueue_register(t.kq, &kev, td);
      if (t.error == 0) t.error = error;
    }
    list->kl_lock(list->kl_lockarg);
    for (Track& t : tracks) {
      if (t.error != 0) t.kn->kn_kevent.fflags.store(t.kn->kn_kevent.fflags.load() | NOTE_TRACKERR);
      KQ_LOCK(t.kq);
      kn_leave_flux(t.kn);
      KQ_UNLOCK_FLUX(t.kq);
    }
  }
  KNOTE_LOCKED(list, static_cast<long>(NOTE_FORK) | pid);
}

// The simulated threads sys_fork started in the current World, for
// fork_join_all: kept by the World itself (World::forked_threads), not in a
// cache keyed by the World's address, which a later World may reuse.
std::vector<sim::Tid>& fork_threads() {
  return World::current()->forked_threads(sim::Scheduler::current()->generation());
}

// fdescfree: close every descriptor of the exiting process.
void fdescfree(thread* td) {
  filedesc* fdp = td->td_proc->p_fd;
  if (fdp == nullptr) return;
  for (;;) {
    std::vector<int> open;
    FILEDESC_XLOCK(fdp);
    for (int fd = 0; fd < static_cast<int>(fdp->fd_ofiles.size()); ++fd)
      if (fget_locked(fdp, fd) != nullptr) open.push_back(fd);
    FILEDESC_XUNLOCK(fdp);
    if (open.empty()) return;
    for (int fd : open) kern_close(td, fd);
  }
}

}  // namespace

const filterops proc_filtops = {
    .f_isfd = 0,
    .f_attach = filt_procattach,
    .f_detach = filt_procdetach,
    .f_event = filt_proc,
    .f_touch = nullptr,
};

const filterops sig_filtops = {
    .f_isfd = 0,
    .f_attach = filt_sigattach,
    .f_detach = filt_sigdetach,
    .f_event = filt_signal,
    .f_touch = nullptr,
};

void kern_psignal(proc* p, int sig) {
  PROC_LOCK_ASSERT(p, locks::MA_OWNED);
  KASSERT(sig > 0 && sig <= kSIG_MAXSIG, ("kern_psignal: invalid signal %d", sig));
  // IEEE Std 1003.1-2001: success (and nothing) when signalling a zombie.
  if (is_zombie(p)) return;
  KNOTE_LOCKED(p->p_klist, static_cast<long>(NOTE_SIGNAL) | sig);
  if (sig <= 32) p->p_siglist.store(p->p_siglist.load() | (1u << (sig - 1)));
}

void exit1(thread* td, int rval) {
  proc* p = td->td_proc;
  PROC_LOCK(p);
  int flag = p->p_flag.load();
  if ((flag & P_WEXIT) != 0) {  // exiting already: exit once
    PROC_UNLOCK(p);
    return;
  }
  // Note that we are exiting; the status is set with P_WEXIT, so a knote
  // registered on the exiting process reports it.
  p->p_flag.store(flag | P_WEXIT);
  p->p_xexit.store(rval);
  PROC_UNLOCK(p);

  // Close open files and release the open-file table.
  fdescfree(td);

  // Notify interested parties of our demise, then delete every entry of
  // p_klist: the remaining knotes become EV_EOF|EV_ONESHOT.
  PROC_LOCK(p);
  KNOTE_LOCKED(p->p_klist, NOTE_EXIT);
  knlist_clear(p->p_klist, 1);
  p->p_flag.store(p->p_flag.load() | P_ZOMBIE);
  PROC_UNLOCK(p);

  // Tell the parent (no reparenting in the model: a parent that exited
  // first gets nothing).
  if (proc* pp = p->p_pptr) {
    PROC_LOCK(pp);
    if ((pp->p_flag.load() & P_WEXIT) == 0) kern_psignal(pp, kSIGCHLD);
    PROC_UNLOCK(pp);
  }
}

// ---- system calls ----

int sys_getpid() {
  SyscallScope scope;
  return static_cast<int>(scope.ret(0, scope.td()->td_proc->p_pid));
}

// fork, exit and kill run under Giant wherever kern_event does
// (SyscallScope(true)): their KNOTE()s and knote_fork reach kern_event, and
// in FreeBSD 5.x they were Giant-locked, unlike the MP-safe pipes of
// kern/57945 (design "none").
int sys_fork(void (*child_main)(void*), void* arg) {
  SyscallScope scope(true);
  thread* td = scope.td();
  sim::Scheduler* s = sim::Scheduler::current();
  // Live mode: the child's thread is an OS thread the live runner starts
  // (model/sim/live_host.h); without a runner there is nobody to start it.
  sim::live::Host* host = s == nullptr ? sim::live::host() : nullptr;
  if (s == nullptr && host == nullptr) return static_cast<int>(scope.ret(kENOSYS));
  World* w = World::current();
  proc* p1 = td->td_proc;
  proc* p2 = w->newproc(p1, p1->p_comm.c_str());

  // fdcopy: every descriptor but kqueues, each with a reference of its own.
  // The child's table is private until its thread starts (spawn, or the OS
  // thread's start, orders it): only the parent's table is locked, as in
  // FreeBSD's fdcopy().
  filedesc* fdp = p1->p_fd;
  FILEDESC_XLOCK(fdp);
  if (p2->p_fd->fd_ofiles.size() < fdp->fd_ofiles.size()) p2->p_fd->fd_ofiles.resize(fdp->fd_ofiles.size(), nullptr);
  for (int fd = 0; fd < static_cast<int>(fdp->fd_ofiles.size()); ++fd) {
    file* fp = fget_locked(fdp, fd);
    if (fp == nullptr || fp->f_type == DTYPE_KQUEUE) continue;
    fhold(fp);
    fd_slot_store(p2->p_fd, fd, fp);
  }
  FILEDESC_XUNLOCK(fdp);

  // Tell any interested parties about the new process.
  PROC_LOCK(p1);
  knote_fork(p1->p_klist, p2->p_pid, td);
  PROC_UNLOCK(p1);

  char name[32];
  std::snprintf(name, sizeof name, "pid%d", p2->p_pid);
  int pid = p2->p_pid;
  auto body = [p2, pid, child_main, arg] {
    World* cw = World::current();
    KASSERT(cw != nullptr, ("pid %d: process thread started after its World was destroyed: the "
                            "program's root must outlive its processes (fork_join_all)", pid));
    cw->attach(p2);
    child_main(arg);
    sys_exit(0);  // a no-op when child_main exited already
  };
  if (host != nullptr) {
    host->start(name, body);
    return static_cast<int>(scope.ret(0, pid));
  }
  sim::Tid t = s->spawn(body, name);
  if (t == sim::kNoThread) return static_cast<int>(scope.ret(kEAGAIN));  // the execution is ending
  fork_threads().push_back(t);
  return static_cast<int>(scope.ret(0, pid));
}

void fork_join_all() {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) {  // live mode: the runner knows the process threads
    if (sim::live::Host* h = sim::live::host()) h->join_started();
    return;
  }
  if (s->aborting()) return;  // unwinding: nothing to wait for
  std::vector<sim::Tid>& tids = fork_threads();
  // Children may fork in turn: join until no new thread appears (index, not
  // iterator: a joined child's fork appends).
  for (size_t i = 0; i < tids.size(); ++i)
    if (tids[i] != s->self()) s->join(tids[i]);
}

void sys_exit(int status) {
  SyscallScope scope(true);
  exit1(scope.td(), status);
  scope.ret(0);
}

int sys_kill(int pid, int sig) {
  SyscallScope scope(true);
  if (sig < 0 || sig > kSIG_MAXSIG) return static_cast<int>(scope.ret(kEINVAL));
  if (pid <= 0) return static_cast<int>(scope.ret(kESRCH));  // process groups are not modelled
  proc* p = World::current()->pfind(pid);
  if (p == nullptr) return static_cast<int>(scope.ret(kESRCH));
  if (sig != 0) {
    PROC_LOCK(p);
    kern_psignal(p, sig);
    PROC_UNLOCK(p);
  }
  return static_cast<int>(scope.ret(0));
}

}  // namespace kqsim::kern
