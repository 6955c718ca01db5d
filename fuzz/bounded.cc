#include "fuzz/bounded.h"

#include <algorithm>

namespace kqsim::fuzz {

void BoundedStrategy::begin_execution() {
  depth_ = 0;
  ++executions_;
}

sim::Tid BoundedStrategy::choose(const sim::Tid* runnable, unsigned n, sim::Tid current) {
  if (depth_ < stack_.size()) {
    // Replaying the prefix chosen by advance().
    Frame& f = stack_[depth_];
    bool same = f.n == n && f.current == current && std::equal(runnable, runnable + n, f.runnable);
    if (!same) diverged_ = true;
    ++depth_;
    return f.runnable[std::min(f.chosen, n - 1)];
  }
  // A new choice point: take the non-preemptive default (keep running the
  // current thread; else the lowest runnable one).
  Frame f;
  std::copy(runnable, runnable + n, f.runnable);
  f.n = n;
  f.current = current;
  f.chosen = 0;
  for (unsigned i = 0; i < n; ++i)
    if (runnable[i] == current) f.chosen = i;
  f.preemptions = stack_.empty() ? 0
                                 : stack_.back().preemptions +
                                       (is_preemption(stack_.back(), stack_.back().chosen) ? 1 : 0);
  f.tried = 1u << f.chosen;
  stack_.push_back(f);
  ++depth_;
  return runnable[f.chosen];
}

bool BoundedStrategy::advance() {
  // Drop frames the last execution did not reach (it ended earlier).
  stack_.resize(std::min(stack_.size(), depth_));
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    for (unsigned i = 0; i < f.n; ++i) {
      if (f.tried & (1u << i)) continue;
      unsigned cost = f.preemptions + (is_preemption(f, i) ? 1 : 0);
      f.tried |= 1u << i;
      if (cost > bound_) continue;
      f.chosen = i;
      return true;
    }
    stack_.pop_back();
  }
  exhausted_ = true;
  return false;
}

}  // namespace kqsim::fuzz
