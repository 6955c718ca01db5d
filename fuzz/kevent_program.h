// kevent_program.h - harness (a): arbitrary bytes decoded into a sequence of
// system calls on one process, run in one simulated execution, with the
// kqueue invariants checked after every call.
//
// Contract: run_kevent_program(data, size) never crashes on any input. It
// decodes at most kMaxCalls calls: kqueue(), pipe() (both ends non-blocking),
// write(), read(), close(), dup(), fork() (at most 4; the child exits at once) and
// kevent() with 0-4 changes of any filter, flags, idents in and out of range,
// 0-8 event slots, a null or negative event list, zero or invalid timeouts
// (never a blocking one: a lone thread waiting forever would be a deadlock of
// the program, not of the model). After each call it checks:
//   - a failed call set a FreeBSD errno (bsd_errno.h), a successful one
//     returned a plausible value;
//   - every EV_ERROR entry carries 0 (EV_RECEIPT) or a FreeBSD errno, and
//     every other returned event a known filter; no more entries than slots;
//   - check_kqueue_invariants() of the process (fuzz_input.h), when no
//     other thread is in the kernel (the check is valid only at quiescent
//     points): no forked child has started and not finished (a child exits
//     concurrently with the parent's next calls, updating the parent's
//     kqueues under their locks), and the softclock is idle
//     (World::softclock_idle). Otherwise the check is put off to the next
//     call made at a quiescent point;
// and at the end, after joining the children, closing every descriptor and
// waiting for the softclock to go idle, the invariants again. EVFILT_TIMER
// changes arm real timers (virtual time; periods of 1 ms or more), so the
// softclock daemon runs too. Any
// finding the execution makes (KASSERT, list corruption, use after free,
// race, lock order) is a failure too. The same bytes give the same execution
// (fixed strategy seed), so a failing input replays exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kqsim::fuzz {

inline constexpr int kMaxKeventCalls = 64;
// The execution's step bound: armed periodic timers (each firing at most ~64
// times, see timer_data in kevent_program.cc) may take more scheduling points
// than the default 100 000.
inline constexpr uint64_t kMaxKeventSteps = 2'000'000;

struct KeventProgramResult {
  std::string design;   // the locking design the program ran under
  std::string listing;  // one line per call: the call, its result and errno
  std::string failure;  // "" when every check held; else what broke
  size_t calls = 0;
  size_t checks = 0;           // invariant checks run (after calls and at the end)
  size_t deferred_checks = 0;  // checks after a call put off: a child or the softclock was busy
  bool ok() const { return failure.empty(); }
};

// The first byte picks the design (fine or giant); the rest is the program.
KeventProgramResult run_kevent_program(const uint8_t* data, size_t size);

}  // namespace kqsim::fuzz
