#include "fuzz/live.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "locks/live_waiters.h"
#include "locks/witness.h"
#include "model/sim/chaos.h"
#include "model/sim/live_host.h"

namespace kqsim::fuzz {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Findings of the run, from any thread.
class Collector {
 public:
  void add(sim::Finding f, bool from_witness) {
    std::lock_guard<std::mutex> g(mu_);
    if (!from_witness) iteration_failed_ = true;
    const std::string key = f.dedup_key() + "\n" + f.message;
    for (LiveFinding& lf : findings_) {
      if (lf.from_witness == from_witness && lf.finding.dedup_key() + "\n" + lf.finding.message == key) {
        if (counted_.insert(key).second) ++lf.count;
        return;
      }
    }
    counted_.insert(key);
    findings_.push_back(LiveFinding{std::move(f), iteration_, 1, from_witness});
  }
  // Starts iteration i; returns whether the previous one failed.
  bool start(uint64_t i) {
    std::lock_guard<std::mutex> g(mu_);
    const bool failed = iteration_failed_;
    iteration_ = i;
    iteration_failed_ = false;
    counted_.clear();
    return failed;
  }
  bool failed() {
    std::lock_guard<std::mutex> g(mu_);
    return iteration_failed_;
  }
  std::vector<LiveFinding> take() {
    std::lock_guard<std::mutex> g(mu_);
    return std::move(findings_);
  }
  std::string summary() {
    std::lock_guard<std::mutex> g(mu_);
    std::string out;
    for (const LiveFinding& lf : findings_) out += " " + lf.finding.headline() + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<LiveFinding> findings_;
  std::set<std::string> counted_;  // keys counted in this iteration
  uint64_t iteration_ = 0;
  bool iteration_failed_ = false;
};

void sink(void* ctx, sim::Finding f) { static_cast<Collector*>(ctx)->add(std::move(f), false); }

// Installs the collector as the scenarios' live report sink for a scope.
class SinkScope {
 public:
  explicit SinkScope(Collector& c) { scenarios::set_live_report_sink(&sink, &c); }
  ~SinkScope() { scenarios::set_live_report_sink(nullptr, nullptr); }
  SinkScope(const SinkScope&) = delete;
  SinkScope& operator=(const SinkScope&) = delete;
};

void default_on_stall(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

// One OS thread of an iteration, for the stall report.
struct LiveThreadName {
  locks::Tid tid = locks::kNoThread;
  std::string name;
  bool done = false;
};

// Which threads still run, and what blocked threads wait for.
std::string waiters(const std::vector<LiveThreadName>& names) {
  std::string line = "live threads:", running;
  for (const LiveThreadName& n : names) {
    line += fmt::format(" {} = {}", n.tid, n.name);
    if (!n.done) running += " " + n.name;
  }
  line += "\nstill running:" + (running.empty() ? std::string(" (threads not started yet)") : running) + "\n";
  std::string text = locks::live_waiters_text();
  if (text.empty()) return line + "no thread is blocked on a lock (a livelock, or a sleep that is never woken)\n";
  return line + text;
}

// True on the OS threads an OsThreads started (not on the runner's own).
thread_local bool tls_started_thread = false;

// Runs thread bodies on OS threads, released together, with chaos and the
// run's witness installed, and a stall watchdog. It is also the live Host
// (model/sim/live_host.h): fork() starts the child process's thread here, with
// the same per-thread context, and run() waits for those threads too.
class OsThreads final : public scenarios::LiveThreads, public sim::live::Host {
 public:
  OsThreads(const LiveOptions& o, locks::Witness* w, Collector& c, std::string what)
      : o_(o), w_(w), c_(c), what_(std::move(what)) {}
  ~OsThreads() override { join_all_now(); }
  OsThreads(const OsThreads&) = delete;
  OsThreads& operator=(const OsThreads&) = delete;

  void set_iteration(uint64_t i) {
    iteration_ = i;
    knob_.p = o_.chaos;
    knob_.seed = mix(o_.seed, i);
    std::lock_guard<std::mutex> g(m_);
    names_.clear();
    next_child_ = 0;
  }
  uint64_t delays() const { return delays_.load(std::memory_order_relaxed); }

  // "cpu1": a thread of this iteration by its live tid (its OS thread is new
  // in every iteration; its name is not).
  std::string name_of(locks::Tid tid) {
    std::lock_guard<std::mutex> g(m_);
    for (const LiveThreadName& n : names_)
      if (n.tid == tid) return n.name;
    if (tid == locks::live_tid()) return "runner";
    return fmt::format("live thread {}", tid);
  }

  // LiveThreads: the scenario's thread bodies, released together; returns
  // when they and every process thread started meanwhile have returned.
  void run(int n, const std::function<void(int)>& body) override {
    std::atomic<bool> go{false};
    for (int k = 0; k < n; ++k) {
      launch(fmt::format("cpu{}", k), static_cast<uint64_t>(k), [&go, &body, k] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        body(k);
      });
    }
    go.store(true, std::memory_order_release);
    wait_all();
    if (locks::live_aborted()) throw sim::ExecutionAborted{};
  }
  void wait_started() override { wait_all(); }

  // Host: a process thread (fork's child).
  void start(std::string name, std::function<void()> body) override {
    uint64_t index;
    {
      std::lock_guard<std::mutex> g(m_);
      index = 1000 + next_child_++;
    }
    launch(std::move(name), index, std::move(body));
  }
  void join_started() override {
    // A started thread waiting for all started threads would wait for
    // itself: the runner's run() waits for it instead.
    if (tls_started_thread) return;
    wait_all();
  }

 private:
  void launch(std::string name, uint64_t index, std::function<void()> body) {
    std::lock_guard<std::mutex> g(m_);
    ++running_;
    threads_.emplace_back([this, name = std::move(name), index, body = std::move(body)]() mutable {
      tls_started_thread = true;
      locks::WitnessScope ws(w_);
      sim::live::HostScope hs(this, name);
      size_t slot;
      {
        std::lock_guard<std::mutex> g2(m_);
        slot = names_.size();
        names_.push_back({locks::live_tid(), name, false});
      }
      bool unwound = false;  // by a live deadlock's abort (locks/live_waiters.h)
      {
        sim::chaos::ChaosScope cs(knob_, index);
        try {
          body();
        } catch (const sim::ExecutionAborted&) {
          unwound = true;
        } catch (const std::exception& e) {
          sim::Finding f;
          f.kind = sim::FindingKind::kAssertion;
          f.message = fmt::format("uncaught exception in live thread {}: {}", name, e.what());
          c_.add(std::move(f), false);
        }
        delays_.fetch_add(cs.delays(), std::memory_order_relaxed);
      }
      // An unwound thread's locks stay marked held: not a finding.
      if (w_ != nullptr && !unwound) w_->thread_exit(locks::live_tid());
      std::lock_guard<std::mutex> g2(m_);
      names_[slot].done = true;
      --running_;
      cv_.notify_all();
    });
  }

  // Waits (with the stall watchdog) until no started thread runs, then joins them.
  void wait_all() {
    {
      std::unique_lock<std::mutex> g(m_);
      const auto limit = std::chrono::duration<double>(o_.stall_timeout_s);
      if (!cv_.wait_for(g, limit, [&] { return running_ == 0; })) {
        const std::string what = fmt::format(
            "kqsim: live: {} iteration {} did not finish within {:g} s ({} of {} threads still running): a "
            "livelock, a sleep never woken, or a deadlock live mode cannot unwind (through a lock held shared)\n"
            "{}"
            "findings so far:\n{}",
            what_, iteration_, o_.stall_timeout_s, running_, threads_.size(), waiters(names_), c_.summary());
        g.unlock();
        (o_.on_stall ? o_.on_stall : default_on_stall)(what);
        // on_stall returned: the threads must have finished after all.
        g.lock();
        cv_.wait(g, [&] { return running_ == 0; });
      }
    }
    join_all_now();
  }

  void join_all_now() {
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> g(m_);
      ts.swap(threads_);
    }
    for (std::thread& t : ts)
      if (t.joinable()) t.join();
  }

  const LiveOptions& o_;
  locks::Witness* w_;
  Collector& c_;
  std::string what_;
  uint64_t iteration_ = 0;
  sim::chaos::Knob knob_;  // set between iterations, read by the threads it starts
  std::atomic<uint64_t> delays_{0};
  std::mutex m_;
  std::condition_variable cv_;
  int running_ = 0;                                         // m_
  std::vector<std::thread> threads_;                        // m_
  std::vector<LiveThreadName> names_;                       // m_
  uint64_t next_child_ = 0;                                 // m_
};

// The finding for a live deadlock's cycle (locks/live_waiters.h), in the
// deterministic report's form. The cycle starts at its smallest line,
// whichever thread found it, so the same deadlock in another iteration is the
// same finding.
sim::Finding deadlock_finding(const std::vector<locks::LiveWaitEdge>& cycle, OsThreads& threads) {
  std::vector<std::string> lines;
  for (const locks::LiveWaitEdge& e : cycle)
    lines.push_back(fmt::format("\n {} waits for {} @ {}, held by {}", threads.name_of(e.tid), e.lock, e.site.str(),
                                threads.name_of(e.owner)));
  const size_t first = static_cast<size_t>(std::min_element(lines.begin(), lines.end()) - lines.begin());
  sim::Finding f;
  f.kind = sim::FindingKind::kDeadlock;
  f.message =
      "deadlock: live threads wait for each other's locks in a cycle (the iteration was abandoned: its threads "
      "unwound)";
  for (size_t k = 0; k < cycle.size(); ++k) {
    const size_t i = (first + k) % cycle.size();
    f.message += lines[i];
    f.sites.push_back(sim::Site::from(cycle[i].site));
    f.threads.push_back(cycle[i].tid);
  }
  return f;
}

}  // namespace

std::string LiveResult::verdict() const {
  std::set<std::string> kinds;
  for (const LiveFinding& f : findings) kinds.insert(std::string(sim::kind_name(f.finding.kind)));
  if (kinds.empty()) return "clean";
  std::string out;
  for (const std::string& k : kinds) out += (out.empty() ? "" : ", ") + k;
  return out;
}

Copies live_copies(const scenarios::Scenario& s, int threads) {
  const int t = s.threads();
  if (threads == 0) return {1, {}};
  if (threads < 0 || threads % t != 0)
    return {0, fmt::format("--threads {} is not a positive multiple of {}'s {} thread{}", threads, s.name(),
                           t, t == 1 ? "" : "s")};
  if (threads > 256) return {0, fmt::format("--threads {}: at most 256", threads)};
  return {threads / t, {}};
}

LiveResult run_live(const scenarios::Scenario& s, const kern::kq_design& design, const LiveOptions& o) {
  if (!s.no_live().empty())
    throw std::invalid_argument(fmt::format("scenario {} cannot run in live mode: {}", s.name(), s.no_live()));
  const Copies copies = live_copies(s, o.threads);
  if (!copies.error.empty()) throw std::invalid_argument(copies.error);
  if (!(o.chaos >= 0 && o.chaos <= 1))
    throw std::invalid_argument(fmt::format("--chaos {} is not in 0..1", o.chaos));
  if (!(o.duration_s >= 0)) throw std::invalid_argument("--duration must not be negative");
  if (sim::Scheduler::current() != nullptr) throw std::invalid_argument("run_live inside a simulated thread");

  LiveResult r;
  r.copies = copies.copies;
  r.os_threads = copies.copies * s.threads();

  locks::Witness w(locks::Witness::Options{o.witness, o.profile});
  locks::WitnessScope ws(&w);
  locks::LiveDeadlockScope deadlocks;
  Collector collector;
  SinkScope sink_scope(collector);
  OsThreads threads(o, &w, collector, fmt::format("{} under {}", s.name(), design.name));
  // The runner's own thread (before, the invariant, after) forks too.
  sim::live::HostScope host(&threads, "runner");

  const auto t0 = Clock::now();
  const auto deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  for (uint64_t i = 0;; ++i) {
    if (i > 0) {
      if (o.iterations > 0 && i >= o.iterations) break;
      if (o.duration_s > 0 && Clock::now() >= deadline) break;
      if (o.iterations == 0 && o.duration_s <= 0) break;
    }
    if (collector.start(i)) ++r.failed_iterations;
    threads.set_iteration(i);
    try {
      s.execute_live(design, copies.copies, threads);
    } catch (const sim::ExecutionAborted&) {
      // A deadlock's abort: reported below (execute_live waited for the
      // threads). This thread may have unwound out of `before` or `after`.
      w.forget_held();
    }
    threads.join_started();  // nothing left normally: run() waited for every thread
    const std::vector<locks::LiveWaitEdge> cycle = locks::live_take_deadlock();
    if (!cycle.empty()) collector.add(deadlock_finding(cycle, threads), false);
    for (sim::Finding& f : w.take_findings()) collector.add(std::move(f), true);
    r.iterations = i + 1;
    if (o.progress) o.progress(r.iterations);
  }
  if (collector.failed()) ++r.failed_iterations;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.chaos_delays = threads.delays();
  r.findings = collector.take();
  if (o.profile) {
    r.profile = w.profile().rows(w.graph());
    r.profile_table = w.profile().table(w.graph());
  }
  return r;
}

}  // namespace kqsim::fuzz
