// Tests of the lock primitives and the witness, in deterministic mode (many
// random executions on fibers) and, for the same bodies, in live mode (real
// OS threads; the tsan preset runs these under ThreadSanitizer).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "fuzz/explore.h"
#include "locks/kassert.h"
#include "locks/mutex.h"
#include "locks/sleepq.h"
#include "locks/sx.h"
#include "locks/witness.h"
#include "model/kern/bsd_errno.h"
#include "model/sim/cell.h"

namespace kqsim::locks {
namespace {

using sim::FindingKind;
using Body = std::function<void()>;

// Runs a set of thread bodies concurrently, `rounds` times, in one mode, with
// one Witness across all rounds; returns the findings.
struct SimMode {
  static constexpr const char* kName = "sim";
  static std::vector<sim::Finding> run(Witness& w, const std::vector<Body>& threads, uint64_t rounds,
                                       uint64_t seed = 1) {
    fuzz::ExploreOptions o;
    o.seed = seed;
    o.executions = rounds;
    o.witness = &w;
    o.sched.stop_on_finding = false;
    auto r = fuzz::explore(o, [&] {
      sim::Scheduler& s = *sim::Scheduler::current();
      std::vector<sim::Tid> tids;
      for (size_t i = 0; i < threads.size(); ++i) tids.push_back(s.spawn([&threads, i] { threads[i](); }));
      for (sim::Tid t : tids) s.join(t);
    });
    std::vector<sim::Finding> out;
    for (auto& f : r.findings) out.push_back(f.finding);
    return out;
  }
};

struct LiveMode {
  static constexpr const char* kName = "live";
  static std::vector<sim::Finding> run(Witness& w, const std::vector<Body>& threads, uint64_t rounds, uint64_t = 1) {
    Witness::set_global(&w);
    for (uint64_t r = 0; r < rounds; ++r) {
      std::vector<std::thread> ts;
      for (const Body& b : threads) ts.emplace_back(b);
      for (auto& t : ts) t.join();
    }
    Witness::set_global(nullptr);
    return w.take_findings();
  }
};

const sim::Finding* find(const std::vector<sim::Finding>& v, FindingKind k) {
  for (const auto& f : v)
    if (f.kind == k) return &f;
  return nullptr;
}

std::string all(const std::vector<sim::Finding>& v) {
  std::string s;
  for (const auto& f : v) s += f.message + "\n---\n";
  return s;
}

template <class Mode>
class LocksBoth : public ::testing::Test {};
using Modes = ::testing::Types<SimMode, LiveMode>;
class ModeNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};
TYPED_TEST_SUITE(LocksBoth, Modes, ModeNames);

TYPED_TEST(LocksBoth, CorrectNestedLockingIsSilent) {
  Witness w;
  mtx a("A", nullptr, MTX_DEF), b("B", nullptr, MTX_DEF);
  sx s("S");
  sim::Cell<int> counter;
  Body body = [&] {
    sx_slock(&s);
    mtx_lock(&a);
    mtx_lock(&b);
    counter.store(counter.load() + 1);
    mtx_unlock(&b);
    mtx_unlock(&a);
    sx_sunlock(&s);
  };
  uint64_t rounds = std::is_same_v<TypeParam, SimMode> ? 10'000 : 200;
  auto f = TypeParam::run(w, {body, body, body}, rounds);
  EXPECT_TRUE(f.empty()) << all(f);
  EXPECT_GT(w.profile().rows(w.graph()).size(), 0u);
}

TYPED_TEST(LocksBoth, ReversalAcrossRunsThatNeverDeadlockIsReportedWithBothSites) {
  Witness w;
  mtx a("A", nullptr, MTX_DEF), b("B", nullptr, MTX_DEF);
  // One thread per run: neither run can deadlock.
  auto f1 = TypeParam::run(w, {[&] {
                             mtx_lock(&a);
                             mtx_lock(&b);  // site of A -> B
                             mtx_unlock(&b);
                             mtx_unlock(&a);
                           }},
                           1);
  EXPECT_TRUE(f1.empty()) << all(f1);
  auto f2 = TypeParam::run(w, {[&] {
                             mtx_lock(&b);
                             mtx_lock(&a);  // the reversal
                             mtx_unlock(&a);
                             mtx_unlock(&b);
                           }},
                           1);
  const sim::Finding* lor = find(f2, FindingKind::kLockOrderReversal);
  ASSERT_NE(lor, nullptr) << all(f2);
  EXPECT_NE(lor->message.find("lock order reversal:"), std::string::npos) << lor->message;
  EXPECT_NE(lor->message.find(" 1st B"), std::string::npos) << lor->message;
  EXPECT_NE(lor->message.find(" 2nd A"), std::string::npos) << lor->message;
  EXPECT_NE(lor->message.find("tests/locks/locks_test.cc:"), std::string::npos) << lor->message;
  EXPECT_NE(lor->message.find("lock order A -> B established at:"), std::string::npos) << lor->message;
  // Reported once: the same reversal again is silent.
  auto f3 = TypeParam::run(w, {[&] {
                             mtx_lock(&b);
                             mtx_lock(&a);
                             mtx_unlock(&a);
                             mtx_unlock(&b);
                           }},
                           1);
  EXPECT_EQ(find(f3, FindingKind::kLockOrderReversal), nullptr) << all(f3);
}

TYPED_TEST(LocksBoth, ReversalAcrossInstancesOfOneClass) {
  Witness w;
  mtx kq1("kq1", "kqueue", MTX_DEF), kq2("kq2", "kqueue", MTX_DEF), p1("p1", "pipe", MTX_DEF),
      p2("p2", "pipe", MTX_DEF);
  TypeParam::run(w, {[&] {
                   mtx_lock(&kq1);
                   mtx_lock(&p1);
                   mtx_unlock(&p1);
                   mtx_unlock(&kq1);
                 }},
                 1);
  auto f = TypeParam::run(w, {[&] {
                            mtx_lock(&p2);
                            mtx_lock(&kq2);
                            mtx_unlock(&kq2);
                            mtx_unlock(&p2);
                          }},
                          1);
  const sim::Finding* lor = find(f, FindingKind::kLockOrderReversal);
  ASSERT_NE(lor, nullptr) << all(f);
  EXPECT_NE(lor->message.find("lock order kqueue -> pipe established at:"), std::string::npos) << lor->message;
}

TYPED_TEST(LocksBoth, ThreeClassCycleReportsPath) {
  Witness w;
  mtx a("A", nullptr, MTX_DEF), b("B", nullptr, MTX_DEF), c("C", nullptr, MTX_DEF);
  auto pair = [&](mtx* x, mtx* y) {
    return Body([x, y] {
      mtx_lock(x);
      mtx_lock(y);
      mtx_unlock(y);
      mtx_unlock(x);
    });
  };
  EXPECT_TRUE(TypeParam::run(w, {pair(&a, &b)}, 1).empty());
  EXPECT_TRUE(TypeParam::run(w, {pair(&b, &c)}, 1).empty());
  auto f = TypeParam::run(w, {pair(&c, &a)}, 1);
  const sim::Finding* lor = find(f, FindingKind::kLockOrderReversal);
  ASSERT_NE(lor, nullptr) << all(f);
  EXPECT_NE(lor->message.find("lock order A -> B -> C established at:"), std::string::npos) << lor->message;
}

TYPED_TEST(LocksBoth, RecursionOnRecursableMutexIsFine) {
  Witness w;
  mtx r("R", nullptr, MTX_DEF | MTX_RECURSE);
  auto f = TypeParam::run(w, {[&] {
                            mtx_lock(&r);
                            mtx_lock(&r);
                            EXPECT_EQ(mtx_recursed(&r), 1);
                            mtx_unlock(&r);
                            EXPECT_TRUE(mtx_owned(&r));
                            mtx_unlock(&r);
                            EXPECT_FALSE(mtx_owned(&r));
                          }},
                          3);
  EXPECT_TRUE(f.empty()) << all(f);
}

TYPED_TEST(LocksBoth, SleepingWithSpinMutexHeldIsReported) {
  Witness w;
  mtx spin("sched lock", nullptr, MTX_SPIN), m("M", nullptr, MTX_DEF);
  int chan = 0;
  auto f = TypeParam::run(w, {[&] {
                            mtx_lock_spin(&spin);
                            mtx_lock(&m);
                            int r = msleep(&chan, &m, 0, "test", 1);
                            EXPECT_EQ(r, bsd::kEWOULDBLOCK);
                            mtx_unlock(&m);
                            mtx_unlock_spin(&spin);
                          }},
                          1);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("Sleeping on \"test\""), std::string::npos) << mis->message;
  EXPECT_NE(mis->message.find("non-sleepable locks held"), std::string::npos) << mis->message;
  EXPECT_NE(mis->message.find("sched lock"), std::string::npos) << mis->message;
}

TYPED_TEST(LocksBoth, MsleepWakeupHandsOff) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  sim::Cell<int> ready;
  int chan = 0;
  auto f = TypeParam::run(w,
                          {[&] {
                             mtx_lock(&m);
                             while (ready.load() == 0) msleep(&chan, &m, 0, "wait", 0);
                             mtx_unlock(&m);
                           },
                           [&] {
                             mtx_lock(&m);
                             ready.store(1);
                             wakeup(&chan);
                             mtx_unlock(&m);
                           }},
                          std::is_same_v<TypeParam, SimMode> ? 2000 : 100);
  EXPECT_TRUE(f.empty()) << all(f);
}

TYPED_TEST(LocksBoth, SxReadersShareWritersExclude) {
  Witness w;
  sx s("S");
  sim::Cell<int> value;
  Body reader = [&] {
    sx_slock(&s);
    sx_assert(&s, SA_SLOCKED);
    (void)value.load();
    sx_sunlock(&s);
  };
  Body writer = [&] {
    sx_xlock(&s);
    sx_assert(&s, SA_XLOCKED);
    value.store(value.load() + 1);
    sx_xunlock(&s);
  };
  auto f = TypeParam::run(w, {reader, writer, reader, writer}, std::is_same_v<TypeParam, SimMode> ? 3000 : 100);
  EXPECT_TRUE(f.empty()) << all(f);
}

// ---- deterministic-only: misuse that panics in live mode, deadlock, profile ----

TEST(Locks, RecursionOnNonRecursiveMutexIsReported) {
  Witness w;
  mtx m("kqueue", nullptr, MTX_DEF);
  auto f = SimMode::run(w, {[&] {
                          mtx_lock(&m);
                          mtx_lock(&m);
                        }},
                        1);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("recursed on non-recursive sleep mutex kqueue"), std::string::npos) << mis->message;
}

TEST(Locks, UnlockByNonOwnerIsReported) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  sim::Cell<int> locked;
  auto f = SimMode::run(w,
                        {[&] {
                           mtx_lock(&m);
                           locked.store(1);
                           sim::Scheduler::current()->sleep_until(10);
                           mtx_unlock(&m);
                         },
                         [&] {
                           while (locked.load() == 0) sim::Scheduler::current()->yield();
                           mtx_unlock(&m);  // not ours
                         }},
                        20);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("sleep mutex M not owned"), std::string::npos) << mis->message;
}

TEST(Locks, UnlockOfUnlockedMutexIsReported) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  auto f = SimMode::run(w, {[&] { mtx_unlock(&m); }}, 1);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("sleep mutex M not locked"), std::string::npos) << mis->message;
}

TEST(Locks, LockHeldAtThreadExitIsReported) {
  Witness w;
  mtx m("kqueue", nullptr, MTX_DEF);
  auto f = SimMode::run(w, {[&] { mtx_lock(&m); }}, 1);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("exiting with the following locks held"), std::string::npos) << mis->message;
  EXPECT_NE(mis->message.find("exclusive sleep mutex kqueue (kqueue) r = 0 locked @ tests/locks/locks_test.cc:"),
            std::string::npos)
      << mis->message;
}

TEST(Locks, DestroyingHeldMutexIsReported) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  auto f = SimMode::run(w, {[&] {
                          mtx_lock(&m);
                          mtx_destroy(&m);
                        }},
                        1);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("destroying sleep mutex M while it is held"), std::string::npos) << mis->message;
}

TEST(Locks, BlockingOnSleepMutexWithSpinHeldIsReported) {
  Witness w;
  mtx spin("sched lock", nullptr, MTX_SPIN), m("M", nullptr, MTX_DEF);
  sim::Cell<int> step;
  auto f = SimMode::run(w,
                        {[&] {
                           mtx_lock(&m);
                           step.store(1);
                           sim::Scheduler::current()->sleep_until(5);
                           mtx_unlock(&m);
                         },
                         [&] {
                           while (step.load() == 0) sim::Scheduler::current()->yield();
                           mtx_lock_spin(&spin);
                           mtx_lock(&m);  // contended: would sleep with a spin lock held
                           mtx_unlock(&m);
                           mtx_unlock_spin(&spin);
                         }},
                        5);
  const sim::Finding* mis = find(f, FindingKind::kLockMisuse);
  ASSERT_NE(mis, nullptr) << all(f);
  EXPECT_NE(mis->message.find("blocking on sleep mutex \"M\""), std::string::npos) << mis->message;
}

TEST(Locks, FailedAssertionPanics) {
  Witness w;
  mtx m("kqueue", nullptr, MTX_DEF);
  auto f = SimMode::run(w, {[&] { mtx_assert(&m, MA_OWNED); }}, 1);
  const sim::Finding* a = find(f, FindingKind::kAssertion);
  ASSERT_NE(a, nullptr) << all(f);
  EXPECT_NE(a->message.find("panic: mutex kqueue not owned"), std::string::npos) << a->message;
}

TEST(Locks, DeadlockIsFoundAndNamesHoldersAndWaiters) {
  Witness w;
  mtx a("A", nullptr, MTX_DEF), b("B", nullptr, MTX_DEF);
  fuzz::ExploreOptions o;
  o.seed = 3;
  o.executions = 1000;
  o.witness = &w;
  o.sched.stop_on_finding = false;  // let the reversal report pass and the deadlock happen
  auto r = fuzz::explore(o, [&] {
    sim::Scheduler& s = *sim::Scheduler::current();
    sim::Tid t1 = s.spawn([&] {
      mtx_lock(&a);
      mtx_lock(&b);
      mtx_unlock(&b);
      mtx_unlock(&a);
    }, "cpu0");
    sim::Tid t2 = s.spawn([&] {
      mtx_lock(&b);
      mtx_lock(&a);
      mtx_unlock(&a);
      mtx_unlock(&b);
    }, "cpu1");
    s.join(t1);
    s.join(t2);
  });
  const fuzz::FoundFinding* d = r.first(FindingKind::kDeadlock);
  ASSERT_NE(d, nullptr);
  const std::string& m = d->finding.message;
  EXPECT_NE(m.find("thread 1 \"cpu0\" holds sleep mutex \"A\" locked @"), std::string::npos) << m;
  EXPECT_NE(m.find("and waits for sleep mutex \"B\""), std::string::npos) << m;
  EXPECT_NE(m.find("thread 2 \"cpu1\" holds sleep mutex \"B\" locked @"), std::string::npos) << m;
  EXPECT_NE(m.find("and waits for sleep mutex \"A\""), std::string::npos) << m;
  EXPECT_NE(m.find("wait-for cycle"), std::string::npos) << m;
  EXPECT_LT(d->execution, 1000u);
  // The reversal was reported as well, in the same exploration.
  EXPECT_TRUE(r.found(FindingKind::kLockOrderReversal));
}

TEST(Locks, ProfileCountsContention) {
  Witness w;
  mtx m("kqueue", nullptr, MTX_DEF);
  sim::Cell<int> x;
  Body body = [&] {
    for (int i = 0; i < 3; ++i) {
      mtx_lock(&m);
      // Plain accesses are not scheduling points (the race detector is on):
      // a point inside the critical section is where the other thread can
      // run and find the mutex held.
      sim::point();
      x.store(x.load() + 1);
      mtx_unlock(&m);
    }
  };
  auto f = SimMode::run(w, {body, body}, 200);
  ASSERT_TRUE(f.empty()) << all(f);
  auto rows = w.profile().rows(w.graph());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "kqueue");
  EXPECT_EQ(rows[0].acquisitions, 200u * 6);
  EXPECT_GT(rows[0].contended, 0u);
  EXPECT_GT(rows[0].hold_total, 0u);
  EXPECT_GE(rows[0].hold_max, 3u);  // load + store + unlock's release at least
  EXPECT_GT(rows[0].wait_max, 0u);
  EXPECT_STREQ(w.profile().unit_name(), "steps");
  EXPECT_NE(w.profile().table(w.graph()).find("kqueue"), std::string::npos);
  EXPECT_NE(w.profile().json(w.graph()).find("\"acquisitions\": 1200"), std::string::npos);
}

// Every synchronisation operation is preceded by a scheduling point, the
// release included: another thread can run while the holder is inside a
// critical section with no other point, and find the mutex held. (With the
// point after the release instead, a trylock here could never fail.)
TEST(Locks, TrylockFindsAMutexHeldOverACriticalSectionWithoutPoints) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  sim::Cell<int> x;
  int failed = 0;
  int succeeded = 0;
  Body holder = [&] {
    mtx_lock(&m);
    x.store(x.load() + 1);
    mtx_unlock(&m);
  };
  Body trier = [&] {
    if (mtx_trylock(&m)) {
      ++succeeded;
      x.store(x.load() + 1);
      mtx_unlock(&m);
    } else {
      ++failed;
    }
  };
  auto f = SimMode::run(w, {holder, trier}, 200);
  ASSERT_TRUE(f.empty()) << all(f);
  EXPECT_GT(failed, 0);
  EXPECT_GT(succeeded, 0);
  EXPECT_EQ(failed + succeeded, 200);
}

TEST(Locks, MsleepTimesOutOnVirtualTime) {
  Witness w;
  mtx m("M", nullptr, MTX_DEF);
  int chan = 0;
  uint64_t woke_at = 0;
  int r = -1;
  auto f = SimMode::run(w, {[&] {
                          mtx_lock(&m);
                          r = msleep(&chan, &m, 0, "nap", 5);
                          woke_at = sim::Scheduler::current()->now();
                          mtx_assert(&m, MA_OWNED);
                          mtx_unlock(&m);
                        }},
                        1);
  EXPECT_TRUE(f.empty()) << all(f);
  EXPECT_EQ(r, bsd::kEWOULDBLOCK);
  EXPECT_EQ(woke_at, 5 * kNsPerTick);
}

}  // namespace
}  // namespace kqsim::locks
