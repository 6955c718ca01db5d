// run.h - running scenarios: exploration over many schedules (optionally on
// several OS threads), single-execution replay, verdicts and reports.
//
// Contract
// --------
// run_scenario() explores `executions` schedules of a scenario under a design
// with one of three strategies (docs/explorers.md):
//   random      execution i runs with RandomStrategy(execution_seed(seed, i)),
//               exactly as fuzz::explore does, so any execution replays alone
//               from its execution seed (replay_seed).
//   pct         execution i runs with a fresh PctStrategy(execution_seed(seed,
//               i), depth, k) where k, the number of choice points, is
//               measured once before the run (RunResult::pct_k: the choices of
//               the non-preemptive schedule, at least 1) unless given; any
//               execution replays alone from (depth, k, execution seed)
//               (replay_pct).
//   exhaustive  a BoundedStrategy depth-first search over every schedule with
//               at most `preemptions` preemptions, capped at `executions`
//               executions; always on the calling thread (workers > 1 are
//               accepted and reported as serialized); RunResult::exhausted
//               says whether the space was covered. Findings replay from
//               their choices (replay_path).
// With a shard i/n (random and pct only), the run makes only the executions
// whose index k < executions has k % n == i; shards of one run together make
// exactly the executions of the unsharded run. With
// `workers` W > 1, W OS threads share the work: execution i goes to worker
// i % W; each worker has its own Scheduler and its own Witness (the witness
// graph persists across that worker's executions). Findings are merged by
// Finding::dedup_key(), keeping the lowest execution index, and ordered by
// (first execution, order within it), so the result does not depend on W
// (counts excepted for lock-order reversals, which each witness reports once:
// see FoundFinding::count and run_to_json). At the end the workers' witness
// graphs are merged (WitnessGraph::merge, worker order) into
// RunResult::witness; a reversal that only the merged graph shows (one half
// seen by one worker, the other by another) becomes a finding with
// FoundFinding::graph_only set, after all the others.
//
// With `shrink`, each distinct finding that replays alone is shrunk
// (fuzz/shrink.h, at most `shrink_runs` executions each) into
// RunResult::shrunk.
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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/explore.h"
#include "knote/design.h"
#include "locks/witness_graph.h"
#include "model/sim/path.h"
#include "model/sim/scheduler.h"
#include "scenarios/scenario.h"

namespace kqsim::fuzz {

// Exploration strategies (all implemented; strategy_implemented stays for
// callers that check).
enum class StrategyKind : uint8_t { kRandom, kPct, kExhaustive };
std::optional<StrategyKind> strategy_from_name(std::string_view name);
const char* strategy_name(StrategyKind s);
bool strategy_implemented(StrategyKind s);
std::string strategy_names();  // "random, pct, exhaustive"

// A deterministic slice of a run's execution indices: index % count == index.
struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;
  bool whole() const { return count == 1; }
  std::string str() const;  // "0/1"
};
// Parses "i/n" with n >= 1 and i < n; nullopt otherwise.
std::optional<Shard> parse_shard(std::string_view text);

// Progress of a run so far (RunOptions::progress).
struct Progress {
  uint64_t done = 0;      // executions finished
  uint64_t total = 0;     // executions this run will make (at most, for exhaustive)
  uint64_t findings = 0;  // distinct findings so far
  double seconds = 0;     // since the run started
};

// --access-points (run, replay, explain, shrink): sim::SchedulerOptions::access_points.
inline constexpr const char* kAccessPointsHelp =
    "Make every plain load and store a scheduling point too (always so with --no-race); slower, and with the "
    "race detector on it finds nothing more (docs/performance.md)";

struct RunOptions {
  StrategyKind strategy = StrategyKind::kRandom;
  uint64_t seed = 1;
  uint64_t executions = 1000;
  unsigned workers = 1;
  // max_steps, race_detection, access_points, stack_size are used; the runner
  // sets trace off and stop_on_finding on.
  sim::SchedulerOptions sched;
  // Called now and then (at most every ~100 ms, and once at the end) with
  // executions done so far; from worker threads, serialised by the runner.
  std::function<void(const Progress&)> progress;
  unsigned pct_depth = 3;   // pct: the bug depth d (>= 1)
  uint64_t pct_k = 0;       // pct: choice points k; 0 = measure before the run
  unsigned preemptions = 2; // exhaustive: the preemption bound
  Shard shard;              // random, pct: which executions this run makes
  bool shrink = false;      // shrink each distinct finding (RunResult::shrunk)
  size_t shrink_runs = 1000; // at most this many executions per shrink
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
  kGraphOnly,  // a reversal only the merged witness graph shows: no single
               // execution makes it (FoundFinding::graph_only)
};

// A finding's shrunk schedule (RunOptions::shrink).
struct Shrunk {
  bool done = false;  // false: not shrunk (does not replay alone, or shrink off)
  sim::Path path;     // choices of the shrunk schedule
  size_t preemptions = 0;
  size_t original_preemptions = 0;
  size_t original_choices = 0;
  size_t runs = 0;
};

struct RunResult {
  uint64_t executions = 0;
  uint64_t total_steps = 0;
  double seconds = 0;
  bool workers_serialized = false;
  std::vector<FoundFinding> findings;  // by first execution, then order within it
  std::vector<ReplayMode> replay;      // per finding
  std::vector<Shrunk> shrunk;          // per finding (empty entries without shrink)
  uint64_t pct_k = 0;                  // pct: the k used
  bool exhausted = false;              // exhaustive: the whole bounded space was run
  bool search_diverged = false;        // exhaustive: a replayed prefix did not fit
  // The run's lock-order graph: the workers' graphs merged.
  std::shared_ptr<const locks::WitnessGraph> witness;

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
// Execution `execution_seed` of the pct strategy with depth d and k choice
// points, alone, with a fresh Witness.
ReplayResult replay_pct(const scenarios::Scenario& sc, const kern::kq_design& design, uint64_t execution_seed,
                        unsigned depth, uint64_t k, sim::SchedulerOptions sched, bool witness = true);
// The number of choice points of the non-preemptive schedule (at least 1):
// the k that pct uses when none is given.
uint64_t measure_choice_points(const scenarios::Scenario& sc, const kern::kq_design& design,
                               sim::SchedulerOptions sched);
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
  std::string path_file;         // ... or a path file ...
  std::optional<sim::Path> choices;  // ... or choices (exactly one of the three)
  // With a seed: the strategy that ran it (random, or pct with depth and k).
  StrategyKind strategy = StrategyKind::kRandom;
  unsigned pct_depth = 3;
  uint64_t pct_k = 0;
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
// scenario or design, not exactly one of seed, path and choices, unreadable or
// malformed path file, a path file recorded for another scenario or design,
// pct without k, exhaustive with a seed).
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
// The command that reproduces finding i of r, whatever the strategy: replay
// --seed for random, replay --strategy pct --depth D --pct-k K --seed for
// pct, replay --choices for exhaustive, rerun_command for kNotAlone; empty for
// kGraphOnly.
std::string finding_replay_command(const RunInfo& info, const RunResult& r, size_t i, const char* verb = "replay");
// Choices in the run-length form that `--choices` also takes: "T:N" runs,
// comma-separated (thread T, a hex digit, chosen N times in a row; ":N" left
// out when N is 1), e.g. "0:3,1:36,2,0:2"; "-" for no choices.
std::string compact_choices(const sim::Path& p);
// Parses the compact form or plain hex digits (path files' "choices");
// nullopt when malformed.
std::optional<sim::Path> parse_choices(std::string_view text);

// "kqsim explain SC --design D --choices 0:3,1:36" for a shrunk schedule (plus
// --no-race / --max-steps / --no-witness as the run used).
std::string choices_command(const RunInfo& info, const sim::Path& choices, ReplayMode mode,
                            const char* verb = "explain");

// Shrinks finding `f` of a run (its recorded choices) with a fresh witness per
// execution (lock-order checks off for kNoWitness).
Shrunk shrink_finding(const scenarios::Scenario& sc, const kern::kq_design& design, const FoundFinding& f,
                      sim::SchedulerOptions sched, bool witness, size_t max_runs);

// The summary line of a run: "kern-57945 under none: 500 executions in 0.12 s
// (4100/s), pct strategy (depth 3, k 412), seed 1, 2 workers". With
// `reproducible`, the parts that depend on the machine or the worker count
// (time, rate, workers) are left out. Then, for exhaustive, the completion
// report ("exhausted the space of schedules with <= 2 preemptions in 1234
// executions" / "stopped after 1000 executions, space not exhausted").
std::string summary_text(const RunInfo& info, const RunResult& r, bool reproducible);

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
// Further fields (still version 1; readers ignore what they do not know):
// "shard": "i/n", "pct_depth" and "pct_k" (pct), "preemptions", "exhausted"
// (exhaustive), "witness" (the kqsim-witness graph, classes and edges sorted by
// name so that it does not depend on the worker count), and per finding
// "key" (Finding::dedup_key), "graph_only", "shrunk" ({"preemptions",
// "original_preemptions", "choices", "explain"}). With `reproducible`,
// "seconds" and "workers" are left out.
nlohmann::ordered_json run_to_json(const RunInfo& info, const RunResult& r,
                                   const scenarios::Expected* expected,
                                   const std::vector<std::string>& paths = {}, bool reproducible = false);

// The witness graph as kqsim-witness JSON with classes and edges sorted by
// name (the "witness" field of kqsim-run).
nlohmann::ordered_json witness_to_json(const locks::WitnessGraph& g);
// A reversal found by merging witness graphs, as a graph-only finding (kind
// lock-order-reversal, WITNESS's message, sites as the witness gives them).
FoundFinding reversal_finding(const locks::Reversal& rev);
// Whether one of `graphs` has already reported a reversal between the two
// classes of `rev` (in either orientation): then a merge's reversal is the
// same bug seen from the other side, not a new finding.
bool reversal_reported_in(const std::vector<const locks::WitnessGraph*>& graphs, const locks::Reversal& rev);

// The lines of `message` after the first, each prefixed by `pad` (a
// finding's detail lines under its headline, in run and merge reports).
std::string indent_rest(const std::string& message, const char* pad);

// Writes one path file per shrunk finding into `dir`:
// "<dir>/<scenario>.<design>.<n>.shrunk.path.json" ("" for findings not shrunk).
std::vector<std::string> save_shrunk_paths(const RunInfo& info, const RunResult& r, const std::string& dir);

// Writes one path file (model/sim/path.h format) per finding into `dir`
// (created if needed): "<dir>/<scenario>.<design>.<n>.path.json"; returns the
// file names in finding order. Throws std::runtime_error on I/O errors.
std::vector<std::string> save_paths(const RunInfo& info, const RunResult& r, const std::string& dir);

}  // namespace kqsim::fuzz
