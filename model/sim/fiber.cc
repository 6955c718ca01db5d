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

// The jump itself. On x86-64 (System V, ELF) it is ours: Boost.Context's
// jump_fcontext with the same frame, less the save and restore of the SSE
// and x87 control words (stmxcsr/fnstcw, ldmxcsr/fldcw), which cost more than
// the rest of the jump together (docs/performance.md). Leaving them out is
// sound here: every context of a Scheduler runs on one OS thread and nothing
// in kqsim changes the rounding mode or exception masks, so the words are the
// same in every context, and a context made by Boost's make_fcontext is
// entered the same way (its first return address at offset 0x38, the entry
// function in rbx at 0x28). Every jump between kqsim's contexts goes through
// this one, so no Boost jump ever reads the control-word slots it leaves
// unwritten. Elsewhere it is Boost's jump_fcontext.
#if defined(__x86_64__) && defined(__ELF__)
extern "C" boost::context::detail::transfer_t kqsim_jump_fcontext(boost::context::detail::fcontext_t to,
                                                                   void* data);
asm(R"(
.pushsection .text
.globl kqsim_jump_fcontext
.hidden kqsim_jump_fcontext
.type kqsim_jump_fcontext,@function
.align 16
kqsim_jump_fcontext:
    leaq -0x38(%rsp), %rsp
    movq %r12, 0x8(%rsp)
    movq %r13, 0x10(%rsp)
    movq %r14, 0x18(%rsp)
    movq %r15, 0x20(%rsp)
    movq %rbx, 0x28(%rsp)
    movq %rbp, 0x30(%rsp)
    movq %rsp, %rax
    movq %rdi, %rsp
    movq 0x38(%rsp), %r8
    movq 0x8(%rsp), %r12
    movq 0x10(%rsp), %r13
    movq 0x18(%rsp), %r14
    movq 0x20(%rsp), %r15
    movq 0x28(%rsp), %rbx
    movq 0x30(%rsp), %rbp
    leaq 0x40(%rsp), %rsp
    movq %rsi, %rdx
    movq %rax, %rdi
    jmp *%r8
.size kqsim_jump_fcontext,.-kqsim_jump_fcontext
.popsection
)");
#endif

namespace kqsim::sim {

namespace {
ctx::transfer_t jump(ctx::fcontext_t to, void* data) {
#if defined(__x86_64__) && defined(__ELF__)
  return kqsim_jump_fcontext(to, data);
#else
  return ctx::jump_fcontext(to, data);
#endif
}
}  // namespace

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
  ctx::transfer_t t = jump(to, data);
  __sanitizer_finish_switch_fiber(fake_stack, &from_bounds_out->bottom, &from_bounds_out->size);
  return t;
#elif defined(KQSIM_SANITIZER_THREAD)
  (void)to_bounds;
  if (to_tsan_fiber) __tsan_switch_to_fiber(to_tsan_fiber, 0);
  return jump(to, data);
#else
  (void)to_bounds;
  return jump(to, data);
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
      jump(target.ctx, kFaultMarker);
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
