#include "fuzz/pct.h"

#include <algorithm>

namespace kqsim::fuzz {

PctStrategy::PctStrategy(uint64_t seed, unsigned depth, uint64_t k_hint, bool learn_k)
    : rng_(seed), depth_(depth == 0 ? 1 : depth), k_(k_hint == 0 ? 1 : k_hint), learn_k_(learn_k) {}

void PctStrategy::begin_execution() {
  if (learn_k_ && step_ > k_) k_ = step_;  // learn k from the previous execution
  step_ = 0;
  next_change_ = 0;
  change_points_.clear();
  for (unsigned i = 0; i + 1 < depth_; ++i) change_points_.push_back(1 + rng_.next() % k_);
  std::sort(change_points_.begin(), change_points_.end());
  std::fill(std::begin(prio_), std::end(prio_), 0);
}

void PctStrategy::on_spawn(sim::Tid t) {
  // Initial priorities are all above depth_: d + a random 32-bit offset.
  prio_[t] = depth_ + 1 + (rng_.next() >> 32);
}

sim::Tid PctStrategy::choose(const sim::Tid* runnable, unsigned n, sim::Tid current) {
  ++step_;
  while (next_change_ < change_points_.size() && change_points_[next_change_] <= step_) {
    // Change point i: the thread that was running drops below everyone.
    if (current != sim::kNoThread) prio_[current] = depth_ - 1 - std::min<size_t>(next_change_, depth_ - 1);
    ++next_change_;
  }
  sim::Tid best = runnable[0];
  for (unsigned i = 1; i < n; ++i)
    if (prio_[runnable[i]] > prio_[best]) best = runnable[i];
  return best;
}

}  // namespace kqsim::fuzz
