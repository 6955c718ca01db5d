// feldman-lor: the lock-order reversal of a global kqueue lock.
//
// The story. In April 2004 Brian Feldman proposed locking kern_event with one
// global kqueue lock (the "global" design). In that patch kqueue() took the
// kqueue lock and then the descriptor table's lock (filedesc) to link the new
// kqueue into the process, while close() takes filedesc first and then, in
// knote_fdclose(), the kqueue lock to drop the knotes of the closed
// descriptor. Each path alone is fine and most runs never deadlock - but two
// threads doing both at once can: one holds the kqueue lock and waits for
// filedesc, the other holds filedesc and waits for the kqueue lock. WITNESS
// reports the contradiction the first time it sees both orders, even when the
// run that shows it does not deadlock, which is the point of this scenario: the
// witness's graph persists across executions, threads and lock instances.
//
// The workload: before, a pipe whose read end is registered (EV_ADD) in a
// kqueue, with a byte written so the knote is queued. cpu0 creates a second
// kqueue; cpu1 closes the pipe's read end (knote_fdclose drops the queued
// knote). Oracle: both calls succeed, the new kqueue is a descriptor, and the
// first kqueue reports nothing for the closed descriptor and stays consistent.
//
// Verdicts: "global" gives lock-order-reversal in the first execution (the
// order kqueue lock -> filedesc is established by before's kqueue() already;
// the first close that reaches knote_fdclose reverses it). The witness reports
// a reversal once; later executions go on, and those where cpu0 holds the
// kqueue lock while cpu1 holds filedesc deadlock for real - the exploration
// shows both findings. "fine" takes filedesc
// alone in kqueue() and filedesc -> kqueue in close(): clean. "none" and
// "giant" have no kqueue lock at all (KQ_LOCK is empty; kqueue() and close()
// run under Giant, which both take first): clean.
#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  int newkq = -2;   // cpu0's kqueue() result
  int closed = -2;  // cpu1's close() result
  int close_errno = 0;
};

const auto& kFeldmanLor = register_scenario<State>({
    .name = "feldman-lor",
    .summary = "kqueue() takes kq lock -> filedesc, close() takes filedesc -> kq lock (global lock, 2004)",
    .story =
        "Brian Feldman's 2004 global kqueue lock: kqueue() took the kqueue lock and then the filedesc "
        "lock, while close() takes filedesc and then the kqueue lock in knote_fdclose(). Each path alone "
        "never deadlocks; two threads can. cpu0 creates a kqueue while cpu1 closes a pipe descriptor "
        "with a queued knote. The witness reports the reversal the first time it sees both orders, "
        "whether or not the run deadlocks; later executions deadlock for real. Expected: global "
        "lock-order-reversal; fine, giant and none "
        "clean (fine's kqueue() takes filedesc alone; none and giant have no kqueue lock, Giant comes "
        "first everywhere).",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          kev_change(s.kq, s.p[0], EVFILT_READ, EV_ADD);
          kern::sys_write(s.p[1], "x", 1);  // the knote is active and queued
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          if (i == 0) {
            s.newkq = kern::sys_kqueue();
          } else {
            s.closed = kern::sys_close(s.p[0]);
            s.close_errno = kern::sys_errno();
          }
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq, "the first kqueue"); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          if (s.newkq < 0)
            report(FindingKind::kOracle, "kqueue() failed while a descriptor was being closed");
          if (s.closed != 0)
            report(FindingKind::kOracle,
                   "close() of the watched pipe failed\n errno " + std::to_string(s.close_errno));
          expect_no_event(s.kq, static_cast<uintptr_t>(s.p[0]),
                          "stale event: the kqueue reported a descriptor that was closed");
        },
    .expect =
        {
            {"none", Expected::clean(), "KQ_LOCK is empty: kqueue() and close() take Giant, then filedesc"},
            {"giant", Expected::clean(), "KQ_LOCK is empty: Giant, then filedesc, everywhere"},
            {"global", Expected::failure(FindingKind::kLockOrderReversal),
             "kqueue() takes the global kqueue lock before filedesc, close() after it; once the reversal is "
             "reported, later executions also deadlock"},
            {"fine", Expected::clean(), "kqueue() takes filedesc alone; close() filedesc -> kqueue"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
