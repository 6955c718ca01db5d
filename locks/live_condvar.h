// live_condvar.h - a condition variable built on first wait.
//
// Contract: LiveCondvar is a std::condition_variable that is constructed the
// first time a thread waits on it, so the thousands of lock objects a
// deterministic exploration builds and destroys (one kqueue mutex per
// execution) never call pthread_cond_init/destroy. wait() must be called with
// the associated mutex held (as std::condition_variable::wait requires), and
// the state it waits for must be changed under that same mutex; notify_all()
// may be called with or without it. Why that is enough: a waiter builds the
// variable while holding the mutex, before it sleeps; a notifier that changed
// the state under the mutex after the waiter slept then sees `built_` set
// (release/acquire through the flag), and one that changed it before never
// had a waiter to wake, since the waiter rechecks the state under the mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>

namespace kqsim::locks {

class LiveCondvar {
 public:
  LiveCondvar() = default;
  LiveCondvar(const LiveCondvar&) = delete;
  LiveCondvar& operator=(const LiveCondvar&) = delete;
  ~LiveCondvar() {
    if (built_.load(std::memory_order_relaxed)) cv()->~condition_variable();
  }

  void wait(std::unique_lock<std::mutex>& g) {
    if (!built_.load(std::memory_order_relaxed)) {  // only waiters build it, under the mutex
      new (storage_) std::condition_variable();
      built_.store(true, std::memory_order_release);
    }
    cv()->wait(g);
  }
  void notify_all() {
    if (built_.load(std::memory_order_acquire)) cv()->notify_all();
  }

 private:
  std::condition_variable* cv() { return std::launder(reinterpret_cast<std::condition_variable*>(storage_)); }

  alignas(std::condition_variable) unsigned char storage_[sizeof(std::condition_variable)];
  std::atomic<bool> built_{false};
};

}  // namespace kqsim::locks
