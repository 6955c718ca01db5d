#include "locks/sx.h"

namespace kqsim::locks {

void sx::init(const char* name, int opts) { lo_init(*this, name, nullptr, opts, LockClass::kSx); }

void sx_init(sx* s, const char* name) { s->init(name, 0); }
void sx_init_flags(sx* s, const char* name, int opts) { s->init(name, opts); }
void sx_destroy(sx* s) { s->lo_destroyed = true; }
void sx_xlock(sx* s, SrcLoc loc) { lo_acquire(*s, true, false, loc); }
void sx_slock(sx* s, SrcLoc loc) { lo_acquire(*s, false, false, loc); }
int sx_try_xlock(sx* s, SrcLoc loc) { return lo_acquire(*s, true, true, loc) ? 1 : 0; }
int sx_try_slock(sx* s, SrcLoc loc) { return lo_acquire(*s, false, true, loc) ? 1 : 0; }
void sx_xunlock(sx* s, SrcLoc loc) { lo_release(*s, true, loc); }
void sx_sunlock(sx* s, SrcLoc loc) { lo_release(*s, false, loc); }
void sx_unlock(sx* s, SrcLoc loc) { lo_release(*s, lo_owned(*s), loc); }
bool sx_xlocked(const sx* s) { return lo_owned(*s); }
void sx_assert(const sx* s, int what, SrcLoc loc) { lo_assert(*s, what, loc); }

}  // namespace kqsim::locks
