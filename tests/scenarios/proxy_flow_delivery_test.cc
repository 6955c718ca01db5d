// proxy-flow-reset, proxy-flow-reset-fixed and clear-vs-dispatch: the
// findings say what they must (a use after free naming the flow, both threads
// and both source lines), the fix removes exactly that finding, and the
// delivery statistics show EV_DISPATCH's one-holder guarantee and EV_CLEAR's
// overlaps. (ScenarioVerdicts in scenarios_test.cc checks every expected
// verdict per design.)
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "knote/design.h"
#include "scenarios/clear_vs_dispatch.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using fuzz::RunOptions;
using fuzz::RunResult;
using sim::FindingKind;

RunResult run(const char* scenario, const char* design, uint64_t executions, bool race = true) {
  const Scenario* sc = find_scenario(scenario);
  const kern::kq_design* d = kern::find_design(design);
  EXPECT_NE(sc, nullptr) << scenario;
  EXPECT_NE(d, nullptr) << design;
  RunOptions o;
  o.seed = 1;
  o.executions = executions;
  o.sched.race_detection = race;
  return fuzz::run_scenario(*sc, *d, o);
}

bool has(const std::vector<FindingKind>& k, FindingKind x) { return std::find(k.begin(), k.end(), x) != k.end(); }

TEST(ProxyFlowReset, TheFindingIsAUseAfterFreeNamingTheFlowBothThreadsAndBothLines) {
  for (const char* design : {"giant", "fine"}) {
    RunResult r = run("proxy-flow-reset", design, 300);
    const fuzz::FoundFinding* f = r.first(FindingKind::kUseAfterFree);
    ASSERT_NE(f, nullptr) << design;
    const sim::Finding& x = f->finding;
    EXPECT_EQ(x.message.rfind("use after free: proxy flow used after it was freed", 0), 0u) << x.message;
    EXPECT_NE(x.message.find("freed by thread"), std::string::npos) << x.message;
    ASSERT_EQ(x.threads.size(), 2u);
    EXPECT_NE(x.threads[0], x.threads[1]) << "the user and the freer are two threads";
    ASSERT_EQ(x.sites.size(), 2u);
    for (const sim::Site& s : x.sites) EXPECT_NE(s.file.find("scenarios/proxy_flow_reset.cc"), std::string::npos);
    // Only use-after-free: the kernel did nothing wrong.
    EXPECT_EQ(r.kinds(), std::vector<FindingKind>{FindingKind::kUseAfterFree}) << design;
    // It replays alone from its seed.
    fuzz::ReplayResult rr =
        fuzz::replay_seed(*find_scenario("proxy-flow-reset"), *kern::find_design(design), f->execution_seed, {});
    ASSERT_FALSE(rr.execution.findings.empty());
    EXPECT_EQ(rr.execution.findings[0].dedup_key(), x.dedup_key());
  }
}

TEST(ProxyFlowReset, UnderNoneWithoutRaceDetectionTheUseAfterFreeShowsToo) {
  // With race detection on, "none" stops at the sockets' KNOTE race first.
  RunResult r = run("proxy-flow-reset", "none", 500, /*race=*/false);
  EXPECT_TRUE(has(r.kinds(), FindingKind::kUseAfterFree)) << fuzz::verdict_text(r.kinds());
}

TEST(ProxyFlowResetFixed, CleanUnderGiantAndFine) {
  for (const char* design : {"giant", "fine"}) {
    RunResult r = run("proxy-flow-reset-fixed", design, 1000);
    EXPECT_TRUE(r.kinds().empty()) << design << ": " << fuzz::verdict_text(r.kinds());
  }
}

TEST(ProxyFlowResetFixed, GlobalReportsOnlyTheCloseLockOrder) {
  RunResult r = run("proxy-flow-reset-fixed", "global", 500);
  EXPECT_EQ(r.kinds(), std::vector<FindingKind>{FindingKind::kLockOrderReversal})
      << fuzz::verdict_text(r.kinds());
}

TEST(ProxyFlowResetFixed, NoneWithoutRaceDetectionHasNoUseAfterFree) {
  RunResult r = run("proxy-flow-reset-fixed", "none", 500, /*race=*/false);
  EXPECT_FALSE(has(r.kinds(), FindingKind::kUseAfterFree)) << fuzz::verdict_text(r.kinds());
}

TEST(ClearVsDispatchStats, DispatchHasOneHolderClearCanHaveTwo) {
  delivery_stats_reset();
  RunResult r = run("clear-vs-dispatch", "fine", 2000);
  ASSERT_TRUE(r.kinds().empty()) << fuzz::verdict_text(r.kinds());
  const DeliveryStats c = delivery_stats(false);
  const DeliveryStats d = delivery_stats(true);
  for (const auto& [name, s] : {std::pair{"EV_CLEAR", c}, std::pair{"EV_DISPATCH", d}})
    std::cout << fmt::format(
        "{:<12} executions {} wake-ups {} empty wake-ups {} overlapping deliveries {} (in {} executions) "
        "max holders {}\n",
        name, s.executions, s.wakeups, s.empty_wakeups, s.overlaps, s.overlap_executions, s.max_holders);
  EXPECT_EQ(c.executions, 2000u);
  EXPECT_EQ(d.executions, 2000u);
  // EV_DISPATCH: never two holders (the oracle would have reported it).
  EXPECT_EQ(d.overlaps, 0u);
  EXPECT_EQ(d.max_holders, 1u);
  // EV_CLEAR: the same workload does give one socket to two threads.
  EXPECT_GT(c.overlap_executions, 0u);
  EXPECT_GE(c.max_holders, 2u);
  // Each socket wakes a thread at least once per execution.
  EXPECT_GE(c.wakeups, c.executions);
  EXPECT_GE(d.wakeups, d.executions);
  delivery_stats_reset();
  EXPECT_EQ(delivery_stats(false).executions, 0u);
}

}  // namespace
}  // namespace kqsim::scenarios
