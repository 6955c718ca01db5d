// The explorers as `kqsim run` uses them: pct and exhaustive through
// run_scenario, replay of every finding, shrinking, shards and merge, and the
// CLI's determinism across worker counts (through the kqsim binary).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fuzz/merge.h"
#include "fuzz/run.h"
#include "locks/witness_graph.h"
#include "scenarios/scenario.h"

namespace kqsim::fuzz {
namespace {

using sim::FindingKind;

const scenarios::Scenario& kern57945() { return *scenarios::find_scenario("kern-57945"); }
const kern::kq_design& design(const char* name) { return *kern::find_design(name); }

RunInfo info_for(const char* scenario, const char* d, const RunOptions& o) {
  RunInfo info;
  info.scenario = scenario;
  info.design = d;
  info.opts = o;
  return info;
}

bool makes(const ReplayResult& r, const std::string& key) {
  for (const sim::Finding& f : r.execution.findings)
    if (f.dedup_key() == key) return true;
  return false;
}

// ---- pct ----

// Acceptance: kern-57945 under none is found by pct (default depth 3, k
// measured) in a median of under 100 executions over 50 seeds.
TEST(ExplorersPct, Kern57945MedianExecutionsToFirstFindingOver50Seeds) {
  auto median = [](bool race) {
    std::vector<uint64_t> hits;
    for (uint64_t seed = 1; seed <= 50; ++seed) {
      RunOptions o;
      o.strategy = StrategyKind::kPct;
      o.seed = seed;
      o.executions = 1000;
      o.verify_replays = false;
      o.sched.race_detection = race;
      RunResult r = run_scenario(kern57945(), design("none"), o);
      uint64_t first = 1000;
      for (const FoundFinding& f : r.findings) first = std::min(first, f.execution);
      hits.push_back(first + 1);
    }
    std::sort(hits.begin(), hits.end());
    return hits[hits.size() / 2];
  };
  uint64_t with_race = median(true);
  uint64_t without_race = median(false);
  std::cout << "kern-57945/none, pct depth 3: median executions to the first finding over 50 seeds: " << with_race
            << " (race detection on), " << without_race << " (off: the corruption itself)\n";
  EXPECT_LT(with_race, 100u);
  EXPECT_LT(without_race, 1000u);
}

TEST(ExplorersPct, EveryFindingReplaysAloneFromDepthKAndSeed) {
  RunOptions o;
  o.strategy = StrategyKind::kPct;
  o.executions = 300;
  o.sched.race_detection = false;
  RunResult r = run_scenario(kern57945(), design("none"), o);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_GT(r.pct_k, 1u);
  EXPECT_EQ(r.pct_k, measure_choice_points(kern57945(), design("none"), o.sched));
  for (size_t i = 0; i < r.findings.size(); ++i) {
    if (r.replay[i] == ReplayMode::kNotAlone) continue;
    ReplaySpec spec;
    spec.scenario = "kern-57945";
    spec.design = "none";
    spec.seed = r.findings[i].execution_seed;
    spec.strategy = StrategyKind::kPct;
    spec.pct_depth = o.pct_depth;
    spec.pct_k = r.pct_k;
    spec.sched = o.sched;
    spec.witness = r.replay[i] == ReplayMode::kAlone;
    EXPECT_TRUE(makes(replay(spec).result, r.findings[i].finding.dedup_key())) << i;
  }
}

TEST(ExplorersPct, SameSeedSameResultForAnyWorkerCount) {
  RunOptions o;
  o.strategy = StrategyKind::kPct;
  o.executions = 400;
  o.sched.race_detection = false;
  RunInfo info = info_for("kern-57945", "none", o);
  RunResult one = run_scenario(kern57945(), design("none"), o);
  o.workers = 3;
  RunResult three = run_scenario(kern57945(), design("none"), o);
  EXPECT_EQ(findings_text(info, one), findings_text(info, three));
  EXPECT_EQ(run_to_json(info, one, nullptr, {}, true).dump(), run_to_json(info, three, nullptr, {}, true).dump());
}

// ---- exhaustive ----

TEST(ExplorersExhaustive, ReportsExhaustionOrTheCap) {
  RunOptions o;
  o.strategy = StrategyKind::kExhaustive;
  o.preemptions = 0;
  o.executions = 100000;
  o.verify_replays = false;
  RunResult r = run_scenario(kern57945(), design("fine"), o);
  EXPECT_TRUE(r.exhausted);
  EXPECT_FALSE(r.search_diverged);
  EXPECT_GE(r.executions, 1u);
  EXPECT_LT(r.executions, 100000u);
  RunInfo info = info_for("kern-57945", "fine", o);
  EXPECT_NE(summary_text(info, r, true).find(fmt::format(
                "exhausted the space of schedules with <= 0 preemptions in {} executions", r.executions)),
            std::string::npos);

  o.preemptions = 2;
  o.executions = 50;
  RunResult capped = run_scenario(kern57945(), design("fine"), o);
  EXPECT_FALSE(capped.exhausted);
  EXPECT_EQ(capped.executions, 50u);
  info.opts = o;
  EXPECT_NE(summary_text(info, capped, true).find("stopped after 50 executions, space not exhausted"),
            std::string::npos);
}

TEST(ExplorersExhaustive, MorePreemptionsMoreExecutionsAndFindingsReplayFromChoices) {
  RunOptions o;
  o.strategy = StrategyKind::kExhaustive;
  o.executions = 1'000'000;
  o.verify_replays = false;
  o.preemptions = 0;
  uint64_t zero = run_scenario(kern57945(), design("fine"), o).executions;
  o.preemptions = 1;
  RunResult one = run_scenario(kern57945(), design("fine"), o);
  EXPECT_TRUE(one.exhausted);
  EXPECT_GT(one.executions, zero);

  o.executions = 400;
  o.verify_replays = true;
  o.preemptions = 2;
  RunResult r = run_scenario(kern57945(), design("none"), o);
  ASSERT_FALSE(r.findings.empty());
  RunInfo info = info_for("kern-57945", "none", o);
  for (size_t i = 0; i < r.findings.size(); ++i) {
    EXPECT_NE(r.replay[i], ReplayMode::kNotAlone) << i;
    std::string cmd = finding_replay_command(info, r, i);
    EXPECT_NE(cmd.find("--choices "), std::string::npos) << cmd;
    ReplaySpec spec;
    spec.scenario = "kern-57945";
    spec.design = "none";
    spec.choices = r.findings[i].finding.path;
    spec.sched = o.sched;
    spec.witness = r.replay[i] == ReplayMode::kAlone;
    EXPECT_TRUE(makes(replay(spec).result, r.findings[i].finding.dedup_key())) << i;
  }
}

// ---- shrink ----

// Acceptance: a shrunk trace of kern-57945 under none has at most 3
// preemptions (and still makes the finding).
TEST(ExplorersShrink, Kern57945ShrinksToAtMostThreePreemptions) {
  for (bool race : {true, false}) {
    RunOptions o;
    o.strategy = StrategyKind::kPct;
    o.executions = 300;
    o.sched.race_detection = race;
    o.shrink = true;
    RunResult r = run_scenario(kern57945(), design("none"), o);
    ASSERT_FALSE(r.findings.empty());
    size_t shrunk = 0;
    for (size_t i = 0; i < r.findings.size(); ++i) {
      const Shrunk& s = r.shrunk[i];
      if (!s.done) continue;
      ++shrunk;
      EXPECT_LE(s.preemptions, s.original_preemptions);
      if (r.findings[i].finding.kind != FindingKind::kStepBound) {
        EXPECT_LE(s.preemptions, 3u) << r.findings[i].finding.headline();
      }
      ReplaySpec spec;
      spec.scenario = "kern-57945";
      spec.design = "none";
      spec.choices = s.path;
      spec.sched = o.sched;
      EXPECT_TRUE(makes(replay(spec).result, r.findings[i].finding.dedup_key()));
    }
    EXPECT_GT(shrunk, 0u);
  }
}

TEST(ExplorersShrink, ChoicesRoundTripInTheCompactForm) {
  sim::Path p = {0, 0, 0, 1, 2, 2, 15, 15};
  EXPECT_EQ(compact_choices(p), "0:3,1,2:2,f:2");
  EXPECT_EQ(parse_choices("0:3,1,2:2,f:2"), p);
  EXPECT_EQ(parse_choices("00012 2ff"), std::nullopt);
  EXPECT_EQ(parse_choices("0001222ff"), (sim::Path{0, 0, 0, 1, 2, 2, 2, 15, 15}));
  EXPECT_EQ(parse_choices("-"), sim::Path{});
  EXPECT_EQ(compact_choices({}), "-");
  for (const char* bad : {"", "0:", "0:0", "g:2", "0:3,", ",1", "0:x", "12:3", "0:0x10"})
    EXPECT_EQ(parse_choices(bad), std::nullopt) << bad;
}

// ---- shards and merge ----

TEST(ExplorersShard, ParsesIOverN) {
  EXPECT_EQ(parse_shard("0/1")->count, 1u);
  EXPECT_EQ(parse_shard("3/4")->index, 3u);
  for (const char* bad : {"", "1", "4/4", "0/0", "-1/2", "a/2", "1/2/3", "1/"})
    EXPECT_FALSE(parse_shard(bad)) << bad;
}

TEST(ExplorersShard, ShardsPartitionTheRunAndMergeBackToIt) {
  RunOptions o;
  o.executions = 600;
  o.sched.race_detection = false;
  o.verify_replays = false;
  RunInfo info = info_for("kern-57945", "none", o);
  RunResult whole = run_scenario(kern57945(), design("none"), o);
  std::vector<MergeInput> inputs;
  uint64_t executions = 0;
  for (uint64_t i : {2u, 0u, 1u}) {  // any order
    o.shard = Shard{i, 3};
    info.opts = o;
    RunResult part = run_scenario(kern57945(), design("none"), o);
    executions += part.executions;
    for (const FoundFinding& f : part.findings) EXPECT_EQ(f.execution % 3, i);
    inputs.push_back(MergeInput{fmt::format("shard{}", i), run_to_json(info, part, nullptr).dump()});
  }
  EXPECT_EQ(executions, 600u);
  MergedRun m = merge_runs(inputs);
  EXPECT_EQ(m.doc["executions"], 600u);
  EXPECT_EQ(m.doc["shards"].size(), 3u);
  EXPECT_TRUE(m.doc["missing_shards"].empty());
  ASSERT_EQ(m.doc["findings"].size(), whole.findings.size());
  for (size_t i = 0; i < whole.findings.size(); ++i) {
    const auto& f = m.doc["findings"][i];
    EXPECT_EQ(f["key"], whole.findings[i].finding.dedup_key());
    EXPECT_EQ(f["first_execution"], whole.findings[i].execution);
    EXPECT_EQ(f["execution_seed"], whole.findings[i].execution_seed);
    if (whole.findings[i].finding.kind != FindingKind::kLockOrderReversal) {
      EXPECT_EQ(f["count"], whole.findings[i].count);
    }
  }
  EXPECT_TRUE(m.has_findings);
}

// A kqsim-run result of shard i/2 whose witness graph holds one order.
std::string shard_with_order(uint64_t i, const char* before, const char* after) {
  locks::WitnessGraph g;
  locks::ClassId b = g.intern_class(before, "sleep mutex");
  locks::ClassId a = g.intern_class(after, "sleep mutex");
  EXPECT_EQ(g.add_edge(b, a, locks::Site{"knote/kern_event.cc", 100 + static_cast<uint32_t>(i)},
                       locks::Site{"model/kern/filedesc.cc", 40 + static_cast<uint32_t>(i)})
                .status,
            locks::AddStatus::kAdded);
  RunOptions o;
  o.shard = Shard{i, 2};
  o.executions = 10;
  RunResult r;
  r.executions = 5;
  r.witness = std::shared_ptr<const locks::WitnessGraph>(std::make_shared<locks::WitnessGraph>());
  nlohmann::ordered_json doc = run_to_json(info_for("feldman-lor", "global", o), r, nullptr);
  doc["witness"] = nlohmann::ordered_json::parse(g.to_json());
  return doc.dump(2);
}

// Acceptance: a reversal seen half on one machine and half on another is
// found by the merge.
TEST(ExplorersMerge, FindsAReversalSplitAcrossShards) {
  std::string a = shard_with_order(0, "kqueue", "filedesc");
  std::string b = shard_with_order(1, "filedesc", "kqueue");
  for (const MergedRun& m : {merge_runs({{"a", a}}), merge_runs({{"b", b}})}) {
    EXPECT_FALSE(m.has_findings) << "each half alone is fine";
    EXPECT_EQ(m.doc["missing_shards"].size(), 1u);
  }
  MergedRun m = merge_runs({{"a", a}, {"b", b}});
  ASSERT_TRUE(m.has_findings);
  ASSERT_EQ(m.doc["findings"].size(), 1u);
  const auto& f = m.doc["findings"][0];
  EXPECT_EQ(f["kind"], "lock-order-reversal");
  EXPECT_EQ(f["graph_only"], true);
  EXPECT_NE(f["message"].get<std::string>().find("lock order reversal:"), std::string::npos);
  EXPECT_NE(m.text.find("found only in the merged witness graph"), std::string::npos);
  EXPECT_EQ(m.doc["verdict"], nlohmann::ordered_json::array({"lock-order-reversal"}));
  EXPECT_EQ(m.doc["witness"]["edges"].size(), 1u);
  EXPECT_EQ(m.doc["witness"]["reversals"].size(), 1u);
  // Order of the inputs does not matter.
  EXPECT_EQ(merge_runs({{"b", b}, {"a", a}}).doc.dump(), m.doc.dump());
}

// A shard that reported the reversal itself (its R has the pair): the merge
// does not report it again from the other side.
TEST(ExplorersMerge, DoesNotRereportAReversalAShardReported) {
  std::string a = shard_with_order(0, "kqueue", "filedesc");
  auto doc = nlohmann::ordered_json::parse(shard_with_order(1, "filedesc", "kqueue"));
  locks::LoadResult lr = locks::WitnessGraph::from_json(doc["witness"].dump());
  ASSERT_TRUE(lr.ok());
  locks::WitnessGraph& g = *lr.graph;
  ASSERT_EQ(g.add_edge(*g.find_class("kqueue"), *g.find_class("filedesc"), locks::Site{"a.cc", 1},
                       locks::Site{"b.cc", 2})
                .status,
            locks::AddStatus::kReversal);
  doc["witness"] = nlohmann::ordered_json::parse(g.to_json());
  MergedRun m = merge_runs({{"a", a}, {"b", doc.dump()}});
  for (const auto& f : m.doc["findings"]) EXPECT_FALSE(f.value("graph_only", false)) << f.dump();
}

TEST(ExplorersMerge, RefusesBadInputWithOneLine) {
  std::string a = shard_with_order(0, "kqueue", "filedesc");
  std::string b = shard_with_order(1, "filedesc", "kqueue");
  auto error = [](const std::vector<MergeInput>& in) -> std::string {
    try {
      merge_runs(in);
    } catch (const MergeError& e) {
      return e.what();
    }
    return "(no error)";
  };
  auto edit = [](const std::string& text, const char* key, nlohmann::ordered_json v) {
    auto doc = nlohmann::ordered_json::parse(text);
    if (v.is_null())
      doc.erase(key);
    else
      doc[key] = v;
    return doc.dump();
  };
  EXPECT_NE(error({}).find("no result files"), std::string::npos);
  EXPECT_NE(error({{"t", a.substr(0, a.size() / 2)}}).find("t: not JSON"), std::string::npos);
  EXPECT_NE(error({{"x", "{\"format\": \"kqsim-path\"}"}}).find("x: not a kqsim-run result"), std::string::npos);
  EXPECT_NE(error({{"v", edit(a, "version", 2)}}).find("v: kqsim-run version 2 is not supported"),
            std::string::npos);
  EXPECT_NE(error({{"a", a}, {"b", edit(b, "seed", 7)}}).find("not shards of the same run: \"seed\""),
            std::string::npos);
  EXPECT_NE(error({{"a", a}, {"b", edit(b, "shard", "1/3")}}).find("not shards of the same run"),
            std::string::npos);
  EXPECT_NE(error({{"a", a}, {"a2", a}}).find("the same shard 0/2"), std::string::npos);
  EXPECT_NE(error({{"w", edit(a, "witness", nullptr)}}).find("w: no \"witness\" field"), std::string::npos);
  EXPECT_NE(error({{"s", edit(a, "shard", "merged")}}).find("cannot be merged again"), std::string::npos);
  auto doc = nlohmann::ordered_json::parse(a);
  doc["witness"]["edges"][0]["before"] = 9;
  EXPECT_NE(error({{"g", doc.dump()}}).find("g: witness graph: "), std::string::npos);
  for (const std::string& e : {error({{"t", a.substr(0, 10)}}), error({{"a", a}, {"a2", a}})})
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

// ---- the CLI, end to end ----

struct Cmd {
  int status = -1;
  std::string out;
};

// Runs a shell command line; stdout captured, stderr discarded.
Cmd sh(const std::string& line) {
  Cmd c;
  FILE* p = popen((line + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return c;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) c.out.append(buf.data(), n);
  int st = pclose(p);
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}

std::string slurp(const std::string& file) {
  std::ifstream is(file);
  return std::string((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
}

// The lines of `text` that start (after spaces) with `prefix`, without it.
std::vector<std::string> lines_after(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    size_t b = line.find_first_not_of(' ');
    if (b != std::string::npos && line.compare(b, prefix.size(), prefix) == 0)
      out.push_back(line.substr(b + prefix.size()));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

const std::string kBin = KQSIM_BINARY;

// Acceptance: the same seed gives the same report byte for byte, serial or
// parallel, text and JSON (--reproducible leaves the timings out).
TEST(ExplorersCli, SameSeedSameBytesWithOneOrTwoWorkers) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / fmt::format("kqsim-explorers-{}", ::getpid());
  fs::create_directories(dir);
  for (const char* strategy : {"random", "pct"}) {
    std::string base = fmt::format("{} run kern-57945 --design none --strategy {} --schedules 600 --seed 42 --no-race "
                                   "--reproducible",
                                   kBin, strategy);
    Cmd one = sh(fmt::format("{} --workers 1 --json {}/w1.json", base, dir.string()));
    Cmd two = sh(fmt::format("{} --workers 2 --json {}/w2.json", base, dir.string()));
    EXPECT_EQ(one.status, 1) << one.out;
    EXPECT_EQ(two.status, 1);
    EXPECT_EQ(one.out, two.out) << strategy;
    std::string j1 = slurp((dir / "w1.json").string()), j2 = slurp((dir / "w2.json").string());
    EXPECT_FALSE(j1.empty());
    EXPECT_EQ(j1, j2) << strategy;
    // And with KQSIM_WORKERS / KQSIM_STRATEGY instead of the options.
    Cmd env = sh(fmt::format("KQSIM_WORKERS=2 KQSIM_STRATEGY={} {} run kern-57945 --design none --schedules 600 "
                             "--seed 42 --no-race --reproducible",
                             strategy, kBin));
    EXPECT_EQ(env.out, one.out) << strategy;
  }
  fs::remove_all(dir);
}

// Every printed replay command, and every printed explain command of a shrunk
// schedule, reproduces its finding.
TEST(ExplorersCli, PrintedReplayAndExplainCommandsReproduce) {
  for (const char* strategy : {"pct", "exhaustive"}) {
    // Without the race detector pct finds the corruption; the depth-first
    // exhaustive search reaches it late, but finds races at once.
    bool pct = std::string(strategy) == "pct";
    Cmd run = sh(fmt::format("{} run kern-57945 --design none --strategy {} --schedules 300{}", kBin, strategy,
                             pct ? " --no-race" : ""));
    ASSERT_EQ(run.status, 1) << run.out;
    std::vector<std::string> heads = lines_after(run.out, "[");
    std::vector<std::string> replays = lines_after(run.out, "replay: kqsim ");
    std::vector<std::string> explains = lines_after(run.out, "explain: kqsim ");
    ASSERT_FALSE(replays.empty()) << run.out;
    EXPECT_EQ(replays.size(), heads.size());
    EXPECT_EQ(explains.size(), heads.size()) << "every finding is shrunk:\n" << run.out;
    for (size_t i = 0; i < replays.size() && i < heads.size(); ++i) {
      std::string headline = heads[i].substr(heads[i].find("] ") + 2);
      Cmd again = sh(kBin + " " + replays[i]);
      EXPECT_EQ(again.status, 1) << replays[i];
      EXPECT_NE(again.out.find(headline), std::string::npos) << replays[i] << "\n" << again.out;
      if (i < explains.size()) {
        Cmd ex = sh(kBin + " " + explains[i]);
        EXPECT_EQ(ex.status, 1) << explains[i];
        EXPECT_NE(ex.out.find("FINDING"), std::string::npos) << explains[i];
      }
    }
  }
}

// On a terminal, run keeps a progress line on stderr (executions, rate,
// findings); `script` gives it one. Without a terminal, stderr stays empty
// (cli.run_silent_when_not_a_terminal).
TEST(ExplorersCli, ProgressLineOnATerminal) {
  if (sh("command -v script").status != 0) GTEST_SKIP() << "no script(1) to make a terminal";
  Cmd c = sh(fmt::format("script -qec '{} run kern-57945 --design none --schedules 500 --no-shrink' /dev/null", kBin));
  EXPECT_NE(c.out.find("\rkern-57945 under none: 500/500 executions, "), std::string::npos) << c.out;
  EXPECT_TRUE(std::regex_search(c.out, std::regex("/s, [1-9][0-9]* findings?"))) << c.out;
  EXPECT_NE(c.out.find("\r\033[K"), std::string::npos) << "the line is erased at the end";
}

TEST(ExplorersCli, BadEnvironmentDefaultsAreUsageErrors) {
  for (const char* env : {"KQSIM_STRATEGY=dfs", "KQSIM_WORKERS=two", "KQSIM_PCT_DEPTH=0", "KQSIM_PREEMPTIONS=-1",
                          "KQSIM_SCHEDULES=0x"}) {
    std::string strategy = std::string(env).find("PCT") != std::string::npos   ? " --strategy pct"
                           : std::string(env).find("PREEMPT") != std::string::npos ? " --strategy exhaustive"
                                                                                   : "";
    std::string schedules = std::string(env).find("SCHEDULES") != std::string::npos ? "" : " --schedules 10";
    Cmd c = sh(fmt::format("{{ {} {} run kern-57945{}{} 2>&1; }}", env, kBin, schedules, strategy));
    EXPECT_EQ(c.status, 2) << env << ": " << c.out;
    EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 1) << env << ": " << c.out;
  }
  // The option wins over the environment.
  Cmd c = sh(fmt::format("KQSIM_STRATEGY=dfs {} run kern-57945 --strategy random --schedules 10", kBin));
  EXPECT_EQ(c.status, 0) << c.out;
}

TEST(ExplorersCli, ShrinkWritesAPathFileThatReplays) {
  namespace fs = std::filesystem;
  fs::path out = fs::temp_directory_path() / fmt::format("kqsim-shrunk-{}.path.json", ::getpid());
  Cmd s = sh(fmt::format("{} shrink kern-57945 --design none --seed 627405149472732430 --out {}", kBin, out.string()));
  ASSERT_EQ(s.status, 1) << s.out;
  std::vector<std::string> before = lines_after(s.out, "before: "), after = lines_after(s.out, "after:  ");
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_LE(std::stoul(after[0]), 3u) << s.out;
  EXPECT_LE(std::stoul(after[0]), std::stoul(before[0]));
  Cmd r = sh(fmt::format("{} replay kern-57945 --design none --path {}", kBin, out.string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("data race"), std::string::npos);
  fs::remove(out);
}

TEST(ExplorersCli, MergeWritesNothingOnBadInput) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / fmt::format("kqsim-merge-{}", ::getpid());
  fs::create_directories(dir);
  std::string a = (dir / "a.json").string(), b = (dir / "b.json").string(), m = (dir / "m.json").string();
  Cmd s0 = sh(fmt::format("{} run kern-57945 --design fine --schedules 100 --shard 0/2 --json {}", kBin, a));
  Cmd s1 = sh(fmt::format("{} run kern-57945 --design fine --schedules 100 --shard 1/2 --json {}", kBin, b));
  EXPECT_EQ(s0.status, 0);
  EXPECT_EQ(s1.status, 0);
  Cmd ok = sh(fmt::format("{} merge {} {} --json {}", kBin, a, b, m));
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("100 executions"), std::string::npos) << ok.out;
  EXPECT_TRUE(fs::exists(m));
  fs::remove(m);
  std::string text = slurp(b);
  std::ofstream((dir / "t.json").string()) << text.substr(0, text.size() / 2);
  Cmd bad = sh(fmt::format("{} merge {} {} --json {}", kBin, a, (dir / "t.json").string(), m));
  EXPECT_EQ(bad.status, 2);
  EXPECT_FALSE(fs::exists(m));
  EXPECT_FALSE(fs::exists(m + ".tmp"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kqsim::fuzz
