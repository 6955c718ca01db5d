#include "model/sim/scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

namespace kqsim::sim {

constinit thread_local Scheduler* Scheduler::tls_current_ = nullptr;

namespace {
std::atomic<uint32_t> g_generation{0};
constexpr size_t kReadSetsPerBlock = 64;
constexpr uint32_t kGenerationBlock = 1024;
}  // namespace

class Scheduler::JoinWait final : public Waitable {
 public:
  JoinWait(const Scheduler* s, Tid t) : s_(s), t_(t) {}
  std::string describe() const override { return fmt::format("exit of {}", s_->thread_desc(t_)); }
  Tid owner() const override { return t_; }

 private:
  const Scheduler* s_;
  Tid t_;
};

std::string Execution::trace_text() const {
  std::string out;
  for (const TraceEvent& e : trace) {
    out += fmt::format("{:>6} t{} {:<8} {}", e.step, e.tid, e.op, e.loc.str());
    if (!e.detail.empty()) {
      out += "  ";
      out += e.detail;
    }
    out += '\n';
  }
  return out;
}

Scheduler::Scheduler(SchedulerOptions opts) : opts_(opts) {
  for (Tid t = 0; t < kMaxThreads; ++t) threads_[t].tid = t;
  main_.tid = kNoThread;
  main_.set_name("scheduler");
  main_.started = true;  // the OS thread's own context: never created with make_fcontext
  hooks_.self = this;
  hooks_.on_fault = &Scheduler::on_fault;
  install_fault_handler();
}

Scheduler::~Scheduler() {
  for (Thread& t : threads_) release_stack(t.stack);
  for (ReadSet* b : readset_blocks_) delete[] b;
}

std::string Scheduler::thread_desc(Tid t) const {
  if (t == kNoThread || t >= kMaxThreads) return "the scheduler";
  return fmt::format("thread {} \"{}\"", t, threads_[t].name);
}

// ---------------------------------------------------------------- execution

const Execution& Scheduler::run(Strategy& strategy, InlineFn root, const char* root_name) {
  exec_.findings.clear();
  exec_.path.clear();
  exec_.trace.clear();
  exec_.aborted = false;
  ending_ = false;
  strategy_ = &strategy;
  strategy.begin_execution();
  steps_ = 0;
  step_limit_ = opts_.max_steps;
  access_is_point_ = !opts_.race_detection || opts_.access_points;
  access_fast_ = !access_is_point_ && !opts_.trace;
  now_ = 0;
  gen_ = next_generation();
  readsets_used_ = 0;
  nthreads_ = 0;
  nrunnable_ = 0;
  fault_pending_ = false;
  set_aborting(false);
  cur_ = prev_ = &main_;
  main_.vc.clear();
  Scheduler* outer = tls_current_;
  tls_current_ = this;
  in_run_ = true;
  set_thread_fault_hooks(&hooks_);

  spawn(std::move(root), root_name);
  run_root();

  // The root has returned (or ended with the execution): this stack is the
  // scheduler's context from here on. Threads still alive run from here, and
  // an ended execution is unwound.
  for (;;) {
    if (fault_pending_) handle_fault();
    if (aborting_) break;
    bool all_done = true;
    for (unsigned i = 0; i < nthreads_; ++i)
      all_done &= threads_[i].daemon || threads_[i].state == State::kFinished ||
                  threads_[i].state == State::kCrashed;
    if (all_done) {
      // Daemons still alive are unwound quietly.
      for (unsigned i = 0; i < nthreads_; ++i)
        if (threads_[i].daemon && threads_[i].state != State::kFinished) ending_ = true;
      break;
    }
    if (!runnable_or_deadlock()) break;
    run_from_main(threads_[pick_runnable()]);
  }
  if (aborting_ || ending_) {
    bool was_aborting = aborting_;
    set_aborting(true);  // points and parks in unwound threads throw
    unwind_all();
    set_aborting(was_aborting);
  }
  ending_ = false;

  set_thread_fault_hooks(nullptr);
  in_run_ = false;
  tls_current_ = outer;
  exec_.steps = steps_;
  exec_.end_time = now_;
  exec_.threads = nthreads_;
  exec_.aborted = aborting_;
  for (unsigned i = 0; i < nthreads_; ++i) {
    threads_[i].body.reset();
    threads_[i].state = State::kFree;
  }
  strategy_ = nullptr;
  return exec_;
}

// Generations are unique process-wide (objects such as Giant are shared by
// the workers' schedulers) and never 0. Each scheduler takes them from the
// global counter a block at a time, so parallel workers do not bounce one
// cache line at every execution.
uint32_t Scheduler::next_generation() {
  for (;;) {
    if (gen_next_ == gen_end_) {
      gen_next_ = g_generation.fetch_add(kGenerationBlock, std::memory_order_relaxed);
      gen_end_ = gen_next_ + kGenerationBlock;
    }
    const uint32_t g = gen_next_++;
    if (g != 0) return g;
  }
}

// Thread 0 runs on this OS thread's own stack, not on a fiber: no context to
// make for it, and no switch into it at the start of the execution or out of
// it at the end. While it runs, this stack is thread 0's context (os_context()):
// a thread that ends the execution switches to it and thread 0 unwinds first;
// a fault in thread 0 comes back to the sigsetjmp point below.
void Scheduler::run_root() {
  Thread& t0 = threads_[0];
  t0.started = true;
  cur_ = prev_ = &t0;
  root_on_os_ = true;
  if (sigsetjmp(root_jmp_, 0) == 0) {
    run_body(t0);
  } else {
    // A fault in thread 0 (on_fault): its frames are abandoned, as a faulting
    // fiber's stack is.
    handle_fault();
  }
  root_on_os_ = false;
  cur_ = prev_ = &main_;
}

Tid Scheduler::pick_runnable() { return nrunnable_ == 1 ? runnable_[0] : choose(kNoThread); }

// Called when no thread may be runnable: moves virtual time to the earliest
// deadline, or reports the deadlock and ends the execution (false).
bool Scheduler::runnable_or_deadlock() {
  if (nrunnable_ > 0) return true;
  if (advance_time()) return true;
  report_deadlock();
  set_aborting(true);
  return false;
}

Tid Scheduler::choose(Tid current) {
  Tid next = strategy_->choose(runnable_, nrunnable_, current);
  exec_.path.push_back(static_cast<uint8_t>(next));
  return next;
}

void Scheduler::add_runnable(Tid t) {
  unsigned i = nrunnable_++;
  while (i > 0 && runnable_[i - 1] > t) {
    runnable_[i] = runnable_[i - 1];
    --i;
  }
  runnable_[i] = t;
}

void Scheduler::remove_runnable(Tid t) {
  unsigned i = 0;
  while (i < nrunnable_ && runnable_[i] != t) ++i;
  if (i == nrunnable_) return;
  for (; i + 1 < nrunnable_; ++i) runnable_[i] = runnable_[i + 1];
  --nrunnable_;
}

// ---------------------------------------------------------------- switching

void Scheduler::fiber_entry(ctx::transfer_t t) {
  auto* s = static_cast<Scheduler*>(t.data);
  s->prev_->ctx = t.fctx;
  finish_switch_on_entry(&s->prev_->bounds);
  s->thread_main();
}

void Scheduler::start_context(Thread& to) {
  to.started = true;
  to.ctx = ctx::make_fcontext(to.stack.sc.sp, to.stack.sc.size, &Scheduler::fiber_entry);
}

void Scheduler::switch_to(Thread& to) {
  Thread& from = *cur_;
  cur_ = &to;
  if (!to.started) start_context(to);
  prev_ = &from;
  StackBounds came_from;
  ctx::transfer_t t = switch_context(to.ctx, this, to.bounds, to.stack.tsan_fiber, false, &came_from);
  // Resumed: whoever switched to us left itself in prev_.
  prev_->ctx = t.fctx;
  if (came_from.bottom != nullptr) prev_->bounds = came_from;
  if (t.data == kFaultMarker) {  // only the OS thread's context gets this
    fault_pending_ = true;
    // Thread 0 resumed in a point or a park: it records the fault, and the
    // caller's resume check then unwinds it (the execution is ending).
    if (root_on_os_) handle_fault();
  }
}

void Scheduler::run_from_main(Thread& to) { switch_to(to); }

void Scheduler::choose_and_switch() {
  Tid me = cur_->tid;
  Tid next = choose(me);
  if (next != me) {
    switch_to(threads_[next]);
    if (aborting_) aborted_point();
  }
}

void Scheduler::switch_away_blocked() {
  // The current thread is not runnable any more: go to another runnable thread.
  // When there is none, the scheduler's context advances time or reports the
  // deadlock; while thread 0 runs on the OS stack there is no such context, and
  // the blocking thread does it (then thread 0 unwinds first if it ended the
  // execution, and a thread woken by the clock may be the caller itself).
  if (!root_on_os_) {
    if (nrunnable_ == 0 || aborting_) switch_to(main_);
    else switch_to(threads_[pick_runnable()]);
    return;
  }
  Thread& to = next_while_root_on_os();
  if (&to != cur_) switch_to(to);
}

// While thread 0 runs on the OS stack, the thread that gives up the CPU picks
// the next one itself: the clock moves or the deadlock is reported here when
// nothing is runnable, and an ended execution goes to thread 0 (it unwinds
// first).
Scheduler::Thread& Scheduler::next_while_root_on_os() {
  if (!aborting_) runnable_or_deadlock();
  return aborting_ ? threads_[0] : threads_[pick_runnable()];
}

void Scheduler::switch_away_final() {
  Thread& me = *cur_;
  Thread* to = &main_;
  if (root_on_os_) {
    to = &next_while_root_on_os();
  } else if (!aborting_ && nrunnable_ > 0 && !only_daemons_left()) {
    // When the last non-daemon thread finishes, the execution ends (run()'s
    // loop unwinds the daemons): a daemon must not run on after it, since
    // what it serves may already be gone (the World the root thread destroyed).
    to = &threads_[pick_runnable()];
  }
  cur_ = to;
  if (!to->started) start_context(*to);
  prev_ = &me;
  StackBounds unused;
  switch_context(to->ctx, this, to->bounds, to->stack.tsan_fiber, /*from_finished=*/true, &unused);
  __builtin_unreachable();
}

void Scheduler::thread_main() {
  run_body(*cur_);
  switch_away_final();
}

void Scheduler::run_body(Thread& me) {
  std::string crash;
  bool was_aborted = false;
  try {
    me.body();
    if (exit_hook_ != nullptr) exit_hook_(*this, me.tid);
  } catch (ExecutionAborted&) {
    was_aborted = true;
  } catch (std::exception& e) {
    crash = fmt::format("uncaught exception in {}: {}", thread_desc(me.tid), e.what());
  }
  me.body.reset();
  remove_runnable(me.tid);
  me.state = State::kFinished;
  if (!crash.empty() && !aborting_) {
    Finding f;
    f.kind = FindingKind::kAssertion;
    f.message = std::move(crash);
    f.threads = {me.tid};
    f.step = steps_;
    f.fatal = true;
    f.path = exec_.path;
    exec_.findings.push_back(std::move(f));
    set_aborting(true);
  }
  if (!aborting_ && !was_aborted) {
    if (opts_.trace) trace_event("exit", {}, {});
    // Wake joiners. (Not through their Waitables: a parked daemon's Waitable
    // may belong to an object the program has already destroyed.)
    for (unsigned i = 0; i < nthreads_; ++i) {
      Thread& t = threads_[i];
      if (t.state == State::kBlocked && t.join_target == me.tid) unpark(t.tid);
    }
  }
}

// ---------------------------------------------------------------- threads

Tid Scheduler::spawn_daemon(InlineFn body, const char* name, SrcLoc loc) {
  Tid t = spawn(std::move(body), name, loc);
  if (t != kNoThread) threads_[t].daemon = true;
  return t;
}

void Scheduler::stop_daemon(Tid t) {
  if (t >= nthreads_ || t == cur_->tid) return;
  Thread& th = threads_[t];
  if (!th.daemon || th.stopped || (th.state != State::kRunnable && th.state != State::kBlocked)) return;
  th.stopped = true;
  remove_runnable(t);
  if (!th.started) {
    th.body.reset();
    th.state = State::kFinished;
    return;
  }
  // Suspended (parked, or preempted at a point): keep it so, waiting on
  // nothing (its Waitable may be freed with its owner), until unwind_all().
  th.state = State::kBlocked;
  th.waiting_on = nullptr;
  th.deadline = kNever;
  th.join_target = kNoThread;
}

bool Scheduler::only_daemons_left() const {
  for (unsigned i = 0; i < nthreads_; ++i)
    if (!threads_[i].daemon && threads_[i].state != State::kFinished && threads_[i].state != State::kCrashed)
      return false;
  return true;
}

void Scheduler::too_many_threads(SrcLoc loc) {
  Finding f;
  f.kind = FindingKind::kLimit;
  f.message = fmt::format("too many simulated threads: kqsim supports {} per execution", kMaxThreads);
  f.sites = {Site::from(loc)};
  f.fatal = true;
  report(std::move(f));
}

Tid Scheduler::spawn(InlineFn body, const char* name, SrcLoc loc) {
  if (aborting_) return kNoThread;
  if (nthreads_ == kMaxThreads) [[unlikely]] {
    too_many_threads(loc);
    return kNoThread;
  }
  Tid tid = nthreads_++;
  Thread& t = threads_[tid];
  if (tid == 0) {
    // The root runs on the OS thread's stack (run_root()): no fiber stack. Its
    // bounds, for the address sanitizer, are filled in when it first switches
    // away.
    t.bounds = StackBounds{};
  } else {
    // A slot's stack is kept from one execution to the next.
    if (!t.stack.allocated() || t.stack.sc.size < opts_.stack_size) [[unlikely]]
      allocate_stack(t.stack, opts_.stack_size);
    t.bounds = StackBounds{reinterpret_cast<const void*>(t.stack.lowest()), t.stack.sc.size};
  }
  t.state = State::kRunnable;
  t.started = false;
  t.ctx = nullptr;
  t.waiting_on = nullptr;
  t.deadline = kNever;
  t.timed_out = false;
  t.label = nullptr;
  t.daemon = false;
  t.stopped = false;
  t.join_target = kNoThread;
  t.body = std::move(body);
  if (name != nullptr) {
    t.set_name(name);
  } else {
    auto r = fmt::format_to_n(t.name, Thread::kMaxName, "t{}", tid);
    *r.out = '\0';
  }
  // Happens-before: the child starts after everything its parent did so far.
  if (cur_ != &main_) {
    t.vc = cur_->vc;
    cur_->vc[cur_->tid]++;
  } else {
    t.vc.clear();
  }
  t.vc[tid] += 1;
  add_runnable(tid);
  strategy_->on_spawn(tid);
  // A step, not a scheduling point: the child can first run at the parent's
  // next point, and nothing the parent does before it is visible to the
  // child (see "Scheduling points" in scheduler.h).
  if (cur_ != &main_) {
    if (opts_.trace) [[unlikely]] trace_spawn(tid, loc);
    step();
  }
  return tid;
}

void Scheduler::trace_spawn(Tid t, SrcLoc loc) { trace_event("spawn", loc, fmt::format("-> {}", thread_desc(t))); }

void Scheduler::join(Tid t, SrcLoc loc) {
  // No point before joining a thread that has not finished: the caller parks
  // at once, and the switch away from it is the choice.
  if (t >= nthreads_ || is_finished(t)) point();
  if (t >= nthreads_) return;
  JoinWait w(this, t);
  cur_->join_target = t;
  while (threads_[t].state != State::kFinished && threads_[t].state != State::kCrashed) park(&w, loc);
  cur_->join_target = kNoThread;
  cur_->vc.join_first(threads_[t].vc, nthreads_);
  if (opts_.trace) trace_event("join", loc, thread_desc(t));
}

void Scheduler::yield(SrcLoc loc) {
  if (opts_.trace) trace_event("yield", loc, {});
  point();
}

WakeReason Scheduler::park(const Waitable* w, SrcLoc loc, uint64_t deadline) {
  ++steps_;
  if (aborting_) {
    aborted_point();
    return WakeReason::kWoken;
  }
  Thread& me = *cur_;
  me.state = State::kBlocked;
  me.waiting_on = w;
  me.wait_site = loc;
  me.deadline = deadline;
  me.timed_out = false;
  me.park_seq = steps_;
  remove_runnable(me.tid);
  if (opts_.trace) trace_event("block", loc, w != nullptr ? w->describe() : std::string("sleep"));
  switch_away_blocked();
  // Resumed.
  if (aborting_) aborted_point();
  return me.timed_out ? WakeReason::kTimedOut : WakeReason::kWoken;
}

void Scheduler::unpark(Tid t) {
  Thread& th = threads_[t];
  if (th.state != State::kBlocked || th.stopped) return;
  make_runnable(th);
  if (opts_.trace && cur_ != &main_) trace_event("wake", {}, thread_desc(t));
}

void Scheduler::make_runnable(Thread& th) {
  th.state = State::kRunnable;
  th.waiting_on = nullptr;
  th.deadline = kNever;
  add_runnable(th.tid);
}

unsigned Scheduler::wake_all(const Waitable* w) {
  unsigned n = 0;
  for (unsigned i = 0; i < nthreads_; ++i)
    if (threads_[i].state == State::kBlocked && threads_[i].waiting_on == w) {
      unpark(i);
      ++n;
    }
  return n;
}

bool Scheduler::wake_one(const Waitable* w) {
  Thread* best = nullptr;
  for (unsigned i = 0; i < nthreads_; ++i) {
    Thread& t = threads_[i];
    if (t.state == State::kBlocked && t.waiting_on == w && (best == nullptr || t.park_seq < best->park_seq))
      best = &t;
  }
  if (best == nullptr) return false;
  unpark(best->tid);
  return true;
}

unsigned Scheduler::wake_channel(const void* chan, bool only_one) {
  if (only_one) {
    Thread* best = nullptr;
    for (unsigned i = 0; i < nthreads_; ++i) {
      Thread& t = threads_[i];
      if (t.state == State::kBlocked && t.waiting_on != nullptr && t.waiting_on->channel() == chan &&
          (best == nullptr || t.park_seq < best->park_seq))
        best = &t;
    }
    if (best == nullptr) return 0;
    unpark(best->tid);
    return 1;
  }
  unsigned n = 0;
  for (unsigned i = 0; i < nthreads_; ++i) {
    Thread& t = threads_[i];
    if (t.state == State::kBlocked && t.waiting_on != nullptr && t.waiting_on->channel() == chan) {
      unpark(t.tid);
      ++n;
    }
  }
  return n;
}

void Scheduler::sleep_until(uint64_t deadline, SrcLoc loc) {
  while (now_ < deadline) park(nullptr, loc, deadline);
}

bool Scheduler::advance_time() {
  uint64_t next = kNever;
  for (unsigned i = 0; i < nthreads_; ++i)
    if (threads_[i].state == State::kBlocked) next = std::min(next, threads_[i].deadline);
  if (next == kNever) return false;
  now_ = std::max(now_, next);
  for (unsigned i = 0; i < nthreads_; ++i) {
    Thread& t = threads_[i];
    if (t.state == State::kBlocked && t.deadline <= now_ && !t.stopped) {
      make_runnable(t);  // the clock wakes it: no "wake" event, whoever runs this
      t.timed_out = true;
    }
  }
  return true;
}

// ---------------------------------------------------------------- findings

void Scheduler::report(Finding f) {
  if (aborting_) return;
  f.step = steps_;
  f.path = exec_.path;
  bool end = f.fatal || opts_.stop_on_finding;
  if (f.threads.empty() && cur_ != &main_) f.threads = {cur_->tid};
  if (opts_.trace) trace_event("FINDING", {}, f.headline());
  exec_.findings.push_back(std::move(f));
  if (end) {
    exec_.findings.back().fatal = true;
    set_aborting(true);
    if (cur_ != &main_) abort_from_thread();
  }
}

void Scheduler::assertion_failed(std::string message, SrcLoc loc) {
  Finding f;
  f.kind = FindingKind::kAssertion;
  f.message = std::move(message);
  f.sites = {Site::from(loc)};
  f.fatal = true;
  report(std::move(f));
  // report() does not return for a fatal finding in a simulated thread; from the
  // scheduler's own context there is nothing to unwind.
  throw ExecutionAborted{};
}

void Scheduler::abort_from_thread() {
  set_aborting(true);
  // Thread 0 on the OS stack unwinds at once; another thread lets the OS
  // thread's context (thread 0, or the scheduler's loop) unwind first, and
  // unwinds when unwind_all() resumes it.
  if (cur_ != &os_context()) switch_to(os_context());
  throw ExecutionAborted{};
}

void Scheduler::step_off_fast_path() {
  if (steps_ > step_limit_) step_bound_exceeded();
  if (aborting_) aborted_point();
}

void Scheduler::aborted_point() {
  if (std::uncaught_exceptions() == 0) throw ExecutionAborted{};
}

void Scheduler::step_bound_exceeded() {
  --steps_;  // keep steps == bound in the report
  Finding f;
  f.kind = FindingKind::kStepBound;
  f.message = fmt::format(
      "step bound exceeded: {} scheduling points without finishing (a livelock, an unbounded loop, or a "
      "long execution: raise the bound with --max-steps)",
      step_limit_);
  f.fatal = true;
  step_limit_ = ~uint64_t{0} >> 1;  // no second report while unwinding
  set_limits();
  report(std::move(f));
}

void Scheduler::report_deadlock() {
  Finding f;
  f.kind = FindingKind::kDeadlock;
  f.fatal = true;
  f.step = steps_;
  f.path = exec_.path;
  std::string msg = "deadlock: no simulated thread can run";
  std::vector<Tid> blocked;
  for (unsigned i = 0; i < nthreads_; ++i)
    if (threads_[i].state == State::kBlocked && !threads_[i].stopped) blocked.push_back(i);
  for (Tid t : blocked) {
    const Thread& th = threads_[t];
    std::string what = th.waiting_on != nullptr ? th.waiting_on->describe() : "a wakeup";
    Tid owner = th.waiting_on != nullptr ? th.waiting_on->owner() : kNoThread;
    msg += fmt::format("\n {}", thread_desc(t));
    if (holds_hook_ != nullptr) {
      std::string holds = holds_hook_(t);
      if (!holds.empty()) msg += fmt::format(" holds {} and", holds);
    }
    msg += fmt::format(" waits for {} @ {}", what, th.wait_site.str());
    if (owner != kNoThread) msg += fmt::format(", held by {}", thread_desc(owner));
    f.sites.push_back(Site::from(th.wait_site));
  }
  // Follow owner edges from each blocked thread to find a cycle.
  for (Tid start : blocked) {
    std::vector<Tid> chain{start};
    Tid t = start;
    bool cycle = false;
    for (unsigned k = 0; k <= kMaxThreads; ++k) {
      const Waitable* w = threads_[t].waiting_on;
      if (threads_[t].state != State::kBlocked || w == nullptr || w->owner() == kNoThread) break;
      t = w->owner();
      auto it = std::find(chain.begin(), chain.end(), t);
      if (it != chain.end()) {
        chain.erase(chain.begin(), it);
        chain.push_back(t);
        cycle = true;
        break;
      }
      chain.push_back(t);
    }
    if (cycle) {
      msg += "\n wait-for cycle:";
      for (size_t i = 0; i < chain.size(); ++i) msg += fmt::format("{}thread {}", i ? " -> " : " ", chain[i]);
      f.threads.assign(chain.begin(), chain.end() - 1);
      break;
    }
  }
  if (f.threads.empty()) f.threads = blocked;
  f.message = std::move(msg);
  if (opts_.trace) trace_event("FINDING", {}, f.headline(), kNoThread);
  exec_.findings.push_back(std::move(f));
}

FaultTarget Scheduler::on_fault(void* self, const FaultInfo& info) {
  auto* s = static_cast<Scheduler*>(self);
  if (!s->in_run_ || s->cur_ == &s->main_ || s->fault_pending_) return {};
  s->fault_ = info;
  s->fault_thread_ = s->cur_;
  Thread& os = s->os_context();
  if (s->cur_ == &os) {  // thread 0, on the OS stack: back to run_root()
    s->fault_pending_ = true;
    FaultTarget t;
    t.jmp = &s->root_jmp_;
    return t;
  }
  // We are leaving the faulting thread for good: the OS thread's context resumes.
  s->prev_ = s->cur_;
  s->cur_ = &os;
  return FaultTarget{os.ctx, os.bounds, nullptr};
}

void Scheduler::handle_fault() {
  fault_pending_ = false;
  Thread& t = *fault_thread_;
  t.state = State::kCrashed;
  remove_runnable(t.tid);
  forget_stack_frames(t.stack);  // abandoned; reused by the slot's next thread
  // Thread 0 runs on the OS thread's stack (run_root()), the others on fibers.
  const bool on_os = root_on_os_ && &t == &threads_[0];
  uintptr_t lo = t.stack.lowest();
  size_t size = opts_.stack_size;
  if (on_os) {
    pthread_attr_t attr;
    void* addr = nullptr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &addr, &size);
      pthread_attr_destroy(&attr);
    }
    lo = reinterpret_cast<uintptr_t>(addr);
  }
  const uintptr_t page = 4096;
  bool overflow = lo != 0 && fault_.addr + 256 * 1024 >= lo && fault_.addr < lo + page;
  Finding f;
  f.kind = overflow ? FindingKind::kStackOverflow : FindingKind::kMemoryFault;
  f.threads = {t.tid};
  f.fatal = true;
  f.step = steps_;
  f.path = exec_.path;
  if (overflow && on_os)
    f.message = fmt::format(
        "stack overflow: {} ran past the end of its {} KiB stack, the stack of the OS thread that runs "
        "thread 0 (unbounded recursion?)",
        thread_desc(t.tid), size / 1024);
  else if (overflow)
    f.message = fmt::format(
        "stack overflow: {} ran past the end of its {} KiB stack (unbounded recursion? raise the stack "
        "size with --stack-kib KIB if the recursion is legitimate)",
        thread_desc(t.tid), opts_.stack_size / 1024);
  else
    f.message = fmt::format("memory fault: {} got signal {} at address {:#x} (often the consequence of a "
                            "corrupted list or a use of freed memory earlier in the trace)",
                            thread_desc(t.tid), fault_.signo == SIGBUS ? "SIGBUS" : "SIGSEGV", fault_.addr);
  if (t.label != nullptr) f.message += fmt::format("\n while doing {}", t.label);
  if (opts_.trace) trace_event("FINDING", {}, f.headline(), kNoThread);
  exec_.findings.push_back(std::move(f));
  set_aborting(true);
}

void Scheduler::unwind_all() {
  // Resume every started thread that has not finished so that its stack
  // unwinds (ExecutionAborted); threads that never ran are simply dropped.
  for (bool again = true; again;) {
    again = false;
    for (unsigned i = 0; i < nthreads_; ++i) {
      Thread& t = threads_[i];
      if (t.state != State::kRunnable && t.state != State::kBlocked) continue;
      if (!t.started) {
        t.body.reset();
        remove_runnable(t.tid);
        t.state = State::kFinished;
        continue;
      }
      if (t.state == State::kBlocked) add_runnable(t.tid);
      t.state = State::kRunnable;
      switch_to(t);
      if (fault_pending_) {
        // A fault while unwinding: record it and abandon that stack.
        fault_pending_ = false;
        fault_thread_->state = State::kCrashed;
        remove_runnable(fault_thread_->tid);
      }
      again = true;
    }
  }
}

// ---------------------------------------------------------------- happens-before

void Scheduler::release(SyncVar& s) {
  if (!opts_.race_detection || cur_ == &main_) return;
  s.gen = gen_;
  s.copied_from = cur_->tid;
  s.vc = cur_->vc;
  cur_->vc[cur_->tid]++;
}

void Scheduler::release_join(SyncVar& s) {
  if (!opts_.race_detection || cur_ == &main_) return;
  if (s.gen != gen_) {
    s.gen = gen_;
    s.vc.clear();
  }
  s.copied_from = kNoThread;
  s.vc.join_first(cur_->vc, nthreads_);
  cur_->vc[cur_->tid]++;
}

void Scheduler::acquire(SyncVar& s) {
  if (!opts_.race_detection || cur_ == &main_) return;
  if (s.gen != gen_ || s.copied_from == cur_->tid) return;  // nothing new (vector_clock.h)
  cur_->vc.join_first(s.vc, nthreads_);
}

ReadSet* Scheduler::new_readset() {
  size_t block = readsets_used_ / kReadSetsPerBlock;
  if (block == readset_blocks_.size()) readset_blocks_.push_back(new ReadSet[kReadSetsPerBlock]);
  ReadSet* rs = &readset_blocks_[block][readsets_used_ % kReadSetsPerBlock];
  ++readsets_used_;
  std::memset(rs->clk, 0, sizeof rs->clk);
  return rs;
}

void Scheduler::on_read_slow(Shadow& s, SrcLoc loc, const char* op) {
  slow_access_step();
  if (opts_.trace) trace_event(op, loc, cur_->label != nullptr ? cur_->label : "");
  if (!opts_.race_detection) return;
  if (s.gen != gen_) s.reset(gen_);
  read_check(s, loc);
}

void Scheduler::read_check(Shadow& s, SrcLoc loc) {
  Thread& t = *cur_;
  const Tid tid = t.tid;
  const uint32_t clk = t.vc[tid];
  if (!s.r_shared && s.r_tid == tid && s.r_clk == clk) return;  // same epoch
  if (s.w_clk != 0 && s.w_clk > t.vc[s.w_tid]) race_found("read", s.w_tid, s.w_loc(), "write", loc, "read");
  if (!s.r_shared) {
    if (s.r_clk == 0 || s.r_clk <= t.vc[s.r_tid]) {
      s.r_tid = static_cast<uint8_t>(tid);
      s.r_clk = clk;
      s.set_r_loc(loc);
    } else {
      ReadSet* rs = new_readset();
      rs->clk[s.r_tid] = s.r_clk;
      rs->loc[s.r_tid] = s.r_loc();
      rs->clk[tid] = clk;
      rs->loc[tid] = loc;
      s.rs = rs;
      s.r_shared = true;
    }
  } else {
    s.rs->clk[tid] = clk;
    s.rs->loc[tid] = loc;
  }
}

void Scheduler::on_write_slow(Shadow& s, SrcLoc loc, const char* op) {
  slow_access_step();
  if (opts_.trace) trace_event(op, loc, cur_->label != nullptr ? cur_->label : "");
  if (!opts_.race_detection) return;
  if (s.gen != gen_) s.reset(gen_);
  write_check(s, loc);
}

void Scheduler::write_check(Shadow& s, SrcLoc loc) {
  Thread& t = *cur_;
  const Tid tid = t.tid;
  const uint32_t clk = t.vc[tid];
  if (s.w_tid == tid && s.w_clk == clk && !s.r_shared && (s.r_clk == 0 || s.r_tid == tid)) {
    s.set_w_loc(loc);  // same epoch: a later race names this write, as on_write's inline path does
    return;
  }
  if (s.w_clk != 0 && s.w_clk > t.vc[s.w_tid]) race_found("write", s.w_tid, s.w_loc(), "write", loc, "write");
  if (!s.r_shared) {
    if (s.r_clk != 0 && s.r_clk > t.vc[s.r_tid]) race_found("write", s.r_tid, s.r_loc(), "read", loc, "write");
  } else {
    for (Tid u = 0; u < nthreads_; ++u)
      if (s.rs->clk[u] != 0 && s.rs->clk[u] > t.vc[u]) race_found("write", u, s.rs->loc[u], "read", loc, "write");
    s.r_shared = false;
    s.r_clk = 0;
  }
  s.w_tid = static_cast<uint8_t>(tid);
  s.w_clk = clk;
  s.set_w_loc(loc);
}

void Scheduler::race_found(const char*, Tid other, SrcLoc other_loc, const char* other_op, SrcLoc loc,
                           const char* op) {
  Finding f;
  f.kind = FindingKind::kDataRace;
  f.threads = {cur_->tid, other};
  f.sites = {Site::from(loc), Site::from(other_loc)};
  f.message = fmt::format("data race: {} by {} at {}", op, thread_desc(cur_->tid), loc.str());
  if (cur_->label != nullptr) f.message += fmt::format(" during {}", cur_->label);
  f.message += fmt::format("\n conflicts with the previous {} by {} at {}", other_op, thread_desc(other),
                           other_loc.str());
  f.message += "\n no lock or atomic orders the two accesses (happens-before)";
  report(std::move(f));
}

void Scheduler::trace_event(const char* op, SrcLoc loc, std::string detail) {
  trace_event(op, loc, std::move(detail), cur_ == &main_ ? kNoThread : cur_->tid);
}

void Scheduler::trace_event(const char* op, SrcLoc loc, std::string detail, Tid tid) {
  exec_.trace.push_back(TraceEvent{steps_, tid, op, loc, std::move(detail)});
}

void Scheduler::trace_note(const char* op, std::string detail, SrcLoc loc) {
  if (opts_.trace) trace_event(op, loc, std::move(detail));
}

}  // namespace kqsim::sim
