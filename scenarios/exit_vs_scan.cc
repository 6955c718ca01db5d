// exit-vs-scan: a process exits while another CPU's kevent() scan holds its
// NOTE_EXIT knote in flux.
//
// The story. kqueue_scan() (the 5.3+ way, design "fine") takes a triggered
// knote off kq_head, marks it in flux, drops the kqueue lock and calls the
// filter under the knote's knlist lock - for EVFILT_PROC, the process's own
// mutex (p_mtx), since the knote lives on p_klist. exit1() meanwhile KNOTEs
// p_klist with NOTE_EXIT and then knlist_clear()s it: every knote is taken
// off the list of the dying process. The two meet on one knote. FreeBSD's
// Phabricator diff 17727 (https://reviews.freebsd.org/differential/diff/17727/,
// "Diagnosed by: Eric Badger") describes what went wrong
// when filt_proc() itself removed the knote from the list on NOTE_EXIT
// (knlist_remove_inevent()): the knote's kn_knlist was reset and the in-flux
// knote vanished from the process's knlist, so "KN_LIST_UNLOCK() on such
// knote is nop" and "there is nothing which would block exit1() from
// processing past the knlist_destroy()": a leaked process lock, or NULL
// function pointers called for locking. Modern kern_event has filt_proc()
// leave the list alone and knlist_clear() wait for in-flux knotes
// (knlist_cleardel: "there are still in flux knotes remaining" - sleep on
// the kqueue, "kqkclr").
//
// The model follows the modern code: filt_proc() only clears kn_proc, and
// knlist_cleardel() skips in-flux knotes and sleeps until they leave flux.
// This scenario is its regression test; with the in-flux skip deleted from
// knlist_cleardel() (knote/kern_event.cc) "fine" reports what the race does
// (docs/scenarios.md has the output).
//
// The workload: before, a kqueue, a pipe, and a child process that blocks
// reading the pipe and then exits with status 5; the kqueue watches the child
// (EVFILT_PROC, NOTE_EXIT). cpu0 waits in kevent() for the event; cpu1 writes
// the byte that lets the child exit. Oracle (after the child's thread has
// finished too): cpu0 got exactly one event, NOTE_EXIT with EV_EOF and data
// KW_EXITCODE(5, 0); a final poll is empty; kq_head consistent; and what the
// runtime checks by itself (no lock held at thread exit, no deadlock).
//
// Verdicts: clean under all four designs: fine (knlist_cleardel waits for the
// in-flux knote), giant and none (fork, exit and kevent run under Giant),
// global (the global kqueue lock orders the scan and the exit's KNOTE and
// knlist_clear). With the in-flux skip deleted, fine reports data races on
// kn_knlist (the exit takes the knote off the list under the scan's feet)
// and, with --no-race, the "knote was not on this knlist" / "still attached"
// / "already detached" panics and a corrupted p_klist.
#include <fmt/format.h>

#include "model/kern/proc.h"
#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

constexpr int kStatus = 5;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  int child = 0;
  int got = -2;  // cpu0's kevent() result
  struct kevent ev {};
};

void child_main(void* arg) {
  auto* s = static_cast<State*>(arg);
  char c;
  kern::sys_read(s->p[0], &c, 1);  // blocks until cpu1 writes
  kern::sys_exit(kStatus);
}

const auto& kExitVsScan = register_scenario<State>({
    .name = "exit-vs-scan",
    .summary = "a process exits while a kevent() scan holds its NOTE_EXIT knote in flux (diff 17727)",
    .story =
        "kqueue_scan() marks a triggered knote in flux and calls the filter under the knote's knlist "
        "lock - for EVFILT_PROC the process mutex - while exit1() KNOTEs NOTE_EXIT and knlist_clear()s "
        "the dying process's list. When filt_proc() removed the knote from the list itself "
        "(knlist_remove_inevent), exit1() could go past knlist_destroy() under the scan's feet: a leaked "
        "process lock or NULL lock functions (FreeBSD Phabricator diff 17727). Modern code waits for "
        "in-flux knotes in knlist_cleardel(). cpu0 waits for NOTE_EXIT of a child; cpu1 lets the child "
        "exit. Oracle: exactly one NOTE_EXIT, EV_EOF, status 5; nothing left; no lock held at exit.",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          s.child = kern::sys_fork(child_main, &s);
          if (s.child <= 0 || kev_change(s.kq, static_cast<uintptr_t>(s.child), EVFILT_PROC, EV_ADD, NOTE_EXIT) != 0)
            report(FindingKind::kOracle, "forking and watching the child failed");
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          if (i == 0)
            s.got = kern::sys_kevent(s.kq, nullptr, 0, &s.ev, 1, nullptr);
          else
            kern::sys_write(s.p[1], "x", 1);
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          kern::fork_join_all();
          if (s.got != 1) {
            report(FindingKind::kLostEvent,
                   fmt::format("lost event: kevent() did not return the child's NOTE_EXIT\n returned {}", s.got));
            return;
          }
          const struct kevent& e = s.ev;
          if (e.ident != static_cast<uintptr_t>(s.child) || e.filter != EVFILT_PROC || e.fflags != NOTE_EXIT ||
              (e.flags & EV_EOF) == 0 || e.data != kern::KW_EXITCODE(kStatus, 0))
            report(FindingKind::kOracle,
                   fmt::format("wrong NOTE_EXIT event\n ident {} filter {} flags 0x{:x} fflags 0x{:x} data 0x{:x}",
                               e.ident, e.filter, e.flags, e.fflags, e.data));
          expect_no_event(s.kq, static_cast<uintptr_t>(s.child),
                          "duplicate event: NOTE_EXIT reported again after it was delivered");
        },
    .expect =
        {
            {"none", Expected::clean(), "fork, exit and kevent run under Giant"},
            {"giant", Expected::clean(), "serial under Giant"},
            {"global", Expected::clean(), "the global kqueue lock orders the scan and exit1()"},
            {"fine", Expected::clean(), "knlist_cleardel() waits for the in-flux knote"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
