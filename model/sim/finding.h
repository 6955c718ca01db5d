// finding.h - the one verdict type shared by every checker.
//
// Contract: a Finding is what a checker reports about one execution: its kind,
// a kernel-style message (several lines allowed), the simulated threads
// involved, the source sites involved, the scheduling step at which it was
// made, and the path prefix (choices up to that step) that reproduces it.
// Findings own all their strings so they outlive the execution and can be
// written to and read from JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/sim/srcloc.h"
#include "model/sim/vector_clock.h"

namespace kqsim::sim {

enum class FindingKind : uint8_t {
  kDataRace,           // two accesses, at least one a write, not ordered by happens-before
  kDeadlock,           // no runnable thread and no timer: the wait-for graph
  kStackOverflow,      // a simulated thread ran into its stack's guard page
  kMemoryFault,        // a simulated thread faulted elsewhere (usually after corruption)
  kStepBound,          // the execution exceeded its scheduling-step bound (livelock?)
  kListCorruption,     // a list invariant checker found an inconsistent list
  kUseAfterFree,       // access to freed instrumented memory
  kLockOrderReversal,  // the witness found a cycle in the lock order
  kLockMisuse,         // recursion, foreign unlock, sleeping with a spin lock, held at exit
  kAssertion,          // KASSERT / uncaught exception in a simulated thread
  kLostEvent,          // an oracle expected an event that never came
  kDuplicateEvent,     // an oracle saw an event delivered more often than allowed
  kOracle,             // any other failed final check
  kLimit,              // a checker resource limit (simulated threads) was hit
  kMemoryLimit,        // the model allocated more than SchedulerOptions::max_memory in one execution
};

inline constexpr int kNumFindingKinds = 15;

// Stable lower-case names used in reports, JSON and expected verdicts:
// "data-race", "deadlock", "stack-overflow", ...
std::string_view kind_name(FindingKind k);
std::optional<FindingKind> kind_from_name(std::string_view name);

struct Site {
  std::string file;
  uint32_t line = 0;
  std::string str() const;
  static Site from(SrcLoc loc);
  friend bool operator==(const Site&, const Site&) = default;
};

struct Finding {
  FindingKind kind = FindingKind::kOracle;
  std::string message;
  std::vector<Tid> threads;
  std::vector<Site> sites;
  uint64_t step = 0;
  bool fatal = false;               // ended the execution
  std::vector<uint8_t> path;        // choices up to `step` (see path.h)

  // One-line summary: "<kind>: <first line of message>".
  std::string headline() const;
  // A key that identifies "the same finding" across executions: kind + sites.
  std::string dedup_key() const;
};

}  // namespace kqsim::sim
