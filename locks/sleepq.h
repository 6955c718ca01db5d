// sleepq.h - msleep(9)/wakeup(9) over the model.
//
// Contract (as sleep(9)):
//   msleep(chan, m, pri, wmesg, timo)  the caller holds `m` (a sleep mutex,
//       not recursed). Atomically releases `m` and sleeps on `chan` until
//       wakeup(chan)/wakeup_one(chan) or, when timo > 0, until timo ticks of
//       virtual time pass. Reacquires `m` before returning unless
//       pri & PDROP. Returns 0 when woken, EWOULDBLOCK (FreeBSD's 35) on
//       timeout. Sleeping with a spin mutex held is reported.
//   tsleep(chan, pri, wmesg, timo)      msleep without an interlock.
//   sx_sleep                            msleep with an sx interlock.
//   wakeup(chan)     wakes every thread sleeping on chan.
//   wakeup_one(chan) wakes the one that has slept longest.
// In deterministic mode "atomically" means: no scheduling point between
// releasing `m` and parking, so a wakeup cannot slip in between. In live mode
// the sleeper is queued on its channel before `m` is released.
// Ticks: hz = 1000, one tick = 1,000,000 units of virtual time (ns), or 1 ms
// of real time in live mode.
#pragma once

#include "locks/mutex.h"
#include "locks/sx.h"

namespace kqsim::locks {

inline constexpr int PCATCH = 0x100;
inline constexpr int PDROP = 0x200;
inline constexpr int PSOCK = 0x60;  // a priority value; the model ignores priorities
inline constexpr int PRIBIO = 0x10;
inline constexpr int hz = 1000;
inline constexpr uint64_t kNsPerTick = 1'000'000'000 / hz;

int msleep(const void* chan, mtx* m, int pri, const char* wmesg, int timo, SrcLoc loc = SrcLoc::current());
int msleep_spin(const void* chan, mtx* m, const char* wmesg, int timo, SrcLoc loc = SrcLoc::current());
int sx_sleep(const void* chan, sx* s, int pri, const char* wmesg, int timo, SrcLoc loc = SrcLoc::current());
// msleep with an absolute deadline in virtual nanoseconds (sim::Scheduler::now()),
// or sim::kNever; in live mode an absolute deadline on live_clock_ns(), so a
// caller that sleeps again after a spurious wakeup keeps its deadline.
// Returns 0 or EWOULDBLOCK.
int msleep_until(const void* chan, mtx* m, int pri, const char* wmesg, uint64_t deadline_ns,
                 SrcLoc loc = SrcLoc::current());
// Live mode's clock for msleep_until deadlines: steady_clock, in ns.
uint64_t live_clock_ns();
int tsleep(const void* chan, int pri, const char* wmesg, int timo, SrcLoc loc = SrcLoc::current());
void wakeup(const void* chan, SrcLoc loc = SrcLoc::current());
void wakeup_one(const void* chan, SrcLoc loc = SrcLoc::current());

}  // namespace kqsim::locks
