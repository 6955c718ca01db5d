// fiber.h - execution contexts for simulated threads (private to the runtime).
//
// Contract: a FiberStack is a guard-paged stack from Boost.Context's
// protected_fixedsize_stack, kept and reused across executions (allocating a
// stack is an mmap; reusing one is free). switch_context() jumps from the
// running context to `to`, telling the address and thread sanitizers about the
// stack change when they are built in. The jump is Boost's jump_fcontext, or on
// x86-64 our own with its frame and no control-word save (fiber.cc says why);
// contexts are always made by Boost's make_fcontext. Nothing here schedules: the Scheduler
// decides who runs, this file only knows how to get there.
//
// Fault handling: install_fault_handler() installs (once per process) a
// SIGSEGV/SIGBUS handler running on a per-OS-thread alternate signal stack. A
// fault inside a simulated thread is turned into a jump to the context the
// scheduler names (another context, with kFaultMarker as the transfer data,
// or a sigsetjmp point on the OS thread's own stack, for the thread that runs
// there); a fault anywhere else gets the default action (the process dies as
// it would have).
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdint>

#include <boost/context/detail/fcontext.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

namespace kqsim::sim {

namespace ctx = boost::context::detail;

struct FiberStack {
  boost::context::stack_context sc{};  // sc.sp is the top; the guard page is the lowest page
  void* tsan_fiber = nullptr;
  bool allocated() const { return sc.sp != nullptr; }
  uintptr_t lowest() const { return reinterpret_cast<uintptr_t>(sc.sp) - sc.size; }
  uintptr_t top() const { return reinterpret_cast<uintptr_t>(sc.sp); }
};

// Where a context's stack is, for the address sanitizer's fiber annotations.
struct StackBounds {
  const void* bottom = nullptr;
  size_t size = 0;
};

void allocate_stack(FiberStack& s, size_t size);
void release_stack(FiberStack& s);
// Clears the address sanitizer's redzones on a stack whose frames were
// abandoned (a thread that faulted): the stack is reused, or unmapped and its
// addresses mapped again, and stale redzones there would be false reports.
// A no-op in other builds.
void forget_stack_frames(const FiberStack& s);

// Marker passed as transfer data when a fault handler jumps to the scheduler.
inline void* const kFaultMarker = reinterpret_cast<void*>(uintptr_t{1});

struct FaultInfo {
  int signo = 0;
  uintptr_t addr = 0;
};

// Hooks the fault handler uses: the running scheduler registers itself per OS
// thread. `fault_target` returns the context to jump to (nullptr: not ours).
struct FaultTarget {
  ctx::fcontext_t ctx = nullptr;  // the context to resume; nullptr: see jmp
  StackBounds bounds;             // the target's stack (sanitizer annotations)
  sigjmp_buf* jmp = nullptr;      // else siglongjmp here (same stack); both null: not ours
};
struct FaultHooks {
  void* self = nullptr;
  FaultTarget (*on_fault)(void* self, const FaultInfo& info) = nullptr;
};
void set_thread_fault_hooks(const FaultHooks* hooks);
void install_fault_handler();

// The sanitizer-aware jump. `to_bounds` describes the target's stack;
// `from_finished` says the current context will never be resumed.
ctx::transfer_t switch_context(ctx::fcontext_t to, void* data, const StackBounds& to_bounds,
                               void* to_tsan_fiber, bool from_finished, StackBounds* from_bounds_out);
// Completes a switch on the receiving side (first entry of a new fiber).
void finish_switch_on_entry(StackBounds* from_bounds_out);

void* current_tsan_fiber();

}  // namespace kqsim::sim
