// fuzz_input.cc - the kqueue invariants the libFuzzer harnesses check.
#include "fuzz/fuzz_input.h"

#include <fmt/format.h>

#include "knote/knote.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/kern_types.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"

namespace kqsim::fuzz {

namespace {

// Walks an SLIST without instrumentation; at most `bound` elements (a cycle
// from a corrupted list must not hang the checker).
template <class Head, class Fn>
bool walk_raw(const Head& head, Fn&& fn, size_t bound = 1u << 16) {
  for (const sim::SlistEntry* e = head.head_node().next.raw(); e != nullptr; e = e->next.raw()) {
    if (bound-- == 0) return false;
    fn(Head::elem_of(const_cast<sim::SlistEntry*>(e)));
  }
  return true;
}

}  // namespace

bool wait_for_softclock_idle() {
  kern::World* w = kern::World::current();
  sim::Scheduler* s = sim::Scheduler::current();
  for (int i = 0; i < 10'000; ++i) {
    if (w->softclock_idle()) return true;
    s->sleep_until(s->now() + 1);
  }
  return w->softclock_idle();
}

bool is_bsd_errno(long e) { return e > 0 && e < 1000 && bsd::errno_name(static_cast<int>(e)) != nullptr; }

std::string check_kqueue_invariants(kern::proc* p) {
  using namespace kern;
  std::string out;
  filedesc* fdp = p->p_fd;
  for (kqueue* kq : fdp->fd_kqlist) {
    const std::string who = fmt::format("pid {} kqueue {}", p->p_pid, kq->kq_serial);
    if (std::string s = kqueue_check(kq); !s.empty()) out += who + ": " + s + (s.back() == '\n' ? "" : "\n");
    bool open = false;
    for (file* f : fdp->fd_ofiles)
      if (f != nullptr && f->f_type == DTYPE_KQUEUE && f->f_data == kq) open = true;
    if (!open) out += who + ": on fd_kqlist but open on no descriptor\n";
    const int size = kq->kq_knlistsize.raw();
    for (int fd = 0; fd < size && kq->kq_knlist; ++fd) {
      bool whole = walk_raw(kq->kq_knlist[fd], [&](knote* kn) {
        file* at = fd < kNoFile ? fdp->fd_ofiles[fd] : nullptr;
        if (kn->kn_freed) out += fmt::format("{}: freed knote {} on kq_knlist[{}]\n", who, kn->kn_serial, fd);
        else if (at == nullptr)
          out += fmt::format("{}: knote {} (filter {}) on closed descriptor {}\n", who, kn->kn_serial,
                             kn->kn_filter(), fd);
        else if (kn->kn_fp != at)
          out += fmt::format("{}: knote {} on descriptor {} refers to another file\n", who, kn->kn_serial, fd);
      });
      if (!whole) out += fmt::format("{}: kq_knlist[{}] does not end (cycle?)\n", who, fd);
    }
    const unsigned long mask = kq->kq_knhashmask.raw();
    for (unsigned long b = 0; mask != 0 && kq->kq_knhash && b <= mask; ++b) {
      bool whole = walk_raw(kq->kq_knhash[b], [&](knote* kn) {
        if (kn->kn_freed) out += fmt::format("{}: freed knote {} on kq_knhash[{}]\n", who, kn->kn_serial, b);
      });
      if (!whole) out += fmt::format("{}: kq_knhash[{}] does not end (cycle?)\n", who, b);
    }
  }
  return out;
}

}  // namespace kqsim::fuzz
