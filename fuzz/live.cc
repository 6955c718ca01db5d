#include "fuzz/live.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "locks/live_waiters.h"
#include "locks/witness.h"
#include "model/sim/chaos.h"

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

// What blocked threads wait for, naming the scenario threads.
std::string waiters(const std::vector<locks::Tid>& tids) {
  std::string text = locks::live_waiters_text();
  if (text.empty()) return "no thread is blocked on a lock (a livelock, or a sleep that is never woken)\n";
  std::string names = "live threads:";
  for (size_t k = 0; k < tids.size(); ++k) names += fmt::format(" {} = cpu{}", tids[k], k);
  return names + "\n" + text;
}

// Runs thread bodies on OS threads, released together, with chaos and the
// run's witness installed, and a stall watchdog.
class OsThreads final : public scenarios::LiveThreads {
 public:
  OsThreads(const LiveOptions& o, locks::Witness* w, Collector& c, std::string what)
      : o_(o), w_(w), c_(c), what_(std::move(what)) {}
  void set_iteration(uint64_t i) { iteration_ = i; }
  uint64_t delays() const { return delays_.load(std::memory_order_relaxed); }

  void run(int n, const std::function<void(int)>& body) override {
    std::atomic<bool> go{false};
    std::mutex m;
    std::condition_variable cv;
    int done = 0;
    std::vector<locks::Tid> tids(static_cast<size_t>(n), locks::kNoThread);
    std::vector<std::thread> ts;
    ts.reserve(static_cast<size_t>(n));
    sim::chaos::Knob knob;
    knob.p = o_.chaos;
    knob.seed = mix(o_.seed, iteration_);
    for (int k = 0; k < n; ++k) {
      ts.emplace_back([&, k] {
        locks::WitnessScope ws(w_);
        {
          std::lock_guard<std::mutex> g(m);
          tids[static_cast<size_t>(k)] = locks::live_tid();
        }
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        {
          sim::chaos::ChaosScope cs(knob, static_cast<uint64_t>(k));
          try {
            body(k);
          } catch (const std::exception& e) {
            sim::Finding f;
            f.kind = sim::FindingKind::kAssertion;
            f.message = fmt::format("uncaught exception in live thread {}: {}", k, e.what());
            c_.add(std::move(f), false);
          }
          delays_.fetch_add(cs.delays(), std::memory_order_relaxed);
        }
        if (w_ != nullptr) w_->thread_exit(locks::live_tid());
        std::lock_guard<std::mutex> g(m);
        ++done;
        cv.notify_all();
      });
    }
    go.store(true, std::memory_order_release);
    {
      std::unique_lock<std::mutex> g(m);
      const auto limit = std::chrono::duration<double>(o_.stall_timeout_s);
      if (!cv.wait_for(g, limit, [&] { return done == n; })) {
        const std::string what = fmt::format(
            "kqsim: live: {} iteration {} did not finish within {:g} s ({} of {} threads still running): a "
            "deadlock or a livelock on real threads, which live mode cannot unwind\n"
            "{}"
            "findings so far:\n{}",
            what_, iteration_, o_.stall_timeout_s, n - done, n, waiters(tids), c_.summary());
        g.unlock();
        (o_.on_stall ? o_.on_stall : default_on_stall)(what);
        // on_stall returned: the threads must have finished after all.
        g.lock();
        cv.wait(g, [&] { return done == n; });
      }
    }
    for (std::thread& t : ts) t.join();
  }

 private:
  const LiveOptions& o_;
  locks::Witness* w_;
  Collector& c_;
  std::string what_;
  uint64_t iteration_ = 0;
  std::atomic<uint64_t> delays_{0};
};

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
  Collector collector;
  SinkScope sink_scope(collector);
  OsThreads threads(o, &w, collector, fmt::format("{} under {}", s.name(), design.name));

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
    s.execute_live(design, copies.copies, threads);
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
