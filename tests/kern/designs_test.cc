// The locking designs under concurrency: the kern/57945 workload (a pipe
// writer's KNOTE racing a kevent() scan) corrupts or races under "none" and
// is clean under "giant", "global" and "fine"; kqueue-in-kqueue cycles.
#include <gtest/gtest.h>

#include <algorithm>

#include "model/sim/list_check.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using testing::explore_in_world;
using testing::kZeroTs;
using testing::make_kev;

// Files a list-corruption finding when the kqueue's pending queue is
// inconsistent (walks without scheduling points).
void check_kqueue(int kqfd) {
  thread* td = curthread();
  file* fp = td->td_proc->p_fd->fd_ofiles[kqfd];
  std::string err = kqueue_check(static_cast<kqueue*>(fp->f_data));
  if (err.empty()) return;
  sim::Finding f;
  f.kind = sim::FindingKind::kListCorruption;
  f.message = err;  // "list corrupted: TAILQ kq_head: ..." or the KN_QUEUED mismatch
  sim::Scheduler::current()->report(std::move(f));
}

// The kern/57945 workload: CPU 0 writes to a pipe (KNOTE -> knote_enqueue),
// CPU 1 scans the kqueue (kqueue_scan) with EV_CLEAR, so each delivery
// dequeues the knote and the next write enqueues it again while the scan may
// still be walking kq_head. Final oracle: the queue is consistent, and the
// last write was seen: the scanner saw data 3, or a final poll reports it.
void pr57945(World&) {
  int kq = sys_kqueue();
  int p[2];
  sys_pipe(p);
  struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR);
  sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
  sim::Scheduler& s = *sim::Scheduler::current();
  World* w = World::current();
  proc* init = w->initproc();
  int64_t seen = 0;
  sim::Tid writer = s.spawn([&] {
    w->attach(init);
    for (int i = 0; i < 3; ++i) sys_write(p[1], "a", 1);
  }, "cpu0");
  sim::Tid scanner = s.spawn([&] {
    w->attach(init);
    struct kevent ev[2];
    for (int i = 0; i < 3; ++i) {
      int n = sys_kevent(kq, nullptr, 0, ev, 2, &kZeroTs);
      for (int j = 0; j < n; ++j) seen = std::max<int64_t>(seen, ev[j].data);
    }
  }, "cpu1");
  s.join(writer);
  s.join(scanner);
  check_kqueue(kq);
  struct kevent ev[2];
  int n = sys_kevent(kq, nullptr, 0, ev, 2, &kZeroTs);
  for (int j = 0; j < n; ++j) seen = std::max<int64_t>(seen, ev[j].data);
  if (seen != 3) {
    sim::Finding f;
    f.kind = sim::FindingKind::kLostEvent;
    f.message = "lost event: the read knote never reported the third byte";
    sim::Scheduler::current()->report(std::move(f));
  }
}

TEST(Designs, NoneRacesOnTheKqueueStateUnderPr57945) {
  std::string f = explore_in_world("none", 2000, pr57945, 57945);
  EXPECT_NE(f.find("data race"), std::string::npos) << f;
}

TEST(Designs, NoneCorruptsThePendingQueueUnderPr57945) {
  // Without race detection the execution goes on until the list breaks.
  std::string f = explore_in_world("none", 5000, pr57945, 57945, /*race_detection=*/false);
  bool corrupted = f.find("list corrupted") != std::string::npos || f.find("lost event") != std::string::npos ||
                   f.find("panic") != std::string::npos || f.find("memory fault") != std::string::npos;
  EXPECT_TRUE(corrupted) << f;
  std::cout << f.substr(0, 2000);
}

class CorrectDesign : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, CorrectDesign, ::testing::Values("giant", "global", "fine"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(CorrectDesign, Pr57945WorkloadIsCleanOver10000Executions) {
  EXPECT_EQ(explore_in_world(GetParam(), 10'000, pr57945, 57945), "");
}

// Two writers, a reader draining, and two scanners on one kqueue with
// EV_CLEAR: exercises knote() against the in-flux protocol of the scan.
TEST_P(CorrectDesign, ManyThreadsOnOneKqueueAreClean) {
  EXPECT_EQ(explore_in_world(GetParam(), 3000,
                             [](World& w) {
                               int kq = sys_kqueue();
                               int p[2];
                               sys_pipe(p);
                               struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR);
                               sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
                               sim::Scheduler& s = *sim::Scheduler::current();
                               proc* init = w.initproc();
                               sim::Tid t[4];
                               for (int i = 0; i < 2; ++i)
                                 t[i] = s.spawn([&w, init, &p] {
                                   w.attach(init);
                                   sys_write(p[1], "x", 1);
                                 });
                               for (int i = 2; i < 4; ++i)
                                 t[i] = s.spawn([&w, init, kq] {
                                   w.attach(init);
                                   struct kevent ev[1];
                                   sys_kevent(kq, nullptr, 0, ev, 1, &kZeroTs);
                                 });
                               for (sim::Tid x : t) s.join(x);
                               check_kqueue(kq);
                             },
                             7),
            "");
}

TEST(Designs, KqueueCycleUnderFineNeitherRecursesNorDeadlocks) {
  std::string f = explore_in_world("fine", 2000, [](World& w) {
    int a = sys_kqueue();
    int b = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    sys_kevent(a, &ch, 1, nullptr, 0, nullptr);
    ch = make_kev(a, EVFILT_READ, EV_ADD);  // A in B
    sys_kevent(b, &ch, 1, nullptr, 0, nullptr);
    ch = make_kev(b, EVFILT_READ, EV_ADD);  // B in A: a cycle
    sys_kevent(a, &ch, 1, nullptr, 0, nullptr);
    sim::Scheduler& s = *sim::Scheduler::current();
    proc* init = w.initproc();
    sim::Tid t1 = s.spawn([&] {
      w.attach(init);
      sys_write(p[1], "x", 1);
    });
    sim::Tid t2 = s.spawn([&] {
      w.attach(init);
      struct kevent ev[2];
      sys_kevent(b, nullptr, 0, ev, 2, &kZeroTs);
    });
    s.join(t1);
    s.join(t2);
    // B reports A as readable: the event on A's knote reached B.
    struct kevent ev[2];
    int n = sys_kevent(b, nullptr, 0, ev, 2, &kZeroTs);
    if (n < 1 || ev[0].ident != static_cast<uintptr_t>(a)) {
      sim::Finding f;
      f.kind = sim::FindingKind::kLostEvent;
      f.message = "kqueue B did not report kqueue A readable";
      sim::Scheduler::current()->report(std::move(f));
    }
  });
  EXPECT_EQ(f, "");
}

// KQ_LOCK's inline resolution (kq_lock_mtx) names the mutex the design's
// kq_mtx returns, for every registered design and for a design whose kq_mtx
// is neither shared answer (it must be called).
locks::mtx g_custom_kq_mtx("custom kq", nullptr, locks::MTX_DEF);
locks::mtx* custom_kq_mtx(kqueue*) { return &g_custom_kq_mtx; }

TEST(DesignKqMtx, KqLockMtxIsWhatTheDesignsKqMtxReturns) {
  int own = 0, none = 0;
  for (const kq_design* d : all_designs()) {
    World world(*d);
    kqueue kq;
    kq.kq_lock.init("kqueue", nullptr, locks::MTX_DEF | locks::MTX_DUPOK);
    locks::mtx* m = d->kq_mtx(&kq);
    EXPECT_EQ(kq_lock_mtx(&kq), m) << d->name;
    own += m == &kq.kq_lock;
    none += m == nullptr;
  }
  EXPECT_GE(own, 1);   // fine, poll: the shared kq_own_mtx
  EXPECT_GE(none, 1);  // none, giant: kq_no_mtx
  kq_design custom = *find_design("fine");
  custom.kq_mtx = custom_kq_mtx;
  World world(custom);
  kqueue kq;
  EXPECT_EQ(kq_lock_mtx(&kq), &g_custom_kq_mtx);
}

}  // namespace
}  // namespace kqsim::kern
