// tailq-pingpong: its verdicts, exact replay of executions that ran on a
// reused Scheduler, and constant memory across executions
// (docs/performance.md).
#include <gtest/gtest.h>
#include <malloc.h>

#include <fstream>
#include <string>

#include "fuzz/run.h"
#include "knote/design.h"
#include "locks/witness.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

const Scenario& pingpong() {
  const Scenario* sc = find_scenario("tailq-pingpong");
  EXPECT_NE(sc, nullptr);
  return *sc;
}

fuzz::RunResult run(const char* design, uint64_t n, bool race = true) {
  fuzz::RunOptions o;
  o.executions = n;
  o.seed = 1;
  o.sched.race_detection = race;
  o.verify_replays = false;
  return fuzz::run_scenario(pingpong(), *kern::find_design(design), o);
}

TEST(TailqPingpong, LockedDesignsAreCleanNoneRaces) {
  for (const char* d : {"fine", "global", "giant"}) {
    fuzz::RunResult r = run(d, 2000);
    EXPECT_TRUE(r.findings.empty()) << d << ": " << r.findings.front().finding.message;
    EXPECT_EQ(r.executions, 2000u);
  }
  fuzz::RunResult r = run("none", 2000);
  ASSERT_NE(r.first(sim::FindingKind::kDataRace), nullptr);
}

TEST(TailqPingpong, NoneWithoutRaceDetectionBreaksTheQueue) {
  fuzz::RunResult r = run("none", 4000, false);
  bool broken = r.first(sim::FindingKind::kListCorruption) != nullptr ||
                r.first(sim::FindingKind::kLostEvent) != nullptr ||
                r.first(sim::FindingKind::kDuplicateEvent) != nullptr ||
                r.first(sim::FindingKind::kAssertion) != nullptr;
  EXPECT_TRUE(broken) << fuzz::verdict_text(r.kinds());
}

// The runner reuses one Scheduler (stacks, buffers) and one Witness across
// executions; each execution must still be exactly the one its seed replays
// alone: same path, same steps, same trace, same findings.
void expect_replays_alone(const char* design) {
  const Scenario& sc = pingpong();
  const kern::kq_design& d = *kern::find_design(design);
  locks::Witness w;
  locks::WitnessScope ws(&w);
  sim::SchedulerOptions so;
  so.trace = true;
  sim::Scheduler s(so);
  sim::RandomStrategy st(0);
  int with_findings = 0;
  for (uint64_t i = 0; i < 60; ++i) {
    const uint64_t es = sim::execution_seed(7, i);
    st.reseed(es);
    const sim::Execution& e = s.run(st, [&] { sc.execute(d); });
    const std::string trace = e.trace_text();
    const sim::Path path = e.path;
    const uint64_t steps = e.steps;
    std::vector<std::string> keys;
    for (const sim::Finding& f : e.findings) keys.push_back(f.dedup_key());
    with_findings += !keys.empty();
    fuzz::ReplayResult r = fuzz::replay_seed(sc, d, es, so);
    ASSERT_EQ(r.execution.path, path) << design << " execution " << i;
    EXPECT_EQ(r.execution.steps, steps) << design << " execution " << i;
    EXPECT_EQ(r.execution.trace_text(), trace) << design << " execution " << i;
    std::vector<std::string> rkeys;
    for (const sim::Finding& f : r.execution.findings) rkeys.push_back(f.dedup_key());
    EXPECT_EQ(rkeys, keys) << design << " execution " << i;
  }
  if (std::string(design) == "none") {
    EXPECT_GT(with_findings, 0);
  }
}

TEST(TailqPingpong, ExecutionsOnAReusedSchedulerReplayAloneFine) { expect_replays_alone("fine"); }
TEST(TailqPingpong, ExecutionsOnAReusedSchedulerReplayAloneNone) { expect_replays_alone("none"); }

long vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Memory does not grow with the number of executions: after 20k executions
// the heap in use and the resident set stay (within a generous tolerance)
// where they are after 200k more.
TEST(TailqPingpong, MemoryDoesNotGrowWithExecutions) {
  run("fine", 20'000);
  run("none", 2'000);  // findings too: their reports are per run, not per execution
  const size_t heap0 = mallinfo2().uordblks;
  const long rss0 = vm_rss_kib();
  fuzz::RunResult r = run("fine", 200'000);
  EXPECT_EQ(r.executions, 200'000u);
  const size_t heap1 = mallinfo2().uordblks;
  const long rss1 = vm_rss_kib();
  ASSERT_GT(rss0, 0);
  // A leak of even 8 bytes per execution would be 1.6 MB here.
  EXPECT_LT(heap1, heap0 + 512 * 1024) << "heap in use grew from " << heap0 << " to " << heap1 << " bytes";
  EXPECT_LT(rss1, rss0 + 4096) << "VmRSS grew from " << rss0 << " to " << rss1 << " KiB";
}

}  // namespace
}  // namespace kqsim::scenarios
