#include "model/kern/syscall_scope.h"

#include "locks/mutex.h"

namespace kqsim::kern {

SyscallScope::SyscallScope(bool kqueue_call, SrcLoc loc) : td_(curthread()) {
  const kq_design& d = World::current()->design();
  giant_ = d.all_giant || (kqueue_call && d.kevent_giant);
  if (giant_) locks::mtx_lock(&locks::Giant, loc);
}

SyscallScope::~SyscallScope() noexcept(false) {
  if (giant_) locks::mtx_unlock(&locks::Giant);
  // ast_kqueue: notify the watchers of kqueues that became ready.
  if (sim::Scheduler* s = sim::Scheduler::current(); s != nullptr && s->aborting()) return;
  World::current()->run_kqueue_tasks();
}

}  // namespace kqsim::kern
