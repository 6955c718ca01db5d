// run.h - running scenarios: exploration over many schedules (optionally on
// several OS threads), single-execution replay, verdicts and reports.
//
// Contract
// --------
// run_scenario() explores `executions` schedules of a scenario under a design
// with the random strategy: execution i runs with
// RandomStrategy(execution_seed(seed, i)), exactly as fuzz::explore does, so
// any execution replays alone from its execution seed (replay_seed). With
// `workers` W > 1, W OS threads share the work: execution i goes to worker
// i % W; each worker has its own Scheduler and its own Witness (the witness
// graph persists across that worker's executions). Findings are merged by
// Finding::dedup_key(), keeping the lowest execution index, and ordered by
// (first execution, order within it), so the result does not depend on W
// (counts excepted for lock-order reversals, which each witness reports once:
// see FoundFinding::count and run_to_json).
//
// Designs that run syscalls under Giant (kevent_giant or all_giant) share one
// process-wide Giant mutex whose per-execution state lives in the lock object
// itself (locks/mutex.cc), so two workers cannot run them at once: for those
// designs the workers' shares run one after another on the calling thread
// (RunResult::workers_serialized); the result is the same.
//
// The verdict of a run is the set of finding kinds seen. It matches an
// expectation when: expected clean and nothing found; expected kind K and K
// found (other kinds alongside are allowed; reports show them).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/explore.h"
#include "knote/design.h"
#include "model/sim/path.h"
#include "model/sim/scheduler.h"
#include "scenarios/scenario.h"

namespace kqsim::fuzz {

// Exploration strategies. Only kRandom is implemented here; the others are
// accepted names whose implementation is still to come.
enum class StrategyKind : uint8_t { kRandom, kPct, kExhaustive };
std::optional<StrategyKind> strategy_from_name(std::string_view name);
const char* strategy_name(StrategyKind s);
bool strategy_implemented(StrategyKind s);
std::string strategy_names();  // "random, pct, exhaustive"

struct RunOptions {
  StrategyKind strategy = StrategyKind::kRandom;
  uint64_t seed = 1;
  uint64_t executions = 1000;
  unsigned workers = 1;
  // max_steps, race_detection, stack_size are used; the runner sets trace off
  // and stop_on_finding on.
  sim::SchedulerOptions sched;
  // Called now and then (at most every ~100 ms, and once at the end) with
  // executions done so far; from worker threads, serialised by the runner.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Replay each distinct finding alone once, to print a replay command that
  // reproduces it (see ReplayMode).
  bool verify_replays = true;
};

// How a finding of a run replays alone (RunOptions::verify_replays).
enum class ReplayMode : uint8_t {
  kAlone,      // `kqsim replay --seed` reproduces it
  kNoWitness,  // only with the witness's order checks off: the run's witness had
               // reported a reversal in an earlier execution and stayed quiet
               // afterwards, where a fresh witness reports it first
  kNotAlone,   // not alone at all: it depends on what earlier executions left
               // behind (after a corruption, kq_head can keep a pointer to a
               // scan's on-stack marker knote, and what it reads there depends
               // on what ran on that fiber stack since: earlier executions,
               // tracing); rerun the exploration up to its execution instead
  kUnchecked,  // verify_replays was off
};

struct RunResult {
  uint64_t executions = 0;
  uint64_t total_steps = 0;
  double seconds = 0;
  bool workers_serialized = false;
  std::vector<FoundFinding> findings;  // by first execution, then order within it
  std::vector<ReplayMode> replay;      // per finding

  // The verdict: kinds seen, in FindingKind order, without repeats.
  std::vector<sim::FindingKind> kinds() const;
  const FoundFinding* first(sim::FindingKind k) const;
};

// Throws std::invalid_argument when the strategy is not implemented or the
// options are unusable (workers == 0).
RunResult run_scenario(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts);

// ---- one execution ----

struct ReplayResult {
  sim::Execution execution;               // with its trace when tracing
  std::vector<std::string> thread_names;  // by Tid
  bool diverged = false;                  // path replay: the path did not fit
  long diverged_at = -1;                  // choice index where it stopped fitting
};

// Execution `execution_seed` of the random strategy, alone, with a fresh
// Witness (order checks off when !witness).
ReplayResult replay_seed(const scenarios::Scenario& sc, const kern::kq_design& design,
                         uint64_t execution_seed, sim::SchedulerOptions sched, bool witness = true);
// The execution that follows `path` (model/sim/path.h), with a fresh Witness.
ReplayResult replay_path(const scenarios::Scenario& sc, const kern::kq_design& design, const sim::Path& path,
                         sim::SchedulerOptions sched, bool witness = true);

// Parses a non-negative integer: decimal, or hexadecimal with 0x (seeds);
// nullopt for anything else (sign, junk, overflow).
std::optional<uint64_t> parse_u64(std::string_view text);

// What `kqsim replay` / `kqsim explain` are asked to run.
struct ReplaySpec {
  std::string scenario;
  std::string design;            // empty: the path file's, else "fine"
  std::optional<uint64_t> seed;  // an execution seed ...
  std::string path_file;         // ... or a path file (exactly one of them)
  sim::SchedulerOptions sched;   // trace, race_detection, max_steps
  bool witness = true;           // false: lock-order checks off (--no-witness)
};

struct ReplayRun {
  const scenarios::Scenario* scenario = nullptr;
  const kern::kq_design* design = nullptr;
  std::string how;  // "execution seed 123" / "path file F (N choices)"
  ReplayResult result;
};

// Resolves the names, reads the path file, runs the one execution. Throws
// std::invalid_argument with a one-line message for every usage error (unknown
// scenario or design, neither or both of seed and path, unreadable or
// malformed path file, a path file recorded for another scenario or design).
ReplayRun replay(const ReplaySpec& spec);

// The findings of one execution, each with its whole message, the step and
// the threads involved, e.g.
//   data-race: data race: write by thread 2 "cpu1" at ...
//     ...
//     at step 345; threads cpu1, cpu0
std::string execution_findings_text(const ReplayResult& r);

bool verdict_matches(const scenarios::Expected& e, const std::vector<sim::FindingKind>& kinds);
// "clean" or "data-race, list-corruption".
std::string verdict_text(const std::vector<sim::FindingKind>& kinds);

// ---- reports ----

// What produced a run, for reports and replay commands.
struct RunInfo {
  std::string scenario;
  std::string design;
  RunOptions opts;
};

// "kqsim replay kern-57945 --design none --seed 123" (+ --no-race, --max-steps
// when the run used non-default values, and --no-witness for kNoWitness, so
// that the replay is the same execution).
std::string replay_command(const RunInfo& info, uint64_t execution_seed, ReplayMode mode = ReplayMode::kAlone,
                           const char* verb = "replay");
// For kNotAlone: "kqsim run kern-57945 --design none --seed 1 --schedules 21 --workers 1"
// (the exploration up to and including that execution).
std::string rerun_command(const RunInfo& info, uint64_t execution);

// The findings of a run as text, one block per distinct finding:
//   [1] data-race: data race: write by thread 2 "cpu1" at ...
//       <further lines of the message>
//       first at execution 17 (execution seed 123...), seen in 40 of 500 executions
//       replay: kqsim replay kern-57945 --design none --seed 123...
// Deterministic (no timings): identical for any number of workers.
// `paths` (optional) are the path files written for each finding.
std::string findings_text(const RunInfo& info, const RunResult& r,
                          const std::vector<std::string>& paths = {});

// The run as a JSON document, schema "kqsim-run" version 1 (docs/scenarios.md):
//   {"format": "kqsim-run", "version": 1, "scenario", "design", "strategy",
//    "seed", "schedules", "workers", "max_steps", "race_detection",
//    "executions", "total_steps", "seconds", "expected", "verdict": [kinds],
//    "matches_expected", "findings": [{"kind", "headline", "message",
//    "threads", "sites", "step", "first_execution", "execution_seed",
//    "count" (absent for lock-order-reversal), "choices", "replay" (the
//    command that reproduces it), "replay_mode" ("alone", "no-witness",
//    "not-alone", "unchecked": see ReplayMode),
//    "path_file" (when written)}]}
nlohmann::ordered_json run_to_json(const RunInfo& info, const RunResult& r,
                                   const scenarios::Expected* expected,
                                   const std::vector<std::string>& paths = {});

// Writes one path file (model/sim/path.h format) per finding into `dir`
// (created if needed): "<dir>/<scenario>.<design>.<n>.path.json"; returns the
// file names in finding order. Throws std::runtime_error on I/O errors.
std::vector<std::string> save_paths(const RunInfo& info, const RunResult& r, const std::string& dir);

}  // namespace kqsim::fuzz
