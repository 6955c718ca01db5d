// close-vs-knote: close() of a watched descriptor racing with the object's
// KNOTE() and with a scan of the kqueue.
//
// The story. Closing a descriptor must drop every knote on it
// (knote_fdclose: for each kqueue of the process, each knote of that fd). At
// the same moment another CPU may be inside the object's KNOTE() - a pipe
// writer activating and enqueueing the very same knote - and a third may be
// inside kqueue_scan(), holding the knote in flux while it calls the filter
// and copies the event out. If close() freed the knote while either still
// used it, the kernel would touch freed memory: the scan would put a freed
// knote back on kq_head, or knote() would enqueue it. FreeBSD's answer is the
// in-flux protocol: knote_fdclose() sleeps until the knote is not in flux,
// then marks it in flux itself, detaches it under the object's knlist lock
// (so KNOTE() can no longer find it) and dequeues it under the kqueue lock
// before freeing it.
//
// The workload: before, a kqueue with the read end of a pipe registered with
// EV_CLEAR. cpu0 writes two bytes (KNOTE: activate, enqueue); cpu1 scans the
// kqueue twice (dequeue, filter, copy-out, and with EV_CLEAR, clear); cpu2
// closes the read end, then sets a "closed" flag (a relaxed sim::Atomic).
// Oracle: no freed knote on kq_head and the queue consistent (kqueue_check:
// "freed knote ... still on kq_head" is a use-after-free finding); close()
// succeeds; no event for the closed descriptor from a scan that started after
// close() returned, nor from a final poll.
//
// Verdicts: fine clean; giant clean (serial); none data-race (the pipe's
// KNOTE runs without Giant against the scan, as in kern-57945); global
// lock-order-reversal (close() takes filedesc -> the global kqueue lock, the
// reverse of kqueue(), as in feldman-lor - the witness reports it before
// anything else can go wrong).
#include <atomic>

#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  sim::Atomic<int> closed;  // set by cpu2 once close() has returned
  int close_result = -2;
};

const auto& kCloseVsKnote = register_scenario<State>({
    .name = "close-vs-knote",
    .summary = "close() of a watched pipe racing the pipe writer's KNOTE and a kevent scan",
    .story =
        "close() must drop the knotes of the descriptor (knote_fdclose) while another CPU may be in the "
        "object's KNOTE() enqueueing the same knote and a third in kqueue_scan() holding it in flux. "
        "Freeing it under either would put a freed knote on kq_head. cpu0 writes two bytes to a pipe, "
        "cpu1 scans the kqueue twice (EV_CLEAR), cpu2 closes the pipe's read end. Oracle: no freed knote "
        "on kq_head, the queue consistent, no event for the descriptor from a scan started after close() "
        "returned.",
    .threads = 3,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          kev_change(s.kq, s.p[0], EVFILT_READ, EV_ADD | EV_CLEAR);
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          switch (i) {
            case 0:  // cpu0: the writer (EPIPE once the read end is gone: fine)
              for (int k = 0; k < 2; ++k) kern::sys_write(s.p[1], "a", 1);
              break;
            case 1: {  // cpu1: the scanner
              struct kevent ev[2];
              for (int k = 0; k < 2; ++k) {
                const bool started_after_close = s.closed.load(std::memory_order_relaxed) != 0;
                int n = kev_poll(s.kq, ev, 2);
                if (!started_after_close) continue;
                for (int j = 0; j < n; ++j)
                  if (ev[j].ident == static_cast<uintptr_t>(s.p[0]))
                    report(FindingKind::kOracle,
                           "stale event: a scan that started after close() returned reported the closed "
                           "descriptor");
              }
              break;
            }
            default:  // cpu2: the closer
              s.close_result = kern::sys_close(s.p[0]);
              s.closed.store(1, std::memory_order_relaxed);
              break;
          }
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          if (s.close_result != 0) report(FindingKind::kOracle, "close() of the watched pipe failed");
          expect_no_event(s.kq, static_cast<uintptr_t>(s.p[0]),
                          "stale event: a poll after close() reported the closed descriptor");
        },
    .expect =
        {
            {"none", Expected::failure(FindingKind::kDataRace),
             "the pipe's KNOTE runs without Giant while the scan holds only Giant (as kern-57945)"},
            {"giant", Expected::clean(), "serial under Giant"},
            {"global", Expected::failure(FindingKind::kLockOrderReversal),
             "close() takes filedesc -> global kqueue lock, the reverse of kqueue() (as feldman-lor)"},
            {"fine", Expected::clean(),
             "knote_fdclose waits for flux, detaches under the pipe lock, then drops"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
