// Bad input to kevent(): each test feeds one kind of wrong argument and checks
// the answer FreeBSD gives (sys/kern/kern_event.c: kern_kevent, kqueue_kevent,
// kqueue_register, kqueue_scan; kevent(2)), under every locking design. None
// of them may crash or leave the model inconsistent. docs/bad_input.md lists
// them in a table.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "model/kern/bsd_errno.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using testing::kAllDesigns;
using testing::kZeroTs;
using testing::make_kev;
using testing::run_in_world;
using testing::run_semantics;

class BadKevent : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, BadKevent, ::testing::ValuesIn(kAllDesigns),
                         [](const auto& info) { return std::string(info.param); });

// kevent() that must fail: returns the errno (0 if it did not fail).
int fails_with(int kq, const struct kevent* ch, int nch, struct kevent* ev, int nev, const struct timespec* ts) {
  int r = sys_kevent(kq, ch, nch, ev, nev, ts);
  if (r != -1) return 0;
  return sys_errno();
}

// Whether the user event `ident` is registered on kq (EV_DELETE finds it; then re-adds it).
bool has_user_event(int kq, uintptr_t ident) {
  struct kevent del = make_kev(ident, EVFILT_USER, EV_DELETE);
  if (sys_kevent(kq, &del, 1, nullptr, 0, nullptr) != 0) return false;
  struct kevent add = make_kev(ident, EVFILT_USER, EV_ADD);
  return sys_kevent(kq, &add, 1, nullptr, 0, nullptr) == 0;
}

// Adds user event `ident` with `flags`, then triggers it (NOTE_TRIGGER on the
// EV_ADD itself does not fire: kqueue_register clears kn_fflags before
// filt_userattach looks at it, as in FreeBSD).
void trigger_user_event(int kq, uintptr_t ident, unsigned short flags) {
  struct kevent ch[2] = {make_kev(ident, EVFILT_USER, EV_ADD | flags), make_kev(ident, EVFILT_USER, 0, NOTE_TRIGGER)};
  ASSERT_EQ(sys_kevent(kq, ch, 2, nullptr, 0, nullptr), 0);
}

TEST_P(BadKevent, NegativeNchangesIsEinval) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch = make_kev(1, EVFILT_USER, EV_ADD);
              EXPECT_EQ(fails_with(kq, &ch, -1, nullptr, 0, nullptr), bsd::kEINVAL);
              EXPECT_EQ(fails_with(kq, &ch, INT_MIN, nullptr, 0, nullptr), bsd::kEINVAL);
              EXPECT_FALSE(has_user_event(kq, 1));
            }),
            "");
}

TEST_P(BadKevent, BadDescriptorComesBeforeBadCounts) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              // FreeBSD checks the descriptor (fget) before the counts.
              EXPECT_EQ(fails_with(57, nullptr, -1, nullptr, -1, nullptr), bsd::kEBADF);
              EXPECT_EQ(fails_with(-1, nullptr, 0, nullptr, 0, nullptr), bsd::kEBADF);
              EXPECT_EQ(fails_with(INT_MAX, nullptr, 0, nullptr, 0, nullptr), bsd::kEBADF);
            }),
            "");
}

TEST_P(BadKevent, NotAKqueueIsEinvalAndClosedKqueueIsEbadf) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int p[2];
              ASSERT_EQ(sys_pipe(p), 0);
              EXPECT_EQ(fails_with(p[0], nullptr, 0, nullptr, 0, nullptr), bsd::kEINVAL);
              int kq = sys_kqueue();
              ASSERT_EQ(sys_close(kq), 0);
              EXPECT_EQ(fails_with(kq, nullptr, 0, nullptr, 0, nullptr), bsd::kEBADF);
            }),
            "");
}

TEST_P(BadKevent, NegativeNeventsIsEinvalAfterTheChangesApply) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch = make_kev(1, EVFILT_USER, EV_ADD);
              // kqueue_kevent applies the changes, then kqueue_scan rejects maxevents < 0.
              EXPECT_EQ(fails_with(kq, &ch, 1, nullptr, -1, nullptr), bsd::kEINVAL);
              EXPECT_TRUE(has_user_event(kq, 1));
              // A failing change with nevents < 0: counted, returned, nothing written.
              struct kevent bad = make_kev(2, EVFILT_USER, EV_DELETE);
              struct kevent out = make_kev(0, 0, 0);
              EXPECT_EQ(sys_kevent(kq, &bad, 1, &out, -1, nullptr), 1);
              EXPECT_EQ(out.filter, 0);
            }),
            "");
}

TEST_P(BadKevent, NullChangelistWithCountIsEfault) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              EXPECT_EQ(fails_with(kq, nullptr, 1, nullptr, 0, nullptr), bsd::kEFAULT);
              EXPECT_EQ(fails_with(kq, nullptr, INT_MAX, nullptr, 0, nullptr), bsd::kEFAULT);
              // nchanges 0 with a null list is fine.
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, nullptr, 0, nullptr), 0);
            }),
            "");
}

TEST_P(BadKevent, NullEventlistFaultsOnlyWhenAnEventIsCopiedOut) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              // Nothing to copy out: no fault.
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, nullptr, 4, &kZeroTs), 0);
              trigger_user_event(kq, 1, EV_ONESHOT);
              EXPECT_EQ(fails_with(kq, nullptr, 0, nullptr, INT_MAX, &kZeroTs), bsd::kEFAULT);
              // The collected batch is lost, as in FreeBSD (the one-shot knote is gone).
              struct kevent ev[2];
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 2, &kZeroTs), 0);
              // An EV_ERROR entry for a null list is dropped but counted (copyout errors ignored).
              struct kevent bad = make_kev(5, EVFILT_USER, EV_DELETE);
              EXPECT_EQ(sys_kevent(kq, &bad, 1, nullptr, 1, nullptr), 1);
            }),
            "");
}

TEST_P(BadKevent, UnknownFiltersAreEinvalOrEnxio) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch[5] = {
                  make_kev(1, 1, EV_ADD),                      // positive: not a filter
                  make_kev(1, -EVFILT_SYSCOUNT - 1, EV_ADD),   // below the table
                  make_kev(1, SHRT_MIN, EV_ADD),               // far below
                  make_kev(1, EVFILT_AIO, EV_ADD),             // in the table, not registered here
                  make_kev(1, 0, EV_ADD),                      // filter 0: skipped silently
              };
              struct kevent ev[5];
              ASSERT_EQ(sys_kevent(kq, ch, 5, ev, 5, nullptr), 4);
              for (int i = 0; i < 3; ++i) {
                EXPECT_EQ(ev[i].flags, EV_ERROR);
                EXPECT_EQ(ev[i].data, bsd::kEINVAL) << i;
              }
              EXPECT_EQ(ev[3].data, bsd::kENXIO);
              EXPECT_EQ(ev[3].filter, EVFILT_AIO);
            }),
            "");
}

TEST_P(BadKevent, UnknownFlagsAreIgnoredAndSystemFlagsStripped) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              // 0x0400 and 0x0800 have no meaning; EV_SYSFLAGS (EV_DROP, EV_FLAG1, EV_FLAG2,
              // EV_EOF) are cleared by kevent() before kqueue_register sees them.
              trigger_user_event(kq, 3, 0x0400 | 0x0800 | EV_SYSFLAGS);
              struct kevent ev[2];
              ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 2, &kZeroTs), 1);
              EXPECT_EQ(ev[0].ident, 3u);
              EXPECT_EQ(ev[0].flags & EV_SYSFLAGS, 0);
              EXPECT_EQ(ev[0].flags & 0x0C00, 0x0C00);
            }),
            "");
}

TEST_P(BadKevent, ContradictoryFlagPairsAreEinval) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch[2] = {make_kev(1, EVFILT_USER, EV_ADD | EV_ENABLE | EV_DISABLE),
                                     make_kev(2, EVFILT_USER, EV_ADD | EV_KEEPUDATA)};
              struct kevent ev[2];
              ASSERT_EQ(sys_kevent(kq, ch, 2, ev, 2, nullptr), 2);
              EXPECT_EQ(ev[0].data, bsd::kEINVAL);
              EXPECT_EQ(ev[1].data, bsd::kEINVAL);
              EXPECT_FALSE(has_user_event(kq, 1));
              EXPECT_FALSE(has_user_event(kq, 2));
            }),
            "");
}

TEST_P(BadKevent, DescriptorIdentsOutOfRangeOrClosedAreEbadf) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              int p[2];
              ASSERT_EQ(sys_pipe(p), 0);
              ASSERT_EQ(sys_close(p[1]), 0);
              struct kevent ch[5] = {
                  make_kev(UINTPTR_MAX, EVFILT_READ, EV_ADD),  // > INT_MAX
                  make_kev(static_cast<uintptr_t>(INT32_MAX) + 1, EVFILT_READ, EV_ADD),
                  make_kev(INT32_MAX, EVFILT_WRITE, EV_ADD),  // in range, never opened
                  make_kev(static_cast<uintptr_t>(p[1]), EVFILT_READ, EV_ADD),  // closed
                  make_kev(static_cast<uintptr_t>(p[1]), EVFILT_READ, EV_DELETE),
              };
              struct kevent ev[5];
              ASSERT_EQ(sys_kevent(kq, ch, 5, ev, 5, nullptr), 5);
              for (int i = 0; i < 5; ++i) EXPECT_EQ(ev[i].data, bsd::kEBADF) << i;
            }),
            "");
}

TEST_P(BadKevent, FilterSpecificRefusals) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              int p[2];
              ASSERT_EQ(sys_pipe(p), 0);
              struct kevent ch[5] = {
                  make_kev(static_cast<uintptr_t>(p[0]), EVFILT_VNODE, EV_ADD),  // pipe_kqfilter
                  make_kev(static_cast<uintptr_t>(kq), EVFILT_READ, EV_ADD),     // a kqueue on itself
                  make_kev(1, EVFILT_TIMER, EV_ADD, 0, -5),                      // negative period
                  make_kev(99999, EVFILT_PROC, EV_ADD, NOTE_EXIT),               // no such process
                  make_kev(7, EVFILT_USER, EV_DELETE),                           // nothing to delete
              };
              struct kevent ev[5];
              ASSERT_EQ(sys_kevent(kq, ch, 5, ev, 5, nullptr), 5);
              EXPECT_EQ(ev[0].data, bsd::kEINVAL);
              EXPECT_EQ(ev[1].data, bsd::kEINVAL);
              EXPECT_EQ(ev[2].data, bsd::kEINVAL);
              EXPECT_EQ(ev[3].data, bsd::kESRCH);
              EXPECT_EQ(ev[4].data, bsd::kENOENT);
            }),
            "");
}

TEST_P(BadKevent, InvalidTimeoutsAreEinval) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ev[1];
              const struct timespec bad[] = {{-1, 0}, {0, -1}, {0, 1'000'000'000}, {LONG_MIN, 0}, {1, LONG_MAX}};
              for (const struct timespec& ts : bad) EXPECT_EQ(fails_with(kq, nullptr, 0, ev, 1, &ts), bsd::kEINVAL);
              // With nevents 0 the scan returns before looking at the timeout.
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 0, &bad[0]), 0);
            }),
            "");
}

TEST_P(BadKevent, HugeTimeoutWithAnEventPendingReturnsAtOnce) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              trigger_user_event(kq, 1, 0);
              struct kevent ev[1];
              const struct timespec huge = {LONG_MAX, 999'999'999};
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 1, &huge), 1);
            }),
            "");
}

// tv_sec up to INT32_MAX is a finite timeout (virtual time runs to it); above
// INT32_MAX FreeBSD waits forever, so a lone waiter is a deadlock.
TEST_P(BadKevent, TimeoutAboveInt32MaxSecondsWaitsForever) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ev[1];
              const struct timespec longest = {INT32_MAX, 999'999'999};
              EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 1, &longest), 0);
            }),
            "");
  std::string f = run_in_world(GetParam(), [](World&) {
    int kq = sys_kqueue();
    struct kevent ev[1];
    const struct timespec forever = {static_cast<time_t>(INT32_MAX) + 1, 0};
    sys_kevent(kq, nullptr, 0, ev, 1, &forever);
    ADD_FAILURE() << "kevent with tv_sec > INT32_MAX returned";
  });
  EXPECT_NE(f.find("deadlock"), std::string::npos) << f;
}

TEST_P(BadKevent, ReceiptWithTooFewSlotsStopsAtTheFirstUnreportable) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch[3] = {make_kev(1, EVFILT_USER, EV_ADD | EV_RECEIPT),
                                     make_kev(2, EVFILT_USER, EV_ADD | EV_RECEIPT),
                                     make_kev(3, EVFILT_USER, EV_ADD | EV_RECEIPT)};
              struct kevent ev[1];
              // One slot: change 1 is reported there, change 2 finds no slot: kevent
              // returns its result (0), and change 3 is never applied.
              EXPECT_EQ(sys_kevent(kq, ch, 3, ev, 1, nullptr), 0);
              EXPECT_EQ(ev[0].flags, EV_ERROR);
              EXPECT_EQ(ev[0].data, 0);
              EXPECT_EQ(ev[0].ident, 1u);
              EXPECT_TRUE(has_user_event(kq, 1));
              EXPECT_TRUE(has_user_event(kq, 2));
              EXPECT_FALSE(has_user_event(kq, 3));
              // Enough slots: one EV_ERROR entry per change, data 0, no scan.
              struct kevent ev3[3];
              EXPECT_EQ(sys_kevent(kq, ch, 3, ev3, 3, nullptr), 3);
              for (const auto& e : ev3) EXPECT_EQ(e.data, 0);
            }),
            "");
}

TEST_P(BadKevent, ErrorWithNoEventSlotsFailsTheCallAndStops) {
  EXPECT_EQ(run_semantics(GetParam(), [](World&) {
              int kq = sys_kqueue();
              struct kevent ch[2] = {make_kev(9, EVFILT_USER, EV_DELETE), make_kev(4, EVFILT_USER, EV_ADD)};
              EXPECT_EQ(fails_with(kq, ch, 2, nullptr, 0, nullptr), bsd::kENOENT);
              EXPECT_FALSE(has_user_event(kq, 4));
            }),
            "");
}

}  // namespace
}  // namespace kqsim::kern
