// Teardown of the softclock (model/kern/timer.cc, model/kern/world.h
// "Teardown"): the softclock daemon serves one World and must never run once
// that World is destroyed. Found by the schedule fuzzer
// (tests/data/fuzz_findings/schedule-softclock-uaf): the root thread destroyed
// the World with a timer armed, and the scheduler then ran the softclock,
// which locked its callout mutex in the freed World. Suite names end in
// "Smoke": CI's ASan pass runs these, where the old behaviour is a crash; in
// the default build they fail on the trace or the delivered events.
#include <gtest/gtest.h>

#include <string>

#include "locks/witness.h"
#include "model/kern/proc.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using testing::make_kev;

// Keeps the running thread while it can run; else the lowest runnable one.
// Here: the root thread arms a timer (spawning the softclock, runnable but not
// started), then runs on to the end without ever letting the softclock in.
class StayStrategy final : public sim::Strategy {
 public:
  sim::Tid choose(const sim::Tid* runnable, unsigned n, sim::Tid current) override {
    for (unsigned i = 0; i < n; ++i)
      if (runnable[i] == current) return current;
    return runnable[0];
  }
};

TEST(SoftclockTeardownSmoke, SoftclockNeverRunsAfterItsWorldIsDestroyed) {
  sim::SchedulerOptions so;
  so.trace = true;
  sim::Scheduler s(so);
  StayStrategy st;
  locks::Witness w;
  locks::WitnessScope ws(&w);
  bool armed = false;
  const sim::Execution& e = s.run(st, [&] {
    World world(*find_design("fine"));
    int kq = sys_kqueue();
    struct kevent ch = make_kev(1, EVFILT_TIMER, EV_ADD, 0, 5);  // 5 ms, periodic
    armed = sys_kevent(kq, &ch, 1, nullptr, 0, nullptr) == 0;
    // The World goes with the timer still armed (no close, no EV_DELETE).
  });
  ASSERT_TRUE(armed);
  EXPECT_TRUE(e.findings.empty()) << e.findings[0].message;
  // Nothing runs after the root thread's exit: no thread is left that may.
  size_t exit_at = e.trace.size();
  for (size_t i = 0; i < e.trace.size(); ++i)
    if (e.trace[i].tid == 0 && std::string(e.trace[i].op) == "exit") exit_at = i;
  ASSERT_LT(exit_at, e.trace.size()) << e.trace_text();
  for (size_t i = exit_at + 1; i < e.trace.size(); ++i)
    ADD_FAILURE() << "after the World was destroyed, thread " << e.trace[i].tid << " did " << e.trace[i].op << " at "
                  << e.trace[i].loc.str() << " " << e.trace[i].detail;
}

// Two Worlds one after the other in one execution (the second may reuse the
// first one's address): each has its own softclock, and the second's timer
// fires; the first's softclock, stopped with its World, never runs again.
TEST(SoftclockTeardownSmoke, EachWorldOfOneExecutionHasItsOwnSoftclock) {
  sim::Scheduler s;
  sim::RandomStrategy st(1);
  locks::Witness w;
  locks::WitnessScope ws(&w);
  int fired[2] = {-1, -1};
  int64_t data[2] = {0, 0};
  const sim::Execution& e = s.run(st, [&] {
    for (int i = 0; i < 2; ++i) {
      World world(*find_design("fine"));
      int kq = sys_kqueue();
      struct kevent ch = make_kev(7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1);  // 1 ms
      sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
      struct kevent out[2];
      const struct timespec ts = {0, 50'000'000};
      fired[i] = sys_kevent(kq, nullptr, 0, out, 2, &ts);
      if (fired[i] == 1) data[i] = out[0].data;
      // The World goes with the kqueue still open.
    }
  });
  EXPECT_TRUE(e.findings.empty()) << e.findings[0].message;
  EXPECT_EQ(e.threads, 3u);  // the root and one softclock per World
  EXPECT_EQ(fired[0], 1);
  EXPECT_EQ(fired[1], 1);
  EXPECT_EQ(data[0], 1);
  EXPECT_EQ(data[1], 1);
}

// The same for fork_join_all: the threads a World's forks started belong to
// that World (World::forked_threads), so a second World of the execution -
// which may reuse the first one's address - joins only its own children and
// never reads the first one's freed record (ASan runs this in CI).
TEST(SoftclockTeardownSmoke, EachWorldOfOneExecutionJoinsOnlyItsOwnForks) {
  sim::Scheduler s;
  sim::RandomStrategy st(1);
  locks::Witness w;
  locks::WitnessScope ws(&w);
  size_t forked[2] = {99, 99};
  int pid = -1;
  const sim::Execution& e = s.run(st, [&] {
    const uint32_t gen = sim::Scheduler::current()->generation();
    for (int i = 0; i < 2; ++i) {
      World world(*find_design("fine"));
      if (i == 0) pid = sys_fork(+[](void*) { sys_exit(0); }, nullptr);
      forked[i] = world.forked_threads(gen).size();
      fork_join_all();
    }
  });
  EXPECT_TRUE(e.findings.empty()) << e.findings[0].message;
  EXPECT_GT(pid, 1);
  EXPECT_EQ(forked[0], 1u);
  EXPECT_EQ(forked[1], 0u);
}

// Under random schedules the softclock may be parked, woken or preempted when
// the World goes: never a finding, whatever it was doing.
TEST(SoftclockTeardownSmoke, WorldDestroyedWithTimersFiringUnderRandomSchedules) {
  std::string f = testing::explore_in_world("fine", 200, [](World&) {
    int kq = sys_kqueue();
    struct kevent ch[2] = {make_kev(1, EVFILT_TIMER, EV_ADD, 0, 1), make_kev(2, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, 300)};
    sys_kevent(kq, ch, 2, nullptr, 0, nullptr);
    sim::Scheduler* s = sim::Scheduler::current();
    sim::Tid t = s->spawn([kq] {
      struct kevent out[2];
      const struct timespec ts = {0, 2'000'000};
      sys_kevent(kq, nullptr, 0, out, 2, &ts);
    }, "poller");
    s->join(t);
  });
  EXPECT_EQ(f, "");
}

// Scheduler::stop_daemon, which ~World relies on: a stopped daemon never runs
// again (not on its deadline, not when woken), is unwound at the end of the
// execution if it had started, and dropped if it had not.
TEST(SoftclockTeardownSmoke, StoppedDaemonNeverRunsAgain) {
  sim::Scheduler s;
  sim::RandomStrategy st(5);
  int ticks = 0;
  bool unwound = false;
  bool late_ran = false;
  struct Flag {
    bool* f;
    ~Flag() { *f = true; }
  };
  const sim::Execution& e = s.run(st, [&] {
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid d = sc.spawn_daemon([&] {
      Flag g{&unwound};
      for (uint64_t t = 1000;; t += 1000) {
        sc.sleep_until(t);
        ++ticks;
      }
    }, "ticker");
    sim::Tid late = sc.spawn_daemon([&] { late_ran = true; }, "never-started");
    sc.stop_daemon(late);  // not started yet: dropped
    sc.sleep_until(2500);  // the ticker ticks at 1000 and 2000
    sc.stop_daemon(d);
    sc.unpark(d);          // no effect on a stopped daemon
    sc.sleep_until(9000);  // time passes its deadlines: it stays stopped
  });
  EXPECT_TRUE(e.findings.empty()) << e.findings[0].message;
  EXPECT_EQ(ticks, 2);
  EXPECT_TRUE(unwound);
  EXPECT_FALSE(late_ran);
  EXPECT_EQ(e.end_time, 9000u);
}

}  // namespace
}  // namespace kqsim::kern
