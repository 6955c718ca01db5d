// schedule_program.cc - harness (b)'s decoder and runner (see schedule_program.h).
#include "fuzz/schedule_program.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include <kqsim/sys/event.h>

#include "fuzz/fuzz_input.h"
#include "knote/design.h"
#include "locks/witness.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/kern_types.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::fuzz {

namespace {

constexpr int kMaxOps = 6;

// The scheduling choices as bytes: the (byte % n)th runnable thread.
class ByteStrategy final : public sim::Strategy {
 public:
  ByteStrategy(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void begin_execution() override { pos_ = 0; }
  sim::Tid choose(const sim::Tid* runnable, unsigned n, sim::Tid current) override {
    if (pos_ < size_) return runnable[data_[pos_++] % n];
    for (unsigned i = 0; i < n; ++i)
      if (runnable[i] == current) return current;
    return runnable[0];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Objects by index: descriptors assigned by the setup, in this order.
enum Obj { kKq, kKq2, kA0, kA1, kB0, kB1, kNumObj };
const char* const kObjNames[kNumObj] = {"kq", "kq2", "a.r", "a.w", "b.r", "b.w"};

struct Op {
  uint8_t kind = 0;
  uint8_t arg = 0;
};

struct Program {
  unsigned threads = 2;
  std::vector<Op> setup;                   // registrations before the threads start (kind 0)
  std::vector<std::vector<Op>> ops;        // per thread
};

constexpr unsigned short kFlagTable[8] = {EV_ADD,    EV_ADD | EV_CLEAR, EV_ADD | EV_ONESHOT, EV_ADD | EV_DISPATCH,
                                          EV_DELETE, EV_ENABLE,         EV_DISABLE,          EV_ADD | EV_RECEIPT};
const char* const kFlagNames[8] = {"EV_ADD",    "EV_ADD|EV_CLEAR", "EV_ADD|EV_ONESHOT", "EV_ADD|EV_DISPATCH",
                                   "EV_DELETE", "EV_ENABLE",       "EV_DISABLE",        "EV_ADD|EV_RECEIPT"};

Program decode(ByteReader& in) {
  Program p;
  p.threads = 2 + in.u8() % 2;
  unsigned nsetup = in.u8() % 4;
  for (unsigned i = 0; i < nsetup; ++i) p.setup.push_back({0, in.u8()});
  p.ops.resize(p.threads);
  for (unsigned t = 0; t < p.threads; ++t) {
    unsigned n = 1 + in.u8() % kMaxOps;
    for (unsigned i = 0; i < n; ++i) {
      uint8_t k = in.u8() % 7;
      p.ops[t].push_back({k, in.u8()});
    }
  }
  return p;
}

struct Target {
  Obj kq;
  Obj fd;              // for descriptor filters
  short filter;
  uintptr_t ident;     // for others
  int64_t data = 0;
  const char* what;
};

Target reg_target(uint8_t arg) {
  Obj kq = (arg & 0x40) ? kKq2 : kKq;
  switch (arg % 8) {
    case 0: return {kq, kA0, EVFILT_READ, 0, 0, "EVFILT_READ a.r"};
    case 1: return {kq, kA1, EVFILT_WRITE, 0, 0, "EVFILT_WRITE a.w"};
    case 2: return {kq, kB0, EVFILT_READ, 0, 0, "EVFILT_READ b.r"};
    case 3: return {kq, kB1, EVFILT_WRITE, 0, 0, "EVFILT_WRITE b.w"};
    case 4: return {kq, kNumObj, EVFILT_USER, 1, 0, "EVFILT_USER 1"};
    case 5: return {kq, kNumObj, EVFILT_USER, 2, 0, "EVFILT_USER 2"};
    case 6: return {kq, kKq2, EVFILT_READ, 0, 0, "EVFILT_READ kq2"};
    default: return {kq, kNumObj, EVFILT_TIMER, 1, 1, "EVFILT_TIMER 1 (1 ms)"};
  }
}

std::string describe(const Op& op) {
  const uint8_t a = op.arg;
  switch (op.kind) {
    case 0: {
      Target t = reg_target(a);
      return fmt::format("kevent({}, {} {})", kObjNames[t.kq], t.what, kFlagNames[(a >> 3) % 8]);
    }
    case 1: return fmt::format("kevent({}, poll {} slots, zero timeout)", kObjNames[(a & 1) ? kKq2 : kKq], 1 + (a >> 1) % 4);
    case 2: return fmt::format("write({}, {})", kObjNames[(a & 1) ? kB1 : kA1], 1 + (a >> 1) % 32);
    case 3: return fmt::format("read({}, {})", kObjNames[(a & 1) ? kB0 : kA0], 1 + (a >> 1) % 32);
    case 4: return fmt::format("close({})", kObjNames[a % kNumObj]);
    case 5: return fmt::format("kevent({}, EVFILT_USER {} NOTE_TRIGGER)", kObjNames[(a & 2) ? kKq2 : kKq], 1 + (a & 1));
    default: {
      Target t = reg_target(a);
      return fmt::format("kevent({}, {} {}, 2 slots, zero timeout)", kObjNames[t.kq], t.what,
                         kFlagNames[(a >> 3) % 8]);
    }
  }
}

std::string listing(const Program& p, const char* design) {
  std::string s = fmt::format("design {}; setup: kq = kqueue(); kq2 = kqueue(); a = pipe(); b = pipe() (O_NONBLOCK)\n",
                              design);
  for (const Op& op : p.setup) s += "  setup: " + describe(op) + "\n";
  for (unsigned t = 0; t < p.threads; ++t)
    for (const Op& op : p.ops[t]) s += fmt::format("  cpu{}: {}\n", t, describe(op));
  return s;
}

struct Shared {
  int fd[kNumObj] = {-1, -1, -1, -1, -1, -1};
};

void run_op(const Shared& sh, const Op& op) {
  const uint8_t a = op.arg;
  const struct timespec zero = {0, 0};
  struct kevent ev[4];
  switch (op.kind) {
    case 0:
    case 6: {
      Target t = reg_target(a);
      struct kevent ch;
      uintptr_t ident = t.fd != kNumObj ? static_cast<uintptr_t>(sh.fd[t.fd]) : t.ident;
      EV_SET(&ch, ident, t.filter, kFlagTable[(a >> 3) % 8], 0, t.data, nullptr);
      if (op.kind == 0) kern::sys_kevent(sh.fd[t.kq], &ch, 1, nullptr, 0, nullptr);
      else kern::sys_kevent(sh.fd[t.kq], &ch, 1, ev, 2, &zero);
      break;
    }
    case 1:
      kern::sys_kevent(sh.fd[(a & 1) ? kKq2 : kKq], nullptr, 0, ev, 1 + (a >> 1) % 4, &zero);
      break;
    case 2: {
      char buf[32] = {};
      kern::sys_write(sh.fd[(a & 1) ? kB1 : kA1], buf, 1 + (a >> 1) % 32);
      break;
    }
    case 3: {
      char buf[32];
      kern::sys_read(sh.fd[(a & 1) ? kB0 : kA0], buf, 1 + (a >> 1) % 32);
      break;
    }
    case 4:
      kern::sys_close(sh.fd[a % kNumObj]);
      break;
    default: {
      struct kevent ch;
      EV_SET(&ch, 1 + (a & 1), EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
      kern::sys_kevent(sh.fd[(a & 2) ? kKq2 : kKq], &ch, 1, nullptr, 0, nullptr);
      break;
    }
  }
}

ScheduleProgramResult run(const uint8_t* data, size_t size, const char* design_name, sim::Strategy* replay) {
  ScheduleProgramResult res;
  res.design = design_name;
  ByteReader in(data, size);
  Program prog = decode(in);
  res.listing = listing(prog, design_name);
  const kern::kq_design* design = kern::find_design(design_name);
  if (design == nullptr) {
    res.failure = fmt::format("unknown design '{}'", design_name);
    return res;
  }
  ByteStrategy bytes(in.rest(), in.rest_size());
  sim::Strategy& strategy = replay != nullptr ? *replay : bytes;
  sim::SchedulerOptions so;
  sim::Scheduler sched(so);
  locks::Witness witness;
  locks::WitnessScope ws(&witness);
  std::string broken;
  const sim::Execution& e = sched.run(strategy, [&] {
    kern::World world(*design);
    Shared sh;
    sh.fd[kKq] = kern::sys_kqueue();
    sh.fd[kKq2] = kern::sys_kqueue();
    int p[2];
    kern::sys_pipe(p);
    sh.fd[kA0] = p[0];
    sh.fd[kA1] = p[1];
    kern::sys_pipe(p);
    sh.fd[kB0] = p[0];
    sh.fd[kB1] = p[1];
    kern::filedesc* fdp = kern::curthread()->td_proc->p_fd;
    for (int o = kA0; o <= kB1; ++o) fdp->fd_ofiles[sh.fd[o]]->f_flag |= kern::kFNONBLOCK;
    for (const Op& op : prog.setup) run_op(sh, op);
    sim::Scheduler* s = sim::Scheduler::current();
    std::vector<sim::Tid> tids;
    static const char* const kNames[] = {"cpu0", "cpu1", "cpu2"};
    for (unsigned t = 0; t < prog.threads; ++t)
      tids.push_back(s->spawn([&sh, &prog, t] {
        for (const Op& op : prog.ops[t]) run_op(sh, op);
      }, kNames[t]));
    for (sim::Tid t : tids) s->join(t);
    // A quiescent point for the checks: the threads are done; the softclock
    // (a timer armed) may be mid-expiry, updating a kqueue under its lock.
    if (!wait_for_softclock_idle()) broken += "the softclock never went idle after the threads finished\n";
    kern::proc* init = kern::curthread()->td_proc;
    if (std::string b = check_kqueue_invariants(init); !b.empty()) broken += "after the threads finished:\n" + b;
    for (int o = 0; o < kNumObj; ++o) kern::sys_close(sh.fd[o]);
    if (!wait_for_softclock_idle()) broken += "the softclock never went idle after closing everything\n";
    if (std::string b = check_kqueue_invariants(init); !b.empty()) broken += "after closing everything:\n" + b;
    if (!fdp->fd_kqlist.empty()) broken += "a kqueue is still on fd_kqlist after every descriptor was closed\n";
  });
  res.path = e.path;
  for (const sim::Finding& f : e.findings) res.failure += f.message + "\n";
  res.failure += broken;
  return res;
}

}  // namespace

ScheduleProgramResult run_schedule_program(const uint8_t* data, size_t size, const char* design) {
  return run(data, size, design, nullptr);
}

ScheduleProgramResult replay_schedule_program(const uint8_t* data, size_t size, const sim::Path& path,
                                              const char* design) {
  sim::ReplayStrategy rs(path);
  return run(data, size, design, &rs);
}

}  // namespace kqsim::fuzz
