// scenario.h - named reproductions: the scenario API and its registry.
//
// Contract
// --------
// A scenario is a small concurrent program against the simulated kernel plus
// what it must (or, for a known bug, must not) do under each locking design:
//
//   name       "kern-57945": what `kqsim run NAME` takes (lower case, dashes)
//   summary    one line for `kqsim list`
//   story      a paragraph: the report it reproduces and what to look at
//   threads    how many concurrent simulated threads ("cpu0", "cpu1", ...)
//   before     builds the world (kqueues, pipes, registrations) in thread 0
//   thread     the body of thread i, 0 <= i < threads; all run concurrently,
//              each attached to the World's init process
//   invariant  optional: a check of the shared state, run at quiescent points
//              (after before, after every thread has been joined) and wherever
//              a thread calls env.check()
//   after      the final oracle, in thread 0 after every thread finished:
//              files findings (lost event, stale event, corrupted queue...)
//              with scenarios::report()
//   expect     the expected verdict per design: clean, or a finding kind (a
//              known bug is an expected failure); designs not listed are not
//              run for this scenario, Expected::skip() says so explicitly
//
// One execution of a scenario under a design is the body of simulated thread
// 0 (Scenario::execute): construct `kern::World w(design)` and a fresh State,
// run before, spawn the threads, join them in order, run the invariant, run
// after. Everything a scenario shares between its threads lives in its State
// struct (value-initialised anew for every execution: `State state{}`) or in
// the World. A large State (one that embeds kqueues or knotes) may declare an
// empty user-provided constructor, `State() {}`, with an initialiser on every
// member: g++ otherwise zero-fills the whole aggregate before running the
// members' constructors, which costs tailq-pingpong 4% of its time. Bookkeeping
// the oracle needs across threads (a "deleted" flag, a counter) must be
// sim::Atomic with relaxed order - a scheduling point without a
// happens-before edge, so the oracle neither races nor hides a kernel race.
//
// Registration happens at static-initialisation time:
//
//   struct State { int kq = -1; int p[2] = {-1, -1}; };
//   const auto& kScenario = scenarios::register_scenario<State>({
//       .name = "my-race", .summary = "...", .story = "...", .threads = 2,
//       .before = [](Env<State>& env) { ... },
//       .thread = [](Env<State>& env, int i) { ... },
//       .after = [](Env<State>& env) { ... },
//       .expect = {{"none", Expected::failure(sim::FindingKind::kDataRace)},
//                  {"fine", Expected::clean()}},
//   });
//
// Live mode (fuzz/live.h) runs the same definition on OS threads:
// Scenario::execute_live builds the World and `copies` independent States
// on the calling OS thread, runs before and the invariant for each copy,
// runs copies * threads thread bodies at once on OS threads (LiveThreads),
// then the invariant and after for each copy. Copies share the World (its
// process, descriptor table, Giant and global locks), so more copies mean
// more contention. env.check() from a thread body is a no-op in live mode
// (the invariant would race with the other threads); report() hands findings
// to the sink installed with set_live_report_sink().
//
// all_scenarios() lists the registered scenarios sorted by name;
// find_scenario() looks one up. The runner (exploration, replay) is in
// fuzz/run.h; docs/scenarios.md has a worked example.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kqsim/sys/event.h>

#include "knote/design.h"
#include "model/kern/world.h"
#include "model/sim/finding.h"
#include "model/sim/scheduler.h"

namespace kqsim::scenarios {

// What a (scenario, design) pair is expected to produce.
struct Expected {
  enum class What : uint8_t { kClean, kFailure, kSkip };
  What what = What::kClean;
  sim::FindingKind kind = sim::FindingKind::kOracle;  // kFailure only

  static Expected clean() { return {}; }
  static Expected failure(sim::FindingKind k) { return {What::kFailure, k}; }
  static Expected skip() { return {What::kSkip, sim::FindingKind::kOracle}; }

  bool is_clean() const { return what == What::kClean; }
  bool is_skip() const { return what == What::kSkip; }
  // "clean", "skip" or the finding kind's name ("data-race").
  std::string str() const;
};

struct DesignExpectation {
  std::string design;  // a design name (knote/design.h)
  Expected expected;
  std::string note;  // optional: why (shown by `kqsim list --verbose`)
};

// What a scenario's functions see. State is the scenario's own struct.
template <class State>
struct Env {
  kern::World& world;
  State& state;
  int threads;  // number of concurrent threads
  const std::function<void(Env&)>* invariant = nullptr;
  // Runs the invariant now (only where the state it reads is stable).
  void check() {
    if (invariant != nullptr && *invariant) (*invariant)(*this);
  }
};

// A scenario definition: see the contract above.
template <class State>
struct Definition {
  const char* name = "";
  const char* summary = "";
  const char* story = "";
  int threads = 2;
  std::function<void(Env<State>&)> before;
  std::function<void(Env<State>&, int)> thread;
  std::function<void(Env<State>&)> invariant;
  std::function<void(Env<State>&)> after;
  std::vector<DesignExpectation> expect;
  // Why the scenario cannot run in live mode (fuzz/live.h), e.g. it forks; null
  // when it can. run_live refuses such a scenario with this reason.
  const char* no_live = nullptr;
};

// Live mode: runs n thread bodies at once on OS threads (fuzz/live.cc).
class LiveThreads {
 public:
  virtual ~LiveThreads() = default;
  // Calls body(k) for every 0 <= k < n, each on its own OS thread, all
  // concurrently; returns when every one has returned. Throws
  // sim::ExecutionAborted when a live deadlock aborted the iteration
  // (locks/live_waiters.h): its threads unwound, the oracle must not run.
  virtual void run(int n, const std::function<void(int)>& body) = 0;
  // Waits until every OS thread started in the iteration (by run, or a
  // process thread fork() started) has returned. execute_live calls it when
  // it unwinds, before the World those threads use is destroyed.
  virtual void wait_started() = 0;
};

// A registered scenario, whatever its State.
class Scenario {
 public:
  Scenario(std::string name, std::string summary, std::string story, int threads,
           std::vector<DesignExpectation> expect);
  virtual ~Scenario() = default;
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  const std::string& name() const { return name_; }
  const std::string& summary() const { return summary_; }
  const std::string& story() const { return story_; }
  int threads() const { return threads_; }
  // Empty when the scenario runs in live mode, else why it cannot.
  const std::string& no_live() const { return no_live_; }
  // In the order written in the definition.
  const std::vector<DesignExpectation>& expectations() const { return expect_; }
  // The expectation for `design`, or nullptr when the scenario does not list it.
  const DesignExpectation* expectation_for(std::string_view design) const;
  // Designs this scenario runs under (listed and not skipped), in registry order
  // (kern::all_designs()), then any listed design that is not registered.
  std::vector<std::string> designs_to_run() const;

  // The body of simulated thread 0 for one execution under `design`.
  virtual void execute(const kern::kq_design& design) const = 0;
  // One live-mode execution on OS threads: see "Live mode" above. Call it
  // with no Scheduler running on the calling OS thread.
  virtual void execute_live(const kern::kq_design& design, int copies, LiveThreads& threads) const = 0;

 private:
  std::string name_;
  std::string summary_;
  std::string story_;
  int threads_;
  std::vector<DesignExpectation> expect_;

 protected:
  std::string no_live_;
};

// The registry, sorted by name.
const std::vector<const Scenario*>& all_scenarios();
const Scenario* find_scenario(std::string_view name);
std::string scenario_names();  // "close-vs-knote, feldman-lor, ..."

// Consistency of the registry: unique names, designs that exist, thread counts
// the runtime supports. One line per problem; empty when all is well.
std::vector<std::string> registry_problems();

// ---- helpers for scenario code ----

// Files a finding of the running execution (ends it: see Scheduler::report).
// In live mode it goes to the live report sink (and the thread goes on).
void report(sim::FindingKind kind, std::string message);
// Live mode: where report() sends findings when no Scheduler runs on the
// calling OS thread (fuzz/live.cc installs one for a run; it must be
// thread-safe). nullptr removes it; a live report without a sink is printed
// to stderr and aborts the process.
using LiveReportSink = void (*)(void* ctx, sim::Finding f);
void set_live_report_sink(LiveReportSink sink, void* ctx);
// Checks the kqueue behind descriptor `kqfd` of the calling thread's process
// with kern::kqueue_check (no scheduling points): a freed knote on kq_head is
// a use-after-free finding, any other inconsistency a list-corruption one.
// Call it only where the queue is stable (after joining the threads).
void check_kqueue(int kqfd, std::string_view what = "kqueue");
// kevent(kq, {EV_SET(ident, filter, flags)}, 1, NULL, 0, NULL); returns its
// result (errno in kern::sys_errno()).
int kev_change(int kq, uintptr_t ident, short filter, unsigned short flags, unsigned fflags = 0,
               int64_t data = 0);
// A non-blocking scan: kevent(kq, NULL, 0, out, n, {0, 0}).
int kev_poll(int kq, struct kevent* out, int n);
// Polls `kq` once; files a kOracle finding with `message` if an event for
// `ident` comes back (a stale event after a close or a delete).
void expect_no_event(int kq, uintptr_t ident, const std::string& message);

// ---- registration ----

namespace detail {
const Scenario& add(std::unique_ptr<Scenario> s);

template <class State>
class TypedScenario final : public Scenario {
 public:
  explicit TypedScenario(Definition<State> d)
      : Scenario(d.name, d.summary, d.story, d.threads, d.expect), def_(std::move(d)) {
    if (def_.no_live != nullptr) no_live_ = def_.no_live;
  }

  void execute(const kern::kq_design& design) const override {
    kern::World world(design);
    State state{};
    Env<State> env{world, state, threads(), &def_.invariant};
    if (def_.before) def_.before(env);
    env.check();
    sim::Scheduler& s = *sim::Scheduler::current();
    sim::Tid tids[sim::kMaxThreads];
    const int n = threads();
    for (int i = 0; i < n; ++i) {
      static constexpr const char* kNames[] = {"cpu0",  "cpu1",  "cpu2",  "cpu3",  "cpu4",
                                               "cpu5",  "cpu6",  "cpu7",  "cpu8",  "cpu9",
                                               "cpu10", "cpu11", "cpu12", "cpu13", "cpu14"};
      tids[i] = s.spawn(
          [this, &env, i] {
            // Attached to init: World::curthread() does it on first use.
            if (def_.thread) def_.thread(env, i);
          },
          kNames[i]);
    }
    for (int i = 0; i < n; ++i) s.join(tids[i]);
    env.check();
    if (def_.after) def_.after(env);
  }

  void execute_live(const kern::kq_design& design, int copies, LiveThreads& threads) const override {
    kern::World world(design);
    const int n = this->threads();
    std::vector<std::unique_ptr<State>> states;
    std::vector<Env<State>> envs;
    states.reserve(static_cast<size_t>(copies));
    envs.reserve(static_cast<size_t>(copies));
    for (int c = 0; c < copies; ++c) {
      states.push_back(std::make_unique<State>());
      envs.push_back(Env<State>{world, *states.back(), n, nullptr});
    }
    // On an unwinding (a live deadlock's abort while `before` or `after`
    // runs beside a forked process's thread), no thread outlives the World.
    struct WaitOnUnwind {
      LiveThreads& t;
      ~WaitOnUnwind() {
        if (std::uncaught_exceptions() > 0) t.wait_started();
      }
    } wait_on_unwind{threads};
    auto invariant = [this](Env<State>& env) {
      if (def_.invariant) def_.invariant(env);
    };
    for (Env<State>& env : envs) {
      if (def_.before) def_.before(env);
      invariant(env);
    }
    threads.run(copies * n, [this, &envs, &world, n](int k) {
      world.attach(world.initproc());
      if (def_.thread) def_.thread(envs[static_cast<size_t>(k / n)], k % n);
    });
    for (Env<State>& env : envs) invariant(env);
    for (Env<State>& env : envs)
      if (def_.after) def_.after(env);
  }

 private:
  Definition<State> def_;
};
}  // namespace detail

// Registers a scenario (call at namespace scope: static initialisation).
template <class State>
const Scenario& register_scenario(Definition<State> def) {
  return detail::add(std::make_unique<detail::TypedScenario<State>>(std::move(def)));
}

}  // namespace kqsim::scenarios
