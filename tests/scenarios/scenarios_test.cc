// Scenarios: every registered scenario reproduces its expected verdict under
// every design it lists; the runner is deterministic (same seed, same
// findings; same replay, same trace; any number of workers, same findings).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "fuzz/explore.h"
#include "fuzz/run.h"
#include "knote/design.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using fuzz::RunOptions;
using fuzz::RunResult;
using sim::FindingKind;

struct VerdictCell {
  std::string scenario;
  std::string design;
};

std::vector<VerdictCell> all_cells() {
  std::vector<VerdictCell> out;
  for (const Scenario* s : all_scenarios())
    for (const std::string& d : s->designs_to_run()) out.push_back({s->name(), d});
  return out;
}

std::string cell_name(const ::testing::TestParamInfo<VerdictCell>& info) {
  std::string n = info.param.scenario + "_" + info.param.design;
  std::replace_if(
      n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return n;
}

RunResult run(const std::string& scenario, const std::string& design, uint64_t executions, uint64_t seed = 1,
              unsigned workers = 1, bool race = true) {
  const Scenario* sc = find_scenario(scenario);
  const kern::kq_design* d = kern::find_design(design);
  EXPECT_NE(sc, nullptr) << scenario;
  EXPECT_NE(d, nullptr) << design;
  RunOptions o;
  o.seed = seed;
  o.executions = executions;
  o.workers = workers;
  o.sched.race_detection = race;
  return fuzz::run_scenario(*sc, *d, o);
}

std::string text_of(const std::string& scenario, const std::string& design, const RunResult& r,
                    uint64_t seed = 1) {
  fuzz::RunInfo info;
  info.scenario = scenario;
  info.design = design;
  info.opts.seed = seed;
  return fuzz::findings_text(info, r);
}

// ---- the registry ----

TEST(ScenarioRegistry, HoldsTheFirstScenariosAndIsConsistent) {
  std::vector<std::string> names;
  for (const Scenario* s : all_scenarios()) names.push_back(s->name());
  for (const char* n :
       {"close-vs-knote", "feldman-lor", "kern-57945", "kq-cycle", "kq-in-kq", "stale-after-delete"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  std::vector<std::string> problems = registry_problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
  for (const Scenario* s : all_scenarios()) {
    EXPECT_FALSE(std::string(s->summary()).empty()) << s->name();
    EXPECT_GT(s->story().size(), 100u) << s->name();
    EXPECT_FALSE(s->designs_to_run().empty()) << s->name();
  }
  EXPECT_EQ(find_scenario("nosuch"), nullptr);
}

TEST(ScenarioRegistry, ExpectedVerdictsPrintAsKindNames) {
  EXPECT_EQ(Expected::clean().str(), "clean");
  EXPECT_EQ(Expected::skip().str(), "skip");
  EXPECT_EQ(Expected::failure(FindingKind::kDataRace).str(), "data-race");
  EXPECT_TRUE(fuzz::verdict_matches(Expected::clean(), {}));
  EXPECT_FALSE(fuzz::verdict_matches(Expected::clean(), {FindingKind::kDeadlock}));
  EXPECT_TRUE(fuzz::verdict_matches(Expected::failure(FindingKind::kDataRace),
                                    {FindingKind::kDataRace, FindingKind::kListCorruption}));
  EXPECT_FALSE(fuzz::verdict_matches(Expected::failure(FindingKind::kDataRace), {}));
  EXPECT_FALSE(fuzz::verdict_matches(Expected::failure(FindingKind::kDataRace), {FindingKind::kLostEvent}));
  EXPECT_EQ(fuzz::verdict_text({}), "clean");
  EXPECT_EQ(fuzz::verdict_text({FindingKind::kDeadlock, FindingKind::kLockOrderReversal}),
            "deadlock, lock-order-reversal");
}

// ---- the verdicts ----

class ScenarioVerdicts : public ::testing::TestWithParam<VerdictCell> {};

TEST_P(ScenarioVerdicts, MatchExpectation) {
  const VerdictCell& c = GetParam();
  const Scenario* sc = find_scenario(c.scenario);
  ASSERT_NE(sc, nullptr);
  const Expected& e = sc->expectation_for(c.design)->expected;
  RunResult r = run(c.scenario, c.design, 500);
  EXPECT_EQ(r.executions, 500u);
  EXPECT_TRUE(fuzz::verdict_matches(e, r.kinds()))
      << c.scenario << " under " << c.design << ": expected " << e.str() << ", got "
      << fuzz::verdict_text(r.kinds()) << "\n"
      << text_of(c.scenario, c.design, r);
}

INSTANTIATE_TEST_SUITE_P(All, ScenarioVerdicts, ::testing::ValuesIn(all_cells()), cell_name);

TEST(ScenarioVerdictsNoRace, Kern57945CorruptsTheQueueUnderNoneWithoutRaceDetection) {
  RunResult r = run("kern-57945", "none", 2000, 1, 1, /*race=*/false);
  std::vector<FindingKind> k = r.kinds();
  EXPECT_TRUE(std::count(k.begin(), k.end(), FindingKind::kListCorruption) == 1) << fuzz::verdict_text(k);
}

// ---- determinism ----

TEST(ScenarioDeterminism, SameSeedSameFindings) {
  for (const char* design : {"none", "global"}) {
    RunResult a = run("close-vs-knote", design, 300, 7);
    RunResult b = run("close-vs-knote", design, 300, 7);
    ASSERT_FALSE(a.findings.empty()) << design;
    EXPECT_EQ(text_of("close-vs-knote", design, a, 7), text_of("close-vs-knote", design, b, 7));
    EXPECT_EQ(a.total_steps, b.total_steps);
  }
}

TEST(ScenarioDeterminism, DifferentSeedsExploreDifferently) {
  RunResult a = run("kern-57945", "fine", 50, 1);
  RunResult b = run("kern-57945", "fine", 50, 2);
  EXPECT_NE(a.total_steps, b.total_steps);
}

TEST(ScenarioDeterminism, ReplayGivesTheSameTraceTwice) {
  RunResult r = run("kern-57945", "none", 100, 1);
  ASSERT_FALSE(r.findings.empty());
  const fuzz::FoundFinding& f = r.findings.front();
  sim::SchedulerOptions so;
  so.trace = true;
  const Scenario& sc = *find_scenario("kern-57945");
  const kern::kq_design& d = *kern::find_design("none");
  fuzz::ReplayResult x = fuzz::replay_seed(sc, d, f.execution_seed, so);
  fuzz::ReplayResult y = fuzz::replay_seed(sc, d, f.execution_seed, so);
  ASSERT_FALSE(x.execution.trace.empty());
  EXPECT_EQ(x.execution.trace_text(), y.execution.trace_text());
  // The replay makes the finding the exploration made, at the same step.
  ASSERT_EQ(x.execution.findings.size(), 1u);
  EXPECT_EQ(x.execution.findings[0].dedup_key(), f.finding.dedup_key());
  EXPECT_EQ(x.execution.findings[0].step, f.finding.step);
  EXPECT_EQ(x.thread_names, (std::vector<std::string>{"main", "cpu0", "cpu1"}));
  // Replaying the finding's path makes it too.
  fuzz::ReplayResult z = fuzz::replay_path(sc, d, f.finding.path, so);
  ASSERT_FALSE(z.execution.findings.empty());
  EXPECT_EQ(z.execution.findings[0].dedup_key(), f.finding.dedup_key());
  EXPECT_EQ(r.replay.front(), fuzz::ReplayMode::kAlone);
}

TEST(ScenarioDeterminism, WorkersDoNotChangeTheFindings) {
  // No lock-order reversal here, so not even counts may differ.
  for (const char* scenario : {"kern-57945", "close-vs-knote", "kq-cycle"}) {
    for (const char* design : {"none", "fine"}) {
      RunResult one = run(scenario, design, 400, 3, 1);
      std::string expect = text_of(scenario, design, one, 3);
      for (unsigned w : {2u, 3u}) {
        RunResult many = run(scenario, design, 400, 3, w);
        EXPECT_EQ(many.executions, 400u);
        EXPECT_EQ(many.total_steps, one.total_steps) << scenario << " " << design << " workers " << w;
        EXPECT_EQ(text_of(scenario, design, many, 3), expect)
            << scenario << " " << design << " workers " << w;
      }
    }
  }
}

TEST(ScenarioDeterminism, GiantDesignsRunWorkersOneAfterAnother) {
  RunResult r = run("kern-57945", "none", 100, 1, 2);
  EXPECT_TRUE(r.workers_serialized);
  RunResult f = run("kern-57945", "fine", 100, 1, 2);
  EXPECT_FALSE(f.workers_serialized);
}

TEST(ScenarioDeterminism, WorkersFindTheReversalToo) {
  // Each worker has its own witness: the reversal is found whatever W; the
  // first execution that reports it is the same.
  RunResult one = run("feldman-lor", "global", 200, 1, 1);
  RunResult two = run("feldman-lor", "global", 200, 1, 2);
  ASSERT_NE(one.first(FindingKind::kLockOrderReversal), nullptr);
  ASSERT_NE(two.first(FindingKind::kLockOrderReversal), nullptr);
  EXPECT_EQ(one.findings.front().finding.dedup_key(), two.findings.front().finding.dedup_key());
  EXPECT_EQ(one.findings.front().execution, two.findings.front().execution);
}

TEST(ScenarioDeterminism, OneWorkerIsExactlyExplore) {
  const Scenario& sc = *find_scenario("close-vs-knote");
  const kern::kq_design& d = *kern::find_design("none");
  RunResult r = run("close-vs-knote", "none", 300, 5);
  fuzz::ExploreOptions eo;
  eo.seed = 5;
  eo.executions = 300;
  fuzz::ExploreResult e = fuzz::explore(eo, [&] { sc.execute(d); });
  ASSERT_EQ(r.findings.size(), e.findings.size());
  EXPECT_EQ(r.total_steps, e.total_steps);
  for (size_t i = 0; i < r.findings.size(); ++i) {
    EXPECT_EQ(r.findings[i].finding.dedup_key(), e.findings[i].finding.dedup_key());
    EXPECT_EQ(r.findings[i].execution, e.findings[i].execution);
    EXPECT_EQ(r.findings[i].execution_seed, e.findings[i].execution_seed);
    EXPECT_EQ(r.findings[i].count, e.findings[i].count);
  }
}

TEST(ScenarioReplay, FindingsAfterAReportedReversalReplayWithoutTheWitness) {
  RunResult r = run("feldman-lor", "global", 200, 1);
  const fuzz::FoundFinding* dl = r.first(FindingKind::kDeadlock);
  ASSERT_NE(dl, nullptr);
  size_t i = static_cast<size_t>(dl - r.findings.data());
  EXPECT_EQ(r.replay[i], fuzz::ReplayMode::kNoWitness);
  fuzz::RunInfo info{"feldman-lor", "global", {}};
  EXPECT_NE(fuzz::replay_command(info, dl->execution_seed, r.replay[i]).find("--no-witness"),
            std::string::npos);
}

TEST(ScenarioReplay, ResolvesNamesAndRejectsBadRequests) {
  fuzz::ReplaySpec spec;
  spec.scenario = "kern-57945";
  spec.design = "fine";
  spec.seed = 42;
  fuzz::ReplayRun ok = fuzz::replay(spec);
  EXPECT_EQ(ok.scenario->name(), "kern-57945");
  EXPECT_TRUE(ok.result.execution.findings.empty());
  auto bad = [](fuzz::ReplaySpec s) {
    try {
      fuzz::replay(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  fuzz::ReplaySpec s = spec;
  s.scenario = "nosuch";
  EXPECT_NE(bad(s).find("kern-57945"), std::string::npos);  // names the valid ones
  s = spec;
  s.design = "bogus";
  EXPECT_NE(bad(s).find("fine"), std::string::npos);
  s = spec;
  s.path_file = "/nonexistent";
  EXPECT_NE(bad(s).find("exactly one"), std::string::npos);
  s = spec;
  s.seed.reset();
  s.path_file = "/nonexistent";
  EXPECT_NE(bad(s).find("/nonexistent"), std::string::npos);
}

TEST(ScenarioReport, JsonHasTheDocumentedSchema) {
  RunResult r = run("kern-57945", "none", 50, 1);
  fuzz::RunInfo info{"kern-57945", "none", {}};
  info.opts.executions = 50;
  Expected e = Expected::failure(FindingKind::kDataRace);
  nlohmann::ordered_json j = fuzz::run_to_json(info, r, &e);
  EXPECT_EQ(j["format"], "kqsim-run");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["scenario"], "kern-57945");
  EXPECT_EQ(j["design"], "none");
  EXPECT_EQ(j["strategy"], "random");
  EXPECT_EQ(j["executions"], 50);
  EXPECT_EQ(j["expected"], "data-race");
  EXPECT_EQ(j["matches_expected"], true);
  EXPECT_EQ(j["verdict"], nlohmann::ordered_json::array({"data-race"}));
  ASSERT_EQ(j["findings"].size(), r.findings.size());
  const auto& f = j["findings"][0];
  for (const char* k : {"kind", "headline", "message", "threads", "sites", "step", "first_execution",
                        "execution_seed", "count", "choices", "replay", "replay_mode"})
    EXPECT_TRUE(f.contains(k)) << k;
  EXPECT_EQ(f["replay_mode"], "alone");
}

TEST(ScenarioRun, UnusableOptionsAndZeroWorkersAreRefused) {
  const Scenario& sc = *find_scenario("kern-57945");
  const kern::kq_design& d = *kern::find_design("fine");
  RunOptions o;
  o.strategy = fuzz::StrategyKind::kPct;
  o.pct_depth = 0;
  EXPECT_THROW(fuzz::run_scenario(sc, d, o), std::invalid_argument);
  o.pct_depth = 3;
  o.strategy = fuzz::StrategyKind::kRandom;
  o.workers = 0;
  EXPECT_THROW(fuzz::run_scenario(sc, d, o), std::invalid_argument);
  EXPECT_EQ(fuzz::parse_u64("123"), 123u);
  EXPECT_EQ(fuzz::parse_u64("0x10"), 16u);
  EXPECT_FALSE(fuzz::parse_u64("-1"));
  EXPECT_FALSE(fuzz::parse_u64("notanumber"));
  EXPECT_FALSE(fuzz::parse_u64("99999999999999999999999"));
  EXPECT_FALSE(fuzz::parse_u64(""));
}

}  // namespace
}  // namespace kqsim::scenarios
