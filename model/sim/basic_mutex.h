// basic_mutex.h - the minimal blocking mutex of the runtime.
//
// Contract: lock() is a scheduling point; if the mutex is held the caller
// parks until unlock() hands it over (FIFO by wake order, but the woken
// thread re-competes: no ownership handoff, as with a kernel sleep mutex).
// unlock() by the owner releases its happens-before clock into the mutex;
// lock() acquires it. The mutex is a Waitable whose owner is the holder, so a
// cycle of BasicMutex waits is reported as a deadlock naming both threads.
// Misuse (unlock of a mutex not held by the caller) is a fatal kLockMisuse.
// The FreeBSD-named primitives with the witness live in locks/; this is the
// building block they and the runtime's own tests use.
//
// Outside a Scheduler (live mode) it is a std::mutex.
#pragma once

#include <mutex>
#include <string>

#include "model/sim/scheduler.h"

namespace kqsim::sim {

class BasicMutex final : public Waitable {
 public:
  explicit BasicMutex(const char* name = "mutex") : name_(name) {}

  void lock(SrcLoc loc = SrcLoc::current());
  bool try_lock(SrcLoc loc = SrcLoc::current());
  void unlock(SrcLoc loc = SrcLoc::current());
  // The holding thread in the running execution, or kNoThread.
  Tid owner() const override;
  std::string describe() const override;
  const char* name() const { return name_; }

 private:
  const char* name_;
  Tid owner_ = kNoThread;
  uint32_t gen_ = 0;  // owner_ belongs to execution gen_
  uint32_t waiters_ = 0;
  SyncVar sync_;
  std::mutex live_;
};

}  // namespace kqsim::sim
