#include "model/sim/chaos.h"

#include <chrono>
#include <thread>

namespace kqsim::sim::chaos {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Chaos::Chaos(const Knob& k, uint64_t thread_index) : knob_(k) {
  uint64_t s = k.seed ^ (thread_index * 0xd1b54a32d192ed03ULL);
  state_ = splitmix64(s);
  const double p = k.p < 0 ? 0 : k.p > 1 ? 1 : k.p;
  threshold_ = static_cast<uint64_t>(p * 4294967296.0);
}

uint64_t Chaos::next() { return splitmix64(state_); }

void Chaos::maybe_delay() {
  ++points_;
  const uint64_t r = next();
  if ((r >> 32) >= threshold_) return;
  ++delays_;
  const uint64_t pick = r & 0xffffffffULL;
  if ((pick & 1) == 0) {
    // Spin: keeps the CPU, so the other threads run on the other cores.
    const uint64_t ns = knob_.max_spin_ns == 0 ? 0 : (pick >> 1) % knob_.max_spin_ns;
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    while (std::chrono::steady_clock::now() < until) {
    }
  } else if ((pick & 2) == 0) {
    std::this_thread::yield();
  } else {
    const uint64_t ns = knob_.max_sleep_ns == 0 ? 0 : (pick >> 2) % knob_.max_sleep_ns;
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  }
}

ChaosScope::ChaosScope(const Knob& k, uint64_t thread_index)
    : chaos_(k, thread_index), prev_(detail::tls_chaos), active_(k.p > 0) {
  if (active_) detail::tls_chaos = &chaos_;
}

ChaosScope::~ChaosScope() {
  if (active_) detail::tls_chaos = prev_;
}

uint64_t ChaosScope::delays() const { return active_ ? chaos_.delays() : 0; }

}  // namespace kqsim::sim::chaos
