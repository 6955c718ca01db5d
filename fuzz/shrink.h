// shrink.h - make a failing schedule shorter and simpler.
//
// Contract: given a program (run by `run`, which executes it once under the
// strategy it is given and returns the execution) and a failing path whose
// execution makes a finding with key `key` (Finding::dedup_key), shrink()
// returns a path that still makes that finding, with no more preemptions than
// the original (fewer preemptions first; among paths with as many, a shorter
// one; a path with fewer preemptions may be longer). First, within half of
// `max_runs`, it looks for another schedule that makes the same finding with
// fewer preemptions (every schedule without a preemption, then with one, then
// PCT executions of depth 2 and 3) and continues from the best. Then it
// minimises, by
// delta debugging (ddmin), the set of choices where the path departs from the
// non-preemptive default (keep the running thread, else the lowest runnable
// one); then it tries, greedily until nothing helps:
// cutting the path just after the finding's step; removing each preemption
// (choosing the thread that was running instead); cutting the tail after each
// choice. A path's preemptions are counted by replaying it. Replays past the
// end of a path continue without preemptions (ReplayStrategy), so a prefix is
// a complete schedule.
#pragma once

#include <functional>
#include <string>

#include "model/sim/path.h"
#include "model/sim/scheduler.h"

namespace kqsim::fuzz {

using RunOnce = std::function<const sim::Execution&(sim::Strategy&)>;

struct ShrinkResult {
  sim::Path path;
  size_t preemptions = 0;
  size_t original_preemptions = 0;
  size_t runs = 0;  // executions tried
};

// Preemptions of `path` for this program: choices that switch away from a
// thread that could have continued.
size_t count_preemptions(const RunOnce& run, const sim::Path& path);

ShrinkResult shrink(const RunOnce& run, const sim::Path& failing, const std::string& key, size_t max_runs = 2000);

}  // namespace kqsim::fuzz
