// proxy-flow-reset and proxy-flow-reset-fixed: a proxy flow whose two sockets
// wake two threads at once, one of them with a reset, ending (in the buggy
// application) in a use of the freed flow.
//
// The story (Randall Stewart, "Kqueue madness"). A proxy keeps one "flow" per
// proxied connection: the client-side socket A, the server-side socket B, a
// lock, some state. Both sockets are registered on one kqueue with
// EV_DISPATCH and udata = the flow; a pool of threads loops on kevent(). A
// reset arrives on A and data on B at about the same time. EV_DISPATCH
// promises that one *registration* is delivered to one thread at a time (it
// is disabled when delivered until the thread re-enables it), but the flow
// has two registrations: thread 1 can hold A's event while thread 2 holds
// B's. Thread 1 sees the reset, takes the flow lock, closes both sockets and
// frees the flow; thread 2, which got B's event a moment earlier, is waiting
// for that lock (or is about to take it) through the udata pointer: it locks
// and reads freed memory. No locking design of kern_event prevents it - the
// kernel did exactly what it promised - so the checker finds the
// use-after-free under every design.
//
// The fix (proxy-flow-reset-fixed): each registration owns one reference to
// the flow, and with EV_DISPATCH a registration has exactly one owner at any
// time: the kernel while it is armed, the one thread it was delivered to
// until that thread re-enables it (the reference travels with the event).
// The reset handler therefore does not close the other socket: under the
// flow lock it marks the flow dead and shuts the other socket's receive side
// down (shutdown(SHUT_RD)), which makes the other registration fire (EOF)
// the next time it is armed; it closes only its own socket and drops its own
// reference. Whoever next owns the other registration - the thread already
// holding B's event, or the thread B's EOF is delivered to - sees "dead",
// closes B and drops B's reference. The last reference frees the flow, and
// no thread can hold an event for a registration whose reference is gone.
// (The alternative fix, EV_DELETE of both registrations before the free, is
// not enough on its own: EV_DELETE does not tell the deleter whether another
// thread already holds a delivered event; it needs a handshake with every
// server thread, which is what the references are.)
//
// The model: the flow is application memory allocated with World::make and
// "freed" by marking it (its memory stays valid); every access to it goes
// through flow_use(), which files a use-after-free finding naming the flow,
// the thread and source line of the use and of the free (the memory model's
// check, as ASan's shadow memory: no scheduling point of its own). The flow
// lock is a sleep mutex with MTX_NOWITNESS: it stands for a pthread mutex,
// which WITNESS never sees. Live mode (docs/live.md): the same check, naming
// the threads by their live names (sim::live::thread_name()), once per flow;
// the allocator's bookkeeping is atomic so OS threads do not race on it. With
// 6 threads and --chaos 0.02 about 40 % of live iterations hit the bug.
//
// The workload: before, a kqueue, two AF_UNIX stream socket pairs (a[0] and
// b[0] are the proxy's, a[1] and b[1] the peers'), both registered
// EVFILT_READ | EV_DISPATCH with udata = the flow, and an EVFILT_USER "quit"
// knote. cpu0 and cpu1 are the server threads: kevent() (blocking, one event
// at a time) until "quit". cpu2 is the peers: a reset of a[1] (SO_LINGER 0
// and close), then data on b[1]. Whoever frees the flow triggers "quit".
// Oracle: no use of the freed flow; the flow freed exactly once; in the fixed
// variant every reference dropped and both sockets closed; kq_head
// consistent; no event for a closed socket in a final poll.
//
// Verdicts: proxy-flow-reset: use-after-free under giant, global and fine
// (under global the witness also reports close()'s filedesc -> kqueue order,
// feldman-lor, once); under none the sockets' KNOTE races with the scan
// first (data-race, as kern-57945). proxy-flow-reset-fixed: clean under
// giant and fine; global reports only feldman-lor's lock-order reversal
// (close() in a process that has a kqueue), none only the kern-57945 race.
#include <atomic>
#include <string>

#include <fmt/format.h>

#include "locks/mutex.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/socket.h"
#include "model/kern/syscalls.h"
#include "model/sim/chaos.h"
#include "model/sim/live_host.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

constexpr uintptr_t kQuit = 1000;  // EVFILT_USER ident

// One proxied connection: application memory (see the header comment).
struct Flow {
  Flow() : mtx("proxy flow", nullptr, locks::MTX_DEF | locks::MTX_NOWITNESS) {}
  locks::mtx mtx;               // the flow lock (a pthread mutex)
  sim::Cell<int> fd[2];         // [0] socket A, [1] socket B; -1 once closed
  sim::Cell<int> refs;          // fixed variant: one per registration
  sim::Cell<int> dead;          // fixed variant: the flow is being torn down
  sim::Cell<long> bytes;        // bytes proxied from B
  // The allocator's view, not the application's: no scheduling points, and
  // atomics so that live mode's OS threads do not race on it (relaxed, except
  // that `freed` publishes who freed it and where: a thread that sees the
  // flow freed is ordered after the free only then, when it is a finding
  // already).
  std::atomic<bool> freed{false};
  sim::Tid freed_by = sim::kNoThread;  // deterministic mode
  std::string freed_by_name;           // both modes: "cpu0"
  SrcLoc freed_at;
  std::atomic<int> frees{0};
  std::atomic<bool> uaf_reported{false};  // live mode: one report per flow
};

// The calling thread's name: the scheduler's in deterministic mode, the live
// runner's in live mode (model/sim/live_host.h).
std::string thread_name_now() {
  if (sim::Scheduler* s = sim::Scheduler::current()) return s->thread_name(s->self());
  return sim::live::thread_name();
}

// The allocator's check of an access to the flow, made right after the
// access's scheduling point (so a free by another thread just before it is
// seen): a use-after-free finding naming the flow when it was freed. In live
// mode the "freed" memory stays valid as well (World::make), so the use
// itself is harmless and only this check sees it; the thread goes on (live
// findings do not end anything), so only the first use of the flow after its
// free is reported, and the message names the threads by their live names
// only, so that the same use in many iterations is one finding.
Flow* flow_use(Flow* f, const char* what, SrcLoc loc = SrcLoc::current()) {
  if (!f->freed.load(std::memory_order_acquire)) return f;
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) {
    // Live mode: the thread goes on and would report each following access
    // too; the first use of this flow after its free is the finding.
    if (f->uaf_reported.exchange(true, std::memory_order_relaxed)) return f;
    report(FindingKind::kUseAfterFree,
           fmt::format("use after free: proxy flow used after it was freed\n"
                       " {} by thread \"{}\" at {}\n freed by thread \"{}\" at {}",
                       what, thread_name_now(), loc.str(), f->freed_by_name, f->freed_at.str()));
    return f;
  }
  sim::Finding fd;
  fd.kind = FindingKind::kUseAfterFree;
  fd.message = fmt::format(
      "use after free: proxy flow used after it was freed\n"
      " {} by thread {} \"{}\" at {}\n freed by thread {} \"{}\" at {}",
      what, s->self(), s->thread_name(s->self()), loc.str(), f->freed_by, f->freed_by_name, f->freed_at.str());
  fd.threads = {s->self(), f->freed_by};
  fd.sites = {sim::Site::from(loc), sim::Site::from(f->freed_at)};
  s->report(std::move(fd));
  return f;  // not reached when the report ends the execution
}

// A scheduling point of the application's own (deterministic mode), live
// mode's timing perturbation (model/sim/chaos.h) otherwise.
void app_point() {
  if (sim::Scheduler* s = sim::Scheduler::current())
    s->point();
  else
    sim::chaos::point();
}

// Checked accesses: the access (a scheduling point), then the check.
template <class T>
T flow_load(Flow* f, const sim::Cell<T>& c, const char* what, SrcLoc loc = SrcLoc::current()) {
  T v = c.load(loc);
  flow_use(f, what, loc);
  return v;
}
template <class T>
void flow_store(Flow* f, sim::Cell<T>& c, T v, const char* what, SrcLoc loc = SrcLoc::current()) {
  c.store(v, loc);
  flow_use(f, what, loc);
}
void flow_lock(Flow* f, SrcLoc loc = SrcLoc::current()) {
  locks::mtx_lock(&f->mtx, loc);
  flow_use(f, "mtx_lock(&flow->mtx)", loc);  // also: freed while this thread waited for it
}
void flow_unlock(Flow* f, SrcLoc loc = SrcLoc::current()) {
  app_point();                                 // mtx_unlock writes the lock word...
  flow_use(f, "mtx_unlock(&flow->mtx)", loc);  // ... of a flow that may be gone
  locks::mtx_unlock(&f->mtx, loc);
}
// free(flow): a scheduling point (the allocator runs), then the mark.
void flow_free(Flow* f, SrcLoc loc = SrcLoc::current()) {
  app_point();
  flow_use(f, "free(flow)", loc);  // a double free is a use after free too
  if (f->frees.fetch_add(1, std::memory_order_relaxed) != 0) return;  // freed already: reported above
  if (sim::Scheduler* s = sim::Scheduler::current()) f->freed_by = s->self();
  f->freed_by_name = thread_name_now();
  f->freed_at = loc;
  f->freed.store(true, std::memory_order_release);
}

struct State {
  int kq = -1;
  int a[2] = {-1, -1};
  int b[2] = {-1, -1};
  Flow* flow = nullptr;
};

void setup(Env<State>& env, bool fixed) {
  State& s = env.state;
  s.kq = kern::sys_kqueue();
  kern::sys_socketpair(kern::kAF_UNIX, kern::kSOCK_STREAM | kern::kSOCK_NONBLOCK, 0, s.a);
  kern::sys_socketpair(kern::kAF_UNIX, kern::kSOCK_STREAM | kern::kSOCK_NONBLOCK, 0, s.b);
  Flow* f = env.world.make<Flow>();
  f->fd[0].store(s.a[0]);
  f->fd[1].store(s.b[0]);
  f->refs.store(fixed ? 2 : 0);
  s.flow = f;
  struct kevent kev[3];
  EV_SET(&kev[0], s.a[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, f);
  EV_SET(&kev[1], s.b[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, f);
  EV_SET(&kev[2], kQuit, EVFILT_USER, EV_ADD, 0, 0, nullptr);
  if (kern::sys_kevent(s.kq, kev, 3, nullptr, 0, nullptr) != 0)
    report(FindingKind::kOracle, "registering the flow's sockets failed");
}

void trigger_quit(int kq) { kev_change(kq, kQuit, EVFILT_USER, 0, NOTE_TRIGGER); }

// Re-arms an EV_DISPATCH registration. udata must be passed again: every
// change to an existing knote, EV_ENABLE included, stores the change's udata
// (kqueue_register: kn->kn_kevent.udata = kev->udata); kev_change's NULL
// would leave the next event without its flow.
int rearm(int kq, int fd, Flow* f) {
  struct kevent kev;
  EV_SET(&kev, fd, EVFILT_READ, EV_ENABLE, 0, 0, f);
  return kern::sys_kevent(kq, &kev, 1, nullptr, 0, nullptr);
}

// Reads what is buffered on `fd` (non-blocking) into the flow's count; the
// caller holds the flow lock.
void drain(Flow* f, int fd) {
  char buf[64];
  long n;
  while ((n = kern::sys_read(fd, buf, sizeof buf)) > 0) {
    flow_store(f, f->bytes, flow_load(f, f->bytes, "flow->bytes") + n, "flow->bytes += n");
  }
}

// The buggy application: whoever sees the reset tears the whole flow down.
void handle_buggy(State& s, const struct kevent& ev) {
  Flow* f = static_cast<Flow*>(ev.udata);
  flow_lock(f);
  const int a = flow_load(f, f->fd[0], "read flow->fd[0]");
  const int b = flow_load(f, f->fd[1], "read flow->fd[1]");
  if (ev.flags & EV_EOF) {  // the reset (or any EOF): close both sockets, free the flow
    kern::sys_close(a);
    kern::sys_close(b);
    flow_store(f, f->fd[0], -1, "flow->fd[0] = -1");
    flow_store(f, f->fd[1], -1, "flow->fd[1] = -1");
    flow_unlock(f);
    flow_free(f);
    trigger_quit(s.kq);
    return;
  }
  const int fd = static_cast<int>(ev.ident);
  drain(f, fd);
  flow_unlock(f);
  rearm(s.kq, fd, f);  // EBADF if it was closed meanwhile
}

// The fixed application: this thread owns the registration `ev` came from,
// and with it one reference to the flow.
void handle_fixed(State& s, const struct kevent& ev) {
  Flow* f = static_cast<Flow*>(ev.udata);
  flow_lock(f);
  const int side = static_cast<int>(ev.ident) == flow_load(f, f->fd[0], "read flow->fd[0]") ? 0 : 1;
  const int fd = flow_load(f, f->fd[side], "read flow->fd[side]");
  if ((ev.flags & EV_EOF) && flow_load(f, f->dead, "read flow->dead") == 0) {
    // First to see the end: mark the flow dead and make the other
    // registration fire, so that its owner (now or later) tears its half down.
    flow_store(f, f->dead, 1, "flow->dead = 1");
    const int other = flow_load(f, f->fd[1 - side], "read flow->fd[other]");
    if (other >= 0) kern::sys_shutdown(other, kern::kSHUT_RD);
  }
  if (flow_load(f, f->dead, "read flow->dead") != 0) {
    kern::sys_close(fd);  // drops this registration: no event for it any more
    flow_store(f, f->fd[side], -1, "flow->fd[side] = -1");
    const int refs = flow_load(f, f->refs, "read flow->refs") - 1;
    flow_store(f, f->refs, refs, "flow->refs--");
    flow_unlock(f);
    if (refs == 0) {
      flow_free(f);
      trigger_quit(s.kq);
    }
    return;
  }
  drain(f, fd);
  flow_unlock(f);
  rearm(s.kq, fd, f);  // hands the reference back to the kernel
}

void server(State& s, bool fixed) {
  for (;;) {
    struct kevent ev;
    int n = kern::sys_kevent(s.kq, nullptr, 0, &ev, 1, nullptr);
    if (n < 0) {
      report(FindingKind::kOracle, fmt::format("kevent() failed\n errno {}", kern::sys_errno()));
      return;
    }
    if (n == 0) continue;
    if (ev.filter == EVFILT_USER) return;  // quit (stays triggered: every server sees it)
    if (fixed)
      handle_fixed(s, ev);
    else
      handle_buggy(s, ev);
  }
}

void peers(State& s) {
  kern::sys_set_linger_reset(s.a[1]);  // a reset on A ...
  kern::sys_close(s.a[1]);
  kern::sys_write(s.b[1], "data", 4);  // ... and data on B
}

void thread_body(Env<State>& env, int i, bool fixed) {
  if (i < 2)
    server(env.state, fixed);
  else
    peers(env.state);
}

void final_oracle(Env<State>& env, bool fixed) {
  State& s = env.state;
  Flow* f = s.flow;
  const int frees = f->frees.load(std::memory_order_relaxed);
  if (frees != 1) report(FindingKind::kOracle, fmt::format("the flow was not freed exactly once\n frees {}", frees));
  if (fixed && f->refs.raw() != 0)
    report(FindingKind::kOracle, fmt::format("the flow's references were not all dropped\n refs {}", f->refs.raw()));
  if (f->fd[0].raw() != -1 || f->fd[1].raw() != -1)
    report(FindingKind::kOracle, "a socket of the flow was left open");
  struct kevent ev[4];
  int n = kev_poll(s.kq, ev, 4);
  for (int j = 0; j < n; ++j)
    if (ev[j].filter == EVFILT_READ)
      report(FindingKind::kOracle, fmt::format("stale event: a closed socket of the flow reported\n ident {}",
                                               static_cast<int>(ev[j].ident)));
}

const std::vector<DesignExpectation> kBuggyExpect = {
    {"none", Expected::failure(FindingKind::kDataRace),
     "the sockets' KNOTE runs without Giant against the scan (kern-57945) before the flow is freed"},
    {"giant", Expected::failure(FindingKind::kUseAfterFree), "an application bug: serial kqueue does not save it"},
    {"global", Expected::failure(FindingKind::kUseAfterFree),
     "an application bug (the witness also reports close()'s order, as feldman-lor)"},
    {"fine", Expected::failure(FindingKind::kUseAfterFree),
     "an application bug: EV_DISPATCH serialises one registration, not a flow's two"},
};

const auto& kProxyFlowReset = register_scenario<State>({
    .name = "proxy-flow-reset",
    .summary = "two EV_DISPATCH sockets of one proxy flow in two threads; the reset handler frees the flow",
    .story =
        "A proxy flow owns two sockets, both registered EV_DISPATCH with udata = the flow on one kqueue "
        "served by two threads (Randall Stewart, \"Kqueue madness\"). Data arrives on B and a reset on A "
        "together; EV_DISPATCH hands each registration to one thread at a time, but the flow's two "
        "registrations go to two threads. The thread with the reset locks the flow, closes both sockets "
        "and frees the flow while the other, holding B's event, waits for the flow lock: a use after "
        "free under every design (an application bug; kqueue did what it promised). See "
        "proxy-flow-reset-fixed for the reference-per-registration fix.",
    .threads = 3,
    .before = [](Env<State>& env) { setup(env, false); },
    .thread = [](Env<State>& env, int i) { thread_body(env, i, false); },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after = [](Env<State>& env) { final_oracle(env, false); },
    .expect = kBuggyExpect,
});

const auto& kProxyFlowResetFixed = register_scenario<State>({
    .name = "proxy-flow-reset-fixed",
    .summary = "proxy-flow-reset with one flow reference per EV_DISPATCH registration: no use after free",
    .story =
        "The fix for proxy-flow-reset: each registration owns one reference to the flow, and with "
        "EV_DISPATCH a registration has exactly one owner at a time (the kernel while armed, the thread "
        "it was delivered to until it re-enables it). The reset handler marks the flow dead, shuts "
        "the other socket's receive side down so that its registration fires, closes only its own "
        "socket and drops its own reference; the owner of the other registration does the same for "
        "B. The last reference frees the flow. Oracle: no use after free, freed once, all references "
        "dropped, both sockets closed.",
    .threads = 3,
    .before = [](Env<State>& env) { setup(env, true); },
    .thread = [](Env<State>& env, int i) { thread_body(env, i, true); },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after = [](Env<State>& env) { final_oracle(env, true); },
    .expect =
        {
            {"none", Expected::failure(FindingKind::kDataRace),
             "the sockets' KNOTE runs without Giant against the scan (kern-57945)"},
            {"giant", Expected::clean(), "serial under Giant; the references order the free"},
            {"global", Expected::failure(FindingKind::kLockOrderReversal),
             "close() takes filedesc -> the global kqueue lock, the reverse of kqueue() (feldman-lor)"},
            {"fine", Expected::clean(), "the references order the free after the last owner's use"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
