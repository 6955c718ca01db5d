// kevent_program.cc - harness (a)'s decoder and runner (see kevent_program.h).
#include "fuzz/kevent_program.h"

#include <fmt/format.h>

#include <climits>
#include <vector>

#include <kqsim/sys/event.h>

#include "fuzz/fuzz_input.h"
#include "knote/design.h"
#include "locks/witness.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/proc.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::fuzz {

namespace {

// A descriptor number: -1..15 (open ones, closed ones, and one never valid).
int pick_fd(uint8_t b) { return static_cast<int>(b % 17) - 1; }

constexpr short kFilters[] = {EVFILT_READ,  EVFILT_WRITE, EVFILT_USER,  EVFILT_TIMER,
                              EVFILT_PROC,  EVFILT_SIGNAL, EVFILT_EMPTY, EVFILT_VNODE,
                              EVFILT_AIO,   0,            1,            -EVFILT_SYSCOUNT - 3};

bool fd_filter(short f) {
  return f == EVFILT_READ || f == EVFILT_WRITE || f == EVFILT_EMPTY || f == EVFILT_VNODE;
}

std::string errno_text(int r) {
  if (r != -1) return "";
  int e = kern::sys_errno();
  const char* n = bsd::errno_name(e);
  return fmt::format(" ({})", n != nullptr ? n : fmt::format("errno {}", e));
}

constexpr int kMaxForks = 4;

// A timer's data: negative stays (EINVAL); otherwise the period is at least
// a millisecond whatever the unit (0..127 ms written in us or ns; data 0
// with NOTE_USECONDS / NOTE_NSECONDS, which FreeBSD turns into a 1 us / 1 ns
// period, becomes 1 ms too). Virtual time advances only in the 1 ms kevent
// waits (at most 64 ms per program), so every armed timer fires at most
// about 64 times: a sub-millisecond period would fire thousands of times and
// only measure the step bound.
int64_t timer_data(int64_t data, unsigned fflags) {
  if (data < 0 || (fflags & NOTE_ABSTIME) != 0) return data;
  const int64_t ms = data == 0 ? 1 : data;
  switch (fflags & (NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS)) {
    case NOTE_USECONDS: return ms * 1'000;
    case NOTE_NSECONDS: return ms * 1'000'000;
    default: return data;  // ms or s; or two units at once (EINVAL)
  }
}

struct Runner {
  ByteReader in;
  KeventProgramResult& res;
  int forks_ = 0;
  // The simulated threads of the forked children, recorded as each starts.
  // A child exits concurrently with the parent's later calls (NOTE_EXIT and
  // SIGCHLD into the parent's kqueues, closing its copies of the
  // descriptors), so while one has started and not finished the kqueues may
  // be mid-update under their locks (a knote on kq_head whose kq_count is
  // not yet incremented). Harness state, not the model's: plain memory.
  std::vector<sim::Tid> children_;
  size_t deferred_ = 0;  // checks put off while another thread was busy

  static void child_main(void* arg) {
    static_cast<Runner*>(arg)->children_.push_back(sim::Scheduler::current()->self());
  }
  // Another thread may be inside the kernel: a forked child that has started
  // and not finished, or the softclock running a timer's expiry.
  bool others_busy() const {
    for (sim::Tid t : children_)
      if (!sim::Scheduler::current()->is_finished(t)) return true;
    return !kern::World::current()->softclock_idle();
  }

  void line(const std::string& s) { res.listing += s + "\n"; }
  void fail(const std::string& s) {
    if (res.failure.empty()) res.failure = s;
  }

  // A failed call must carry a FreeBSD errno.
  void check_result(long r, const char* call) {
    if (r == -1 && !is_bsd_errno(kern::sys_errno()))
      fail(fmt::format("{} failed with errno {}, not a FreeBSD errno", call, kern::sys_errno()));
    if (r < -1) fail(fmt::format("{} returned {}", call, r));
  }

  // The invariants hold only at quiescent points: no other thread inside the
  // kernel. The parent between two calls is one unless a child or the
  // softclock is busy; then the check waits for the next call made with
  // both quiet (and always runs at the end, after fork_join_all).
  void check_invariants(const char* when, bool final = false) {
    if (final && !wait_for_softclock_idle()) fail("the softclock never went idle at the end");
    if (others_busy()) {
      ++deferred_;
      return;
    }
    ++res.checks;
    std::string s = check_kqueue_invariants(kern::curthread()->td_proc);
    if (!s.empty()) fail(fmt::format("kqueue invariant broken {}:\n{}", when, s));
  }

  struct kevent decode_change() {
    uint8_t ib = in.u8(), fb = in.u8(), f1 = in.u8(), f2 = in.u8(), ffb = in.u8(), db = in.u8();
    short filter = kFilters[fb % std::size(kFilters)];
    uintptr_t ident;
    if (fd_filter(filter)) ident = static_cast<uintptr_t>(static_cast<intptr_t>(pick_fd(ib)));
    else if (filter == EVFILT_PROC) ident = ib % 6;  // pids 0..5: init is 1, children follow
    else if (ib == 255) ident = UINTPTR_MAX;
    else ident = ib % 8;
    unsigned short flags = static_cast<unsigned short>(f1 | ((f2 & 0x0f) << 8) | ((f2 & 0x10) ? EV_EOF : 0));
    unsigned fflags = 0;
    switch (filter) {
      case EVFILT_USER:
        fflags = ((ffb & 1) ? NOTE_TRIGGER : 0) | (static_cast<unsigned>(ffb >> 1) & 3u) << 30 | (ffb >> 3);
        break;
      case EVFILT_PROC:
        fflags = (static_cast<unsigned>(ffb) << 24) | (ffb & 7);
        break;
      case EVFILT_TIMER:
        fflags = ffb & 0x1f;
        break;
      case EVFILT_READ:
      case EVFILT_WRITE:
        fflags = ffb & 3;
        break;
      default:
        fflags = ffb;
    }
    int64_t data = static_cast<int8_t>(db);
    if (filter == EVFILT_TIMER) data = timer_data(data, fflags);
    struct kevent k;
    EV_SET(&k, ident, filter, flags, fflags, data, reinterpret_cast<void*>(static_cast<uintptr_t>(ib)));
    return k;
  }

  void do_kevent() {
    int kq = pick_fd(in.u8());
    int nch = in.u8() % 5;
    std::vector<struct kevent> ch;
    for (int i = 0; i < nch; ++i) ch.push_back(decode_change());
    uint8_t nb = in.u8();
    int nev = (nb % 10) == 9 ? -1 : (nb % 10);
    bool null_list = (nb & 0x80) != 0;
    bool null_changes = (nb & 0x40) != 0 && nch > 0;
    uint8_t tb = in.u8();
    struct timespec ts = {0, 0};
    switch (tb % 16) {
      case 15: ts = {-1, 0}; break;
      case 14: ts = {0, 1'000'000'000}; break;
      case 13: ts = {0, 1'000'000}; break;     // 1 ms of virtual time
      case 12: ts = {LONG_MAX, 0}; break;      // forever: only if something is pending
      default: break;
    }
    if (ts.tv_sec == LONG_MAX) ts = {0, 0};    // kept for the byte layout; never block
    struct kevent ev[8];
    for (auto& e : ev) EV_SET(&e, 0, 0, 0, 0, 0, nullptr);
    int r = kern::sys_kevent(kq, null_changes ? nullptr : ch.data(), nch, null_list ? nullptr : ev, nev, &ts);
    std::string desc = fmt::format("kevent({}, [", kq);
    for (size_t i = 0; i < ch.size(); ++i)
      desc += fmt::format("{}{{{:#x}, {}, {:#x}, {:#x}, {}}}", i ? ", " : "", ch[i].ident, ch[i].filter,
                          ch[i].flags, ch[i].fflags, ch[i].data);
    desc += fmt::format("]{}, {}, {}{}, {{{}, {}}}) = {}{}", null_changes ? " as NULL" : "", nch,
                        null_list ? "NULL, " : "", nev, ts.tv_sec, ts.tv_nsec, r, errno_text(r));
    line(desc);
    check_result(r, "kevent");
    if (r < 0) return;
    int slots = nev > 0 ? nev : 0;
    int limit = nev > 0 ? nev : nch;
    if (r > limit) fail(fmt::format("kevent returned {} entries for {} slots / {} changes", r, nev, nch));
    if (null_list) return;
    for (int i = 0; i < r && i < slots && i < 8; ++i) {
      const struct kevent& e = ev[i];
      if (e.flags & EV_ERROR) {
        if (e.data != 0 && !is_bsd_errno(static_cast<long>(e.data)))
          fail(fmt::format("EV_ERROR entry {} carries {}, not a FreeBSD errno", i, e.data));
      } else if (e.filter >= 0 || e.filter < -EVFILT_SYSCOUNT) {
        fail(fmt::format("event {} has filter {}", i, e.filter));
      }
    }
  }

  void step() {
    uint8_t op = in.u8();
    switch (op % 9) {
      case 0: {
        int r = kern::sys_kqueue();
        line(fmt::format("kqueue() = {}{}", r, errno_text(r)));
        check_result(r, "kqueue");
        break;
      }
      case 1: {
        int p[2] = {-1, -1};
        int r = kern::sys_pipe(p);
        if (r == 0) {
          // O_NONBLOCK on both ends: a lone thread must never sleep in read/write.
          kern::filedesc* fdp = kern::curthread()->td_proc->p_fd;
          for (int fd : p) fdp->fd_ofiles[fd]->f_flag |= kern::kFNONBLOCK;
        }
        line(fmt::format("pipe() = {} [{}, {}]{}", r, p[0], p[1], errno_text(r)));
        check_result(r, "pipe");
        break;
      }
      case 2: {
        int fd = pick_fd(in.u8());
        size_t n = 1 + in.u8() % 64;
        char buf[64] = {};
        long r = kern::sys_write(fd, buf, n);
        line(fmt::format("write({}, {}) = {}{}", fd, n, r, errno_text(static_cast<int>(r))));
        check_result(r, "write");
        break;
      }
      case 3: {
        int fd = pick_fd(in.u8());
        size_t n = 1 + in.u8() % 64;
        char buf[64];
        long r = kern::sys_read(fd, buf, n);
        line(fmt::format("read({}, {}) = {}{}", fd, n, r, errno_text(static_cast<int>(r))));
        check_result(r, "read");
        break;
      }
      case 4: {
        int fd = pick_fd(in.u8());
        int r = kern::sys_close(fd);
        line(fmt::format("close({}) = {}{}", fd, r, errno_text(r)));
        check_result(r, "close");
        break;
      }
      case 5: {
        int fd = pick_fd(in.u8());
        int r = kern::sys_dup(fd);
        line(fmt::format("dup({}) = {}{}", fd, r, errno_text(r)));
        check_result(r, "dup");
        break;
      }
      case 6: {
        // At most kMaxForks children (each is a simulated thread; kqsim has 16).
        if (forks_ == kMaxForks) {
          line("fork() skipped (the program already forked 4 times)");
          break;
        }
        ++forks_;
        int r = kern::sys_fork(&Runner::child_main, this);
        line(fmt::format("fork() = {}{}", r, errno_text(r)));
        check_result(r, "fork");
        break;
      }
      default:
        do_kevent();
        break;
    }
    check_invariants(fmt::format("after call {}", res.calls + 1).c_str());
    ++res.calls;
  }
};

}  // namespace

KeventProgramResult run_kevent_program(const uint8_t* data, size_t size) {
  KeventProgramResult res;
  ByteReader in(data, size);
  res.design = (in.u8() & 1) ? "giant" : "fine";
  const kern::kq_design* design = kern::find_design(res.design);
  sim::SchedulerOptions so;
  so.max_steps = kMaxKeventSteps;
  sim::Scheduler sched(so);
  sim::RandomStrategy strategy(1);
  locks::Witness witness;
  locks::WitnessScope ws(&witness);
  const sim::Execution& e = sched.run(strategy, [&] {
    kern::World world(*design);
    Runner r{in, res, 0, {}, 0};
    while (!r.in.done() && res.calls < static_cast<size_t>(kMaxKeventCalls) && r.res.failure.empty()) r.step();
    kern::fork_join_all();
    res.deferred_checks = r.deferred_;
    for (int fd = 0; fd < kern::kNoFile; ++fd)
      if (kern::curthread()->td_proc->p_fd->fd_ofiles[fd] != nullptr) kern::sys_close(fd);
    r.check_invariants("after closing every descriptor", /*final=*/true);
    if (!kern::curthread()->td_proc->p_fd->fd_kqlist.empty())
      r.fail("a kqueue is still on fd_kqlist after every descriptor was closed");
  });
  for (const sim::Finding& f : e.findings)
    if (res.failure.empty()) res.failure = fmt::format("finding: {}", f.message);
  return res;
}

}  // namespace kqsim::fuzz
