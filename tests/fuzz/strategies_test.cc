// PCT, bounded-preemption exhaustive search, and shrinking.
#include <gtest/gtest.h>

#include <set>

#include "fuzz/bounded.h"
#include "fuzz/pct.h"
#include "fuzz/shrink.h"
#include "model/sim/cell.h"
#include "model/sim/scheduler.h"

namespace kqsim::fuzz {
namespace {

using sim::Cell;
using sim::Scheduler;

// Two threads each do x = x + 1 (load, store) `rounds` times; final value
// recorded. With race detection off, a lost update is just a wrong value.
struct Counter {
  Cell<int> x;
  int final_value = 0;
  void run(int rounds) {
    x.raw_set(0);
    Scheduler& s = *Scheduler::current();
    auto body = [this, rounds] {
      for (int i = 0; i < rounds; ++i) x.store(x.load() + 1);
    };
    sim::Tid a = s.spawn(body, "cpu0");
    sim::Tid b = s.spawn(body, "cpu1");
    s.join(a);
    s.join(b);
    final_value = x.raw();
  }
};

TEST(Bounded, EnumeratesEveryScheduleWithinTheBoundAndReportsExhaustion) {
  sim::SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  for (unsigned bound : {0u, 1u, 2u, 10u}) {
    BoundedStrategy st(bound);
    Counter c;
    std::set<int> finals;
    std::set<std::string> paths;
    do {
      const sim::Execution& e = s.run(st, [&] { c.run(1); });
      finals.insert(c.final_value);
      paths.insert(sim::encode_choices(e.path));
    } while (st.advance());
    EXPECT_TRUE(st.exhausted());
    EXPECT_FALSE(st.diverged());
    EXPECT_EQ(paths.size(), st.executions()) << "each execution is a new schedule";
    if (bound == 0) {
      EXPECT_EQ(finals, (std::set<int>{2})) << "no preemption: no lost update";
    } else {
      EXPECT_EQ(finals, (std::set<int>{1, 2})) << "one preemption suffices to lose an update";
    }
  }
}

TEST(Bounded, MorePreemptionsMeanMoreSchedules) {
  sim::SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  uint64_t last = 0;
  for (unsigned bound = 0; bound <= 3; ++bound) {
    BoundedStrategy st(bound);
    Counter c;
    do s.run(st, [&] { c.run(2); });
    while (st.advance());
    EXPECT_GT(st.executions(), last);
    last = st.executions();
  }
}

TEST(Pct, FindsTheLostUpdateAndIsDeterministicPerSeed) {
  sim::SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  auto first_hit = [&](uint64_t seed) {
    PctStrategy st(seed, 2);
    Counter c;
    for (int i = 0; i < 500; ++i) {
      st.reseed(sim::execution_seed(seed, static_cast<uint64_t>(i)));
      s.run(st, [&] { c.run(3); });
      if (c.final_value != 6) return i;
    }
    return -1;
  };
  int a = first_hit(1);
  EXPECT_GE(a, 0);
  EXPECT_EQ(a, first_hit(1));
}

TEST(Shrink, ReducesPreemptionsAndKeepsTheFinding) {
  // A race whose finding is a data race: shrink the random path that found it.
  Scheduler s;
  Counter c;
  auto run = [&](sim::Strategy& st) -> const sim::Execution& { return s.run(st, [&] { c.run(3); }); };
  sim::Path failing;
  std::string key;
  for (uint64_t i = 0; i < 200 && key.empty(); ++i) {
    sim::RandomStrategy st(sim::execution_seed(9, i));
    const sim::Execution& e = run(st);
    if (!e.findings.empty()) {
      failing = e.path;
      key = e.findings[0].dedup_key();
    }
  }
  ASSERT_FALSE(key.empty());
  ShrinkResult r = shrink(run, failing, key);
  EXPECT_LE(r.preemptions, r.original_preemptions);
  EXPECT_LE(r.preemptions, 1u);
  if (r.preemptions == r.original_preemptions) {
    EXPECT_LE(r.path.size(), failing.size());
  }
  // The shrunk path still reproduces the finding.
  sim::ReplayStrategy rp(r.path);
  const sim::Execution& e = run(rp);
  ASSERT_FALSE(e.findings.empty());
  EXPECT_EQ(e.findings[0].dedup_key(), key);
}

}  // namespace
}  // namespace kqsim::fuzz
