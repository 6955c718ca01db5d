// The worked example of docs/scenarios.md, compiled and checked: the
// "oneshot-once" scenario is registered in the test binary only (the kqsim
// binary does not link tests/), so ScenarioVerdicts runs it with the others.
#include <gtest/gtest.h>

#include "fuzz/run.h"

// ---- begin docs/scenarios.md example ----
// oneshot-once: an EV_ONESHOT event is delivered exactly once, even when two
// CPUs scan the kqueue at the same time.
#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  int p[2] = {-1, -1};
  int got[2] = {0, 0};  // deliveries seen by cpu0 and cpu1: one slot per thread, no sharing
};

const auto& kOneshotOnce = register_scenario<State>({
    .name = "oneshot-once",
    .summary = "an EV_ONESHOT event is delivered exactly once to two concurrent scanners",
    .story = "EV_ONESHOT knotes are dropped when their event is delivered. Two CPUs scan the same kqueue "
             "while a oneshot read event is pending: exactly one of them may get it. Oracle: the deliveries "
             "add up to one (none is a lost event, two a duplicate) and kq_head stays consistent.",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::sys_pipe(s.p);
          kev_change(s.kq, s.p[0], EVFILT_READ, EV_ADD | EV_ONESHOT);
          kern::sys_write(s.p[1], "x", 1);
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          struct kevent ev[1];
          if (kev_poll(s.kq, ev, 1) == 1 && ev[0].ident == static_cast<uintptr_t>(s.p[0])) s.got[i]++;
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          int total = s.got[0] + s.got[1];
          if (total == 0) report(FindingKind::kLostEvent, "lost event: nobody got the oneshot event");
          if (total > 1)
            report(FindingKind::kDuplicateEvent, "duplicate event: the oneshot event was delivered twice");
        },
    .expect =
        {
            {"none", Expected::clean(), "both scans run under Giant"},
            {"giant", Expected::clean(), "serial under Giant"},
            {"global", Expected::clean(), "the global kqueue lock serialises the two scans"},
            {"fine", Expected::clean(), "the first scan drops the knote in flux; the second skips it"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
// ---- end docs/scenarios.md example ----

namespace kqsim::scenarios {
namespace {

TEST(ScenarioWorkedExample, IsRegisteredAndCleanUnderFine) {
  const Scenario* sc = find_scenario("oneshot-once");
  ASSERT_NE(sc, nullptr);
  fuzz::RunOptions o;
  o.executions = 1000;
  fuzz::RunResult r = fuzz::run_scenario(*sc, *kern::find_design("fine"), o);
  EXPECT_TRUE(r.findings.empty()) << fuzz::findings_text({"oneshot-once", "fine", o}, r);
}

}  // namespace
}  // namespace kqsim::scenarios
