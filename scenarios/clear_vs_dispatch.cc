// clear-vs-dispatch: several threads blocked in kevent() on one kqueue, two
// busy sockets, one registered EV_CLEAR and one EV_DISPATCH: who wakes, how
// often for nothing, and whether two threads can hold one socket's event.
//
// The story. A thread pool serving one kqueue wants each ready descriptor
// handled by one thread. A level-triggered registration cannot give that (it
// stays queued until drained, so every scanning thread gets it). EV_CLEAR
// (edge-triggered) takes the knote off the queue when it is delivered and
// resets its state, so the next write queues it again - possibly while the
// first thread is still reading: a second thread gets the same socket, the
// two race on the read, one finds nothing (an empty wake-up). EV_DISPATCH
// disables the knote when it is delivered: no further event until the thread
// that got it re-enables it with EV_ENABLE (writes in between only mark it
// active; EV_ENABLE queues it again), so at most one thread holds the
// socket's event at any time, and nothing is lost because the re-enable
// re-reports data that arrived meanwhile. (FreeBSD added EV_DISPATCH in 2009,
// r197240, for exactly this: a pool of threads on one kqueue.)
//
// The workload: before, a kqueue, two non-blocking AF_UNIX stream socket
// pairs: socket C registered EVFILT_READ | EV_CLEAR, socket D EVFILT_READ |
// EV_DISPATCH, and an EVFILT_USER "quit" knote. cpu0..cpu2 loop on a
// blocking kevent() (one event at a time): for a socket event, note "I hold
// it" (a relaxed counter per socket), read until EAGAIN, count the bytes,
// note "I let go", and for D re-enable it; whoever reads the last byte of
// both sockets triggers "quit". cpu3 writes one byte at a time, alternately
// to C's and D's peers, three bytes each.
//
// Oracle: every byte read (a lost wake-up leaves all three servers asleep:
// the scheduler's deadlock finding); the EV_DISPATCH socket never held by two
// threads at once (a duplicate-event finding); kq_head consistent. That
// EV_CLEAR *can* give one socket to two threads is not a bug - it is what
// EV_CLEAR means - so it is counted, not reported: wake-ups, empty wake-ups
// and overlaps per socket go to delivery_stats() (clear_vs_dispatch.h),
// printed by the ClearVsDispatchStats test, figures in docs/scenarios.md.
//
// Verdicts: giant, global and fine clean; none: the sockets' KNOTE runs
// without Giant against the scans (data-race, as kern-57945).
#include "scenarios/clear_vs_dispatch.h"

#include <atomic>

#include <fmt/format.h>

#include "model/kern/socket.h"
#include "model/kern/syscalls.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

constexpr uintptr_t kQuit = 1000;
constexpr int kServers = 3;
constexpr int kBytesEach = 3;

// Per socket: [0] EV_CLEAR, [1] EV_DISPATCH.
struct Watch {
  sim::Atomic<int> holding;  // threads between "got the event" and "let go"
  sim::Atomic<int> overlaps; // deliveries while another thread held one
  sim::Atomic<int> max_holders;
  int wakeups[kServers] = {};  // per-thread slots
  int empty[kServers] = {};
  long bytes[kServers] = {};
};

struct State {
  int kq = -1;
  int sock[2][2] = {{-1, -1}, {-1, -1}};  // [socket][0 = watched end, 1 = peer]
  Watch w[2];
  sim::Atomic<long> total;  // bytes read, both sockets
};

struct Totals {
  std::atomic<uint64_t> executions{0}, wakeups{0}, empty_wakeups{0}, overlaps{0}, overlap_executions{0},
      max_holders{0};
};
Totals g_totals[2];

void on_socket_event(State& s, int who, int k) {
  Watch& w = s.w[k];
  ++w.wakeups[who];
  const int h = w.holding.fetch_add(1, std::memory_order_relaxed) + 1;
  if (h > 1) w.overlaps.fetch_add(1, std::memory_order_relaxed);
  int m = w.max_holders.load(std::memory_order_relaxed);
  while (h > m && !w.max_holders.compare_exchange_strong(m, h, std::memory_order_relaxed)) {
  }
  char buf[16];
  long got = 0, n;
  while ((n = kern::sys_read(s.sock[k][0], buf, sizeof buf)) > 0) got += n;
  if (got == 0) ++w.empty[who];
  w.bytes[who] += got;
  w.holding.fetch_sub(1, std::memory_order_relaxed);  // let go before re-enabling
  if (k == 1) kev_change(s.kq, s.sock[1][0], EVFILT_READ, EV_ENABLE);
  if (got > 0 && s.total.fetch_add(got, std::memory_order_relaxed) + got == 2 * kBytesEach)
    kev_change(s.kq, kQuit, EVFILT_USER, 0, NOTE_TRIGGER);
}

void server(State& s, int who) {
  for (;;) {
    struct kevent ev;
    int n = kern::sys_kevent(s.kq, nullptr, 0, &ev, 1, nullptr);
    if (n < 0) {
      report(FindingKind::kOracle, fmt::format("kevent() failed\n errno {}", kern::sys_errno()));
      return;
    }
    if (n == 0) continue;
    if (ev.filter == EVFILT_USER) return;  // quit: stays triggered, every server sees it
    const int k = static_cast<int>(ev.ident) == s.sock[0][0] ? 0 : 1;
    on_socket_event(s, who, k);
  }
}

void writer(State& s) {
  for (int b = 0; b < kBytesEach; ++b)
    for (int k = 0; k < 2; ++k) kern::sys_write(s.sock[k][1], "x", 1);
}

void add_stats(const State& s) {
  for (int k = 0; k < 2; ++k) {
    const Watch& w = s.w[k];
    Totals& t = g_totals[k];
    uint64_t wake = 0, empty = 0;
    for (int i = 0; i < kServers; ++i) {
      wake += static_cast<uint64_t>(w.wakeups[i]);
      empty += static_cast<uint64_t>(w.empty[i]);
    }
    t.executions.fetch_add(1, std::memory_order_relaxed);
    t.wakeups.fetch_add(wake, std::memory_order_relaxed);
    t.empty_wakeups.fetch_add(empty, std::memory_order_relaxed);
    const auto ov = static_cast<uint64_t>(w.overlaps.raw());
    t.overlaps.fetch_add(ov, std::memory_order_relaxed);
    if (ov > 0) t.overlap_executions.fetch_add(1, std::memory_order_relaxed);
    const auto mh = static_cast<uint64_t>(w.max_holders.raw());
    uint64_t cur = t.max_holders.load(std::memory_order_relaxed);
    while (mh > cur && !t.max_holders.compare_exchange_weak(cur, mh, std::memory_order_relaxed)) {
    }
  }
}

const auto& kClearVsDispatch = register_scenario<State>({
    .name = "clear-vs-dispatch",
    .summary = "3 threads on one kqueue, two busy sockets: EV_CLEAR can go to two threads, EV_DISPATCH never",
    .story =
        "A pool of threads on one kqueue wants each ready socket handled by one thread. EV_CLEAR "
        "dequeues and resets the knote on delivery, so the next write queues it again while the first "
        "thread may still be reading: two threads on one socket, one of them finding nothing. EV_DISPATCH "
        "disables the knote on delivery until the thread re-enables it (EV_ENABLE), so one thread at a "
        "time, and nothing is lost. cpu0..cpu2 serve, cpu3 writes three bytes to each socket. Oracle: "
        "all bytes read (a lost wake-up deadlocks), the EV_DISPATCH socket never held twice at once; "
        "EV_CLEAR's overlaps are counted (statistics), not reported.",
    .threads = kServers + 1,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          for (auto& sp : s.sock)
            kern::sys_socketpair(kern::kAF_UNIX, kern::kSOCK_STREAM | kern::kSOCK_NONBLOCK, 0, sp);
          struct kevent kev[3];
          EV_SET(&kev[0], s.sock[0][0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, nullptr);
          EV_SET(&kev[1], s.sock[1][0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, nullptr);
          EV_SET(&kev[2], kQuit, EVFILT_USER, EV_ADD, 0, 0, nullptr);
          if (kern::sys_kevent(s.kq, kev, 3, nullptr, 0, nullptr) != 0)
            report(FindingKind::kOracle, "registering the sockets failed");
        },
    .thread =
        [](Env<State>& env, int i) {
          if (i < kServers)
            server(env.state, i);
          else
            writer(env.state);
        },
    .invariant = [](Env<State>& env) { check_kqueue(env.state.kq); },
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          for (int k = 0; k < 2; ++k) {
            long got = 0;
            for (long b : s.w[k].bytes) got += b;
            if (got != kBytesEach)
              report(FindingKind::kLostEvent,
                     fmt::format("lost event: the {} socket's bytes were not all read\n read {} of {}",
                                 k == 0 ? "EV_CLEAR" : "EV_DISPATCH", got, kBytesEach));
          }
          if (s.w[1].overlaps.raw() != 0)
            report(FindingKind::kDuplicateEvent,
                   fmt::format("duplicate event: two threads held the EV_DISPATCH socket's event at once\n "
                               "overlapping deliveries {}",
                               s.w[1].overlaps.raw()));
          add_stats(s);
        },
    .expect =
        {
            {"none", Expected::failure(FindingKind::kDataRace),
             "the sockets' KNOTE runs without Giant against the scans (as kern-57945)"},
            {"giant", Expected::clean(), "serial under Giant"},
            {"global", Expected::clean(), "the global kqueue lock orders KNOTE, the scans and EV_ENABLE"},
            {"fine", Expected::clean(), "kq lock + in-flux protocol"},
        },
});

}  // namespace

DeliveryStats delivery_stats(bool dispatch) {
  const Totals& t = g_totals[dispatch ? 1 : 0];
  DeliveryStats d;
  d.executions = t.executions.load(std::memory_order_relaxed);
  d.wakeups = t.wakeups.load(std::memory_order_relaxed);
  d.empty_wakeups = t.empty_wakeups.load(std::memory_order_relaxed);
  d.overlaps = t.overlaps.load(std::memory_order_relaxed);
  d.overlap_executions = t.overlap_executions.load(std::memory_order_relaxed);
  d.max_holders = t.max_holders.load(std::memory_order_relaxed);
  return d;
}

void delivery_stats_reset() {
  for (Totals& t : g_totals) {
    t.executions = 0;
    t.wakeups = 0;
    t.empty_wakeups = 0;
    t.overlaps = 0;
    t.overlap_executions = 0;
    t.max_holders = 0;
  }
}

}  // namespace kqsim::scenarios
