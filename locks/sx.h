// sx.h - FreeBSD's sx(9) shared/exclusive lock over the model.
//
// Contract (as sx(9)): sx_init(sx, name) makes a sleepable shared/exclusive
// lock whose witness class is its name. sx_xlock takes it exclusively (waits
// for the holder and all sharers), sx_slock shared (waits only for an
// exclusive holder). sx_try_xlock/sx_try_slock return 1 on success, 0
// otherwise. sx_xunlock/sx_sunlock release; releasing what the caller does not
// hold is a fatal misuse. sx_assert(sx, SA_XLOCKED|SA_SLOCKED|SA_LOCKED|
// SA_UNLOCKED|SA_RECURSED|SA_NOTRECURSED) panics when false. Each operation
// is a scheduling point; blocking parks the thread.
#pragma once

#include "locks/lock_object.h"

namespace kqsim::locks {

struct sx : lock_object {
  sx() = default;
  explicit sx(const char* name, int opts = 0) { init(name, opts); }
  void init(const char* name, int opts = 0);
};

void sx_init(sx* s, const char* name);
void sx_init_flags(sx* s, const char* name, int opts);
void sx_destroy(sx* s);
void sx_xlock(sx* s, SrcLoc loc = SrcLoc::current());
void sx_slock(sx* s, SrcLoc loc = SrcLoc::current());
int sx_try_xlock(sx* s, SrcLoc loc = SrcLoc::current());
int sx_try_slock(sx* s, SrcLoc loc = SrcLoc::current());
void sx_xunlock(sx* s, SrcLoc loc = SrcLoc::current());
void sx_sunlock(sx* s, SrcLoc loc = SrcLoc::current());
// Releases whichever way the caller holds it.
void sx_unlock(sx* s, SrcLoc loc = SrcLoc::current());
bool sx_xlocked(const sx* s);
void sx_assert(const sx* s, int what, SrcLoc loc = SrcLoc::current());

}  // namespace kqsim::locks
