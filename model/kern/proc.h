// proc.h - processes, signals and their kqueue filters (kern_fork.c,
// kern_exit.c, kern_sig.c and the EVFILT_PROC / EVFILT_SIGNAL / EVFILT_TIMER
// filters of kern_event.c), FreeBSD's names.
//
// Contract
// --------
// The system calls (sys_fork, sys_exit, sys_kill, sys_getpid) are declared in
// model/kern/syscalls.h; this header gives the kernel-side entry points other
// model files may call, and the filterops kern_event.cc's table
// (kqueue_fo_find) points at.
//
// Processes in the model:
//   fork   The child is a new process (World::newproc, under allproc_lock) whose
//          descriptor table is a copy of the parent's, every file fhold()ed,
//          except kqueue descriptors, which are not inherited: the child's
//          slot is empty (FreeBSD without KQUEUE_CPONFORK). The child runs
//          child_main(arg) in a new simulated thread attached to it, then
//          sys_exit(0) if child_main returns. The parent's p_klist is
//          KNOTEd with NOTE_FORK | child pid (knote_fork: NOTE_TRACK knotes
//          also get two knotes on the child, see proc.cc). In live mode
//          the child's thread is an OS thread started by the live runner
//          (model/sim/live_host.h: sim::live::host()->start); with no
//          runner installed on the calling OS thread, fork is ENOSYS.
//   exit   exit1(): sets P_WEXIT and p_xexit, closes every descriptor
//          (kern_close), KNOTEs p_klist with NOTE_EXIT, knlist_clear()s it
//          (remaining knotes become EV_EOF|EV_ONESHOT), marks the process a
//          zombie (P_ZOMBIE) and posts SIGCHLD to the parent (when it has not
//          exited). sys_exit() RETURNS to its caller: the model cannot unwind
//          a simulated thread, so a program's thread body must return after
//          calling it. A second exit of the same process is a no-op. There is
//          no wait()/reaping: a zombie stays findable (pfind_any semantics)
//          for the rest of the execution.
//   kill   records the signal (p_siglist, signals 1..32) and KNOTEs p_klist
//          with NOTE_SIGNAL | sig, which is what EVFILT_SIGNAL counts.
//          Delivery actions are not modelled: no handler runs, no signal
//          terminates, stops or interrupts anything (SIGKILL included). A
//          signal to a zombie succeeds and does nothing (IEEE Std 1003.1).
//          Process groups are not modelled: pid <= 0 is ESRCH.
//
// Locks: World::allproc_lock (sx "allproc") protects the process table
// (newproc, pfind: taken alone, never with p_mtx or the filedesc lock held
// by the same call). proc.p_mtx (PROC_LOCK) protects p_flag, p_xexit, p_siglist and is
// the knlist lock of p_klist. Order: p_mtx -> kq lock (knote()); the filedesc
// sx and p_mtx are never held together here.
#pragma once

#include "knote/knote.h"
#include "model/kern/kern_types.h"

namespace kqsim::bsd {

// FreeBSD's signal numbers (sys/sys/signal.h). k-prefixed for the same reason
// as the errno values: <signal.h> defines the bare names as (Linux) macros.
inline constexpr int kSIGHUP = 1;
inline constexpr int kSIGINT = 2;
inline constexpr int kSIGQUIT = 3;
inline constexpr int kSIGKILL = 9;
inline constexpr int kSIGPIPE = 13;
inline constexpr int kSIGALRM = 14;
inline constexpr int kSIGTERM = 15;
inline constexpr int kSIGSTOP = 17;
inline constexpr int kSIGCHLD = 20;
inline constexpr int kSIGIO = 23;
inline constexpr int kSIGUSR1 = 30;
inline constexpr int kSIGUSR2 = 31;
inline constexpr int kSIG_MAXSIG = 128;  // _SIG_MAXSIG: valid signals are 1..128

}  // namespace kqsim::bsd

namespace kqsim::kern {

// Model: stands for p_state == PRS_ZOMBIE (FreeBSD keeps it in p_state, the
// model in p_flag, under p_mtx). Set at the end of exit1().
inline constexpr int P_ZOMBIE = 0x40000000;

// KW_EXITCODE(ret, sig): the status word NOTE_EXIT reports in kn_data.
constexpr int64_t KW_EXITCODE(int ret, int sig) { return (static_cast<int64_t>(ret) << 8) | sig; }

inline void PROC_LOCK(proc* p, SrcLoc loc = SrcLoc::current()) { locks::mtx_lock(&p->p_mtx, loc); }
inline void PROC_UNLOCK(proc* p, SrcLoc loc = SrcLoc::current()) { locks::mtx_unlock(&p->p_mtx, loc); }
inline void PROC_LOCK_ASSERT(proc* p, int what, SrcLoc loc = SrcLoc::current()) {
  locks::mtx_assert(&p->p_mtx, what, loc);
}

// The filters (kqueue_fo_find's table entries for EVFILT_PROC, EVFILT_SIGNAL,
// EVFILT_TIMER). proc_filtops and sig_filtops are defined in proc.cc,
// timer_filtops in timer.cc.
extern const filterops proc_filtops;
extern const filterops sig_filtops;
extern const filterops timer_filtops;

// KQ_LOCK(kq) / KQ_UNLOCK(kq) as the design in force defines them (the mutex
// design.kq_mtx(kq), or nothing), for filters that must take the kq lock
// themselves (knote_fork, filt_timertouch).

// exit1(td, rval): the body of sys_exit, for model code that ends a process.
void exit1(thread* td, int rval);
// Waits until every process thread sys_fork started in this World (children,
// grandchildren...) has returned (live mode: every process thread the live
// runner started, Host::join_started). A World must outlive the simulated threads
// of its processes: a program whose root forks calls this (or otherwise
// waits for its children) before it returns and destroys the World. Not a
// system call (no wait()/reaping in the model): a harness helper.
void fork_join_all();
// kern_psignal(p, sig): posts `sig` (1.._SIG_MAXSIG) to p. PROC_LOCK(p) held.
void kern_psignal(proc* p, int sig);

}  // namespace kqsim::kern
