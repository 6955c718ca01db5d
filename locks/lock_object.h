// lock_object.h - the state every kqsim lock shares, with FreeBSD's names.
//
// Contract
// --------
// A lock_object is the common part of mtx and sx (FreeBSD's struct
// lock_object): a name, a type (the witness class: all locks initialised with
// the same type string are one class, as mtx_init(&m, "kqueue", NULL, MTX_DEF)
// makes every kqueue mutex one class), option flags and the lock's state.
//
// One object serves both execution modes, chosen per run by whether a
// sim::Scheduler is running on the calling OS thread (see docs/locks.md):
//   deterministic: state (owner, recursion, sharers, waiters) is plain data
//     valid for execution `gen`; blocking parks the fiber on the lock, which is
//     a sim::Waitable naming its owner, so a deadlock report shows the cycle.
//   live: the same logical state under `live_m`, waiters on `live_cv`.
//
// lo_acquire/lo_release implement the primitives (mtx and sx are thin
// wrappers): recursion rules, witness order checks before blocking, the
// happens-before edge, profiling (hold and wait, in scheduling steps or ns),
// and misuse reports (recursion on a non-recursive lock, release of a lock not
// held, blocking on a sleepable lock with a spin lock held).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "locks/live_condvar.h"
#include "locks/witness_graph.h"
#include "model/sim/scheduler.h"
#include "model/sim/srcloc.h"
#include "model/sim/vector_clock.h"

namespace kqsim::locks {

using sim::Tid;
using sim::kNoThread;

// mtx_init() options (sys/sys/mutex.h).
inline constexpr int MTX_DEF = 0x00000000;
inline constexpr int MTX_SPIN = 0x00000001;
inline constexpr int MTX_RECURSE = 0x00000004;
inline constexpr int MTX_NOWITNESS = 0x00000008;
inline constexpr int MTX_DUPOK = 0x00000010;  // LOP_DUPOK
inline constexpr int MTX_NOPROFILE = 0x00000020;
inline constexpr int MTX_NEW = 0x00000040;

// sx_init_flags() options (sys/sys/sx.h).
inline constexpr int SX_DUPOK = 0x01;
inline constexpr int SX_NOPROFILE = 0x02;
inline constexpr int SX_NOWITNESS = 0x04;
inline constexpr int SX_RECURSE = 0x20;
inline constexpr int SX_NEW = 0x40;

// Assertion bits (sys/sys/lock.h LA_*), and their mtx/sx spellings.
inline constexpr int LA_UNLOCKED = 0x00;
inline constexpr int LA_LOCKED = 0x01;
inline constexpr int LA_SLOCKED = 0x02;
inline constexpr int LA_XLOCKED = 0x04;
inline constexpr int LA_RECURSED = 0x08;
inline constexpr int LA_NOTRECURSED = 0x10;
inline constexpr int MA_OWNED = LA_XLOCKED;
inline constexpr int MA_NOTOWNED = LA_UNLOCKED;
inline constexpr int MA_RECURSED = LA_RECURSED;
inline constexpr int MA_NOTRECURSED = LA_NOTRECURSED;
inline constexpr int SA_LOCKED = LA_LOCKED;
inline constexpr int SA_SLOCKED = LA_SLOCKED;
inline constexpr int SA_XLOCKED = LA_XLOCKED;
inline constexpr int SA_UNLOCKED = LA_UNLOCKED;
inline constexpr int SA_RECURSED = LA_RECURSED;
inline constexpr int SA_NOTRECURSED = LA_NOTRECURSED;

// Lock operation flags passed to the witness (sys/sys/lock.h LOP_*).
inline constexpr int LOP_EXCLUSIVE = 0x04;
inline constexpr int LOP_TRYLOCK = 0x08;

enum class LockClass : uint8_t { kSleepMutex, kSpinMutex, kSx };
const char* lock_class_name(LockClass c);  // "sleep mutex", "spin mutex", "sx"

class Witness;

struct lock_object : sim::Waitable {
  const char* lo_name = "(uninitialised)";  // this lock's name
  const char* lo_type = "(uninitialised)";  // its class name (type, or name when no type)
  int lo_flags = 0;                         // MTX_* / SX_* options
  LockClass lo_class = LockClass::kSleepMutex;
  bool lo_initialized = false;
  bool lo_destroyed = false;

  // Deterministic-mode state, valid while gen is the running execution's.
  uint32_t gen = 0;
  Tid owner_tid = kNoThread;  // exclusive holder
  uint32_t recurse = 0;       // recursion depth beyond the first acquisition
  uint32_t sharers = 0;       // sx shared holders
  uint32_t waiters = 0;
  sim::SyncVar sync;
  uint64_t acquired_at = 0;   // for hold-time profiling (steps or ns)
  SrcLoc locked_at;           // where the current exclusive holder took it

  // Witness class cache: (witness id << 32) | class, valid for the Witness
  // with that id (ids are unique for the process's lifetime, unlike
  // addresses). One relaxed atomic word: in live mode several shared holders
  // of an sx fill it concurrently, and each writes a self-contained value.
  std::atomic<uint64_t> w_cache{0};

  // Live-mode state.
  std::mutex live_m;
  LiveCondvar live_cv;  // built on first wait (locks/live_condvar.h)
  // Written under live_m; atomic because live deadlock detection reads the
  // owners of other locks without their live_m (locks/live_waiters.h).
  std::atomic<Tid> live_owner{kNoThread};
  uint32_t live_recurse = 0;
  uint32_t live_sharers = 0;

  // sim::Waitable
  std::string describe() const override;
  Tid owner() const override;

  bool recursable() const;
  bool sleepable() const { return lo_class != LockClass::kSpinMutex; }
  bool dupok() const;
};

// Initialises the common part (mtx_init/sx_init call this).
void lo_init(lock_object& lo, const char* name, const char* type, int flags, LockClass cls);

// The primitives. `exclusive` false means shared (sx only). `try_only`
// returns false instead of blocking. Return true when the lock was taken.
bool lo_acquire(lock_object& lo, bool exclusive, bool try_only, SrcLoc site);
// A release is preceded by a scheduling point, as every synchronisation
// operation is: another thread may run while the caller still holds the lock.
// `point` false omits it (msleep and the callout wheel release and park as
// one step). A blocking acquisition of a lock another thread holds parks
// without a point first: the switch away is the choice (sim::Scheduler::step).
void lo_release(lock_object& lo, bool exclusive, SrcLoc site, bool point = true);

// Queries, in the calling thread's mode.
// held exclusively by the caller (inline: every KQ_OWNED asks this)
bool lo_owned_live(const lock_object& lo);
inline bool lo_owned(const lock_object& lo) {
  if (sim::Scheduler* s = sim::Scheduler::current()) return lo.gen == s->generation() && lo.owner_tid == s->self();
  return lo_owned_live(lo);
}
uint32_t lo_recursed(const lock_object& lo);
uint32_t lo_sharers(const lock_object& lo);
// lock_assert-style check; a failure is a KASSERT panic.
void lo_assert(const lock_object& lo, int what, SrcLoc site);

// The calling OS thread's live-mode thread id (small, dense, stable).
Tid live_tid();

}  // namespace kqsim::locks
