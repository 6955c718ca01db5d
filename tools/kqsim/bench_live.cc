// kqsim bench live: live-mode kevent throughput per locking design with 1..N
// OS threads, and the lock profile that explains the differences.
//
// Workload ("pipes on one kqueue"): one World, one kqueue shared by every
// thread; thread t owns a pipe whose read end is registered on the kqueue
// (EVFILT_READ, EV_CLEAR). A cycle is: write one byte to the own pipe,
// kevent() with a zero timeout collecting up to 8 events (any thread's),
// read the byte back. Every thread runs the same number of cycles after a
// start barrier; cycles per second = all cycles / wall time from the barrier
// to the last thread's end. Throughput runs have no witness (no order checks,
// no profiling); the profile comes from one extra run with the witness's
// profiler on (order checks off) at the highest thread count.
// "none" is not measured: without Giant around KNOTE it corrupts kq_head on
// real threads (kern/57945) and can hang.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <kqsim/sys/event.h>

#include "knote/design.h"
#include "locks/witness.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "tools/kqsim/bench.h"

namespace kqsim::cli {

namespace {

struct Measured {
  double cycles_per_s = 0;
  std::vector<locks::LockStats> profile;
};

Measured measure(const kern::kq_design& design, int nthreads, uint64_t cycles, bool profile) {
  locks::Witness w(locks::Witness::Options{/*check=*/false, /*profile=*/true});
  locks::WitnessScope scope(profile ? &w : nullptr);
  kern::World world(design);
  const int kq = kern::sys_kqueue();
  if (kq < 0) throw std::runtime_error("kqueue() failed");
  std::vector<std::array<int, 2>> pipes(static_cast<size_t>(nthreads));
  for (auto& p : pipes) {
    if (kern::sys_pipe(p.data()) != 0) throw std::runtime_error("pipe() failed");
    struct kevent kev;
    EV_SET(&kev, p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    if (kern::sys_kevent(kq, &kev, 1, nullptr, 0, nullptr) != 0)
      throw std::runtime_error("kevent(EV_ADD) failed");
  }
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < nthreads; ++t) {
    ts.emplace_back([&, t] {
      locks::WitnessScope ws(profile ? &w : nullptr);
      world.attach(world.initproc());
      const auto& p = pipes[static_cast<size_t>(t)];
      static const struct timespec kZero = {0, 0};
      struct kevent ev[8];
      char c = 'x';
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint64_t i = 0; i < cycles; ++i) {
        if (kern::sys_write(p[1], &c, 1) != 1) failures.fetch_add(1);
        if (kern::sys_kevent(kq, nullptr, 0, ev, 8, &kZero) < 0) failures.fetch_add(1);
        if (kern::sys_read(p[0], &c, 1) != 1) failures.fetch_add(1);
      }
    });
  }
  while (ready.load() != nthreads) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& t : ts) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (failures.load() != 0)
    throw std::runtime_error(fmt::format("{} syscalls failed in the live workload", failures.load()));
  Measured m;
  m.cycles_per_s = secs > 0 ? static_cast<double>(cycles) * nthreads / secs : 0;
  if (profile) m.profile = w.profile().rows(w.graph());
  return m;
}

std::string ms(uint64_t ns) { return fmt::format("{:.2f}", static_cast<double>(ns) / 1e6); }
std::string us(uint64_t ns) { return fmt::format("{:.1f}", static_cast<double>(ns) / 1e3); }

void bench_live(const BenchOptions& o, BenchReport& out) {
  const unsigned hw = std::max(2u, std::thread::hardware_concurrency());
  const int max_threads = static_cast<int>(o.workers != 0 ? std::max(2u, o.workers) : hw);
  std::vector<int> counts;
  for (int n = 1; n < max_threads; n *= 2) counts.push_back(n);
  counts.push_back(max_threads);
  const uint64_t cycles = o.quick ? 200 : 20'000;  // per thread
  const unsigned reps = o.quick ? 1 : o.repetitions;

  std::vector<std::string> cols{"design"};
  for (int n : counts) cols.push_back(fmt::format("{} thread{}", n, n == 1 ? "" : "s"));
  BenchTable& t = out.table(
      "Live kevent cycles per second, thousands (write + kevent + read, pipes on one kqueue)", cols);
  std::vector<const kern::kq_design*> designs;
  for (const char* name : {"giant", "global", "fine"})
    if (const kern::kq_design* d = kern::find_design(name)) designs.push_back(d);
  for (const kern::kq_design* d : designs) {
    std::vector<std::string> row{d->name};
    for (int n : counts) {
      std::vector<double> v;
      for (unsigned r = 0; r < reps; ++r) v.push_back(measure(*d, n, cycles, false).cycles_per_s);
      row.push_back(fmt::format("{:.0f}", bench_median(v) / 1e3));
    }
    t.rows.push_back(std::move(row));
  }
  t.rows.push_back({"none", "skipped: unsafe on real threads (kern/57945 corrupts kq_head)"});
  t.notes.push_back(fmt::format("median of {} runs; {} cycles per thread; {} hardware threads; no witness",
                                reps, cycles, std::thread::hardware_concurrency()));

  for (const kern::kq_design* d : designs) {
    Measured m = measure(*d, max_threads, cycles, true);
    BenchTable& p =
        out.table(fmt::format("Lock profile, {} with {} threads ({:.0f}k cycles/s with profiling)", d->name,
                              max_threads, m.cycles_per_s / 1e3),
                  {"lock class", "acquisitions", "contended", "contended %", "hold total ms", "hold max us",
                   "wait total ms", "wait max us"});
    std::sort(m.profile.begin(), m.profile.end(), [](const locks::LockStats& a, const locks::LockStats& b) {
      return a.wait_total > b.wait_total;
    });
    for (const locks::LockStats& s : m.profile) {
      const double pct = s.acquisitions > 0 ? 100.0 * static_cast<double>(s.contended) / s.acquisitions : 0;
      p.rows.push_back({s.name, std::to_string(s.acquisitions), std::to_string(s.contended),
                        fmt::format("{:.1f}", pct), ms(s.hold_total), us(s.hold_max), ms(s.wait_total),
                        us(s.wait_max)});
    }
    p.notes.push_back("one run with the witness's profiler on (order checks off); sorted by total wait");
  }
}

}  // namespace

KQSIM_REGISTER_BENCH(40, live, "live-mode kevent cycles per second per design, 1..N OS threads, lock profile",
                     bench_live);

}  // namespace kqsim::cli
