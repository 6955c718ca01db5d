// Helpers for tests of the kernel model: run a program in a World under a
// design, in one execution or many.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "fuzz/explore.h"
#include "knote/design.h"
#include "knote/knote.h"
#include "locks/witness.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"

namespace kqsim::kern::testing {

// Every registered design, the measurement design "poll" included: the
// semantic tests check that it delivers the same events (docs/delivery.md).
inline const char* const kAllDesigns[] = {"none", "giant", "global", "fine", "poll"};

// Runs `body(World&)` as simulated thread 0 of one execution, with a fresh
// World of design `design`; returns the execution's findings as text ("" when
// none).
// Lock-order reversals are reported like any finding; semantic tests that
// are not about locking pass ignore_lor = true for the "global" design, whose
// known reversal (kqueue() vs close(), scenario feldman-lor) every program
// that creates a kqueue and closes a descriptor hits.
template <class F>
std::string run_in_world(const char* design, F&& body, uint64_t seed = 1, bool ignore_lor = false) {
  const kq_design* d = find_design(design);
  if (d == nullptr) return std::string("no design ") + design;
  sim::SchedulerOptions so;
  so.stop_on_finding = !ignore_lor;
  sim::Scheduler s(so);
  sim::RandomStrategy st(seed);
  locks::Witness w;
  locks::WitnessScope ws(&w);
  const sim::Execution& e = s.run(st, [&] {
    World world(*d);
    body(world);
  });
  std::string out;
  for (const auto& f : e.findings)
    if (!(ignore_lor && f.kind == sim::FindingKind::kLockOrderReversal)) out += f.message + "\n";
  return out;
}

// Semantics under a design: run_in_world, ignoring the reversal that the
// "global" design is known for (see above).
template <class F>
std::string run_semantics(const char* design, F&& body) {
  return run_in_world(design, std::forward<F>(body), 1, std::string_view(design) == "global");
}

// Runs `body(World&)` under `executions` random schedules; returns the
// deduplicated findings as text ("" when none).
template <class F>
std::string explore_in_world(const char* design, uint64_t executions, F&& body, uint64_t seed = 1,
                             bool race_detection = true) {
  const kq_design* d = find_design(design);
  if (d == nullptr) return std::string("no design ") + design;
  fuzz::ExploreOptions o;
  o.seed = seed;
  o.executions = executions;
  o.sched.race_detection = race_detection;
  auto r = fuzz::explore(o, [&] {
    World world(*d);
    body(world);
  });
  std::string out;
  for (const auto& f : r.findings)
    out += "[execution " + std::to_string(f.execution) + "] " + f.finding.message + "\n";
  return out;
}

inline struct kevent make_kev(uintptr_t ident, short filter, unsigned short flags, unsigned fflags = 0,
                              int64_t data = 0, void* udata = nullptr) {
  struct kevent k;
  EV_SET(&k, ident, filter, flags, fflags, data, udata);
  return k;
}

inline const struct timespec kZeroTs = {0, 0};

}  // namespace kqsim::kern::testing
