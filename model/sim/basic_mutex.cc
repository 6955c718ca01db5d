#include "model/sim/basic_mutex.h"

#include <fmt/format.h>

namespace kqsim::sim {

Tid BasicMutex::owner() const {
  Scheduler* s = Scheduler::current();
  return (s != nullptr && gen_ == s->generation()) ? owner_ : kNoThread;
}

std::string BasicMutex::describe() const { return fmt::format("mutex \"{}\"", name_); }

void BasicMutex::lock(SrcLoc loc) {
  Scheduler* s = Scheduler::current();
  if (s == nullptr) {
    live_.lock();
    return;
  }
  s->point();
  if (gen_ != s->generation()) {
    gen_ = s->generation();
    owner_ = kNoThread;
    waiters_ = 0;
  }
  while (owner_ != kNoThread) {
    ++waiters_;
    s->park(this, loc);
    --waiters_;
  }
  owner_ = s->self();
  s->acquire(sync_);
  if (s->tracing()) s->trace_note("lock", describe(), loc);
}

bool BasicMutex::try_lock(SrcLoc loc) {
  Scheduler* s = Scheduler::current();
  if (s == nullptr) return live_.try_lock();
  s->point();
  if (gen_ != s->generation()) {
    gen_ = s->generation();
    owner_ = kNoThread;
    waiters_ = 0;
  }
  if (owner_ != kNoThread) return false;
  owner_ = s->self();
  s->acquire(sync_);
  if (s->tracing()) s->trace_note("lock", describe(), loc);
  return true;
}

void BasicMutex::unlock(SrcLoc loc) {
  Scheduler* s = Scheduler::current();
  if (s == nullptr) {
    live_.unlock();
    return;
  }
  if (s->aborting()) {  // unwinding: just let go
    if (owner() == s->self()) owner_ = kNoThread;
    return;
  }
  if (owner() != s->self()) {
    Finding f;
    f.kind = FindingKind::kLockMisuse;
    f.message = fmt::format("unlock of {} not held by the caller @ {}", describe(), loc.str());
    f.sites = {Site::from(loc)};
    f.fatal = true;
    s->report(std::move(f));
    return;
  }
  if (s->tracing()) s->trace_note("unlock", describe(), loc);
  s->release(sync_);
  owner_ = kNoThread;
  if (waiters_ > 0) {
    // Wake every waiter parked on this mutex; they re-compete at their next point.
    s->wake_all(this);
  }
  s->point();
}

}  // namespace kqsim::sim
