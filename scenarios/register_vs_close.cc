// register-vs-close: kevent(EV_ADD) of a descriptor racing close() of that
// descriptor and the reuse of its number (FreeBSD PR 293382).
//
// The story. kqueue_register() looks the descriptor up with fget() (taking a
// reference on the file), then locks the kqueue, finds no knote for the
// descriptor and attaches a new one whose kn_fp is the file it looked up.
// close() interlocks with registrations through knote_fdclose(): it locks
// every kqueue of the process and drops the knotes of the descriptor it
// finds. But if the close runs after the fget() and before the kqueue lock -
// the window is the whole of fget() to KQ_LOCK() - knote_fdclose() finds
// nothing to drop, and the registration then attaches a knote for a
// descriptor that is closed: kq_knlist[fd] holds a knote whose kn_fp is the
// old file. Once the descriptor number is reused (the next pipe() or
// socket() gets it), the kqueue's table says "fd N" while the knote watches
// another file: events of the old file are reported as fd N, the new file's
// are not, and the old file stays referenced by the knote. FreeBSD PR 293382
// reported it; the fix proposed in https://reviews.freebsd.org/differential/
// diff/173983/ ("Fix the problem by double-checking before registering a
// knote", with a new fget_noref_unlocked() helper) re-checks that the
// descriptor still refers to the file fget() returned before attaching.
//
// The model's kqueue_register() has the fix: once the kqueue is locked it
// re-checks with fget_locked() that the descriptor still refers to fp, and
// answers EBADF otherwise. This scenario is its regression test: every
// design is expected clean (or shows only its own known finding), and with
// the re-check deleted (knote/kern_event.cc, "make sure the fd didn't change
// out from under us") "fine" reports the mismatch in about one execution in
// twelve (docs/scenarios.md shows the output).
//
// The workload: before, a kqueue and a pipe p, its write end registered
// (EVFILT_WRITE), so kq_knlist is already large enough and cpu0's EV_ADD goes
// straight from fget() to the kqueue lock. cpu0 registers p[0] (EVFILT_READ,
// EV_ADD). cpu1 writes a byte to the pipe (busy elsewhere first), closes
// p[0] and creates a new pipe q, whose
// read end reuses the descriptor number of p[0] (lowest free descriptor).
// Oracle, after both: every knote in kq_knlist[fd] watches the file that
// descriptor fd refers to now (kn_fp == fd_ofiles[fd]); then, behaviourally,
// a byte written to the old pipe must not be reported for the reused
// descriptor.
//
// Verdicts: fine clean (the re-check); giant and none clean (kevent() and
// close() both run under Giant there, so close() cannot fall between fget()
// and the kqueue lock); global: lock-order-reversal (close() takes filedesc
// -> the global kqueue lock, the reverse of kqueue(), as feldman-lor).
#include <fmt/format.h>

#include "knote/knote.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  int q[2] = {-1, -1};
  int add_result = -2;
  int add_errno = 0;
  int close_result = -2;
};

// Raw inspection after the threads joined: a knote of descriptor fd whose
// file is not what fd refers to now.
std::string mismatches(kern::thread* td, int kqfd) {
  kern::filedesc* fdp = td->td_proc->p_fd;
  const auto* kq = static_cast<const kern::kqueue*>(fdp->fd_ofiles[kqfd]->f_data);
  std::string out;
  for (int fd = 0; fd < kq->kq_knlistsize.raw() && fd < kern::kNoFile; ++fd)
    kq->kq_knlist[fd].foreach([&](kern::knote* kn) {
      const kern::file* now = fdp->fd_ofiles[fd];
      if (kn->kn_fp != now)
        out += fmt::format(" knote {} of descriptor {} watches a file that descriptor {} no longer refers to ({})\n",
                           kn->kn_serial, fd, fd, now != nullptr ? "reused for another file" : "closed");
      return true;
    });
  return out;
}

const auto& kRegisterVsClose = register_scenario<State>({
    .name = "register-vs-close",
    .summary = "EV_ADD of a descriptor racing its close() and reuse: a knote on the wrong file (PR 293382)",
    .story =
        "kqueue_register() takes the file with fget(), then locks the kqueue and attaches the knote; "
        "close() drops a descriptor's knotes in knote_fdclose(). A close() between the fget() and the "
        "kqueue lock finds nothing to drop, and the registration then attaches a knote for a closed "
        "descriptor; when the number is reused, the kqueue reports the old file's events as the new "
        "descriptor's (FreeBSD PR 293382, fixed by re-checking the descriptor under the kqueue lock). "
        "The model has the re-check; this is its regression test (delete it and 'fine' fails). cpu0 "
        "registers p[0]; cpu1 writes to the pipe, closes p[0] and creates a pipe that reuses its number. "
        "Oracle: every knote of descriptor N watches the file N refers to; a write to the old pipe is not "
        "reported as N.",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          // Watch the write end too: kq_knlist is then already large enough,
          // so cpu0's EV_ADD goes straight from fget() to the kqueue lock.
          kev_change(s.kq, static_cast<uintptr_t>(s.p[1]), EVFILT_WRITE, EV_ADD);
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          if (i == 0) {
            s.add_result = kev_change(s.kq, static_cast<uintptr_t>(s.p[0]), EVFILT_READ, EV_ADD);
            s.add_errno = kern::sys_errno();
          } else {
            kern::sys_write(s.p[1], "a", 1);  // the closer is busy first: data for p[0]
            s.close_result = kern::sys_close(s.p[0]);
            kern::sys_pipe(s.q);  // q[0] reuses p[0]'s number
          }
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          if (s.close_result != 0) report(FindingKind::kOracle, "close() of the pipe failed");
          if (s.add_result != 0 && s.add_errno != bsd::kEBADF)
            report(FindingKind::kOracle,
                   fmt::format("EV_ADD failed with an unexpected errno\n errno {}", s.add_errno));
          std::string bad = mismatches(kern::curthread(), s.kq);
          if (!bad.empty() && bad.back() == '\n') bad.pop_back();
          if (!bad.empty())
            report(FindingKind::kOracle,
                   "knote watches a different file than its descriptor (PR 293382)\n" + bad);
          // The consequence an application sees: the old pipe's data reported
          // under the reused number.
          kern::sys_write(s.p[1], "x", 1);
          if (s.q[0] == s.p[0])
            expect_no_event(s.kq, static_cast<uintptr_t>(s.q[0]),
                            "stale event: the closed pipe's data was reported for the reused descriptor");
        },
    .expect =
        {
            {"none", Expected::clean(), "kevent() and close() run under Giant: no window"},
            {"giant", Expected::clean(), "kevent() and close() run under Giant: no window"},
            {"global", Expected::failure(FindingKind::kLockOrderReversal),
             "close() takes filedesc -> the global kqueue lock (feldman-lor)"},
            {"fine", Expected::clean(), "kqueue_register re-checks the descriptor under the kqueue lock"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
