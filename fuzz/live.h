// live.h - live mode: a scenario on real OS threads with real locks.
//
// Contract
// --------
// run_live(scenario, design, options) runs iterations of the scenario under
// the design with no sim::Scheduler: each iteration builds a fresh World
// (kern::World) and `copies` independent scenario States, runs each copy's
// `before` and invariant on the calling thread, starts one std::thread per
// scenario thread of every copy (copies * scenario.threads() OS threads,
// released together from a start barrier), joins them, runs each copy's
// invariant and `after`, and destroys the World (Scenario::execute_live).
// sim::Cell/Atomic are plain memory and locks are real (std::mutex and
// condition variables under the lock layer's logical state), so what the
// threads race on is visible to ThreadSanitizer.
//
// What is checked in every iteration: the scenario's invariant and final
// oracle (scenarios::report() findings, collected per iteration), the witness
// (one locks::Witness for the whole run, installed on every thread of it: its
// lock-order graph persists across iterations, so a reversal is reported
// once), locks still held when a thread returns, and an uncaught exception in
// a thread. The lock profile (acquisitions, contention, hold and wait in ns
// per lock class) covers the whole run.
//
// Threads: LiveOptions::threads is the total number of OS threads; it must be
// 0 (the scenario's own count: one copy) or a positive multiple of the
// scenario's thread count T, and runs threads / T copies in one World.
//
// Length: `iterations` (when > 0) and/or `duration_s` (when > 0: start no new
// iteration after that much wall time); the run stops at whichever comes
// first, and runs at least one iteration.
//
// Chaos (model/sim/chaos.h): with chaos > 0, at every live scheduling point
// (Cell/Atomic access, lock acquire/release) a thread delays itself with that
// probability. Thread k of iteration i draws from an RNG seeded from
// (seed, i, k): the same seed injects the same delay decisions for the same
// per-thread sequence of points. The interleaving is the OS's and does not
// replay.
//
// Deadlocks: a design with a lock-order reversal can deadlock for real. When
// the threads of an iteration wait for each other's locks in a cycle (each
// held exclusively), the thread that closes it finds it at once
// (locks/live_waiters.h): every thread of the iteration unwinds
// (sim::ExecutionAborted, caught per thread: no "locks held at exit" report
// for them), the invariant and `after` do not run, the World is discarded,
// and the iteration files a kDeadlock finding naming the cycle ("cpu0 waits
// for sx \"filedesc\" @ site, held by cpu1"), not from the witness; the
// run goes on with the next iteration.
//
// Stalls: what that detection cannot see (a cycle through an sx held shared,
// a sleep never woken, a corrupted list that a scan loops on under "none")
// cannot be unwound. When an iteration has not finished after
// stall_timeout_s, run_live calls on_stall with a description (the
// iteration, the findings so far); the default prints it to stderr and ends
// the process with _Exit(1).
//
// Processes: run_live is the live Host (model/sim/live_host.h) of every
// thread it runs, its calling thread included: fork() starts the child
// process's thread through it, as an OS thread with the same per-thread
// context as a scenario thread (the witness, a chaos stream with thread index
// 1000 + k, exception capture, the live name "pidN"). An iteration's thread
// bodies count as finished only when every process thread started in the
// iteration (in `before` or by a body) has returned too, so the invariant and
// `after` never run beside an exiting child; the stall watchdog covers those
// threads and names them. kern::fork_join_all() waits for the same.
//
// Not available in live mode: EVFILT_TIMER (EOPNOTSUPP: the softclock is a
// daemon simulated thread on virtual time, see docs/live.md). A KASSERT
// failure prints "panic: ..." and aborts the process.
//
// Thread-safety: one run_live at a time per process (Giant is process-wide,
// and the report sink is global).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "knote/design.h"
#include "locks/profile.h"
#include "model/sim/finding.h"
#include "scenarios/scenario.h"

namespace kqsim::fuzz {

struct LiveOptions {
  int threads = 0;          // total OS threads: 0 = the scenario's count, else a multiple of it
  uint64_t iterations = 0;  // 0: bounded by duration_s only
  double duration_s = 0;    // 0: bounded by iterations only (both 0: one iteration)
  double chaos = 0;         // delay probability per live scheduling point, 0..1
  uint64_t seed = 1;        // seeds the chaos RNGs
  bool witness = true;      // lock-order and lock-use checks
  bool profile = true;      // lock profiling
  double stall_timeout_s = 30;
  // Called when an iteration stalls (see above); must not return normally if
  // the threads are stuck (the default prints and calls std::_Exit(1)).
  std::function<void(const std::string&)> on_stall;
  // Called after each iteration with the number done so far (progress).
  std::function<void(uint64_t done)> progress;
};

// A distinct finding of a run (by sim::Finding::dedup_key plus message).
struct LiveFinding {
  sim::Finding finding;
  uint64_t first_iteration = 0;  // 0-based
  uint64_t count = 0;            // iterations (or witness reports) that made it
  bool from_witness = false;     // the witness, not the scenario's oracle (or the deadlock detection)
};

struct LiveResult {
  uint64_t iterations = 0;         // iterations run
  uint64_t failed_iterations = 0;  // iterations with at least one oracle finding
  int copies = 1;
  int os_threads = 0;                     // per iteration
  double seconds = 0;                     // wall time of the iterations
  uint64_t chaos_delays = 0;              // delays injected
  std::vector<LiveFinding> findings;      // in order of first appearance
  std::vector<locks::LockStats> profile;  // per lock class, ns
  std::string profile_table;              // the same as a table
  bool ok() const { return findings.empty(); }
  // Distinct finding kinds, as "data-race, lost-event" ("clean" when none).
  std::string verdict() const;
};

// The number of scenario copies for `threads` OS threads, or an error line
// ("--threads 3 is not a multiple of kern-57945's 2 threads").
struct Copies {
  int copies = 1;
  std::string error;
};
Copies live_copies(const scenarios::Scenario& s, int threads);

// Runs the scenario live. Throws std::invalid_argument on bad options (see
// live_copies; chaos outside 0..1; negative duration).
LiveResult run_live(const scenarios::Scenario& s, const kern::kq_design& design, const LiveOptions& o);

}  // namespace kqsim::fuzz
