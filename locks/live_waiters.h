// live_waiters.h - live mode: who is blocked on which lock, and deadlocks.
//
// Contract
// --------
// live_waiters_text() returns one line per OS thread blocked in a live-mode
// lock acquisition right now (lo_acquire with no Scheduler): "live thread 3
// waits for sleep mutex \"filedesc\" @ site, held by live thread 2" (empty
// when none). fuzz/live.cc prints it when an iteration stalls. The
// bookkeeping costs nothing unless a thread blocks. Thread ids are
// locks::live_tid(). Thread-safe; call it while the lock objects involved are
// alive.
//
// Deadlock detection, while a LiveDeadlockScope is alive (run_live installs
// one for its run; at most one at a time per process). A live acquisition
// that is about to block follows owner edges: the lock it waits for, that
// lock's exclusive owner, the lock that owner waits for, and so on. When the
// chain comes back to the caller, every thread on it is blocked and each
// holds the lock the previous one waits for: no thread on it can ever run
// again, so the cycle is a real deadlock (never a guess: a thread listed as
// waiting cannot release what it holds, and the owners are read after they
// were written; see lock_object.cc). Then:
//   - the cycle is recorded (live_take_deadlock() returns it),
//   - the abort is in force (live_aborted()): every live thread blocked in an
//     acquisition or in msleep/tsleep is woken; each live acquisition or
//     sleep from then on throws sim::ExecutionAborted, and so does each woken
//     waiter whose lock is still held or whose sleep no wakeup() ended (one
//     that got its lock or its wakeup goes on to its next acquisition or
//     sleep); not while the thread already unwinds an exception (then it goes
//     on). So the iteration's threads unwind as an aborted deterministic
//     execution's do; releases never throw;
//   - live_take_deadlock() ends the abort; the runner calls it after every
//     thread of the iteration has returned, and discards the iteration's
//     World (its locks may still be marked held by the threads that unwound).
// Not detected: a cycle through a lock held shared (an sx slock has no single
// owner), or through a sleep that is never woken: the stall watchdog of
// fuzz/live.h still catches those. Outside a LiveDeadlockScope nothing is
// detected and nothing throws (a deadlock blocks for good, as real locks do).
#pragma once

#include <string>
#include <vector>

#include "model/sim/srcloc.h"
#include "model/sim/vector_clock.h"

namespace kqsim::locks {

using sim::Tid;

std::string live_waiters_text();

// One edge of a live deadlock: `tid` waits at `site` for `lock` (its
// describe() text, e.g. "sx \"filedesc\""), which `owner` holds.
struct LiveWaitEdge {
  Tid tid = 0;
  std::string lock;
  SrcLoc site;
  Tid owner = 0;
};

class LiveDeadlockScope {
 public:
  LiveDeadlockScope();
  ~LiveDeadlockScope();
  LiveDeadlockScope(const LiveDeadlockScope&) = delete;
  LiveDeadlockScope& operator=(const LiveDeadlockScope&) = delete;
};

// Whether a detected deadlock's abort is in force (any thread).
bool live_aborted();
// Whether the caller must throw sim::ExecutionAborted now: an abort is in
// force and the caller does not already unwind an exception.
bool live_abort_now();
// The cycle of the deadlock that put the abort in force, in wait order
// starting with the thread that found it, and ends the abort; empty when
// none is in force. Call it when no thread of the aborted iteration runs.
std::vector<LiveWaitEdge> live_take_deadlock();

// Internal (sleepq.cc): wakes every live sleeper so it sees the abort.
void live_wake_sleepers_for_abort();

}  // namespace kqsim::locks
