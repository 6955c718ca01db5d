// stale-after-delete: once EV_DELETE has returned, the deleted knote's event
// is never reported again, even when a scan was running on another CPU.
//
// The story. kevent(EV_DELETE) drops the knote: it waits until no other
// thread has the knote in flux (a scan that took it off kq_head to call its
// filter and copy the event out), detaches it from the object's knlist,
// dequeues it from kq_head and frees it. What FreeBSD promises is therefore
// precise, and weaker than "no event after the delete": a scan that runs
// concurrently with the delete may already have copied the event into its
// result - the delete then waits for that scan to put the knote back and
// drops it afterwards - and returns it. That is allowed: the two calls
// overlapped. What must never happen is an event for the knote from a scan
// that STARTED after the delete returned: the knote is gone from every list
// by then, and returning it would hand the application a stale event (with
// EV_ONESHOT or udata pointing at freed user state, a use-after-free in the
// application).
//
// The workload: before, a pipe with one unread byte whose read end is
// registered level-triggered (so every scan reports it until it is deleted).
// cpu0 scans three times with a zero timeout; before each scan it notes
// whether the delete had already returned. cpu1 deletes the knote
// (EV_DELETE) and then sets the "deleted" flag. The flag is a relaxed
// sim::Atomic: a scheduling point, but no happens-before edge, so the
// oracle's bookkeeping neither races nor hides a race of the kernel.
// Oracle: no event for the pipe from a scan that started after the flag was
// set; EV_DELETE succeeds; a final poll reports nothing for the pipe; kq_head
// is consistent.
//
// Verdicts: clean under fine (the in-flux wait orders the delete after the
// scan's use of the knote), giant and global (the delete and the scan are
// serialised by Giant or by the global lock), and none (kevent() runs under
// Giant, and nothing else touches the knote: no KNOTE runs concurrently).
#include <atomic>

#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  sim::Atomic<int> deleted;  // set by cpu1 once EV_DELETE has returned
  int delete_result = -2;
  int delete_errno = 0;
};

const auto& kStaleAfterDelete = register_scenario<State>({
    .name = "stale-after-delete",
    .summary = "no event for a knote from a scan that started after its EV_DELETE returned",
    .story = "EV_DELETE waits for a concurrent scan to finish with the knote (in flux), then detaches, "
             "dequeues and frees it. A scan concurrent with the delete may legitimately return the event it "
             "had already copied out; a scan that starts after the delete returned must not. cpu0 scans "
             "three times, noting before each scan whether the delete has returned; cpu1 deletes the "
             "level-triggered read knote of a pipe with pending data, then sets the flag. Oracle: no event "
             "for the pipe from a scan started after the flag, the delete succeeds, a final poll is empty.",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          kev_change(s.kq, s.p[0], EVFILT_READ, EV_ADD);
          kern::sys_write(s.p[1], "x", 1);  // pending: every scan reports it until the delete
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          if (i == 1) {  // cpu1: delete, then say so
            s.delete_result = kev_change(s.kq, s.p[0], EVFILT_READ, EV_DELETE);
            s.delete_errno = kern::sys_errno();
            s.deleted.store(1, std::memory_order_relaxed);
            return;
          }
          struct kevent ev[2];  // cpu0: scan
          for (int k = 0; k < 3; ++k) {
            const bool started_after_delete = s.deleted.load(std::memory_order_relaxed) != 0;
            int n = kev_poll(s.kq, ev, 2);
            if (!started_after_delete) continue;
            for (int j = 0; j < n; ++j)
              if (ev[j].ident == static_cast<uintptr_t>(s.p[0]) && ev[j].filter == EVFILT_READ)
                report(
                    FindingKind::kOracle,
                    "stale event: a scan that started after EV_DELETE returned reported the deleted knote");
          }
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          if (s.delete_result != 0)
            report(FindingKind::kOracle,
                   "EV_DELETE of a registered knote failed\n errno " + std::to_string(s.delete_errno));
          expect_no_event(s.kq, static_cast<uintptr_t>(s.p[0]),
                          "stale event: a poll after the delete reported the deleted knote");
        },
    .expect =
        {
            {"none", Expected::clean(), "kevent() runs under Giant and no KNOTE runs concurrently"},
            {"giant", Expected::clean(), "serial under Giant"},
            {"global", Expected::clean(), "the global kqueue lock serialises the scan and the delete"},
            {"fine", Expected::clean(), "the delete waits for the scan's in-flux knote, then drops it"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
