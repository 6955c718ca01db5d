#include "model/sim/strategy.h"

namespace kqsim::sim {

Tid ReplayStrategy::choose(const Tid* runnable, unsigned n, Tid current) {
  if (pos_ < path_.size()) {
    Tid want = path_[pos_++];
    for (unsigned i = 0; i < n; ++i)
      if (runnable[i] == want) return want;
    if (diverged_at_ < 0) diverged_at_ = static_cast<long>(pos_ - 1);
  } else if (diverged_at_ < 0) {
    // Past the end of the recorded path: keep the current thread running if it can
    // (no new preemption), else the lowest runnable thread.
    ++pos_;
  }
  for (unsigned i = 0; i < n; ++i)
    if (runnable[i] == current) return current;
  return runnable[0];
}

}  // namespace kqsim::sim
