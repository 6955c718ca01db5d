// scheduler.h - the deterministic runtime: simulated threads on fibers, one
// execution at a time, every interleaving chosen by a Strategy.
//
// Contract
// --------
// A Scheduler runs executions. run(strategy, root) runs `root` as simulated
// thread 0 and returns when every simulated thread has finished, or the
// execution was ended by a fatal finding (deadlock, fault, step bound, or any
// finding when Options::stop_on_finding). All simulated threads of one
// Scheduler run on the calling OS thread, one at a time: thread 0 on that OS
// thread's own stack (so it costs no context and no switch in or out), the
// others on fibers. A Scheduler is reused across executions; it keeps its
// fiber stacks and buffers, so an execution allocates nothing on the steady
// path.
//
// Scheduling points. Model code calls point() (directly, or through every
// sim::Atomic access and every lock operation). At a point where two or more
// threads are runnable the Strategy chooses who runs next and the choice is
// appended to the path; with one runnable thread nothing is chosen. A point
// precedes every synchronisation operation: lock acquisition and release,
// atomics, sleep and wakeup, yield, the join of a finished thread; a thread
// that blocks or exits is switched away from, which is a choice too. Where
// the caller parks at once whatever another thread did first (acquiring a
// lock another thread holds, joining a thread still running), the park's
// switch is the choice and there is no point before it; spawn is no point
// either (the child can first run at the parent's next point, and what the
// parent does until then is invisible to it). Those are steps (step()).
//
// Plain accesses (sim::Cell loads and stores) are scheduling points only when
// the race detector is off or Options::access_points is set. With the race
// detector on, preempting at synchronisation operations alone loses nothing
// (Musuvathi & Qadeer, CHESS): up to the first data race an execution is
// race-free, so where another thread's plain accesses fall between two
// synchronisation operations changes neither what any access reads nor the
// happens-before order; and the first race is reported in every ordering of
// the synchronisation operations that reaches both accesses, whichever order
// the two accesses run in. A plain access still counts as a step (the step
// bound still ends a thread spinning on a plain variable) and still notices an
// ended execution. docs/performance.md measures what this saves.
// Blocking: park(w) removes the caller from the runnable set until unpark() or
// its deadline; `w` describes what it waits for and who holds it, which is
// what turns "no runnable thread" into a deadlock report naming the cycle.
//
// Virtual time. now() starts at 0 each execution and only moves when no
// thread is runnable: the clock jumps to the earliest deadline of a parked
// thread and every thread whose deadline has come wakes with kTimedOut. No
// runnable thread and no deadline is a deadlock.
//
// Happens-before. Each thread has a vector clock. spawn() and join() order
// parent and child; release()/acquire() on a SyncVar are the edges that locks
// and atomics create. on_read()/on_write() check an access against its
// Shadow (FastTrack) and report a data race naming both accesses.
//
// Threads-state table (per simulated thread):
//   kNew      --first switched to-->        kRunnable (started)
//   kRunnable --park()-->                   kBlocked
//   kBlocked  --unpark() / deadline-->      kRunnable
//   kRunnable --body returns-->             kFinished
//   kRunnable --fault (guard page, SEGV)--> kCrashed   (its stack is abandoned)
//
// Ending an execution early (abort): the reporting thread switches to the OS
// thread's context - thread 0, which unwinds first, or the scheduler's loop
// once thread 0 has finished - and the scheduler then resumes every started,
// unfinished thread once more; the point or park it is suspended in throws
// ExecutionAborted, so its stack unwinds and destructors run (points reached
// while unwinding return at once, and never switch threads). A fault in
// thread 0 comes back to run() by siglongjmp, and its frames are abandoned as
// a faulting fiber's stack is. Model code must not swallow ExecutionAborted
// (no catch (...)), and a destructor that can reach a scheduling point (a
// lock guard, a syscall scope) must be declared noexcept(false), or the throw
// would terminate the process.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "model/sim/fiber.h"
#include "model/sim/finding.h"
#include "model/sim/inline_fn.h"
#include "model/sim/path.h"
#include "model/sim/shadow.h"
#include "model/sim/srcloc.h"
#include "model/sim/strategy.h"
#include "model/sim/vector_clock.h"

namespace kqsim::sim {

class Scheduler;

// Thrown inside simulated threads to unwind them when an execution is ended.
// Deliberately not a std::exception.
struct ExecutionAborted {};

// What a parked thread waits for. describe() names it for reports ("mtx
// \"kqueue\""); owner() names the thread that must act before the waiter can
// go on (kNoThread when none, e.g. a wait channel), which builds the wait-for
// graph of a deadlock report.
class Waitable {
 public:
  virtual ~Waitable() = default;
  virtual std::string describe() const = 0;
  virtual Tid owner() const { return kNoThread; }
  // The sleep channel (msleep/wakeup) this wait is on, or nullptr.
  virtual const void* channel() const { return nullptr; }
};

enum class WakeReason : uint8_t { kWoken, kTimedOut };

inline constexpr uint64_t kNever = ~uint64_t{0};

struct SchedulerOptions {
  uint64_t max_steps = 100'000;       // steps (points and plain accesses) per execution before kStepBound
  bool race_detection = true;
  // Plain loads and stores are scheduling points even with race detection on
  // (they always are with it off). Off by default: see "Scheduling points".
  bool access_points = false;
  bool trace = false;                 // record a readable trace (replay/explain)
  bool stop_on_finding = true;        // any finding ends the execution
  size_t stack_size = 256 * 1024;     // per simulated thread, plus a guard page
  uint64_t max_memory = uint64_t{256} << 20;  // bytes kern::World::make() may allocate per execution
                                              // before a kMemoryLimit finding (0: no bound)
};

struct TraceEvent {
  uint64_t step = 0;
  Tid tid = 0;
  const char* op = "";  // static string: "load", "store", "spawn", "block", ...
  SrcLoc loc;
  std::string detail;
};

// What one execution produced. Owned by the Scheduler and overwritten by the
// next run(); copy what you keep.
struct Execution {
  std::vector<Finding> findings;
  Path path;
  std::vector<TraceEvent> trace;
  uint64_t steps = 0;
  uint64_t end_time = 0;
  unsigned threads = 0;
  bool aborted = false;
  std::string trace_text() const;  // one line per event, stable across runs
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions opts = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const SchedulerOptions& options() const { return opts_; }
  void set_options(const SchedulerOptions& o) { opts_ = o; }

  // Runs one execution of `root` as thread 0. Must not be called from inside
  // a simulated thread.
  const Execution& run(Strategy& strategy, InlineFn root, const char* root_name = "main");

  // The scheduler running on this OS thread, or nullptr outside run() (and
  // always in live mode): instrumented memory is plain memory then.
  static Scheduler* current() { return tls_current_; }

  // ---- called from simulated threads ----
  Tid self() const { return cur_->tid; }
  const char* thread_name(Tid t) const { return threads_[t].name; }
  // `name` is copied (up to Thread::kMaxName characters); nullptr names it "t<tid>".
  Tid spawn(InlineFn body, const char* name = nullptr, SrcLoc loc = SrcLoc::current());
  // A daemon thread (a kernel service loop: softclock, a taskqueue) does not
  // keep the execution alive: once every non-daemon thread has finished, the
  // execution ends and daemons still running are unwound (no finding).
  Tid spawn_daemon(InlineFn body, const char* name = nullptr, SrcLoc loc = SrcLoc::current());
  // Stops daemon thread t for good, because what it serves is going away (a
  // kern::World stops its softclock before freeing it): t never runs again in
  // this execution and nothing wakes it. A daemon that never started is
  // dropped; one that did stays suspended and is unwound at the end of the
  // execution like any daemon. No effect on a thread that is not a live
  // daemon, or on the calling thread itself.
  void stop_daemon(Tid t);
  void join(Tid t, SrcLoc loc = SrcLoc::current());
  // A scheduling point (no memory access): lets the strategy switch threads.
  void yield(SrcLoc loc = SrcLoc::current());
  WakeReason park(const Waitable* w, SrcLoc loc = SrcLoc::current(), uint64_t deadline = kNever);
  // Makes a parked thread runnable; no effect on a thread that is not parked.
  void unpark(Tid t);
  // Unparks every thread parked on `w`; returns how many.
  unsigned wake_all(const Waitable* w);
  // Unparks the thread that has been parked on `w` longest; false if none.
  bool wake_one(const Waitable* w);
  // Unparks threads parked on a Waitable whose channel() is `chan`: all of
  // them, or only the longest-waiting one. Returns how many.
  unsigned wake_channel(const void* chan, bool only_one);
  bool is_parked(Tid t) const { return threads_[t].state == State::kBlocked; }
  // t has returned from its body (or crashed): it will not run again.
  bool is_finished(Tid t) const {
    return threads_[t].state == State::kFinished || threads_[t].state == State::kCrashed;
  }
  uint64_t now() const { return now_; }
  uint64_t steps() const { return steps_; }
  void sleep_until(uint64_t deadline, SrcLoc loc = SrcLoc::current());

  // Records a finding at the current step. Ends the execution (does not
  // return) when the finding is fatal or stop_on_finding is set and the caller
  // is a simulated thread.
  void report(Finding f);
  // A failed model assertion (KASSERT): fatal.
  [[noreturn]] void assertion_failed(std::string message, SrcLoc loc);
  bool aborting() const { return aborting_; }

  // A free-form trace note (no scheduling point), when tracing.
  bool tracing() const { return opts_.trace; }
  void trace_note(const char* op, std::string detail, SrcLoc loc = SrcLoc::current());
  // Labels what the current thread is doing ("TAILQ_INSERT_TAIL(kq_head)");
  // shown in traces and race reports. Returns the previous label.
  const char* set_label(const char* label) {
    const char* old = cur_->label;
    cur_->label = label;
    return old;
  }

  // Called in every simulated thread's own context just before it finishes
  // normally (not while an execution is being aborted). The lock layer uses it
  // to report locks still held at thread exit. One process-wide hook.
  using ExitHook = void (*)(Scheduler&, Tid);
  static void set_exit_hook(ExitHook h) { exit_hook_ = h; }
  // Describes what a thread holds ("sleep mutex \"A\" locked @ x.cc:10"), for
  // deadlock reports; empty when nothing. One process-wide hook (the lock layer).
  using HoldsHook = std::string (*)(Tid);
  static void set_holds_hook(HoldsHook h) { holds_hook_ = h; }

  // ---- happens-before, for locks and atomics ----
  bool race_detection() const { return opts_.race_detection; }
  void release(SyncVar& s);       // s := my clock; tick
  void release_join(SyncVar& s);  // s := s join my clock; tick (RMW: release sequences)
  void acquire(SyncVar& s);       // my clock := my clock join s

  // ---- instrumented memory (called by sim::Cell) ----
  // One step (a scheduling point only as "Scheduling points" above says),
  // then the trace, then the race check. Inline: the
  // common case (no trace, race detection on, the shadow already of this
  // execution, an access in the same epoch as the last one) returns here.
  // The inline part is FastTrack's common cases: the read is in the same
  // epoch as the last one, or every earlier access happens-before this one
  // and the reads are not shared (an epoch of 0, "no access yet", is <= any
  // clock, so no separate test for it). Everything else - a race, a read
  // that makes the read set shared, a shared read set - is read_check() /
  // write_check().
  //
  // The inline part makes no call but the tail one: everything that would
  // (the step bound reached, an ended execution, tracing, accesses that are
  // points) goes to on_read_slow()/on_write_slow() before the step is counted.
  //
  // `op` names the access in traces: a static string, or a callable returning
  // one (OpName), called only off the inline path, so an access pays nothing
  // for a name it only needs when tracing.
  template <class Op = const char*>
  [[gnu::always_inline]] void on_read(Shadow& sh, SrcLoc loc, Op op = "load") {
    if (access_off_fast_path()) [[unlikely]]
      return on_read_slow(sh, loc, op_name(op));
    ++steps_;
    const Thread& t = *cur_;
    const uint32_t clk = t.vc[t.tid];
    if (sh.gen != gen_) {  // the first access of this execution: nothing to race with
      sh.reset_read(gen_, static_cast<uint8_t>(t.tid), clk, loc);
      return;
    }
    if (!sh.r_shared) [[likely]] {
      if (sh.r_tid == t.tid && sh.r_clk == clk) return;  // same epoch
      if (sh.w_clk <= t.vc[sh.w_tid] && sh.r_clk <= t.vc[sh.r_tid]) {
        sh.r_tid = static_cast<uint8_t>(t.tid);
        sh.r_clk = clk;
        sh.set_r_loc(loc);
        return;
      }
    }
    read_check(sh, loc);
  }
  template <class Op = const char*>
  [[gnu::always_inline]] void on_write(Shadow& sh, SrcLoc loc, Op op = "store") {
    if (access_off_fast_path()) [[unlikely]]
      return on_write_slow(sh, loc, op_name(op));
    ++steps_;
    const Thread& t = *cur_;
    if (sh.gen != gen_) {  // the first access of this execution
      sh.reset_write(gen_, static_cast<uint8_t>(t.tid), t.vc[t.tid], loc);
      return;
    }
    if (!sh.r_shared && sh.w_clk <= t.vc[sh.w_tid] && sh.r_clk <= t.vc[sh.r_tid]) [[likely]] {
      sh.w_tid = static_cast<uint8_t>(t.tid);
      sh.w_clk = t.vc[t.tid];
      sh.set_w_loc(loc);
      return;
    }
    write_check(sh, loc);
  }
  uint32_t generation() const { return gen_; }

  // The scheduling point proper. Inline: this is the hot path. In an ended
  // execution it throws ExecutionAborted, or, in a thread already unwinding
  // (a destructor reaching a point), returns at once: no thread switch then.
  void point() {
    count_step();
    if (nrunnable_ > 1 && !aborting_) choose_and_switch();
  }
  // A step that is not a scheduling point, for an operation whose caller
  // parks at once when it is not one (a lock that is held, a join of a
  // running thread: the park's switch is the choice) or that nothing else
  // can observe before the caller's next point (spawn).
  void step() { count_step(); }

 private:
  // What every step does (a point, or a plain access that is not one): count
  // it against the step bound, and notice an ended execution.
  void count_step() {
    if (++steps_ > point_limit_) [[unlikely]] step_off_fast_path();
  }
  // Whether a plain access must take on_read_slow()/on_write_slow(): not
  // access_fast_, the execution ending, or this step reaching the bound (what
  // count_step() would report). One compare: access_limit_ is 0 unless the
  // first two allow the inline path (set_limits()).
  bool access_off_fast_path() const { return steps_ >= access_limit_; }
  // A plain access off the inline path: a point or only a step, as run() set.
  void slow_access_step() {
    if (access_is_point_) point();
    else count_step();
  }

  enum class State : uint8_t { kFree, kRunnable, kBlocked, kFinished, kCrashed };
  struct Thread {
    Tid tid = 0;
    State state = State::kFree;
    bool started = false;
    ctx::fcontext_t ctx = nullptr;
    FiberStack stack;
    StackBounds bounds;
    VectorClock vc;
    const Waitable* waiting_on = nullptr;
    SrcLoc wait_site;
    uint64_t deadline = kNever;
    bool timed_out = false;
    uint64_t park_seq = 0;
    bool daemon = false;
    bool stopped = false;  // stop_daemon(): never runnable again this execution
    Tid join_target = kNoThread;  // the thread join() waits for
    const char* label = nullptr;
    InlineFn body;
    // Copied at spawn (no allocation, no library call: spawn runs once per
    // thread per execution); a longer name is cut to kMaxName characters.
    static constexpr size_t kMaxName = 31;
    char name[kMaxName + 1] = "";
    void set_name(const char* n) {
      size_t i = 0;
      for (; i < kMaxName && n[i] != '\0'; ++i) name[i] = n[i];
      name[i] = '\0';
    }
  };
  class JoinWait;

  static void fiber_entry(ctx::transfer_t t);
  [[noreturn]] void thread_main();
  void run_root();
  void run_body(Thread& me);  // the body, then what a thread's end does (either kind of thread)
  Tid pick_runnable();        // the only runnable thread, or the strategy's choice
  bool runnable_or_deadlock();
  Thread& next_while_root_on_os();
  void make_runnable(Thread& th);
  // The OS thread's own context: thread 0 while it runs, then the scheduler's.
  Thread& os_context() { return root_on_os_ ? threads_[0] : main_; }
  void choose_and_switch();
  void switch_to(Thread& to);
  void start_context(Thread& to);
  uint32_t next_generation();
  [[noreturn]] void switch_away_final();
  void switch_away_blocked();
  void run_from_main(Thread& to);
  Tid choose(Tid current);
  void add_runnable(Tid t);
  void remove_runnable(Tid t);
  bool advance_time();
  void report_deadlock();
  void handle_fault();
  void unwind_all();
  bool only_daemons_left() const;  // every non-daemon thread finished (or crashed)
  [[noreturn]] void abort_from_thread();
  void step_bound_exceeded();  // returns only while the execution is already ending
  [[gnu::cold, gnu::noinline]] void too_many_threads(SrcLoc loc);  // spawn's kLimit finding
  [[gnu::cold, gnu::noinline]] void trace_spawn(Tid t, SrcLoc loc);
  void step_off_fast_path();   // count_step() past point_limit_: the bound, or an ended execution
  // Every change of aborting_, access_fast_ or step_limit_ goes through these,
  // so that the two limits the inline paths compare against stay true.
  void set_aborting(bool v) {
    aborting_ = v;
    set_limits();
  }
  void set_limits() {
    point_limit_ = aborting_ ? 0 : step_limit_;
    access_limit_ = access_fast_ && !aborting_ ? step_limit_ : 0;
  }
  void aborted_point();
  static const char* op_name(const char* op) { return op; }
  template <class Fn>
  static const char* op_name(const Fn& fn) {
    return fn();
  }
  void on_read_slow(Shadow& sh, SrcLoc loc, const char* op);
  void on_write_slow(Shadow& sh, SrcLoc loc, const char* op);
  void read_check(Shadow& sh, SrcLoc loc);
  void write_check(Shadow& sh, SrcLoc loc);
  void race_found(const char* what, Tid other, SrcLoc other_loc, const char* other_op, SrcLoc loc,
                  const char* op);
  ReadSet* new_readset();
  void trace_event(const char* op, SrcLoc loc, std::string detail);
  void trace_event(const char* op, SrcLoc loc, std::string detail, Tid tid);
  static FaultTarget on_fault(void* self, const FaultInfo& info);
  std::string thread_desc(Tid t) const;

  static constinit thread_local Scheduler* tls_current_;
  static inline ExitHook exit_hook_ = nullptr;
  static inline HoldsHook holds_hook_ = nullptr;

  SchedulerOptions opts_;
  Strategy* strategy_ = nullptr;
  Thread threads_[kMaxThreads];
  Thread main_;  // the scheduler's own context (the OS thread's stack)
  Thread* cur_ = &main_;
  Thread* prev_ = &main_;
  unsigned nthreads_ = 0;
  Tid runnable_[kMaxThreads];
  unsigned nrunnable_ = 0;
  uint64_t steps_ = 0;
  uint64_t step_limit_ = 0;
  // step_limit_, or 0 while the execution is ending: count_step()'s one test.
  uint64_t point_limit_ = 0;
  // step_limit_ when a plain access may take the inline path (access_fast_
  // and not ending), else 0: access_off_fast_path()'s one test.
  uint64_t access_limit_ = 0;
  uint64_t now_ = 0;
  uint32_t gen_ = 0;
  uint32_t gen_next_ = 0;  // next_generation(): the block this scheduler owns
  uint32_t gen_end_ = 0;
  bool in_run_ = false;
  // Set by run() from opts_: a plain access takes the inline path (race
  // detection on, access_points and trace off), and a plain access is a
  // scheduling point (race detection off, or access_points).
  bool access_fast_ = false;
  bool access_is_point_ = true;
  bool aborting_ = false;
  bool ending_ = false;  // unwinding daemons after the last non-daemon thread finished
  bool fault_pending_ = false;
  bool root_on_os_ = false;  // thread 0 is running (or suspended) on the OS thread's stack
  sigjmp_buf root_jmp_;      // run_root(): where a fault in thread 0 comes back to
  FaultInfo fault_;
  Thread* fault_thread_ = nullptr;
  FaultHooks hooks_;
  Execution exec_;
  std::vector<ReadSet*> readset_blocks_;
  size_t readsets_used_ = 0;
};

// Convenience for model code: the running scheduler's point, a no-op outside.
inline void point() {
  if (Scheduler* s = Scheduler::current()) s->point();
}

}  // namespace kqsim::sim
