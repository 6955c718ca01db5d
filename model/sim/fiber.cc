#include "model/sim/fiber.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#if defined(KQSIM_SANITIZER_ADDRESS)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(KQSIM_SANITIZER_THREAD)
#include <sanitizer/tsan_interface.h>
#endif

namespace kqsim::sim {

void allocate_stack(FiberStack& s, size_t size) {
  if (s.allocated() && s.sc.size >= size) return;
  release_stack(s);
  boost::context::protected_fixedsize_stack alloc(size);
  s.sc = alloc.allocate();
#if defined(KQSIM_SANITIZER_THREAD)
  s.tsan_fiber = __tsan_create_fiber(0);
#endif
}

void forget_stack_frames([[maybe_unused]] const FiberStack& s) {
#if defined(KQSIM_SANITIZER_ADDRESS)
  if (s.allocated()) ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(s.lowest()), s.sc.size);
#endif
}

void release_stack(FiberStack& s) {
  if (!s.allocated()) return;
  forget_stack_frames(s);
  // protected_fixedsize_stack::deallocate only needs the context (size + sp).
  boost::context::protected_fixedsize_stack alloc(s.sc.size);
  alloc.deallocate(s.sc);
  s.sc = {};
#if defined(KQSIM_SANITIZER_THREAD)
  if (s.tsan_fiber) __tsan_destroy_fiber(s.tsan_fiber);
  s.tsan_fiber = nullptr;
#endif
}

void* current_tsan_fiber() {
#if defined(KQSIM_SANITIZER_THREAD)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

ctx::transfer_t switch_context(ctx::fcontext_t to, void* data, const StackBounds& to_bounds,
                               [[maybe_unused]] void* to_tsan_fiber, [[maybe_unused]] bool from_finished,
                               [[maybe_unused]] StackBounds* from_bounds_out) {
#if defined(KQSIM_SANITIZER_ADDRESS)
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(from_finished ? nullptr : &fake_stack, to_bounds.bottom, to_bounds.size);
  ctx::transfer_t t = ctx::jump_fcontext(to, data);
  __sanitizer_finish_switch_fiber(fake_stack, &from_bounds_out->bottom, &from_bounds_out->size);
  return t;
#elif defined(KQSIM_SANITIZER_THREAD)
  (void)to_bounds;
  if (to_tsan_fiber) __tsan_switch_to_fiber(to_tsan_fiber, 0);
  return ctx::jump_fcontext(to, data);
#else
  (void)to_bounds;
  return ctx::jump_fcontext(to, data);
#endif
}

void finish_switch_on_entry([[maybe_unused]] StackBounds* from_bounds_out) {
#if defined(KQSIM_SANITIZER_ADDRESS)
  __sanitizer_finish_switch_fiber(nullptr, &from_bounds_out->bottom, &from_bounds_out->size);
#endif
}

namespace {

thread_local const FaultHooks* tls_hooks = nullptr;

void fault_handler(int signo, siginfo_t* info, void*) {
  const FaultHooks* hooks = tls_hooks;
  if (hooks != nullptr && hooks->on_fault != nullptr) {
    FaultInfo fi{signo, reinterpret_cast<uintptr_t>(info->si_addr)};
    FaultTarget target = hooks->on_fault(hooks->self, fi);
    if (target.jmp != nullptr) siglongjmp(*target.jmp, 1);  // never returns
    if (target.ctx != nullptr) {
      // Never returns: the scheduler's context resumes with kFaultMarker. The
      // handler was installed with SA_NODEFER, so the signal stays unblocked.
#if defined(KQSIM_SANITIZER_ADDRESS)
      __sanitizer_start_switch_fiber(nullptr, target.bounds.bottom, target.bounds.size);
#endif
      ctx::jump_fcontext(target.ctx, kFaultMarker);
    }
  }
  // Not a simulated thread: take the default action.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(signo, &dfl, nullptr);
}

void ensure_altstack() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  // Keep an alternate stack someone already installed (the sanitizers install
  // their own per thread and free it at thread exit: replacing it would make
  // them free ours). The fault handler needs only a few hundred bytes.
  stack_t cur{};
  if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= static_cast<size_t>(MINSIGSTKSZ)) return;
  // Lives as long as the OS thread; held here so leak checkers see it reachable.
  thread_local std::unique_ptr<char[]> storage(new char[256 * 1024]);
  stack_t ss{};
  ss.ss_size = 256 * 1024;
  ss.ss_sp = storage.get();
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
}

}  // namespace

void set_thread_fault_hooks(const FaultHooks* hooks) {
  ensure_altstack();
  tls_hooks = hooks;
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa{};
    sa.sa_sigaction = fault_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
  });
}

}  // namespace kqsim::sim
