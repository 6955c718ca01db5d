// schedule_program.h - harness (b): arbitrary bytes decoded into a small
// multi-threaded kqueue program plus a schedule, run once under a locking
// design (fine by default).
//
// Contract: run_schedule_program(data, size) never crashes on any input. The
// bytes decode, in order, into
//   - the program: 2 or 3 threads, a few registrations made before they
//     start, and 1-6 operations per thread on a shared set of objects (two
//     kqueues, two non-blocking pipes, two user events, a 1 ms periodic
//     EVFILT_TIMER, which starts the softclock daemon):
//     register / delete / enable / disable (EV_CLEAR, EV_ONESHOT,
//     EV_DISPATCH, EV_RECEIPT), polls with a zero timeout, pipe writes and
//     reads, NOTE_TRIGGER, and close() of any of the objects;
//   - the schedule: every remaining byte is one scheduling choice, the
//     (byte % runnable)th runnable thread; when the bytes run out the current
//     thread keeps running (else the lowest runnable one).
// No operation can block (zero timeouts, O_NONBLOCK pipes), so a deadlock,
// race, lock-order reversal, corrupted list, use after free, KASSERT or a
// broken kqueue invariant (fuzz_input.h; checked after the threads are joined
// and again after every descriptor is closed) is a bug in kqsim or in the
// design. The result carries the decoded program and the schedule actually
// taken (a path, path.h), which replays the execution with a ReplayStrategy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "model/sim/path.h"

namespace kqsim::fuzz {

struct ScheduleProgramResult {
  std::string design;
  std::string listing;  // the decoded program: setup, then each thread's operations
  sim::Path path;       // the scheduling choices the execution made
  std::string failure;  // "" when the execution was clean; else the findings / broken invariants
  bool ok() const { return failure.empty(); }
};

ScheduleProgramResult run_schedule_program(const uint8_t* data, size_t size, const char* design = "fine");

// Runs the program of `data` again along `path` (a ReplayStrategy) instead of
// the schedule bytes: the reproducer check.
ScheduleProgramResult replay_schedule_program(const uint8_t* data, size_t size, const sim::Path& path,
                                              const char* design = "fine");

}  // namespace kqsim::fuzz
