#include "model/kern/world.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "knote/knote.h"
#include "model/kern/filedesc.h"
#include "model/sim/scheduler.h"

namespace kqsim::kern {

namespace {
uint64_t next_world_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}
constexpr const char* kInitComm = "init";
}  // namespace

World::World(const kq_design& design) : id_(0), design_(design) {
  kq_global.init("kqueue order", nullptr, locks::MTX_DEF);
  kq_design_lock.init("kqueue global", nullptr, locks::MTX_DEF);
  taskq_lock_.init("kqueue taskq", nullptr, locks::MTX_DEF);
  allproc_lock.init("allproc");
  prev_ = tls_current_;
  tls_current_ = this;
  if (sim::Scheduler::current() == nullptr) {
    id_ = next_world_id();  // live mode only (curthread()): no atomic per execution
    global_ = this;
    make_init();  // live mode: OS threads must not race to create it
  } else {
    max_bytes_ = sim::Scheduler::current()->options().max_memory;
    sim_gen_ = sim::Scheduler::current()->generation();
  }
}

proc* World::make_init() {
  init_ = newproc(nullptr, kInitComm);
  return init_;
}

World::~World() {
  // Stop the daemons first: none may run again on this World's memory.
  sim::Scheduler* s = sim::Scheduler::current();
  if (s != nullptr && s->generation() == sim_gen_)
    for (sim::Tid t : daemons_) s->stop_daemon(t);
  tls_current_ = prev_;
  if (global_ == this) global_ = nullptr;
}

void World::memory_limit_exceeded() {
  sim::Scheduler* s = sim::Scheduler::current();
  const uint64_t bound = max_bytes_;
  max_bytes_ = 0;  // one report per execution; the allocation itself succeeds
  if (s == nullptr || s->aborting()) return;
  sim::Finding f;
  f.kind = sim::FindingKind::kMemoryLimit;
  f.message = fmt::format(
      "memory limit: the model allocated {} bytes of kernel objects in this execution, over the bound of {} "
      "bytes (an allocation loop, or a long execution: raise the bound with --max-memory MIB)",
      bytes_, bound);
  f.fatal = true;
  s->report(std::move(f));
}

proc* World::newproc(proc* parent, const char* comm) {
  if (init_ == nullptr && comm != kInitComm) initproc();  // init is process 1
  proc* p = make<proc>();
  p->p_pptr = parent;
  p->p_comm = comm;
  p->p_mtx.init("process lock", nullptr, locks::MTX_DEF);
  p->p_klist = make<knlist>();
  knlist_init_mtx(p->p_klist, &p->p_mtx);
  fdinit(p);
  // Published under allproc_lock (live mode: another OS thread may pfind()).
  locks::sx_xlock(&allproc_lock);
  p->p_pid = next_pid_++;
  procs_.push_back(p);
  locks::sx_xunlock(&allproc_lock);
  return p;
}

proc* World::pfind(int pid) {
  initproc();
  proc* found = nullptr;
  locks::sx_slock(&allproc_lock);
  for (proc* p : procs_)
    if (p->p_pid == pid) {
      found = p;
      break;
    }
  locks::sx_sunlock(&allproc_lock);
  return found;
}

thread* World::curthread() {
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    sim::Tid t = s->self();
    thread*& td = sim_threads_[t];
    if (td == nullptr || td->td_tid != t) {
      td = make<thread>();
      td->td_proc = initproc();
      td->td_tid = t;
    }
    return td;
  }
  // Live mode: one struct thread per OS thread and World.
  thread_local uint64_t owner = 0;
  thread_local thread* live_td = nullptr;
  if (owner != id_ || live_td == nullptr) {
    owner = id_;
    live_td = make<thread>();
    live_td->td_proc = initproc();
  }
  return live_td;
}

void World::add_daemon(sim::Tid t) {
  if (t != sim::kNoThread) daemons_.push_back(t);
}

void World::attach(proc* p) { curthread()->td_proc = p; }

void World::kqueue_schedtask(kqueue* kq) {
  locks::mtx_lock(&taskq_lock_);
  if (std::find(tasks_.begin(), tasks_.end(), kq) == tasks_.end()) tasks_.push_back(kq);
  locks::mtx_unlock(&taskq_lock_);
}

void kqueue_task(kqueue* kq);  // kern_event.cc

void World::run_kqueue_tasks() {
  for (;;) {
    locks::mtx_lock(&taskq_lock_);
    if (tasks_.empty()) {
      locks::mtx_unlock(&taskq_lock_);
      return;
    }
    kqueue* kq = tasks_.front();
    tasks_.erase(tasks_.begin());
    locks::mtx_unlock(&taskq_lock_);
    kqueue_task(kq);
  }
}

}  // namespace kqsim::kern
