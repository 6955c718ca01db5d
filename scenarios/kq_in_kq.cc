// kq-in-kq and kq-cycle: a kqueue watched by another kqueue.
//
// The story. A kqueue descriptor can itself be registered in another kqueue
// (EVFILT_READ on a kqueue: "this kqueue has pending events"). An event on a
// knote of kqueue A queues it on A; A's kqueue_wakeup() must then notify the
// knotes on A's kq_sel list, i.e. the knote for A inside kqueue B, which must
// become active and be reported by B. Done naively this is recursion under
// locks: knote() on A holds A's lock and calls into B's knote, which takes B's
// lock - and with A in B and B in A, back into A. FreeBSD 5.3 breaks the
// recursion by deferring the notification to a task (kqueue_schedtask / the
// "kqueue order" global lock, the "fine" design); FreeBSD 5.1 recursed
// directly under Giant ("none", "giant"); Feldman's 2004 global-lock patch
// simply refused kqueue-in-kqueue with EINVAL ("global").
//
// kq-in-kq: A watches a pipe, B watches A. cpu0 writes a byte to the pipe;
// cpu1 scans B with a zero timeout, twice. Oracle: B reports A (during cpu1's
// scans or in a final poll) - unless the design refuses kqueue-in-kqueue, in
// which case the registration must fail with EINVAL and nothing else is
// checked.
//
// kq-cycle: the same, plus B registered in A: a cycle. Oracle: no deadlock
// (the scheduler reports one as a finding), no runaway recursion (a stack
// overflow would be a finding), and B reports A.
//
// Verdicts: fine clean; global clean (refused with EINVAL, as designed);
// giant clean (everything, pipe writes included, runs under Giant, and the
// recursion stops at knotes that are already queued); none: the pipe write's
// KNOTE runs without Giant while cpu1's scan holds only Giant - the same race
// as kern-57945, now on both kqueues (data-race).
#include "model/kern/bsd_errno.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int a = -1;
  int b = -1;
  int p[2] = {-1, -1};
  int refused = 0;            // errno of a refused kqueue-in-kqueue registration, else 0
  bool b_reported_a = false;  // written by cpu1 only
};

// Registers kqueue `watched` in kqueue `watcher`; records a refusal.
void watch(State& s, int watcher, int watched) {
  if (kev_change(watcher, watched, EVFILT_READ, EV_ADD) < 0 && s.refused == 0) s.refused = kern::sys_errno();
}

void setup(Env<State>& env, bool cycle) {
  State& s = env.state;
  s.a = kern::sys_kqueue();
  s.b = kern::sys_kqueue();
  kern::sys_pipe(s.p);
  kev_change(s.a, s.p[0], EVFILT_READ, EV_ADD);
  watch(s, s.b, s.a);             // A in B
  if (cycle) watch(s, s.a, s.b);  // B in A
}

void run_cpu(Env<State>& env, int i) {
  State& s = env.state;
  if (i == 0) {
    kern::sys_write(s.p[1], "x", 1);
    return;
  }
  struct kevent ev[2];
  for (int k = 0; k < 2; ++k) {
    int n = kev_poll(s.b, ev, 2);
    for (int j = 0; j < n; ++j)
      if (ev[j].ident == static_cast<uintptr_t>(s.a)) s.b_reported_a = true;
  }
}

void check_both(Env<State>& env) {
  check_kqueue(env.state.a, "kqueue A");
  check_kqueue(env.state.b, "kqueue B");
}

void oracle(Env<State>& env) {
  State& s = env.state;
  const bool allowed = env.world.design().kq_in_kq;
  if (!allowed) {
    if (s.refused != bsd::kEINVAL)
      report(FindingKind::kOracle,
             "the design refuses kqueue-in-kqueue, but registering a kqueue in a kqueue did not fail with "
             "EINVAL\n"
             " errno " +
                 std::to_string(s.refused));
    return;
  }
  if (s.refused != 0) {
    report(FindingKind::kOracle,
           "registering a kqueue in a kqueue failed\n errno " + std::to_string(s.refused));
    return;
  }
  if (!s.b_reported_a) {
    struct kevent ev[2];
    int n = kev_poll(s.b, ev, 2);
    for (int j = 0; j < n; ++j)
      if (ev[j].ident == static_cast<uintptr_t>(s.a)) s.b_reported_a = true;
  }
  if (!s.b_reported_a)
    report(FindingKind::kLostEvent,
           "lost event: kqueue B never reported kqueue A readable after a write to "
           "the pipe A watches");
}

const std::vector<DesignExpectation> kExpect = {
    {"none", Expected::failure(FindingKind::kDataRace),
     "the pipe's KNOTE reaches A's and B's queues without Giant while the scan holds Giant"},
    {"giant", Expected::clean(),
     "all under Giant; kqueue_wakeup recurses directly, stopping at queued knotes"},
    {"global", Expected::clean(), "kqueue-in-kqueue refused with EINVAL, as the design says"},
    {"fine", Expected::clean(), "the kqueue task defers the notification: no recursion under locks"},
};

const auto& kKqInKq = register_scenario<State>({
    .name = "kq-in-kq",
    .summary = "kqueue A registered in kqueue B: an event on A's knote must be reported by B",
    .story = "A kqueue can watch another kqueue (EVFILT_READ on a kqueue descriptor). A watches a pipe, B "
             "watches A; cpu0 writes to the pipe while cpu1 scans B. A's kqueue_wakeup() must activate the "
             "knote for A inside B. FreeBSD 5.1 recursed into KNOTE directly under Giant; 5.3 defers it to "
             "the kqueue task under the 'kqueue order' lock; Feldman's global lock refused kqueue-in-kqueue "
             "with EINVAL. Oracle: B reports A, or the registration fails with EINVAL where the design "
             "refuses it.",
    .threads = 2,
    .before = [](Env<State>& env) { setup(env, false); },
    .thread = run_cpu,
    .invariant = check_both,
    .after = oracle,
    .expect = kExpect,
});

const auto& kKqCycle = register_scenario<State>({
    .name = "kq-cycle",
    .summary = "kqueue A in B and B in A: no deadlock, no runaway recursion, B still reports A",
    .story =
        "The kq-in-kq workload with a cycle: A watches a pipe, B watches A and A watches B. A write to "
        "the pipe queues A's knote; A's wakeup activates B's knote for A; B's wakeup activates A's knote "
        "for B, and so on - recursion under kqueue locks unless the design defers it. Oracle: no "
        "deadlock and no stack overflow (both are findings of the runtime), and B reports A - or both "
        "registrations fail with EINVAL where the design refuses kqueue-in-kqueue.",
    .threads = 2,
    .before = [](Env<State>& env) { setup(env, true); },
    .thread = run_cpu,
    .invariant = check_both,
    .after = oracle,
    .expect = kExpect,
});

}  // namespace
}  // namespace kqsim::scenarios
