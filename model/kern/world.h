// world.h - the simulated kernel of one execution.
//
// Contract
// --------
// A World is the kernel a scenario runs against: a locking design, process 1
// ("init") with its descriptor table, and everything created afterwards. It
// is built inside an execution (by the scenario's setup, in simulated thread
// 0) or, in live mode, before the OS threads start, and it is destroyed when
// the execution ends. World::current() is the World of the calling OS thread
// (set by the constructor, cleared by the destructor).
//
// Threads: every simulated thread that makes syscalls is attached to a
// process with attach(p) (a thread not attached is init's); curthread() is
// its struct thread.
//
// Cost: init (process 1, its descriptor table and knlist) is created the
// first time something asks for a process or a thread (initproc(), newproc(),
// pfind(), curthread(), attach()), so an execution that only exercises
// kern_event on its own structures (tailq-pingpong) builds no process at all;
// the result is the same as creating it in the constructor.
//
// Memory: kernel objects are allocated with make<T>() and live until the
// World is destroyed, whatever the model does with them: "freeing" one marks
// it (the model can then report a use of it) instead of returning the memory.
//
// Teardown: kernel daemons (simulated daemon threads: the softclock) serve one
// World and use its memory. Whoever starts one registers it (add_daemon); the
// destructor stops every registered daemon (Scheduler::stop_daemon) before
// anything is freed, so a daemon never runs on a destroyed World, even when
// the execution goes on (another World, a thread that outlives the root).
// Per-World services (the softclock) hang off the World itself, never off a
// cache keyed by its address: a later World may reuse the address.
//
// The kqueue task (FreeBSD's taskqueue_kqueue_ctx): kqueue_schedtask() queues
// a kqueue whose watchers must be notified; every syscall runs the queued
// tasks before it returns (ast_kqueue), on the calling thread, under the
// locks kqueue_task() takes.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "knote/design.h"
#include "model/kern/kern_types.h"

namespace kqsim::kern {

struct softclock_state;  // timer.cc

class World {
 public:
  explicit World(const kq_design& design);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  static World* current() { return tls_current_ != nullptr ? tls_current_ : global_; }
  const kq_design& design() const { return design_; }

  proc* initproc() { return init_ != nullptr ? init_ : make_init(); }
  // A new process: a child of `parent` with an empty descriptor table.
  proc* newproc(proc* parent, const char* comm);
  proc* pfind(int pid);

  // The calling thread's struct thread (attached to init unless attach()ed).
  thread* curthread();
  void attach(proc* p);

  // Allocation that outlives "free" (see above).
  template <class T, class... Args>
  T* make(Args&&... args) {
    auto holder = std::make_unique<Holder<T>>(std::forward<Args>(args)...);
    T* p = &holder->value;
    bool over;
    {
      std::lock_guard<std::mutex> g(objects_mu_);  // live mode: OS threads allocate concurrently
      objects_.push_back(std::move(holder));
      bytes_ += sizeof(Holder<T>);
      over = max_bytes_ != 0 && bytes_ > max_bytes_;
    }
    if (over) memory_limit_exceeded();  // reports (and may end the execution) outside the lock
    return p;
  }
  // Bytes make() has allocated in this World (the per-execution memory bound
  // SchedulerOptions::max_memory applies to it: over it, a fatal
  // "memory-limit" finding that names --max-memory).
  uint64_t bytes_allocated() const { return bytes_; }
  // Live mode: OS threads allocate concurrently, hence the atomic.
  uint32_t next_serial() { return serial_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // A daemon thread that uses this World: stopped by the destructor, before
  // the World's memory goes (see Teardown above).
  void add_daemon(sim::Tid t);
  // The World's softclock (timer.cc creates it on the first armed timer).
  softclock_state* softclock() const { return softclock_; }
  void set_softclock(softclock_state* sc) { softclock_ = sc; }
  // Whether the softclock is between runs: none yet, not started, or parked
  // until its next callout (holding nothing). While it runs an expiry it may
  // be in the middle of updating a kqueue under that kqueue's lock, so checks
  // that read kqueues without locks (fuzz/fuzz_input.h) need it idle.
  // Defined in timer.cc.
  bool softclock_idle() const;
  // The simulated threads sys_fork started in this World during execution
  // `gen` (fork_join_all joins them); emptied when asked for another
  // execution's. Deterministic mode only (live forks go through the runner).
  std::vector<sim::Tid>& forked_threads(uint32_t gen) {
    if (fork_gen_ != gen) {
      fork_gen_ = gen;
      fork_tids_.clear();
    }
    return fork_tids_;
  }

  // The kqueue task queue.
  void kqueue_schedtask(kqueue* kq);
  void run_kqueue_tasks();

  // allproc_lock (sx "allproc", kern_proc.c): the process table (procs_,
  // next_pid_) that newproc() adds to and pfind() searches. Live mode forks
  // on OS threads, so the table needs its lock as in FreeBSD; it is taken
  // with no other lock of the process held (pfind returns the process
  // unlocked: callers PROC_LOCK it afterwards).
  locks::sx allproc_lock;
  // The "kqueue order" global lock (kq_global in kern_event.c), and the
  // design-wide kqueue lock of designs that have one.
  locks::mtx kq_global;
  locks::mtx kq_design_lock;

 private:
  struct HolderBase {
    virtual ~HolderBase() = default;
  };
  template <class T>
  struct Holder final : HolderBase {
    template <class... Args>
    explicit Holder(Args&&... args) : value(std::forward<Args>(args)...) {}
    T value;
  };

  proc* make_init();

  static inline thread_local World* tls_current_ = nullptr;
  static inline World* global_ = nullptr;  // live mode: visible to every OS thread
  World* prev_ = nullptr;
  // Live mode: unique for the process's lifetime (a thread's cached struct
  // thread is keyed by it, since a new World may reuse a freed one's address);
  // 0 in deterministic mode, which does not use it.
  uint64_t id_;
  const kq_design& design_;
  void memory_limit_exceeded();
  std::mutex objects_mu_;
  uint64_t bytes_ = 0;
  uint64_t max_bytes_ = 0;  // 0: no bound (live mode)
  std::vector<std::unique_ptr<HolderBase>> objects_;
  std::vector<proc*> procs_;  // allproc_lock
  proc* init_ = nullptr;
  thread* sim_threads_[sim::kMaxThreads] = {};
  int next_pid_ = 1;  // allproc_lock
  std::atomic<uint32_t> serial_{0};
  std::vector<sim::Tid> daemons_;   // add_daemon(), of execution sim_gen_
  uint32_t sim_gen_ = 0;             // the Scheduler generation this World was built in
  softclock_state* softclock_ = nullptr;
  std::vector<sim::Tid> fork_tids_;  // forked_threads()
  uint32_t fork_gen_ = 0;
  locks::mtx taskq_lock_;
  std::vector<kqueue*> tasks_;  // taskq_lock_
};

// The calling thread's kernel context.
inline thread* curthread() { return World::current()->curthread(); }

}  // namespace kqsim::kern
