// live_host.h - what a live runner gives the model code on its OS threads:
// thread names, and more OS threads for processes that fork.
//
// Contract
// --------
// Live mode (fuzz/live.h) runs model code on OS threads with no
// sim::Scheduler. Some model code needs what the scheduler gives in
// deterministic mode:
//   - fork() (model/kern/proc.cc) starts the child process's thread: in
//     live mode host()->start(name, body) starts it as a new OS thread with
//     the runner's per-thread context (its witness, its chaos stream, its
//     finding capture, the thread's name) and the runner waits for it;
//   - an oracle that names threads (proxy-flow-reset's use-after-free
//     check) asks for thread_name() ("cpu1", "pid2") and
//     locks::live_tid().
// host() is the Host installed for the calling OS thread with HostScope (the
// live runner installs its own on every thread it runs, its calling thread
// included), or nullptr: then fork() in live mode is ENOSYS.
//
// Host::start(name, body): body() runs on a new OS thread; it returns at
// once. Host::join_started(): returns when every thread start()ed so far on
// this host - and every thread those start in turn - has returned (the
// runner's stall watchdog applies). The runner also calls it itself before
// the quiescent checks of an iteration (fuzz/live.cc).
//
// Thread-safety: host() and thread_name() are per OS thread; a Host's
// start() and join_started() may be called from any of its threads.
#pragma once

#include <functional>
#include <string>

namespace kqsim::sim::live {

class Host {
 public:
  virtual ~Host() = default;
  virtual void start(std::string name, std::function<void()> body) = 0;
  virtual void join_started() = 0;
};

namespace detail {
inline constinit thread_local Host* tls_host = nullptr;
inline thread_local std::string tls_name;
}  // namespace detail

// The calling OS thread's host, or nullptr.
inline Host* host() { return detail::tls_host; }

// The calling OS thread's live name ("" when the runner gave none).
inline const std::string& thread_name() { return detail::tls_name; }

// Installs a host and a thread name for the calling OS thread for a scope.
class HostScope {
 public:
  HostScope(Host* h, std::string name) : prev_(detail::tls_host), prev_name_(std::move(detail::tls_name)) {
    detail::tls_host = h;
    detail::tls_name = std::move(name);
  }
  ~HostScope() {
    detail::tls_host = prev_;
    detail::tls_name = std::move(prev_name_);
  }
  HostScope(const HostScope&) = delete;
  HostScope& operator=(const HostScope&) = delete;

 private:
  Host* prev_;
  std::string prev_name_;
};

}  // namespace kqsim::sim::live
