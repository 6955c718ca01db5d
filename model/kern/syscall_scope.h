// syscall_scope.h - what every system call of the model does on entry and exit.
//
// Contract: construct a SyscallScope first thing in a sys_* function. On entry
// it takes Giant when the locking design runs that syscall under Giant
// (design.all_giant for every syscall, design.kevent_giant for kqueue() and
// kevent()); on exit it drops Giant and runs the pending kqueue tasks
// (World::run_kqueue_tasks), as FreeBSD's ast_kqueue does before returning to
// user mode. ret(error, value) stores the errno and returns FreeBSD's result.
#pragma once

#include "model/kern/kern_types.h"
#include "model/kern/world.h"

namespace kqsim::kern {

class SyscallScope {
 public:
  explicit SyscallScope(bool kqueue_call = false, SrcLoc loc = SrcLoc::current());
  // noexcept(false): it reaches scheduling points, where an ending execution
  // unwinds the thread with ExecutionAborted (see scheduler.h).
  ~SyscallScope() noexcept(false);
  SyscallScope(const SyscallScope&) = delete;
  SyscallScope& operator=(const SyscallScope&) = delete;

  thread* td() const { return td_; }
  // error == 0: returns value and clears td_errno; else -1 with td_errno = error.
  long ret(int error, long value = 0) {
    td_->td_errno = error;
    return error == 0 ? value : -1;
  }

 private:
  thread* td_;
  bool giant_ = false;
};

}  // namespace kqsim::kern
