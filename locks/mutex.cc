#include "locks/mutex.h"

#include <fmt/format.h>

#include "locks/kassert.h"
#include "locks/witness.h"

namespace kqsim::locks {

mtx Giant("Giant", nullptr, MTX_DEF | MTX_RECURSE);

void mtx::init(const char* name, const char* type, int opts) {
  lo_init(*this, name, type, opts, (opts & MTX_SPIN) ? LockClass::kSpinMutex : LockClass::kSleepMutex);
}

void mtx_init(mtx* m, const char* name, const char* type, int opts) { m->init(name, type, opts); }

void mtx_destroy(mtx* m, SrcLoc loc) {
  bool held = false;
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    held = m->gen == s->generation() && m->owner_tid != kNoThread && !s->aborting();
  } else {
    std::lock_guard<std::mutex> g(m->live_m);
    held = m->live_owner != kNoThread;
  }
  if (held) {
    sim::Finding f;
    f.kind = sim::FindingKind::kLockMisuse;
    f.message = fmt::format("destroying {} {} while it is held @ {}\n locked @ {}", lock_class_name(m->lo_class),
                            m->lo_name, loc.str(), m->locked_at.str());
    f.sites = {sim::Site::from(loc), sim::Site::from(m->locked_at)};
    if (Witness* w = Witness::current()) w->report(std::move(f));
    else if (sim::Scheduler* s = sim::Scheduler::current()) s->report(std::move(f));
  }
  m->lo_destroyed = true;
}

void mtx_class_panic(const mtx* m, const char* fn, SrcLoc loc) {
  panic_at(kassert_format("%s() of spin mutex %s @ %s", fn, m->lo_name, loc.str().c_str()), SrcLoc::current());
}

void mtx_lock_spin(mtx* m, SrcLoc loc) {
  KASSERT(m->lo_class == LockClass::kSpinMutex,
          ("mtx_lock_spin() of sleep mutex %s @ %s", m->lo_name, loc.str().c_str()));
  lo_acquire(*m, true, false, loc);
}

void mtx_unlock_spin(mtx* m, SrcLoc loc) {
  KASSERT(m->lo_class == LockClass::kSpinMutex,
          ("mtx_unlock_spin() of sleep mutex %s @ %s", m->lo_name, loc.str().c_str()));
  lo_release(*m, true, loc);
}

int mtx_trylock(mtx* m, SrcLoc loc) { return lo_acquire(*m, true, true, loc) ? 1 : 0; }

bool mtx_owned(const mtx* m) { return lo_owned(*m); }

int mtx_recursed(const mtx* m) { return static_cast<int>(lo_recursed(*m)); }

void mtx_assert_slow(const mtx* m, int what, SrcLoc loc) {
  if (what == MA_NOTOWNED) {
    if (sim::Scheduler* s = sim::Scheduler::current(); s != nullptr && s->aborting()) return;
    if (lo_owned(*m)) panic_at(fmt::format("mutex {} owned", m->lo_name), loc);
    return;
  }
  const bool owned = lo_owned(*m);
  if (what == MA_OWNED && owned) return;  // the common case (KQ_OWNED): nothing else to check
  if ((what & MA_OWNED) && !owned) panic_at(fmt::format("mutex {} not owned", m->lo_name), loc);
  lo_assert(*m, what, loc);
}

}  // namespace kqsim::locks
