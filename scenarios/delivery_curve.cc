#include "scenarios/delivery_curve.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::scenarios {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

constexpr int kMaxEvents = 64;
constexpr int kChangeBatch = 256;

}  // namespace

DeliveryResult measure_delivery(const kern::kq_design& design, const DeliveryOptions& o) {
  if (o.active < 1 || o.active > kMaxEvents)
    throw std::invalid_argument(fmt::format("active pipes must be 1 to {}", kMaxEvents));
  if (o.pipes < o.active) throw std::invalid_argument("fewer pipes than active pipes");
  if (o.calls < 1 || o.batches < 1) throw std::invalid_argument("calls and batches must be at least 1");

  sim::SchedulerOptions so;
  so.race_detection = false;
  so.max_steps = ~uint64_t{0} / 2;
  sim::Scheduler sched(so);
  sim::RandomStrategy strategy(1);
  DeliveryResult r;
  std::vector<double> steps;
  std::vector<double> batch_ns;

  const sim::Execution& e = sched.run(strategy, [&] {
    using namespace kern;
    World world(design);
    sim::Scheduler& s = *sim::Scheduler::current();
    const uint64_t setup0 = s.steps();
    const int kq = sys_kqueue();
    if (kq < 0) {
      r.error = fmt::format("kqueue() failed: errno {}", sys_errno());
      return;
    }
    std::vector<int> rfd(static_cast<size_t>(o.pipes)), wfd(static_cast<size_t>(o.pipes));
    std::vector<struct kevent> changes;
    for (int i = 0; i < o.pipes; ++i) {
      int p[2];
      if (sys_pipe(p) != 0) {
        r.error = fmt::format("pipe() number {} failed: errno {}", i + 1, sys_errno());
        return;
      }
      rfd[i] = p[0];
      wfd[i] = p[1];
      struct kevent k;
      EV_SET(&k, p[0], EVFILT_READ, EV_ADD, 0, 0, reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
      changes.push_back(k);
      if (changes.size() == kChangeBatch || i + 1 == o.pipes) {
        if (sys_kevent(kq, changes.data(), static_cast<int>(changes.size()), nullptr, 0, nullptr) != 0) {
          r.error = fmt::format("registering pipe {} failed: errno {}", i + 1, sys_errno());
          return;
        }
        changes.clear();
      }
    }
    r.setup_steps = s.steps() - setup0;

    const struct timespec zero = {0, 0};
    struct kevent ev[kMaxEvents];
    const int stride = o.pipes / o.active;
    int call = 0;
    for (int b = 0; b < o.batches; ++b) {
      std::vector<double> ns;
      for (int c = 0; c < o.calls; ++c, ++call) {
        // o.active distinct pipes, `stride` apart, starting somewhere new.
        std::vector<int> chosen;
        const int base = static_cast<int>((static_cast<uint64_t>(call) * 7919u) % static_cast<uint64_t>(o.pipes));
        for (int j = 0; j < o.active; ++j) chosen.push_back((base + j * stride) % o.pipes);
        for (int i : chosen)
          if (sys_write(wfd[i], "x", 1) != 1) {
            r.error = fmt::format("write to pipe {} failed: errno {}", i, sys_errno());
            return;
          }
        const uint64_t s0 = s.steps();
        const auto t0 = std::chrono::steady_clock::now();
        const int n = sys_kevent(kq, nullptr, 0, ev, kMaxEvents, &zero);
        const auto t1 = std::chrono::steady_clock::now();
        const uint64_t s1 = s.steps();
        steps.push_back(static_cast<double>(s1 - s0));
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
        std::vector<int> got;
        for (int k = 0; k < std::max(n, 0); ++k) got.push_back(static_cast<int>(reinterpret_cast<uintptr_t>(ev[k].udata)));
        std::sort(got.begin(), got.end());
        std::sort(chosen.begin(), chosen.end());
        if (got != chosen && r.error.empty())
          r.error = fmt::format("call {}: kevent() returned {} events ({}), expected pipes {}", call, n,
                                fmt::join(got, " "), fmt::join(chosen, " "));
        char buf[8];
        for (int i : chosen)
          if (sys_read(rfd[i], buf, sizeof buf) != 1) {
            r.error = fmt::format("read from pipe {} failed: errno {}", i, sys_errno());
            return;
          }
      }
      batch_ns.push_back(median(ns));
    }
  });
  if (!e.findings.empty() && r.error.empty()) r.error = "the model made a finding: " + e.findings.front().message;
  if (!steps.empty()) {
    r.steps_per_call = median(steps);
    r.steps_min = static_cast<uint64_t>(*std::min_element(steps.begin(), steps.end()));
    r.steps_max = static_cast<uint64_t>(*std::max_element(steps.begin(), steps.end()));
  }
  r.ns_per_call = median(batch_ns);
  return r;
}

}  // namespace kqsim::scenarios
