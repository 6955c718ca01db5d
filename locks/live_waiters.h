// live_waiters.h - live mode: who is blocked on which lock, for stall reports.
//
// Contract: live_waiters_text() returns one line per OS thread blocked in a
// live-mode lock acquisition right now (lo_acquire with no Scheduler):
// "live thread 3 waits for sleep mutex \"filedesc\" @ site, held by live
// thread 2" (empty when none). fuzz/live.cc prints it when an iteration
// stalls: it names the wait-for cycle of a real deadlock. The bookkeeping
// costs nothing unless a thread blocks. Thread ids are locks::live_tid().
// Thread-safe; call it while the lock objects involved are alive.
#pragma once

#include <string>

namespace kqsim::locks {

std::string live_waiters_text();

}  // namespace kqsim::locks
