// Semantic tests of kevent(): each checks what FreeBSD does (kevent(2),
// tests/sys/kqueue), single-threaded, under every locking design.
#include <gtest/gtest.h>

#include "model/kern/bsd_errno.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using testing::kAllDesigns;
using testing::kZeroTs;
using testing::make_kev;
using testing::run_semantics;

class Kevent : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, Kevent, ::testing::ValuesIn(kAllDesigns),
                         [](const auto& info) { return std::string(info.param); });

// Polls without blocking; returns the number of events.
int poll(int kq, struct kevent* out, int n) { return sys_kevent(kq, nullptr, 0, out, n, &kZeroTs); }

TEST_P(Kevent, PipeReadEventCarriesByteCount) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    ASSERT_GE(kq, 0);
    int p[2];
    ASSERT_EQ(sys_pipe(p), 0);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD, 0, 0, reinterpret_cast<void*>(7));
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[4];
    EXPECT_EQ(poll(kq, ev, 4), 0);
    ASSERT_EQ(sys_write(p[1], "hello", 5), 5);
    ASSERT_EQ(poll(kq, ev, 4), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(p[0]));
    EXPECT_EQ(ev[0].filter, EVFILT_READ);
    EXPECT_EQ(ev[0].data, 5);
    EXPECT_EQ(ev[0].udata, reinterpret_cast<void*>(7));
    EXPECT_EQ(ev[0].flags & EV_EOF, 0);
    // Level-triggered: still reported while data remains.
    ASSERT_EQ(poll(kq, ev, 4), 1);
    char buf[8];
    ASSERT_EQ(sys_read(p[0], buf, sizeof buf), 5);
    EXPECT_EQ(poll(kq, ev, 4), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ClearResetsStateAfterRetrieval) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[2];
    sys_write(p[1], "ab", 2);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].data, 2);
    // EV_CLEAR: not reported again until new data arrives, though 2 bytes remain.
    EXPECT_EQ(poll(kq, ev, 2), 0);
    sys_write(p[1], "c", 1);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].data, 3);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, DispatchDisablesUntilReenabledThenFiresAgainAfterPartialRead) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_DISPATCH);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[2];
    sys_write(p[1], "abcd", 4);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(poll(kq, ev, 2), 0);  // disabled after delivery
    char buf[2];
    ASSERT_EQ(sys_read(p[0], buf, 2), 2);  // partial read: 2 bytes left
    EXPECT_EQ(poll(kq, ev, 2), 0);         // still disabled
    ch = make_kev(p[0], EVFILT_READ, EV_ENABLE);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].data, 2);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, OneshotIsDeletedAfterDelivery) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_ONESHOT);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    sys_write(p[1], "x", 1);
    struct kevent ev[2];
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(p[0], EVFILT_READ, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kENOENT);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, DeleteRemovesPendingEvent) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    sys_write(p[1], "x", 1);  // now pending
    ch = make_kev(p[0], EVFILT_READ, EV_DELETE);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ReceiptReturnsOneErrorEntryPerChangeWithDataZero) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch[2] = {make_kev(p[0], EVFILT_READ, EV_ADD | EV_RECEIPT),
                           make_kev(p[1], EVFILT_WRITE, EV_ADD | EV_RECEIPT)};
    struct kevent ev[4];
    ASSERT_EQ(sys_kevent(kq, ch, 2, ev, 4, nullptr), 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(ev[i].flags & EV_ERROR, EV_ERROR);
      EXPECT_EQ(ev[i].data, 0);
    }
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(p[0]));
    EXPECT_EQ(ev[1].ident, static_cast<uintptr_t>(p[1]));
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ErrorsAsFreeBSDReturnsThem) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ev[4];
    // EV_ADD on a closed descriptor: EBADF, as an EV_ERROR entry when there is room.
    sys_close(p[0]);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, ev, 4, nullptr), 1);
    EXPECT_EQ(ev[0].flags, EV_ERROR);
    EXPECT_EQ(ev[0].data, bsd::kEBADF);
    // ... and as -1/errno when there is none.
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEBADF);
    // EV_DELETE of an unknown knote: ENOENT.
    ch = make_kev(p[1], EVFILT_WRITE, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kENOENT);
    // A bad filter number: EINVAL.
    ch = make_kev(p[1], -100, EV_ADD);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
    // EV_ENABLE and EV_DISABLE together: EINVAL.
    ch = make_kev(p[1], EVFILT_WRITE, EV_ADD | EV_ENABLE | EV_DISABLE);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
    // kevent on something that is not a kqueue: EINVAL; on a bad fd: EBADF.
    EXPECT_EQ(sys_kevent(p[1], nullptr, 0, ev, 4, &kZeroTs), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
    EXPECT_EQ(sys_kevent(100, nullptr, 0, ev, 4, &kZeroTs), -1);
    EXPECT_EQ(sys_errno(), bsd::kEBADF);
    // Negative counts: EINVAL.
    EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, -1, &kZeroTs), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ClosingADescriptorRemovesItsKnotes) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    int d = sys_dup(p[0]);
    ASSERT_GE(d, 0);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    sys_write(p[1], "x", 1);
    struct kevent ev[2];
    ASSERT_EQ(poll(kq, ev, 2), 1);
    ASSERT_EQ(sys_close(p[0]), 0);  // the pipe stays open through d
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(p[0], EVFILT_READ, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEBADF);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, WriterCloseGivesEofToReaderWithDataRemaining) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    sys_write(p[1], "xyz", 3);
    sys_close(p[1]);
    struct kevent ev[2];
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].flags & EV_EOF, EV_EOF);
    EXPECT_EQ(ev[0].data, 3);
    char buf[4];
    EXPECT_EQ(sys_read(p[0], buf, 4), 3);
    EXPECT_EQ(sys_read(p[0], buf, 4), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, WriteFilterAndLowWater) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch[2] = {make_kev(p[1], EVFILT_WRITE, EV_ADD),
                           make_kev(p[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 4)};
    ASSERT_EQ(sys_kevent(kq, ch, 2, nullptr, 0, nullptr), 0);
    struct kevent ev[4];
    ASSERT_EQ(poll(kq, ev, 4), 1);
    EXPECT_EQ(ev[0].filter, EVFILT_WRITE);
    EXPECT_EQ(ev[0].data, 16384);
    sys_write(p[1], "abc", 3);  // below the low-water mark of 4
    ASSERT_EQ(poll(kq, ev, 4), 1);
    EXPECT_EQ(ev[0].filter, EVFILT_WRITE);
    sys_write(p[1], "d", 1);
    EXPECT_EQ(poll(kq, ev, 4), 2);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, UserFilterTriggerAndFflags) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    struct kevent ch = make_kev(1, EVFILT_USER, EV_ADD | EV_CLEAR);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(1, EVFILT_USER, 0, NOTE_FFCOPY | 0x11);  // set fflags, no trigger
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x100);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].ident, 1u);
    EXPECT_EQ(ev[0].fflags, 0x111u);
    EXPECT_EQ(poll(kq, ev, 2), 0);  // EV_CLEAR
    ch = make_kev(1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFAND | 0x1);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].fflags, 0x1u);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, DisabledKnoteIsNotReportedUntilEnabled) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_DISABLE);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    sys_write(p[1], "x", 1);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(p[0], EVFILT_READ, EV_ENABLE);
    sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    EXPECT_EQ(poll(kq, ev, 2), 1);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, TimeoutOnVirtualTime) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    struct kevent ev[1];
    struct timespec ts = {0, 5'000'000};
    uint64_t t0 = sim::Scheduler::current()->now();
    EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 1, &ts), 0);
    EXPECT_EQ(sim::Scheduler::current()->now() - t0, 5'000'000u);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, KqueueInKqueue) {
  std::string f = run_semantics(GetParam(), [](World& w) {
    int inner = sys_kqueue();
    int outer = sys_kqueue();
    int p[2];
    sys_pipe(p);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    sys_kevent(inner, &ch, 1, nullptr, 0, nullptr);
    ch = make_kev(inner, EVFILT_READ, EV_ADD);
    int r = sys_kevent(outer, &ch, 1, nullptr, 0, nullptr);
    if (!w.design().kq_in_kq) {
      EXPECT_EQ(r, -1);
      EXPECT_EQ(sys_errno(), bsd::kEINVAL);
      return;
    }
    ASSERT_EQ(r, 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(outer, ev, 2), 0);
    sys_write(p[1], "x", 1);
    ASSERT_EQ(poll(outer, ev, 2), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(inner));
    EXPECT_EQ(ev[0].data, 1);
    // Registering a kqueue in itself: EINVAL.
    ch = make_kev(outer, EVFILT_READ, EV_ADD);
    EXPECT_EQ(sys_kevent(outer, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ForceOneshotTriggersOnceAndDeletes) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    struct kevent ch = make_kev(9, EVFILT_USER, EV_ADD);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(9, EVFILT_USER, EV_FORCEONESHOT);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].ident, 9u);
    EXPECT_EQ(ev[0].flags & EV_ONESHOT, EV_ONESHOT);
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ch = make_kev(9, EVFILT_USER, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kENOENT);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, KeepUdataKeepsTheOldUdataAndIsRefusedWithAdd) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    void* const first = reinterpret_cast<void*>(0x10);
    void* const second = reinterpret_cast<void*>(0x20);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD, 0, 0, first);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    // EV_ADD | EV_KEEPUDATA is an invalid pair: EINVAL.
    ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_KEEPUDATA, 0, 0, second);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), bsd::kEINVAL);
    // A modification with EV_KEEPUDATA keeps `first`; without it, udata changes.
    ch = make_kev(p[0], EVFILT_READ, EV_ENABLE | EV_KEEPUDATA, 0, 0, second);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    sys_write(p[1], "x", 1);
    struct kevent ev[2];
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].udata, first);
    ch = make_kev(p[0], EVFILT_READ, EV_ENABLE, 0, 0, second);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].udata, second);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, ChangesAndEventsInOneCall) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    int p[2];
    sys_pipe(p);
    sys_write(p[1], "abc", 3);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    struct kevent ev[2];
    ASSERT_EQ(sys_kevent(kq, &ch, 1, ev, 2, &kZeroTs), 1);
    EXPECT_EQ(ev[0].data, 3);
    // An error in the change list is reported in place of events (nerrors > 0).
    struct kevent bad[2] = {make_kev(77, EVFILT_READ, EV_ADD), make_kev(p[0], EVFILT_READ, 0)};
    ASSERT_EQ(sys_kevent(kq, bad, 2, ev, 2, &kZeroTs), 1);
    EXPECT_EQ(ev[0].flags, EV_ERROR);
    EXPECT_EQ(ev[0].ident, 77u);
    EXPECT_EQ(ev[0].data, bsd::kEBADF);
  });
  EXPECT_EQ(f, "");
}

TEST_P(Kevent, KqueueDescriptorIsNotReadableOrWritable) {
  std::string f = run_semantics(GetParam(), [](World&) {
    int kq = sys_kqueue();
    char c;
    EXPECT_EQ(sys_read(kq, &c, 1), -1);
    EXPECT_EQ(sys_errno(), bsd::kEOPNOTSUPP);
    EXPECT_EQ(sys_close(kq), 0);
    EXPECT_EQ(sys_close(kq), -1);
    EXPECT_EQ(sys_errno(), bsd::kEBADF);
  });
  EXPECT_EQ(f, "");
}

}  // namespace
}  // namespace kqsim::kern
