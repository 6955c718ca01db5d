// mutex.h - FreeBSD's mutex(9) over the model: sleep and spin mutexes, Giant.
//
// Contract (as mutex(9), in both execution modes):
//   mtx_init(m, name, type, opts)  type (or name when type is null) is the
//       witness class. opts: MTX_DEF (sleep) or MTX_SPIN, plus MTX_RECURSE,
//       MTX_NOWITNESS, MTX_DUPOK, MTX_NOPROFILE.
//   mtx_lock / mtx_lock_spin       acquire; a scheduling point; blocks (parks)
//       while another thread holds it. Recursing on a mutex without
//       MTX_RECURSE is a fatal misuse ("recursed on non-recursive ...").
//   mtx_trylock                    1 if acquired, 0 if held elsewhere.
//   mtx_unlock / mtx_unlock_spin   release; by a thread that does not own it,
//       a fatal misuse ("... not owned").
//   mtx_owned, mtx_recursed, mtx_assert(m, MA_OWNED|MA_NOTOWNED|MA_RECURSED|
//       MA_NOTRECURSED): a failed assertion panics (KASSERT).
//   mtx_destroy                    of a held mutex: misuse.
// Every acquisition site is the caller's file:line (SrcLoc default argument),
// which is what witness reports and profiles print.
//
// Giant is one process-wide MTX_DEF|MTX_RECURSE mutex, class "Giant".
#pragma once

#include "locks/lock_object.h"

namespace kqsim::locks {

struct mtx : lock_object {
  mtx() = default;
  mtx(const char* name, const char* type, int opts) { init(name, type, opts); }
  void init(const char* name, const char* type, int opts);
};

void mtx_init(mtx* m, const char* name, const char* type, int opts);
void mtx_destroy(mtx* m, SrcLoc loc = SrcLoc::current());
// A sleep mutex taken with mtx_lock/mtx_unlock: inline up to lo_acquire /
// lo_release (they run at every KQ_LOCK); the wrong class panics out of line.
[[noreturn]] void mtx_class_panic(const mtx* m, const char* fn, SrcLoc loc);
inline void mtx_lock(mtx* m, SrcLoc loc = SrcLoc::current()) {
  if (m->lo_class == LockClass::kSpinMutex) [[unlikely]]
    mtx_class_panic(m, "mtx_lock", loc);
  lo_acquire(*m, true, false, loc);
}
inline void mtx_unlock(mtx* m, SrcLoc loc = SrcLoc::current()) {
  if (m->lo_class == LockClass::kSpinMutex) [[unlikely]]
    mtx_class_panic(m, "mtx_unlock", loc);
  lo_release(*m, true, loc);
}
void mtx_lock_spin(mtx* m, SrcLoc loc = SrcLoc::current());
void mtx_unlock_spin(mtx* m, SrcLoc loc = SrcLoc::current());
int mtx_trylock(mtx* m, SrcLoc loc = SrcLoc::current());
bool mtx_owned(const mtx* m);
int mtx_recursed(const mtx* m);
void mtx_assert_slow(const mtx* m, int what, SrcLoc loc);
// Inline: MA_OWNED on an owned mutex (every KQ_OWNED) is one comparison.
inline void mtx_assert(const mtx* m, int what, SrcLoc loc = SrcLoc::current()) {
  if (what == MA_OWNED && lo_owned(*m)) return;
  mtx_assert_slow(m, what, loc);
}
inline const char* mtx_name(const mtx* m) { return m->lo_name; }

extern mtx Giant;

// RAII for C++ callers (tests, scenarios); kernel-model code calls the
// functions, as kern_event.c does.
class MtxGuard {
 public:
  explicit MtxGuard(mtx* m, SrcLoc loc = SrcLoc::current()) : m_(m) { mtx_lock(m_, loc); }
  ~MtxGuard() noexcept(false) { mtx_unlock(m_); }  // may unwind an ending execution
  MtxGuard(const MtxGuard&) = delete;
  MtxGuard& operator=(const MtxGuard&) = delete;

 private:
  mtx* m_;
};

}  // namespace kqsim::locks
