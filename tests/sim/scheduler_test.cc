// Tests of the deterministic runtime: scheduling, replay, blocking, deadlock,
// stack overflow, virtual time and the happens-before race detector.
#include "model/sim/scheduler.h"

#include <pthread.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "model/sim/basic_mutex.h"
#include "model/sim/cell.h"
#include "model/sim/strategy.h"

namespace kqsim::sim {
namespace {

bool has_kind(const Execution& e, FindingKind k) {
  for (const Finding& f : e.findings)
    if (f.kind == k) return true;
  return false;
}

// Two threads, each doing counter = counter + 1 without a lock.
struct RacyIncrement {
  Cell<int> counter;
  void operator()(Scheduler& s, bool locked, BasicMutex* m) {
    auto body = [this, locked, m] {
      if (locked) m->lock();
      int v = counter.load();
      counter.store(v + 1);
      if (locked) m->unlock();
    };
    Tid a = s.spawn([&body] { body(); }, "cpu0");
    Tid b = s.spawn([&body] { body(); }, "cpu1");
    s.join(a);
    s.join(b);
  }
};

TEST(Scheduler, RunsRootAndChildrenToCompletion) {
  Scheduler s;
  RandomStrategy st(1);
  int ran = 0;
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([&] { ++ran; });
    Tid b = sc.spawn([&] { ++ran; });
    sc.join(a);
    sc.join(b);
    ++ran;
  });
  EXPECT_EQ(ran, 3);
  EXPECT_TRUE(e.findings.empty());
  EXPECT_EQ(e.threads, 3u);
  EXPECT_FALSE(e.aborted);
}

TEST(Scheduler, UnlockedIncrementIsRacyOnFirstConcurrentExecution) {
  Scheduler s;
  // Every execution in which both increments run is concurrent (no edge orders
  // them): the very first execution must report the race.
  RandomStrategy st(7);
  RacyIncrement prog;
  const Execution& e = s.run(st, [&] { prog(*Scheduler::current(), false, nullptr); });
  ASSERT_TRUE(has_kind(e, FindingKind::kDataRace)) << (e.findings.empty() ? "" : e.findings[0].message);
  const Finding& f = e.findings[0];
  EXPECT_EQ(f.threads.size(), 2u);
  EXPECT_NE(f.threads[0], f.threads[1]);
  ASSERT_EQ(f.sites.size(), 2u);
  EXPECT_NE(f.sites[0].file.find("tests/sim/scheduler_test.cc"), std::string::npos) << f.sites[0].str();
  EXPECT_NE(f.message.find("data race"), std::string::npos);
  EXPECT_NE(f.message.find("cpu0"), std::string::npos);
  EXPECT_NE(f.message.find("cpu1"), std::string::npos);
}

TEST(Scheduler, LockedIncrementIsClean) {
  Scheduler s;
  for (uint64_t i = 0; i < 2000; ++i) {
    RandomStrategy st(execution_seed(3, i));
    RacyIncrement prog;
    BasicMutex m("counter");
    const Execution& e = s.run(st, [&] { prog(*Scheduler::current(), true, &m); });
    ASSERT_TRUE(e.findings.empty()) << "execution " << i << ": " << e.findings[0].message;
    ASSERT_EQ(prog.counter.raw(), 2);
  }
}

TEST(Scheduler, LostUpdateHappensUnderSomeSchedule) {
  // With race detection off the unlocked increment really loses an update in
  // some interleaving: the model executes the interleaving, not an abstraction.
  SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  bool lost = false;
  for (uint64_t i = 0; i < 1000 && !lost; ++i) {
    RandomStrategy st(execution_seed(11, i));
    RacyIncrement prog;
    s.run(st, [&] { prog(*Scheduler::current(), false, nullptr); });
    lost = prog.counter.raw() == 1;
  }
  EXPECT_TRUE(lost);
}

// Two threads each store to their own cell ten times: no shared variable,
// only plain accesses between spawn and join.
size_t choices_of_private_stores(SchedulerOptions o) {
  Scheduler s(o);
  RandomStrategy st(5);
  Cell<int> mine[2];
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([&] { for (int i = 0; i < 10; ++i) mine[0].store(i); });
    Tid b = sc.spawn([&] { for (int i = 0; i < 10; ++i) mine[1].store(i); });
    sc.join(a);
    sc.join(b);
  });
  EXPECT_TRUE(e.findings.empty());
  EXPECT_GE(e.steps, 20u);  // every store is a step either way
  return e.path.size();
}

TEST(Scheduler, PlainAccessesArePointsOnlyWithoutRaceDetectionOrWhenAsked) {
  SchedulerOptions sync_only;
  SchedulerOptions asked;
  asked.access_points = true;
  SchedulerOptions no_race;
  no_race.race_detection = false;
  const size_t sync = choices_of_private_stores(sync_only);
  // Choices only at spawn, join and thread exit.
  EXPECT_LE(sync, 6u);
  // With the stores as points, the two threads' 20 stores are choices while
  // both run.
  EXPECT_GE(choices_of_private_stores(asked), sync + 10);
  EXPECT_GE(choices_of_private_stores(no_race), sync + 10);
}

TEST(Scheduler, ThreadSpinningOnAPlainVariableStillMeetsTheStepBound) {
  // Plain accesses are not points, so a thread spinning on a plain flag is
  // never preempted; the step bound must still end the execution (or the
  // setter runs first and the race detector reports the unordered flag).
  SchedulerOptions o;
  o.max_steps = 5000;
  Scheduler s(o);
  for (uint64_t i = 0; i < 20; ++i) {
    RandomStrategy st(execution_seed(17, i));
    Cell<int> flag;
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn([&] {
        while (flag.load() == 0) {
        }
      });
      Tid b = sc.spawn([&] { flag.store(1); });
      sc.join(a);
      sc.join(b);
    });
    ASSERT_FALSE(e.findings.empty()) << "execution " << i;
    EXPECT_TRUE(e.findings[0].kind == FindingKind::kStepBound || e.findings[0].kind == FindingKind::kDataRace)
        << e.findings[0].message;
  }
}

// Regression: a second write in the same epoch moved the shadow's "previous
// write" site on the inline path (no trace) but not on the traced path, so a
// race found by `kqsim run` named another site when replayed with tracing on
// (and its dedup key differed: "does not reproduce alone").
TEST(Scheduler, SameEpochWriteIsThePreviousWriteTracedOrNot) {
  static const SrcLoc second = SrcLoc::current();  // the site of cpu0's later write
  auto first_race = [](bool trace, uint64_t seed) {
    SchedulerOptions o;
    o.trace = trace;
    Scheduler s(o);
    RandomStrategy st(seed);
    Cell<int> x;
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn(
          [&] {
            x.store(1);
            x.store(2, second);  // the later write of the same epoch
          },
          "cpu0");
      Tid b = sc.spawn([&] { x.store(3); }, "cpu1");
      sc.join(a);
      sc.join(b);
    });
    return e.findings.empty() ? std::string() : e.findings[0].message;
  };
  int second_write_named = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const std::string plain = first_race(false, seed);
    ASSERT_FALSE(plain.empty()) << seed;
    EXPECT_EQ(plain, first_race(true, seed)) << seed;
    // cpu1 wrote last: the previous write is cpu0's second store.
    if (plain.rfind("data race: write by thread 2 \"cpu1\"", 0) == 0) {
      EXPECT_NE(plain.find("previous write by thread 1 \"cpu0\" at " + second.str()), std::string::npos) << plain;
      ++second_write_named;
    }
  }
  EXPECT_GT(second_write_named, 0);
}

TEST(Scheduler, SameSeedSameTraceAndReplayReproducesIt) {
  SchedulerOptions o;
  o.trace = true;
  o.stop_on_finding = false;
  Scheduler s(o);
  auto program = [] {
    static BasicMutex m("m");
    Scheduler& sc = *Scheduler::current();
    static Cell<int> x;
    x.raw_set(0);
    Tid a = sc.spawn([] {
      for (int i = 0; i < 3; ++i) {
        m.lock();
        x.store(x.load() + 1);
        m.unlock();
      }
    }, "cpu0");
    Tid b = sc.spawn([] {
      for (int i = 0; i < 3; ++i) {
        m.lock();
        x.store(x.load() * 2);
        m.unlock();
      }
    }, "cpu1");
    sc.join(a);
    sc.join(b);
  };
  RandomStrategy st1(42);
  std::string t1 = s.run(st1, program).trace_text();
  Path p1 = s.run(st1 = RandomStrategy(42), program).path;
  RandomStrategy st2(42);
  std::string t2 = s.run(st2, program).trace_text();
  EXPECT_EQ(t1, t2);
  EXPECT_FALSE(t1.empty());
  ReplayStrategy rp(p1);
  std::string t3 = s.run(rp, program).trace_text();
  EXPECT_FALSE(rp.diverged());
  EXPECT_EQ(t1, t3);
  // A different seed gives a different interleaving (for this program, almost surely).
  RandomStrategy st4(43);
  EXPECT_NE(t1, s.run(st4, program).trace_text());
}

TEST(Scheduler, ReplayOfForeignPathReportsDivergence) {
  Scheduler s;
  ReplayStrategy rp(Path{5, 5, 5});
  s.run(rp, [] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([] { point(); });
    Tid b = sc.spawn([] { point(); });
    sc.join(a);  // parks: a and b are runnable, the path must name one
    sc.join(b);
  });
  EXPECT_TRUE(rp.diverged());
}

// Recurses until the stack runs out; the volatile frame keeps the compiler from
// turning it into a loop.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
void recurse_forever(volatile int* depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(*depth);
  *depth = *depth + 1;
  recurse_forever(depth);
  pad[1] = pad[0];
}
#pragma GCC diagnostic pop

TEST(Scheduler, UnboundedRecursionIsStackOverflowAndProcessSurvives) {
  Scheduler s;
  RandomStrategy st(1);
  volatile int depth = 0;
  bool other_done = false;
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([&] { recurse_forever(&depth); }, "recurser");
    Tid b = sc.spawn([&] { other_done = true; }, "other");
    sc.join(a);
    sc.join(b);
  });
  ASSERT_TRUE(has_kind(e, FindingKind::kStackOverflow))
      << (e.findings.empty() ? std::string("no finding") : e.findings[0].message);
  EXPECT_TRUE(e.aborted);
  EXPECT_GT(depth, 100);
  EXPECT_NE(e.findings[0].message.find("recurser"), std::string::npos);
  // The scheduler is usable afterwards, stacks included.
  int ran = 0;
  const Execution& e2 = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([&] { ++ran; }, "recurser");
    sc.join(a);
  });
  EXPECT_TRUE(e2.findings.empty());
  EXPECT_EQ(ran, 1);
}

// Thread 0 runs on the OS thread's own stack: an unbounded recursion there
// is a stack overflow too (the fault comes back to run() by siglongjmp), named
// as the OS thread's stack, and the scheduler is usable afterwards. Run on a
// pthread with a 1 MiB stack so the bound does not depend on `ulimit -s`.
TEST(Scheduler, UnboundedRecursionInThreadZeroIsStackOverflowOfTheOsStack) {
  struct Result {
    std::string first;
    bool overflow = false;
    bool aborted = false;
    bool second_clean = false;
    int ran = 0;
  } r;
  auto body = [](void* arg) -> void* {
    auto* r = static_cast<Result*>(arg);
    Scheduler s;
    RandomStrategy st(1);
    volatile int depth = 0;
    const Execution& e = s.run(st, [&] { recurse_forever(&depth); });
    r->overflow = has_kind(e, FindingKind::kStackOverflow);
    r->aborted = e.aborted;
    if (!e.findings.empty()) r->first = e.findings[0].message;
    const Execution& e2 = s.run(st, [&] { ++r->ran; });
    r->second_clean = e2.findings.empty();
    return nullptr;
  };
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 1024 * 1024), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, &attr, body, &r), 0);
  ASSERT_EQ(pthread_join(th, nullptr), 0);
  pthread_attr_destroy(&attr);
  EXPECT_TRUE(r.overflow) << r.first;
  EXPECT_TRUE(r.aborted);
  EXPECT_NE(r.first.find("the stack of the OS thread that runs thread 0"), std::string::npos) << r.first;
  EXPECT_TRUE(r.second_clean);
  EXPECT_EQ(r.ran, 1);
}

// The recursion-depth bound is the stack size: a larger stack lets a deeper
// recursion through, and the finding names the size and the option to raise.
TEST(Scheduler, StackSizeIsTheRecursionBoundAndTheFindingSaysHowToRaiseIt) {
  int depth_small = 0;
  int depth_large = 0;
  for (size_t kib : {64, 512}) {
    SchedulerOptions o;
    o.stack_size = kib * 1024;
    Scheduler s(o);
    RandomStrategy st(1);
    volatile int depth = 0;
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      sc.join(sc.spawn([&] { recurse_forever(&depth); }, "recurser"));
    });
    ASSERT_TRUE(has_kind(e, FindingKind::kStackOverflow));
    EXPECT_NE(e.findings[0].message.find(fmt::format("its {} KiB stack", kib)), std::string::npos)
        << e.findings[0].message;
    EXPECT_NE(e.findings[0].message.find("--stack-kib"), std::string::npos);
    (kib == 64 ? depth_small : depth_large) = depth;
  }
  EXPECT_GT(depth_large, 4 * depth_small);
}

TEST(Scheduler, TwoThreadsWaitingOnEachOtherIsDeadlockNamingBoth) {
  Scheduler s;
  bool found = false;
  for (uint64_t i = 0; i < 1000 && !found; ++i) {
    RandomStrategy st(execution_seed(5, i));
    BasicMutex a("A"), b("B");
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid t1 = sc.spawn([&] {
        a.lock();
        b.lock();
        b.unlock();
        a.unlock();
      }, "cpu0");
      Tid t2 = sc.spawn([&] {
        b.lock();
        a.lock();
        a.unlock();
        b.unlock();
      }, "cpu1");
      sc.join(t1);
      sc.join(t2);
    });
    if (!has_kind(e, FindingKind::kDeadlock)) {
      ASSERT_TRUE(e.findings.empty()) << e.findings[0].message;
      continue;
    }
    found = true;
    const Finding& f = e.findings[0];
    EXPECT_NE(f.message.find("thread 1 \"cpu0\" waits for mutex \"B\""), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("held by thread 2 \"cpu1\""), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("thread 2 \"cpu1\" waits for mutex \"A\""), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("wait-for cycle"), std::string::npos) << f.message;
    EXPECT_EQ(f.threads.size(), 2u);
  }
  EXPECT_TRUE(found);
}

TEST(Scheduler, VirtualTimeAdvancesOnlyWhenIdle) {
  Scheduler s;
  RandomStrategy st(9);
  std::vector<int> order;
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    Tid a = sc.spawn([&] {
      sc.sleep_until(2000);
      order.push_back(2);
    });
    Tid b = sc.spawn([&] {
      sc.sleep_until(1000);
      order.push_back(1);
      EXPECT_EQ(sc.now(), 1000u);
    });
    sc.join(a);
    sc.join(b);
  });
  EXPECT_TRUE(e.findings.empty());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(e.end_time, 2000u);
}

TEST(Scheduler, ParkWithDeadlineTimesOut) {
  Scheduler s;
  RandomStrategy st(9);
  WakeReason r = WakeReason::kWoken;
  s.run(st, [&] { r = Scheduler::current()->park(nullptr, SrcLoc::current(), 500); });
  EXPECT_EQ(r, WakeReason::kTimedOut);
}

// The inline paths compare against limits folded from the step bound and the
// execution's end (Scheduler::set_limits): the bound must still fall on the
// same step whether the loop makes plain accesses or scheduling points, with
// or without the access fast path (tracing turns it off).
TEST(Scheduler, StepBoundFallsOnTheBoundForAccessesAndPoints) {
  for (bool trace : {false, true}) {
    SchedulerOptions o;
    o.max_steps = 1000;
    o.trace = trace;
    Scheduler s(o);
    RandomStrategy st(3);
    Cell<int> flag;
    const Execution& by_access = s.run(st, [&] {
      while (flag.load() == 0) {
      }
    });
    ASSERT_TRUE(has_kind(by_access, FindingKind::kStepBound)) << "trace " << trace;
    EXPECT_EQ(by_access.findings[0].step, 1000u) << "trace " << trace;
    const Execution& by_point = s.run(st, [&] {
      for (;;) Scheduler::current()->yield();
    });
    ASSERT_TRUE(has_kind(by_point, FindingKind::kStepBound)) << "trace " << trace;
    EXPECT_EQ(by_point.findings[0].step, 1000u) << "trace " << trace;
    // 999 steps is no finding, and the next execution has the whole budget.
    const Execution& under = s.run(st, [&] {
      for (int i = 0; i < 999; ++i) flag.load();
    });
    EXPECT_TRUE(under.findings.empty()) << "trace " << trace;
  }
}

TEST(Scheduler, StepBoundTurnsLivelockIntoVerdict) {
  SchedulerOptions o;
  o.max_steps = 1000;
  Scheduler s(o);
  RandomStrategy st(2);
  Cell<int> flag;
  const Execution& e = s.run(st, [&] {
    while (flag.load() == 0) {
    }
  });
  ASSERT_TRUE(has_kind(e, FindingKind::kStepBound));
  EXPECT_NE(e.findings[0].message.find("--max-steps"), std::string::npos);
  // The bound is per execution: the next one gets the full budget again.
  const Execution& e2 = s.run(st, [&] {
    for (int i = 0; i < 900; ++i) flag.load();
  });
  EXPECT_TRUE(e2.findings.empty());
}

TEST(Scheduler, AtomicsCreateHappensBefore) {
  Scheduler s;
  for (uint64_t i = 0; i < 500; ++i) {
    RandomStrategy st(execution_seed(8, i));
    Cell<int> data;
    Atomic<int> ready;
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn([&] {
        data.store(42);
        ready.store(1, std::memory_order_release);
      });
      Tid b = sc.spawn([&] {
        if (ready.load(std::memory_order_acquire) == 1) {
          EXPECT_EQ(data.load(), 42);
        }
      });
      sc.join(a);
      sc.join(b);
    });
    ASSERT_TRUE(e.findings.empty()) << e.findings[0].message;
  }
}

TEST(Scheduler, RelaxedAtomicsDoNotOrderData) {
  Scheduler s;
  bool raced = false;
  for (uint64_t i = 0; i < 500 && !raced; ++i) {
    RandomStrategy st(execution_seed(8, i));
    Cell<int> data;
    Atomic<int> ready;
    const Execution& e = s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn([&] {
        data.store(42);
        ready.store(1, std::memory_order_relaxed);
      });
      Tid b = sc.spawn([&] {
        if (ready.load(std::memory_order_relaxed) == 1) data.load();
      });
      sc.join(a);
      sc.join(b);
    });
    raced = has_kind(e, FindingKind::kDataRace);
  }
  EXPECT_TRUE(raced);
}

TEST(Scheduler, UncaughtExceptionIsAssertionFinding) {
  Scheduler s;
  RandomStrategy st(1);
  const Execution& e = s.run(st, [] { throw std::runtime_error("boom"); });
  ASSERT_TRUE(has_kind(e, FindingKind::kAssertion));
  EXPECT_NE(e.findings[0].message.find("boom"), std::string::npos);
}

// A destructor that reaches a point while its thread unwinds an ended
// execution must not switch threads: the thread switched to would resume with
// that exception still in flight (std::uncaught_exceptions() counts per OS
// thread), so its own resume check would not throw and it would run on in an
// ended execution. Regression: the point in a lock release did exactly this.
TEST(Scheduler, APointWhileUnwindingDoesNotSwitchThreads) {
  struct PointOnDestroy {
    ~PointOnDestroy() noexcept(false) { point(); }
  };
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Scheduler s;
    RandomStrategy st(seed);
    bool ran_on_after_the_end = false;
    s.run(st, [&] {
      Scheduler& sc = *Scheduler::current();
      Tid a = sc.spawn([&] {
        PointOnDestroy g;
        sc.yield();
        sc.assertion_failed("KASSERT failed: test", SrcLoc::current());
      });
      Tid b = sc.spawn([&] {
        for (int i = 0; i < 1000; ++i) {
          if (sc.aborting()) ran_on_after_the_end = true;
          sc.yield();
        }
      });
      sc.join(a);
      sc.join(b);
    });
    EXPECT_FALSE(ran_on_after_the_end) << "seed " << seed;
  }
}

TEST(Scheduler, AbortUnwindsBlockedThreadsAndRunsDestructors) {
  Scheduler s;
  RandomStrategy st(4);
  int destroyed = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  BasicMutex m("m");
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    m.lock();
    Tid a = sc.spawn([&] {
      Guard g{&destroyed};
      m.lock();  // blocks forever: the root never unlocks
    });
    Tid b = sc.spawn([&] {
      Guard g{&destroyed};
      while (!sc.is_parked(a)) sc.yield();  // a holds its guard and is blocked on m
      sc.assertion_failed("KASSERT failed: test", SrcLoc::current());
    });
    sc.join(a);
    sc.join(b);
  });
  ASSERT_TRUE(has_kind(e, FindingKind::kAssertion));
  EXPECT_EQ(destroyed, 2);
}

TEST(Scheduler, MemoryFaultInThreadIsAFinding) {
  Scheduler s;
  RandomStrategy st(1);
  const Execution& e = s.run(st, [] {
    static volatile uintptr_t bad_address = 16;  // not a constant: no compile-time bounds warning
    *reinterpret_cast<volatile int*>(bad_address) = 1;
  });
  ASSERT_TRUE(has_kind(e, FindingKind::kMemoryFault));
}

}  // namespace
}  // namespace kqsim::sim

namespace kqsim::sim {
namespace {

TEST(Scheduler, DaemonThreadsDoNotKeepTheExecutionAlive) {
  Scheduler s;
  RandomStrategy st(3);
  int ticks = 0;
  bool unwound = false;
  struct Flag {
    bool* f;
    ~Flag() { *f = true; }
  };
  const Execution& e = s.run(st, [&] {
    Scheduler& sc = *Scheduler::current();
    sc.spawn_daemon([&] {
      Flag g{&unwound};
      for (uint64_t t = 1000;; t += 1000) {  // a periodic "softclock": never returns by itself
        sc.sleep_until(t);
        ++ticks;
      }
    }, "softclock");
    Tid w = sc.spawn([&] { sc.sleep_until(3500); }, "worker");
    sc.join(w);
  });
  EXPECT_TRUE(e.findings.empty()) << e.findings[0].message;
  EXPECT_FALSE(e.aborted);
  EXPECT_EQ(ticks, 3);  // fired at 1000, 2000, 3000; the worker ended at 3500
  EXPECT_TRUE(unwound);
}

}  // namespace
}  // namespace kqsim::sim
