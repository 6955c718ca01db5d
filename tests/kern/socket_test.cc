// Tests of the model's stream sockets (model/kern/socket.h) as a FreeBSD
// program sees them: read/write/EOF, listen/connect/accept, shutdown (FIN),
// SO_LINGER-0 close (RST), errno values, and the kqueue filters filt_soread,
// filt_sowrite and filt_solisten. The single-threaded tests run under every
// locking design and must behave identically; the concurrent ones run many
// random executions under "fine" and must produce no finding.
#include "model/kern/socket.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <kqsim/sys/event.h>

#include "knote/design.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using namespace bsd;
using testing::explore_in_world;
using testing::run_semantics;

// ---- kevent helpers (called inside the execution) ----

int kq_change(int kq, int fd, short filter, unsigned short flags, unsigned int fflags = 0, int64_t data = 0) {
  struct kevent k;
  EV_SET(&k, static_cast<uintptr_t>(fd), filter, flags, fflags, data, nullptr);
  return sys_kevent(kq, &k, 1, nullptr, 0, nullptr);
}
int kq_add(int kq, int fd, short filter, unsigned int fflags = 0, int64_t data = 0) {
  return kq_change(kq, fd, filter, EV_ADD, fflags, data);
}

// The pending events, without blocking.
std::vector<struct kevent> kq_poll(int kq) {
  struct kevent ev[16];
  struct timespec ts = {0, 0};
  int n = sys_kevent(kq, nullptr, 0, ev, 16, &ts);
  EXPECT_GE(n, 0) << "kevent errno " << sys_errno();
  return std::vector<struct kevent>(ev, ev + (n > 0 ? n : 0));
}

const struct kevent* find_ev(const std::vector<struct kevent>& evs, int fd, short filter) {
  for (const struct kevent& e : evs)
    if (e.ident == static_cast<uintptr_t>(fd) && e.filter == filter) return &e;
  return nullptr;
}

long write_str(int fd, const std::string& s) { return sys_write(fd, s.data(), s.size()); }
std::string read_str(int fd, size_t max, long* n_out = nullptr) {
  char buf[16384];
  long n = sys_read(fd, buf, std::min(max, sizeof buf));
  if (n_out != nullptr) *n_out = n;
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// ---- every design, one thread ----

class SocketDesign : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (find_design(GetParam()) == nullptr) GTEST_SKIP() << "design " << GetParam() << " not registered";
  }
  // One execution under the design, with a witness; the "global" design's
  // known kqueue()/close() reversal is not what these tests are about.
  template <class F>
  void run(F&& body) {
    EXPECT_EQ(run_semantics(GetParam(), [&](World&) { body(); }), "");
  }
};

TEST_P(SocketDesign, PairReadWriteAndEofAfterClose) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    EXPECT_EQ(write_str(sv[0], "hello"), 5);
    EXPECT_EQ(write_str(sv[1], "back"), 4);
    EXPECT_EQ(read_str(sv[1], 3), "hel");
    EXPECT_EQ(read_str(sv[1], 100), "lo");
    EXPECT_EQ(read_str(sv[0], 100), "back");
    EXPECT_EQ(write_str(sv[0], "bye"), 3);
    ASSERT_EQ(sys_close(sv[0]), 0);
    // Buffered data first, then EOF, and EOF again.
    EXPECT_EQ(read_str(sv[1], 100), "bye");
    long n = -2;
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
    // The peer is gone: EPIPE (no SIGPIPE in the model).
    EXPECT_EQ(write_str(sv[1], "x"), -1);
    EXPECT_EQ(sys_errno(), kEPIPE);
    EXPECT_EQ(sys_close(sv[1]), 0);
  });
}

TEST_P(SocketDesign, ReadFilterCountsBytesAndKeepsEofWhileDataRemains) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_GE(kq, 0);
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    EXPECT_TRUE(kq_poll(kq).empty());
    ASSERT_EQ(write_str(sv[0], "12345"), 5);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 5);
    EXPECT_EQ(evs[0].flags & EV_EOF, 0);
    // FIN: the reader keeps seeing what is left, with EV_EOF.
    ASSERT_EQ(sys_shutdown(sv[0], kSHUT_WR), 0);
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 5);
    EXPECT_EQ(evs[0].flags & EV_EOF, EV_EOF);
    EXPECT_EQ(evs[0].fflags, 0u);
    EXPECT_EQ(read_str(sv[1], 2), "12");
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 3);
    EXPECT_EQ(evs[0].flags & EV_EOF, EV_EOF);
    EXPECT_EQ(read_str(sv[1], 100), "345");
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 0);
    EXPECT_EQ(evs[0].flags & EV_EOF, EV_EOF);
    long n = -2;
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
    // The half-closed side can still send the other way.
    EXPECT_EQ(write_str(sv[1], "ok"), 2);
    EXPECT_EQ(read_str(sv[0], 100), "ok");
    // ... and its own write side is shut: EPIPE.
    EXPECT_EQ(write_str(sv[0], "x"), -1);
    EXPECT_EQ(sys_errno(), kEPIPE);
  });
}

TEST_P(SocketDesign, ResetGivesEofAndEconnresetOnReadAndWriteFilters) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_WRITE), 0);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);  // writable, nothing to read
    EXPECT_EQ(evs[0].filter, EVFILT_WRITE);
    EXPECT_EQ(evs[0].data, kSockBufSize);
    ASSERT_EQ(write_str(sv[0], "abc"), 3);
    ASSERT_EQ(sys_set_linger_reset(sv[0]), 0);
    ASSERT_EQ(sys_close(sv[0]), 0);
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 2u);
    const struct kevent* r = find_ev(evs, sv[1], EVFILT_READ);
    const struct kevent* w = find_ev(evs, sv[1], EVFILT_WRITE);
    ASSERT_NE(r, nullptr);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(r->flags & EV_EOF, EV_EOF);
    EXPECT_EQ(r->fflags, static_cast<unsigned>(kECONNRESET));
    EXPECT_EQ(r->data, 3);
    EXPECT_EQ(w->flags & EV_EOF, EV_EOF);
    EXPECT_EQ(w->fflags, static_cast<unsigned>(kECONNRESET));
    // Reads: buffered data, then ECONNRESET once, then EOF.
    EXPECT_EQ(read_str(sv[1], 100), "abc");
    long n = 0;
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(sys_errno(), kECONNRESET);
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
    // Writes: the send side is shut (soisdisconnected), which sosend reports
    // before so_error: EPIPE.
    EXPECT_EQ(write_str(sv[1], "x"), -1);
    EXPECT_EQ(sys_errno(), kEPIPE);
  });
}

TEST_P(SocketDesign, ResetSeenByWriteBeforeReadStillLeavesEconnresetForRead) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(sys_set_linger_reset(sv[0]), 0);
    ASSERT_EQ(sys_close(sv[0]), 0);
    EXPECT_EQ(write_str(sv[1], "x"), -1);
    EXPECT_EQ(sys_errno(), kEPIPE);
    long n = 0;
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(sys_errno(), kECONNRESET);
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
  });
}

TEST_P(SocketDesign, WriteFilterFiresOnConnectCompletion) {
  run([] {
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(lfd, 7000), 0);
    ASSERT_EQ(sys_listen(lfd, 4), 0);
    int c = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, c, EVFILT_WRITE), 0);
    EXPECT_TRUE(kq_poll(kq).empty());  // not connected: filt_sowrite says no
    ASSERT_EQ(sys_connect(c, 7000), 0);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].filter, EVFILT_WRITE);
    EXPECT_EQ(evs[0].data, kSockBufSize);
    EXPECT_EQ(evs[0].flags & EV_EOF, 0);
    // The connection carries data both ways once accepted.
    int s = sys_accept(lfd);
    ASSERT_GE(s, 0);
    EXPECT_EQ(write_str(c, "ping"), 4);
    EXPECT_EQ(read_str(s, 100), "ping");
    EXPECT_EQ(write_str(s, "pong"), 4);
    EXPECT_EQ(read_str(c, 100), "pong");
    // The write filter counts the space left in the peer's buffer.
    ASSERT_EQ(write_str(c, "abc"), 3);
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, kSockBufSize - 3);
  });
}

TEST_P(SocketDesign, ReadFilterRegisteredBeforeListenReportsNoConnections) {
  run([] {
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(lfd, 7001), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, lfd, EVFILT_READ), 0);  // filt_soread, chosen now
    ASSERT_EQ(sys_listen(lfd, 4), 0);
    int c = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_connect(c, 7001), 0);
    EXPECT_TRUE(kq_poll(kq).empty());
    // The connection is there all the same.
    EXPECT_GE(sys_accept(lfd), 0);
  });
}

TEST_P(SocketDesign, ListenFilterReportsEachConnection) {
  run([] {
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(lfd, 7002), 0);
    ASSERT_EQ(sys_listen(lfd, 4), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, lfd, EVFILT_READ), 0);  // filt_solisten
    EXPECT_TRUE(kq_poll(kq).empty());
    int c1 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_connect(c1, 7002), 0);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 1);
    int c2 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_connect(c2, 7002), 0);
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 2);
    int s1 = sys_accept(lfd);
    ASSERT_GE(s1, 0);
    evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 1);
    int s2 = sys_accept(lfd);
    ASSERT_GE(s2, 0);
    EXPECT_TRUE(kq_poll(kq).empty());
    // FIFO: the first accepted socket is c1's peer.
    ASSERT_EQ(write_str(c1, "one"), 3);
    ASSERT_EQ(write_str(c2, "two"), 3);
    EXPECT_EQ(read_str(s1, 100), "one");
    EXPECT_EQ(read_str(s2, 100), "two");
  });
}

TEST_P(SocketDesign, ClosingTheListenerResetsUnacceptedConnections) {
  run([] {
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(lfd, 7003), 0);
    ASSERT_EQ(sys_listen(lfd, 4), 0);
    int c = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_connect(c, 7003), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, c, EVFILT_READ), 0);
    EXPECT_TRUE(kq_poll(kq).empty());
    ASSERT_EQ(sys_close(lfd), 0);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].flags & EV_EOF, EV_EOF);
    EXPECT_EQ(evs[0].fflags, static_cast<unsigned>(kECONNRESET));
    long n = 0;
    read_str(c, 100, &n);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(sys_errno(), kECONNRESET);
    // The port is free again, and nobody listens on it.
    int c2 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_connect(c2, 7003), -1);
    EXPECT_EQ(sys_errno(), kECONNREFUSED);
    int l2 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_bind(l2, 7003), 0);
  });
}

TEST_P(SocketDesign, ClosingADescriptorRemovesItsKnotes) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int dupfd = sys_dup(sv[1]);
    ASSERT_GE(dupfd, 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_WRITE), 0);
    ASSERT_EQ(kq_add(kq, dupfd, EVFILT_READ), 0);
    ASSERT_EQ(sys_close(sv[1]), 0);  // the socket stays open through dupfd
    ASSERT_EQ(write_str(sv[0], "z"), 1);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].ident, static_cast<uintptr_t>(dupfd));
    EXPECT_EQ(evs[0].data, 1);
    // Now the last descriptor: its knote goes, the peer sees EOF.
    ASSERT_EQ(sys_close(dupfd), 0);
    EXPECT_TRUE(kq_poll(kq).empty());
    int kq2 = sys_kqueue();
    ASSERT_EQ(kq_add(kq2, sv[0], EVFILT_READ), 0);
    auto evs2 = kq_poll(kq2);
    ASSERT_EQ(evs2.size(), 1u);
    EXPECT_EQ(evs2[0].flags & EV_EOF, EV_EOF);
    EXPECT_EQ(evs2[0].fflags, 0u);
  });
}

TEST_P(SocketDesign, NoteLowatHoldsTheReadEventBack) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ, NOTE_LOWAT, 4), 0);
    ASSERT_EQ(write_str(sv[0], "abc"), 3);
    EXPECT_TRUE(kq_poll(kq).empty());
    ASSERT_EQ(write_str(sv[0], "d"), 1);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, 4);
  });
}

TEST_P(SocketDesign, NonBlockingSocketsAndAWriteFilterThatFollowsTheReader) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM | kSOCK_NONBLOCK, 0, sv), 0);
    long n = 0;
    read_str(sv[1], 10, &n);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(sys_errno(), kEAGAIN);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[0], EVFILT_WRITE), 0);
    // Fill the peer's buffer: a short count, then EAGAIN.
    std::string big(kSockBufSize + 100, 'x');
    EXPECT_EQ(write_str(sv[0], big), kSockBufSize);
    EXPECT_EQ(write_str(sv[0], "y"), -1);
    EXPECT_EQ(sys_errno(), kEAGAIN);
    EXPECT_TRUE(kq_poll(kq).empty());
    // Reading less than the low-water mark keeps the writer waiting...
    EXPECT_EQ(read_str(sv[1], kSndLowat - 1).size(), static_cast<size_t>(kSndLowat - 1));
    EXPECT_TRUE(kq_poll(kq).empty());
    // ... one more byte makes it writable.
    EXPECT_EQ(read_str(sv[1], 1).size(), 1u);
    auto evs = kq_poll(kq);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].data, kSndLowat);
    // A non-blocking listener: accept has nothing yet.
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM | kSOCK_NONBLOCK, 0);
    ASSERT_EQ(sys_listen(lfd, 1), 0);  // an ephemeral port
    EXPECT_EQ(sys_accept(lfd), -1);
    EXPECT_EQ(sys_errno(), kEWOULDBLOCK);
  });
}

TEST_P(SocketDesign, ErrnoValues) {
  run([] {
    // connect to a port nobody listens on; bound but not listening.
    int c = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_connect(c, 7100), -1);
    EXPECT_EQ(sys_errno(), kECONNREFUSED);
    int b = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(b, 7100), 0);
    EXPECT_EQ(sys_connect(c, 7100), -1);
    EXPECT_EQ(sys_errno(), kECONNREFUSED);
    // The same port twice; a second bind of one socket.
    int b2 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_bind(b2, 7100), -1);
    EXPECT_EQ(sys_errno(), kEADDRINUSE);
    EXPECT_EQ(sys_bind(b, 7101), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    // The port namespaces of the two domains are separate.
    int u = sys_socket(kAF_UNIX, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_bind(u, 7100), 0);
    // Socket calls on a descriptor that is not a socket, or not open.
    int kq = sys_kqueue();
    EXPECT_EQ(sys_listen(kq, 1), -1);
    EXPECT_EQ(sys_errno(), kENOTSOCK);
    EXPECT_EQ(sys_accept(kq), -1);
    EXPECT_EQ(sys_errno(), kENOTSOCK);
    EXPECT_EQ(sys_listen(200, 1), -1);
    EXPECT_EQ(sys_errno(), kEBADF);
    // Unconnected sockets.
    EXPECT_EQ(write_str(c, "x"), -1);
    EXPECT_EQ(sys_errno(), kENOTCONN);
    long n = 0;
    read_str(c, 10, &n);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(sys_errno(), kENOTCONN);
    EXPECT_EQ(sys_shutdown(c, kSHUT_WR), -1);
    EXPECT_EQ(sys_errno(), kENOTCONN);
    EXPECT_EQ(sys_accept(c), -1);  // not listening
    EXPECT_EQ(sys_errno(), kEINVAL);
    // A socketpair end cannot listen (solisten_proto_check), nor connect again.
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    EXPECT_EQ(sys_listen(sv[0], 1), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    EXPECT_EQ(sys_connect(sv[0], 7100), -1);
    EXPECT_EQ(sys_errno(), kEISCONN);
    EXPECT_EQ(sys_shutdown(sv[0], 7), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    // A listening socket does not connect; an unbound AF_UNIX one does not listen.
    ASSERT_EQ(sys_listen(b, 1), 0);
    EXPECT_EQ(sys_connect(b, 7100), -1);
    EXPECT_EQ(sys_errno(), kEOPNOTSUPP);
    int u2 = sys_socket(kAF_UNIX, kSOCK_STREAM, 0);
    EXPECT_EQ(sys_listen(u2, 1), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    // Domains, types, protocols.
    EXPECT_EQ(sys_socket(99, kSOCK_STREAM, 0), -1);
    EXPECT_EQ(sys_errno(), kEAFNOSUPPORT);
    EXPECT_EQ(sys_socket(kAF_INET, kSOCK_DGRAM, 0), -1);
    EXPECT_EQ(sys_errno(), kEPROTONOSUPPORT);
    EXPECT_EQ(sys_socketpair(kAF_INET, kSOCK_STREAM, 0, sv), -1);
    EXPECT_EQ(sys_errno(), kEOPNOTSUPP);
    // A connected socket that connects again.
    int c3 = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_connect(c3, 7100), 0);
    EXPECT_EQ(sys_connect(c3, 7100), -1);
    EXPECT_EQ(sys_errno(), kEISCONN);
  });
}

TEST_P(SocketDesign, ShutdownReadDiscardsAndFreesThePeersRoom) {
  run([] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    ASSERT_EQ(kq_add(kq, sv[0], EVFILT_WRITE), 0);
    ASSERT_EQ(write_str(sv[0], "lost"), 4);
    ASSERT_EQ(sys_shutdown(sv[1], kSHUT_RD), 0);
    auto evs = kq_poll(kq);
    const struct kevent* r = find_ev(evs, sv[1], EVFILT_READ);
    const struct kevent* w = find_ev(evs, sv[0], EVFILT_WRITE);
    ASSERT_NE(r, nullptr);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(r->data, 0);
    EXPECT_EQ(r->flags & EV_EOF, EV_EOF);
    EXPECT_EQ(w->data, kSockBufSize);
    EXPECT_EQ(w->flags & EV_EOF, 0);
    // Later data is dropped (as TCP drops it), the writer does not notice.
    EXPECT_EQ(write_str(sv[0], "more"), 4);
    long n = -2;
    read_str(sv[1], 100, &n);
    EXPECT_EQ(n, 0);
  });
}

INSTANTIATE_TEST_SUITE_P(SocketAllDesigns, SocketDesign, ::testing::Values("none", "giant", "global", "fine", "poll"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// ---- concurrency under "fine" ----

constexpr uint64_t kSeed = 0x50c4e7;

// `n` random executions of `program` (which spawns its own threads) under
// `design`, with one witness across them; no finding is expected.
template <class F>
void explore(const char* design, uint64_t n, F&& program) {
  EXPECT_EQ(explore_in_world(design, n, [&](World&) { program(); }, kSeed), "");
}

TEST(SocketConcurrent, WriterAndKeventWatcherAgreeUnderFine) {
  // One thread writes three chunks and closes; the other waits in kevent()
  // on the read side, reads what is reported, and stops at EV_EOF with no
  // data left. Every byte arrives, once, in order.
  explore("fine", 2000, [] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    std::string got;
    bool eof = false;
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid writer = sc.spawn(
        [&] {
          EXPECT_EQ(write_str(sv[0], "ab"), 2);
          EXPECT_EQ(write_str(sv[0], "cde"), 3);
          EXPECT_EQ(write_str(sv[0], "f"), 1);
          EXPECT_EQ(sys_close(sv[0]), 0);
        },
        "writer");
    sim::Tid watcher = sc.spawn(
        [&] {
          for (int rounds = 0; rounds < 20 && !eof; ++rounds) {
            struct kevent ev;
            int n = sys_kevent(kq, nullptr, 0, &ev, 1, nullptr);
            ASSERT_EQ(n, 1);
            ASSERT_EQ(ev.filter, EVFILT_READ);
            if (ev.data > 0) {
              long r = 0;
              got += read_str(sv[1], static_cast<size_t>(ev.data), &r);
              ASSERT_EQ(r, ev.data);
            } else if (ev.flags & EV_EOF) {
              eof = true;
            }
          }
        },
        "watcher");
    sc.join(writer);
    sc.join(watcher);
    EXPECT_TRUE(eof);
    EXPECT_EQ(got, "abcdef");
  });
}

TEST(SocketConcurrent, BlockedReaderAndWriterWakeUnderFine) {
  // A reader blocked on an empty buffer and a writer blocked on a full one
  // both wake: 10000 bytes through an 8192-byte buffer.
  explore("fine", 300, [] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    constexpr size_t kTotal = 10000;
    size_t received = 0;
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid writer = sc.spawn(
        [&] {
          std::string big(kTotal, 'q');
          EXPECT_EQ(write_str(sv[0], big), static_cast<long>(kTotal));
        },
        "writer");
    sim::Tid reader = sc.spawn(
        [&] {
          while (received < kTotal) {
            long n = 0;
            read_str(sv[1], 3000, &n);
            ASSERT_GT(n, 0);
            received += static_cast<size_t>(n);
          }
        },
        "reader");
    sc.join(writer);
    sc.join(reader);
    EXPECT_EQ(received, kTotal);
  });
}

TEST(SocketConcurrent, BlockingAcceptMeetsConnectUnderFine) {
  explore("fine", 300, [] {
    int lfd = sys_socket(kAF_INET, kSOCK_STREAM, 0);
    ASSERT_EQ(sys_bind(lfd, 8080), 0);
    ASSERT_EQ(sys_listen(lfd, 2), 0);
    std::string got;
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid server = sc.spawn(
        [&] {
          int s = sys_accept(lfd);
          ASSERT_GE(s, 0);
          got = read_str(s, 100);
        },
        "server");
    sim::Tid client = sc.spawn(
        [&] {
          int c = sys_socket(kAF_INET, kSOCK_STREAM, 0);
          ASSERT_EQ(sys_connect(c, 8080), 0);
          EXPECT_EQ(write_str(c, "hi"), 2);
        },
        "client");
    sc.join(server);
    sc.join(client);
    EXPECT_EQ(got, "hi");
  });
}

TEST(SocketConcurrent, ResetRacingTwoWatchersUnderFine) {
  // Both ends of a pair are watched by one thread each; one end is reset
  // while the other side's watcher waits: the watcher of the survivor must
  // see EV_EOF with ECONNRESET, whatever the interleaving.
  explore("fine", 500, [] {
    int sv[2];
    ASSERT_EQ(sys_socketpair(kAF_UNIX, kSOCK_STREAM, 0, sv), 0);
    int kq = sys_kqueue();
    ASSERT_EQ(kq_add(kq, sv[1], EVFILT_READ), 0);
    unsigned fflags = 0;
    sim::Scheduler& sc = *sim::Scheduler::current();
    sim::Tid closer = sc.spawn(
        [&] {
          EXPECT_EQ(sys_set_linger_reset(sv[0]), 0);
          EXPECT_EQ(sys_close(sv[0]), 0);
        },
        "closer");
    sim::Tid watcher = sc.spawn(
        [&] {
          struct kevent ev;
          ASSERT_EQ(sys_kevent(kq, nullptr, 0, &ev, 1, nullptr), 1);
          EXPECT_EQ(ev.flags & EV_EOF, EV_EOF);
          fflags = ev.fflags;
        },
        "watcher");
    sc.join(closer);
    sc.join(watcher);
    EXPECT_EQ(fflags, static_cast<unsigned>(kECONNRESET));
  });
}

}  // namespace
}  // namespace kqsim::kern
