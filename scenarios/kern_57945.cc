// kern-57945: "kqueue corrupts its queue under make -j8 on SMP".
//
// The story. In FreeBSD 5.1-CURRENT (autumn 2003) the pipe code had become
// MP-safe: pipe_write() ran under the pipe's own mutex, without Giant, and its
// pipeselwakeup() called KNOTE() on the pipe's knlist. kern_event itself still
// relied on Giant, which kevent() held. So on one CPU knote() reached
// knote_enqueue() - TAILQ_INSERT_TAIL(&kq->kq_head, kn, kn_tqe); kq_count++ -
// while on another CPU kqueue_scan() was taking the same knote off the same
// queue with TAILQ_REMOVE. Nothing excluded the two: two CPUs wrote the same
// prev/next pointers, the queue lost or duplicated elements, and machines
// running make -j8 (whose job control watches pipes with kqueue) panicked or
// hung. PR kern/57945 was the report; John-Mark Gurney's kqueue locking (5.3,
// the "fine" design) was the fix.
//
// The workload: cpu0 writes three bytes to a pipe, one write at a time; cpu1
// scans the kqueue three times with a zero timeout. The read knote has
// EV_CLEAR, so each delivery takes it off kq_head and the next write puts it
// back, while the scan may still be walking the queue. Oracle: kq_head is
// consistent (walks both ways, kq_count right, KN_QUEUED exactly on queued
// knotes) and the third byte was reported (by cpu1, or by a final poll).
//
// Verdicts: under "none" the race detector reports the unordered accesses to
// kq_head/kq_count/kn_status first (data-race); with --no-race the same
// interleavings go on to corrupt kq_head (list-corruption) or to lose the
// event. "giant", "global" and "fine" are clean.
#include <algorithm>

#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  int64_t seen = 0;  // highest data the scanner saw; written by cpu1 only
};

const auto& kKern57945 = register_scenario<State>({
    .name = "kern-57945",
    .summary =
        "pipe writer's KNOTE vs a kevent scan with EV_CLEAR corrupt kq_head (FreeBSD 5.1, PR kern/57945)",
    .story =
        "FreeBSD 5.1 made pipes MP-safe: pipe_write() called KNOTE() under the pipe mutex only, while "
        "kern_event still relied on Giant. On one CPU knote_enqueue() inserted the read knote at the tail "
        "of kq_head while on another kqueue_scan() removed it: both wrote the same TAILQ pointers and "
        "make -j8 panicked on SMP (kern/57945). cpu0 writes three bytes, one at a time; cpu1 scans three "
        "times with EV_CLEAR. Oracle: kq_head consistent and the third byte reported. 'none' races "
        "(and with --no-race corrupts the queue); giant, global and fine are clean.",
    .threads = 2,
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
          if (i == 0) {  // cpu0: the writer
            for (int k = 0; k < 3; ++k) kern::sys_write(s.p[1], "a", 1);
            return;
          }
          // cpu1: the scanner
          struct kevent ev[2];
          for (int k = 0; k < 3; ++k) {
            int n = kev_poll(s.kq, ev, 2);
            for (int j = 0; j < n; ++j) s.seen = std::max<int64_t>(s.seen, ev[j].data);
          }
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq, "the kqueue"); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          struct kevent ev[2];
          int n = kev_poll(s.kq, ev, 2);
          for (int j = 0; j < n; ++j) s.seen = std::max<int64_t>(s.seen, ev[j].data);
          if (s.seen != 3)
            report(FindingKind::kLostEvent,
                   "lost event: the read knote never reported the third byte\n"
                   " highest data seen: " +
                       std::to_string(s.seen));
        },
    .expect =
        {
            {"none", Expected::failure(FindingKind::kDataRace),
             "KNOTE from the pipe runs without Giant; with --no-race: list-corruption or lost-event"},
            {"giant", Expected::clean(), "pipe I/O under Giant too: serial"},
            {"global", Expected::clean(), "the global kqueue lock orders knote() and the scan"},
            {"fine", Expected::clean(), "kq lock + in-flux protocol, as FreeBSD 5.3+"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
