// bounded.h - exhaustive search of all schedules with at most `bound`
// preemptions (iterative context bounding, as CHESS does), as a Strategy that
// drives a depth-first search across executions.
//
// Contract: call begin_execution (the Scheduler does) and run the program
// repeatedly while has_next() is true; each execution follows a new schedule.
// A choice point where the running thread could continue and another thread is
// chosen is a preemption; a choice made because the running thread blocked or
// exited is free. Unexplored alternatives are taken deepest first; a path
// whose preemptions would exceed the bound is not taken. When has_next()
// turns false the space of schedules within the bound has been exhausted
// (exhausted() == true), unless the search was cut by `max_executions`.
// The program must be deterministic given the schedule (the model is).
#pragma once

#include <cstdint>
#include <vector>

#include "model/sim/strategy.h"

namespace kqsim::fuzz {

class BoundedStrategy final : public sim::Strategy {
 public:
  explicit BoundedStrategy(unsigned preemption_bound) : bound_(preemption_bound) {}
  void begin_execution() override;
  sim::Tid choose(const sim::Tid* runnable, unsigned n, sim::Tid current) override;
  // After an execution: moves to the next schedule; false when none is left.
  bool advance();
  bool exhausted() const { return exhausted_; }
  uint64_t executions() const { return executions_; }
  // An execution diverged from its recorded prefix (the program is not
  // deterministic given the schedule): the search results are unreliable.
  bool diverged() const { return diverged_; }

 private:
  struct Frame {
    sim::Tid runnable[sim::kMaxThreads];
    unsigned n = 0;
    sim::Tid current = sim::kNoThread;
    unsigned chosen = 0;       // index into runnable
    unsigned preemptions = 0;  // before this frame
    uint32_t tried = 0;        // bit i: runnable[i] already explored here
  };
  bool is_preemption(const Frame& f, unsigned idx) const {
    return f.current != sim::kNoThread && f.runnable[idx] != f.current;
  }
  unsigned bound_;
  std::vector<Frame> stack_;
  size_t depth_ = 0;
  uint64_t executions_ = 0;
  bool exhausted_ = false;
  bool diverged_ = false;
};

}  // namespace kqsim::fuzz
