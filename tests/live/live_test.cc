// Live mode (fuzz/live.h): scenarios on OS threads with real locks.
//
// Suites (CI selects them with --gtest_filter='Live*'; the tsan preset runs
// them under ThreadSanitizer with halt_on_error, so any data race in a
// correct design aborts the test):
//   LiveScenarios  every scenario under giant, global and fine, a short
//                  bounded number of iterations: the live verdict is the
//                  scenario's expected verdict for the design (clean, or
//                  only the expected kind, e.g. feldman-lor's reversal).
//   LiveRunner     the runner's contract: copies, iterations, duration,
//                  oracle and witness findings, option errors.
//   LiveChaos      the chaos knob: off by default, per-thread RNG streams.
//   LiveTsan       the must-report direction, as a subprocess of the tsan
//                  build's kqsim: kern-57945 under none gets a ThreadSanitizer
//                  data-race report on the kqueue's queue state.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fuzz/live.h"
#include "locks/mutex.h"
#include "locks/sleepq.h"
#include "model/kern/syscalls.h"
#include "model/sim/chaos.h"
#include "scenarios/scenario.h"
#include "tests/live/unregistered_scenario.h"

namespace kqsim::fuzz {
namespace {

using scenarios::Definition;
using scenarios::Env;
using scenarios::Scenario;
using sim::FindingKind;

#if defined(KQSIM_SANITIZER_THREAD)
constexpr bool kTsan = true;
constexpr uint64_t kIterations = 40;  // TSan makes each iteration slower
#else
constexpr bool kTsan = false;
constexpr uint64_t kIterations = 50;
#endif

LiveOptions quiet(uint64_t iterations) {
  LiveOptions o;
  o.iterations = iterations;
  o.stall_timeout_s = 60;
  return o;
}

// ---- every scenario under the correct designs ----

struct Cell {
  std::string scenario;
  std::string design;
};

std::vector<Cell> correct_cells() {
  std::vector<Cell> out;
  for (const Scenario* s : scenarios::all_scenarios())
    if (s->no_live().empty())
      for (const std::string& d : s->designs_to_run())
      if (d == "giant" || d == "global" || d == "fine") out.push_back({s->name(), d});
  return out;
}

std::string cell_name(const ::testing::TestParamInfo<Cell>& info) {
  std::string n = info.param.scenario + "_" + info.param.design;
  std::replace_if(
      n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return n;
}

class LiveScenarios : public ::testing::TestWithParam<Cell> {};

TEST_P(LiveScenarios, MeetsItsExpectedVerdictWithoutARace) {
  const Scenario* sc = scenarios::find_scenario(GetParam().scenario);
  const kern::kq_design* d = kern::find_design(GetParam().design);
  ASSERT_NE(sc, nullptr);
  ASSERT_NE(d, nullptr);
  const scenarios::Expected expected = sc->expectation_for(d->name)->expected;
  LiveOptions o = quiet(kIterations);
  // A design with an expected reversal can deadlock for real on OS threads
  // (that is what the reversal means): few iterations, no chaos.
  if (!expected.is_clean())
    o.iterations = 5;
  else
    o.chaos = 0.01;
  LiveResult r = run_live(*sc, *d, o);
  EXPECT_EQ(r.iterations, o.iterations);
  std::string all;
  for (const LiveFinding& f : r.findings) all += f.finding.headline() + "\n";
  if (expected.is_clean()) {
    EXPECT_TRUE(r.findings.empty()) << all;
  } else {
    // Under global, the witness also reports close()'s filedesc -> kqueue
    // order (feldman-lor) in any scenario that closes a descriptor of a
    // process with a kqueue (proxy-flow-reset): in live mode too.
    // A reversal the witness reports can also deadlock for real on OS threads
    // (feldman-lor under global did, under ThreadSanitizer): the live
    // deadlock detection reports it and abandons the iteration
    // (locks/live_waiters.h). A deadlock on locks with no reversal reported
    // would be a defect.
    const bool witness_reversal = std::any_of(r.findings.begin(), r.findings.end(), [](const LiveFinding& f) {
      return f.from_witness && f.finding.kind == FindingKind::kLockOrderReversal;
    });
    for (const LiveFinding& f : r.findings) {
      const bool global_reversal = d->name == std::string("global") && f.from_witness &&
                                   f.finding.kind == FindingKind::kLockOrderReversal;
      const bool realised = witness_reversal && !f.from_witness && f.finding.kind == FindingKind::kDeadlock;
      if (!global_reversal && !realised) {
        EXPECT_EQ(f.finding.kind, expected.kind) << all;
      }
    }
    if (expected.kind == FindingKind::kLockOrderReversal) {
      // Both orders are taken in every iteration, whatever the interleaving:
      // the witness sees the reversal in live mode too.
      EXPECT_FALSE(r.findings.empty());
    }
  }
  EXPECT_FALSE(r.profile.empty()) << "the lock profile covers the run";
}

INSTANTIATE_TEST_SUITE_P(Live, LiveScenarios, ::testing::ValuesIn(correct_cells()), cell_name);

// Every registered scenario runs live: none declares no_live any more
// (fork-vs-kqclose and exit-vs-scan fork OS threads through the live host,
// proxy-flow-reset's oracle names live threads).
TEST(LiveRunnerRefusal, EveryRegisteredScenarioRunsLive) {
  for (const Scenario* s : scenarios::all_scenarios()) EXPECT_EQ(s->no_live(), "") << s->name();
}

// ---- the runner ----

struct Counters {
  std::atomic<int> ran{0};
  int kq = -1;
  int p[2] = {-1, -1};
};

const Scenario& counting() {
  static const Scenario& s = []() -> const Scenario& {
    Definition<Counters> d;
    d.name = "live-counting";
    d.threads = 2;
    d.before = [](Env<Counters>& env) {
      env.state.kq = kern::sys_kqueue();
      kern::sys_pipe(env.state.p);
    };
    d.thread = [](Env<Counters>& env, int i) {
      env.state.ran.fetch_add(1);
      if (i == 0) kern::sys_write(env.state.p[1], "x", 1);
    };
    d.after = [](Env<Counters>& env) {
      if (env.state.ran.load() != env.threads)
        scenarios::report(FindingKind::kOracle, "a thread did not run");
      char c = 0;
      if (kern::sys_read(env.state.p[0], &c, 1) != 1 || c != 'x')
        scenarios::report(FindingKind::kLostEvent, "the byte written is not there");
    };
    d.expect = {{"fine", scenarios::Expected::clean(), ""}};
    return testing::make_unregistered(std::move(d));
  }();
  return s;
}

// A scenario that declares it cannot run live is refused with its reason,
// not run into a crash or a hang.
TEST(LiveRunnerRefusal, AScenarioThatCannotRunLiveIsRefusedWithItsReason) {
  Definition<Counters> d;
  d.name = "live-refused";
  d.threads = 1;
  d.thread = [](Env<Counters>& env, int) { env.state.ran.fetch_add(1); };
  d.expect = {{"fine", scenarios::Expected::clean(), ""}};
  d.no_live = "it needs the deterministic scheduler";
  const Scenario& s = testing::make_unregistered(std::move(d));
  try {
    run_live(s, *kern::find_design("fine"), quiet(1));
    ADD_FAILURE() << "ran in live mode";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run in live mode: it needs the deterministic scheduler"),
              std::string::npos)
        << e.what();
  }
}

TEST(LiveRunner, RunsTheIterationsAskedForAndEveryThreadOfEveryCopy) {
  LiveOptions o = quiet(7);
  o.threads = 6;  // 3 copies of a 2-thread scenario
  LiveResult r = run_live(counting(), *kern::find_design("fine"), o);
  EXPECT_EQ(r.iterations, 7u);
  EXPECT_EQ(r.copies, 3);
  EXPECT_EQ(r.os_threads, 6);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().finding.message;
  EXPECT_EQ(r.failed_iterations, 0u);
  EXPECT_EQ(r.verdict(), "clean");
  bool pipe_lock = false;
  for (const locks::LockStats& s : r.profile) {
    if (s.name == "pipe mutex") pipe_lock = s.acquisitions > 0;
  }
  EXPECT_TRUE(pipe_lock) << r.profile_table;
}

TEST(LiveRunner, ThreadsMustBeAMultipleOfTheScenariosThreads) {
  EXPECT_EQ(live_copies(counting(), 0).copies, 1);
  EXPECT_EQ(live_copies(counting(), 8).copies, 4);
  EXPECT_NE(live_copies(counting(), 3).error.find("not a positive multiple"), std::string::npos);
  LiveOptions o = quiet(1);
  o.threads = 3;
  EXPECT_THROW(run_live(counting(), *kern::find_design("fine"), o), std::invalid_argument);
  o.threads = 0;
  o.chaos = 2;
  EXPECT_THROW(run_live(counting(), *kern::find_design("fine"), o), std::invalid_argument);
}

TEST(LiveRunner, DurationBoundsTheRun) {
  LiveOptions o;
  o.duration_s = 0.2;
  LiveResult r = run_live(counting(), *kern::find_design("giant"), o);
  EXPECT_GE(r.iterations, 1u);
  EXPECT_GE(r.seconds, 0.2);
  EXPECT_LT(r.seconds, 30.0);
}

struct Empty {};

TEST(LiveRunner, OracleFindingsAreCollectedPerIteration) {
  Definition<Empty> d;
  d.name = "live-always-fails";
  d.threads = 2;
  d.thread = [](Env<Empty>&, int i) {
    if (i == 1) scenarios::report(FindingKind::kDuplicateEvent, "thread 1 always complains");
  };
  d.after = [](Env<Empty>&) { scenarios::report(FindingKind::kOracle, "the oracle always fails"); };
  d.expect = {{"fine", scenarios::Expected::failure(FindingKind::kOracle), ""}};
  const Scenario& s = testing::make_unregistered(std::move(d));
  LiveResult r = run_live(s, *kern::find_design("fine"), quiet(4));
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.failed_iterations, 4u);
  for (const LiveFinding& f : r.findings) {
    EXPECT_EQ(f.count, 4u);
    EXPECT_EQ(f.first_iteration, 0u);
    EXPECT_FALSE(f.from_witness);
  }
  EXPECT_EQ(r.verdict(), "duplicate-event, oracle");
  EXPECT_FALSE(r.ok());
}

// Two mutexes for the witness and deadlock tests, a counter the threads
// order themselves by, and a channel nobody wakes.
struct Locks {
  locks::mtx a;
  locks::mtx b;
  std::atomic<int> step{0};
  int chan = 0;
};

void init_locks(Env<Locks>& env) {
  env.state.a.init("live A", nullptr, locks::MTX_DEF);
  env.state.b.init("live B", nullptr, locks::MTX_DEF);
}

TEST(LiveRunner, TheWitnessWatchesEveryThread) {
  // Thread 0 takes A then B, thread 1 B then A (one after the other, so they
  // cannot deadlock); thread 1 also returns with A held.
  Definition<Locks> d;
  d.name = "live-reversal";
  d.threads = 2;
  d.before = init_locks;
  d.thread = [](Env<Locks>& env, int i) {
    Locks& l = env.state;
    if (i == 0) {
      locks::mtx_lock(&l.a);
      locks::mtx_lock(&l.b);
      locks::mtx_unlock(&l.b);
      locks::mtx_unlock(&l.a);
      l.step.store(1);
      return;
    }
    while (l.step.load() == 0) std::this_thread::yield();
    locks::mtx_lock(&l.b);
    locks::mtx_lock(&l.a);
    locks::mtx_unlock(&l.b);  // returns holding A
  };
  d.expect = {{"fine", scenarios::Expected::failure(FindingKind::kLockOrderReversal), ""}};
  const Scenario& s = testing::make_unregistered(std::move(d));
  LiveResult r = run_live(s, *kern::find_design("fine"), quiet(1));
  std::vector<std::string> kinds;
  for (const LiveFinding& f : r.findings) {
    EXPECT_TRUE(f.from_witness);
    kinds.emplace_back(sim::kind_name(f.finding.kind));
  }
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "lock-order-reversal"), kinds.end()) << r.verdict();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "lock-misuse"), kinds.end()) << r.verdict();
}

// ---- deadlocks on real threads (locks/live_waiters.h) ----

const char* const kAfterRan = "after ran on an abandoned iteration";

// cpu0 takes A then B, cpu1 B then A, each after both hold their first lock:
// a deadlock in every iteration. cpu2 sleeps on a channel nobody wakes.
const Scenario& abba() {
  static const Scenario& s = []() -> const Scenario& {
    Definition<Locks> d;
    d.name = "live-abba";
    d.threads = 3;
    d.before = init_locks;
    d.thread = [](Env<Locks>& env, int i) {
      Locks& l = env.state;
      if (i == 2) {
        locks::tsleep(&l.chan, 0, "never", 0);
        return;
      }
      locks::mtx* first = i == 0 ? &l.a : &l.b;
      locks::mtx* second = i == 0 ? &l.b : &l.a;
      locks::mtx_lock(first);
      l.step.fetch_add(1);
      while (l.step.load() < 2) std::this_thread::yield();
      locks::mtx_lock(second);
      locks::mtx_unlock(second);
      locks::mtx_unlock(first);
    };
    d.after = [](Env<Locks>&) { scenarios::report(FindingKind::kOracle, kAfterRan); };
    d.expect = {{"fine", scenarios::Expected::failure(FindingKind::kDeadlock), ""}};
    return testing::make_unregistered(std::move(d));
  }();
  return s;
}

TEST(LiveDeadlock, AnAbbaDeadlockIsReportedAndEveryIterationAbandoned) {
  LiveOptions o = quiet(3);
  o.stall_timeout_s = 30;  // without the detection, the default on_stall ends the test binary
  LiveResult r = run_live(abba(), *kern::find_design("fine"), o);
  EXPECT_EQ(r.iterations, 3u);
  EXPECT_EQ(r.failed_iterations, 3u);
  int deadlocks = 0;
  for (const LiveFinding& f : r.findings) {
    const std::string& m = f.finding.message;
    EXPECT_EQ(m.find(kAfterRan), std::string::npos) << m;
    if (f.from_witness) {
      // The reversal, and no "exiting with locks held" for the unwound threads.
      EXPECT_EQ(f.finding.kind, FindingKind::kLockOrderReversal) << m;
      continue;
    }
    ASSERT_EQ(f.finding.kind, FindingKind::kDeadlock) << m;
    ++deadlocks;
    // The same cycle in every iteration, whichever thread found it.
    EXPECT_EQ(f.count, 3u) << m;
    EXPECT_NE(m.find("\n cpu0 waits for sleep mutex \"live B\" @ "), std::string::npos) << m;
    EXPECT_NE(m.find(", held by cpu1\n cpu1 waits for sleep mutex \"live A\" @ "), std::string::npos) << m;
    EXPECT_NE(m.find(", held by cpu0"), std::string::npos) << m;
    EXPECT_EQ(f.finding.sites.size(), 2u);
  }
  EXPECT_EQ(deadlocks, 1) << r.verdict();
}

// A chain of waits that ends at a running thread is no deadlock: cpu2 waits
// for A, held by cpu0, which waits for B, held by cpu1, which sleeps (really)
// and then lets B go.
TEST(LiveDeadlock, AChainThatEndsAtARunningThreadIsNotOne) {
  Definition<Locks> d;
  d.name = "live-chain";
  d.threads = 3;
  d.before = init_locks;
  d.thread = [](Env<Locks>& env, int i) {
    Locks& l = env.state;
    if (i == 1) {
      locks::mtx_lock(&l.b);
      l.step.fetch_add(1);
      while (l.step.load() < 3) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      locks::mtx_unlock(&l.b);
      return;
    }
    while (l.step.load() < (i == 0 ? 1 : 2)) std::this_thread::yield();
    if (i == 0) {
      locks::mtx_lock(&l.a);
      l.step.fetch_add(1);
      locks::mtx_lock(&l.b);
      locks::mtx_unlock(&l.b);
      locks::mtx_unlock(&l.a);
    } else {
      l.step.fetch_add(1);
      locks::mtx_lock(&l.a);
      locks::mtx_unlock(&l.a);
    }
  };
  d.expect = {{"fine", scenarios::Expected::clean(), ""}};
  const Scenario& s = testing::make_unregistered(std::move(d));
  LiveResult r = run_live(s, *kern::find_design("fine"), quiet(3));
  EXPECT_EQ(r.iterations, 3u);
  std::string all;
  for (const LiveFinding& f : r.findings) all += f.finding.headline() + "\n";
  EXPECT_TRUE(r.findings.empty()) << all;
}

// ---- chaos ----

TEST(LiveChaos, IsOffUnlessInstalled) {
  EXPECT_EQ(sim::chaos::detail::tls_chaos, nullptr);
  sim::chaos::point();  // no effect
  sim::chaos::Knob k;
  k.p = 0;
  sim::chaos::ChaosScope off(k, 0);
  EXPECT_EQ(sim::chaos::detail::tls_chaos, nullptr) << "p = 0 installs nothing";
}

TEST(LiveChaos, SameSeedAndThreadGiveTheSameDelays) {
  sim::chaos::Knob k;
  k.p = 0.25;
  k.max_spin_ns = 1;
  k.max_sleep_ns = 1;
  auto delays = [&](uint64_t seed, uint64_t thread, int points = 4000) {
    k.seed = seed;
    sim::chaos::ChaosScope cs(k, thread);
    for (int i = 0; i < points; ++i) sim::chaos::point();
    return cs.delays();
  };
  const uint64_t a = delays(1, 0);
  EXPECT_EQ(a, delays(1, 0));
  EXPECT_GT(a, 800u);  // about 1000 of 4000
  EXPECT_LT(a, 1200u);
  EXPECT_NE(a, delays(1, 1)) << "each thread has its own stream (equal counts would be a coincidence)";
  EXPECT_EQ(sim::chaos::detail::tls_chaos, nullptr) << "the scope uninstalls";
  k.p = 1;
  EXPECT_EQ(delays(7, 0, 100), 100u);
}

TEST(LiveChaos, ReachesTheLiveSchedulingPoints) {
  LiveOptions o = quiet(3);
  o.chaos = 0.5;
  LiveResult r = run_live(counting(), *kern::find_design("fine"), o);
  EXPECT_GT(r.chaos_delays, 0u);
  EXPECT_TRUE(r.findings.empty());
}

// ---- the must-report direction, under ThreadSanitizer ----

std::string slurp(const std::string& path) {
  std::ifstream is(path);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

TEST(LiveTsan, NoneOnKern57945GetsADataRaceReportOnTheQueue) {
  if (!kTsan) GTEST_SKIP() << "needs the tsan preset: the race is ThreadSanitizer's to report";
  const std::string err = ::testing::TempDir() + "live_tsan_stderr.txt";
  // halt_on_error: the child stops at its first report (exit code 66).
  const std::string cmd =
      std::string("TSAN_OPTIONS='halt_on_error=1 exitcode=66' ") + KQSIM_BINARY +
      " run kern-57945 --design none --mode live --iterations 200 --stall-timeout 60 >/dev/null "
      "2>" +
      err;
  const int status = std::system(cmd.c_str());
  const std::string text = slurp(err);
  EXPECT_NE(status, 0);
  EXPECT_NE(text.find("ThreadSanitizer: data race"), std::string::npos) << text.substr(0, 4000);
  const bool queue_frame =
      text.find("kq_head") != std::string::npos || text.find("knote_enqueue") != std::string::npos ||
      text.find("knote_dequeue") != std::string::npos || text.find("kqueue_scan") != std::string::npos ||
      text.find("TAILQ") != std::string::npos;
  EXPECT_TRUE(queue_frame) << text.substr(0, 4000);
}

TEST(LiveTsan, FineOnKern57945IsCleanUnderTsanAsASubprocessToo) {
  if (!kTsan) GTEST_SKIP() << "needs the tsan preset";
  const std::string err = ::testing::TempDir() + "live_tsan_fine_stderr.txt";
  const std::string cmd =
      std::string("TSAN_OPTIONS='halt_on_error=1 exitcode=66' ") + KQSIM_BINARY +
      " run kern-57945 --design fine --mode live --iterations 50 --chaos 0.01 >/dev/null 2>" + err;
  const int status = std::system(cmd.c_str());
  const std::string text = slurp(err);
  EXPECT_EQ(status, 0) << text.substr(0, 4000);
  EXPECT_EQ(text.find("ThreadSanitizer"), std::string::npos) << text.substr(0, 4000);
}

}  // namespace
}  // namespace kqsim::fuzz

namespace kqsim::fuzz {
namespace {

// ---- kernel pieces on OS threads, outside a scenario ----

TEST(LiveKernel, KeventTimeoutIsRealTime) {
  kern::World w(*kern::find_design("fine"));
  const int kq = kern::sys_kqueue();
  int p[2];
  ASSERT_EQ(kern::sys_pipe(p), 0);
  ASSERT_EQ(scenarios::kev_change(kq, static_cast<uintptr_t>(p[0]), EVFILT_READ, EV_ADD), 0);
  struct kevent ev[2];
  const struct timespec ts = {0, 50'000'000};  // 50 ms, nothing to report
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(kern::sys_kevent(kq, nullptr, 0, ev, 2, &ts), 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(secs, 0.045);
  EXPECT_LT(secs, 5.0);

  // A writer on another OS thread wakes the sleeping scan long before its 10 s.
  std::thread writer([&] {
    w.attach(w.initproc());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kern::sys_write(p[1], "x", 1);
  });
  const struct timespec longer = {10, 0};
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(kern::sys_kevent(kq, nullptr, 0, ev, 2, &longer), 1);
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  writer.join();
  EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(p[0]));
  EXPECT_LT(secs, 5.0);
}

TEST(LiveKernel, TimersAndForkSayTheyAreNotAvailable) {
  kern::World w(*kern::find_design("fine"));
  const int kq = kern::sys_kqueue();
  EXPECT_EQ(scenarios::kev_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 10), -1);
  EXPECT_EQ(kern::sys_errno(), 45);  // EOPNOTSUPP: no softclock thread in live mode
  EXPECT_EQ(kern::sys_fork([](void*) {}, nullptr), -1);
  EXPECT_EQ(kern::sys_errno(), 78);  // ENOSYS
}

}  // namespace
}  // namespace kqsim::fuzz
