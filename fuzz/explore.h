// explore.h - run a program under many schedules and collect what the
// checkers find.
//
// Contract: explore() runs `program` (the body of simulated thread 0, which
// spawns the others) `executions` times on one Scheduler. Execution i uses
// the random strategy seeded with execution_seed(seed, i), so any execution
// replays alone from its own seed. One Witness (lock-order graph, profile)
// lives across all executions, so a lock-order reversal whose two halves
// happen in different executions is still found. Findings are deduplicated by
// Finding::dedup_key(); each kept finding remembers the first execution that
// made it, its seed and its path. With stop_at_first_finding the exploration
// ends after the first execution that made a finding.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "locks/witness.h"
#include "model/sim/finding.h"
#include "model/sim/scheduler.h"

namespace kqsim::fuzz {

struct ExploreOptions {
  uint64_t seed = 1;
  uint64_t executions = 1000;
  bool stop_at_first_finding = false;
  sim::SchedulerOptions sched;
  locks::Witness* witness = nullptr;  // null: the explorer makes its own
};

struct FoundFinding {
  sim::Finding finding;
  uint64_t execution = 0;       // index of the first execution that made it
  uint64_t execution_seed = 0;  // replays that execution alone
  uint64_t count = 0;           // executions that made it
  // A lock-order reversal that no single execution made: found when merging
  // witness graphs (of workers, or of shards by `kqsim merge`).
  bool graph_only = false;
};

struct ExploreResult {
  uint64_t executions = 0;
  uint64_t total_steps = 0;
  std::vector<FoundFinding> findings;
  bool found(sim::FindingKind k) const;
  const FoundFinding* first(sim::FindingKind k) const;
};

ExploreResult explore(const ExploreOptions& opts, const std::function<void()>& program);

}  // namespace kqsim::fuzz
