// Tests of the C API (model/kern/c_api.cc, include/kqsim/*.h) and of the C
// example programs (examples/*.c, examples/README.md).
//
// The examples are C; each is compiled with -Dmain=kqsim_example_<name> into
// the kqsim_examples object library (CMakeLists.txt) and linked into this
// binary. They are declared weak here, so this file also links before that
// library exists: their tests then skip. Each example runs as simulated thread
// 0 of an execution with a fresh World; its stdout is captured and compared
// with the expected text of examples/README.md, and the execution must make
// no finding (under "global", apart from that design's known kqueue()/close()
// lock-order reversal, as every semantic test does).
//
// The C API tests call the kqsim_* functions directly (this file defines
// KQSIM_C_API with KQSIM_C_API_NO_REDIRECT: declarations, no read()/close()
// macros) and check what a C program sees: the host's errno values, translated
// kevent() output, simulated pthreads and mutexes, virtual-time sleeps.
#define KQSIM_C_API 1
#define KQSIM_C_API_NO_REDIRECT 1

#include <gtest/gtest.h>

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <kqsim/netinet/in.h>
#include <kqsim/pthread.h>
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include "model/sim/scheduler.h"
#include "tests/kern/kern_test_util.h"

extern "C" {
__attribute__((weak)) int kqsim_example_echo_server(void);
__attribute__((weak)) int kqsim_example_pipe_user(void);
__attribute__((weak)) int kqsim_example_timer(void);
}

namespace kqsim {
namespace {

using kern::World;
using kern::testing::explore_in_world;
using kern::testing::run_in_world;

using Program = int (*)(void);

// ---- expected output (examples/README.md) ----

constexpr const char kEchoServerOut[] =
    "client 0: hello from client 0\n"
    "client 1: hello from client 1\n"
    "client 2: hello from client 2\n"
    "client 3: hello from client 3\n"
    "server: 4 connections, 80 bytes echoed, 0 errors\n";

constexpr const char kPipeUserOut[] =
    "user event: fflags 0x2a\n"
    "pipe: 14 bytes then EOF\n"
    "one\n"
    "two\n"
    "three\n"
    "producer: ok\n";

constexpr const char kTimerOut[] = "deadline after 4 ticks of 250 ms\n";

// ---- running a C program ----

struct Outcome {
  std::string findings;  // "" when none
  std::string out;       // its stdout
  int rc = -1;           // main's return value
};

bool ignore_lor(const char* design) { return std::string_view(design) == "global"; }

// One execution of `prog` under `design` with the random strategy seeded `seed`.
Outcome run_program(const char* design, Program prog, uint64_t seed = 1) {
  Outcome o;
  std::fflush(stdout);
  ::testing::internal::CaptureStdout();
  o.findings = run_in_world(design, [&](World&) { o.rc = prog(); }, seed, ignore_lor(design));
  std::fflush(stdout);
  o.out = ::testing::internal::GetCapturedStdout();
  return o;
}

// `executions` random executions of `prog` under `design`; each execution's
// output is followed by a "--- rc=N" line. Returns the findings ("" when none)
// and sets *out to everything printed.
std::string explore_program(const char* design, Program prog, uint64_t executions, std::string* out) {
  std::fflush(stdout);
  ::testing::internal::CaptureStdout();
  std::string f = explore_in_world(design, executions, [&](World&) {
    int rc = prog();
    std::printf("--- rc=%d\n", rc);
  });
  std::fflush(stdout);
  *out = ::testing::internal::GetCapturedStdout();
  return f;
}

// The first execution whose output differs from `expected`, or "" when all match.
std::string first_mismatch(const std::string& all, const std::string& expected, uint64_t executions) {
  const std::string sep = "--- rc=";
  size_t pos = 0;
  for (uint64_t i = 0; i < executions; ++i) {
    size_t end = all.find(sep, pos);
    if (end == std::string::npos) return "execution " + std::to_string(i) + ": no output end marker";
    size_t eol = all.find('\n', end);
    std::string chunk = all.substr(pos, end - pos);
    std::string rc = all.substr(end + sep.size(), eol - end - sep.size());
    if (chunk != expected || rc != "0")
      return "execution " + std::to_string(i) + " (rc " + rc + ") printed:\n" + chunk;
    pos = eol + 1;
  }
  if (pos != all.size()) return "extra output: " + all.substr(pos);
  return "";
}

#define SKIP_IF_MISSING(prog)                                                                    \
  if ((prog) == nullptr)                                                                         \
  GTEST_SKIP() << #prog " is not linked in: the kqsim_examples library (examples/*.c) is not " \
                        "part of this build yet"

// ---- the examples ----

class ExampleEchoServer : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, ExampleEchoServer, ::testing::Values("fine", "giant", "global"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(ExampleEchoServer, PrintsEachClientsEchoAndASummary) {
  SKIP_IF_MISSING(kqsim_example_echo_server);
  Outcome o = run_program(GetParam(), kqsim_example_echo_server);
  EXPECT_EQ(o.findings, "");
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(o.out, kEchoServerOut);
}

TEST(ExampleEchoServerExplore, SameOutputAndNoFindingUnder200RandomSchedules) {
  SKIP_IF_MISSING(kqsim_example_echo_server);
  constexpr uint64_t kRuns = 200;
  std::string out;
  std::string f = explore_program("fine", kqsim_example_echo_server, kRuns, &out);
  EXPECT_EQ(f, "");
  EXPECT_EQ(first_mismatch(out, kEchoServerOut, kRuns), "");
}

// Under "none" (no kqueue locking: FreeBSD 5's MP-safe pipes, kern/57945)
// this program races; see KnownRaceUnderNone below.
class ExamplePipeUser : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, ExamplePipeUser, ::testing::Values("fine", "giant", "global"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(ExamplePipeUser, SeesTheUserEventAndEveryLineThenEof) {
  SKIP_IF_MISSING(kqsim_example_pipe_user);
  Outcome o = run_program(GetParam(), kqsim_example_pipe_user);
  EXPECT_EQ(o.findings, "");
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(o.out, kPipeUserOut);
}

TEST(ExamplePipeUserExplore, SameOutputAndNoFindingUnder200RandomSchedules) {
  SKIP_IF_MISSING(kqsim_example_pipe_user);
  constexpr uint64_t kRuns = 200;
  std::string out;
  EXPECT_EQ(explore_program("fine", kqsim_example_pipe_user, kRuns, &out), "");
  EXPECT_EQ(first_mismatch(out, kPipeUserOut, kRuns), "");
}

// An ordinary program is enough to find the unlocked kqueue of the "none"
// design: the producer's write() KNOTEs the pipe's knote onto the kqueue while
// the consumer's kevent() scans it (kern/57945).
TEST(ExamplePipeUserExplore, KnownRaceUnderNone) {
  SKIP_IF_MISSING(kqsim_example_pipe_user);
  std::string out;
  std::string f = explore_program("none", kqsim_example_pipe_user, 200, &out);
  EXPECT_NE(f.find("data race"), std::string::npos) << f;
}

class ExampleTimer : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, ExampleTimer, ::testing::ValuesIn(kern::testing::kAllDesigns),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(ExampleTimer, CountsTicksOnVirtualTimeUntilTheDeadline) {
  SKIP_IF_MISSING(kqsim_example_timer);
  Outcome o = run_program(GetParam(), kqsim_example_timer);
  EXPECT_EQ(o.findings, "");
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(o.out, kTimerOut);
}

TEST(ExampleTimerExplore, SameOutputAndNoFindingUnder100RandomSchedules) {
  SKIP_IF_MISSING(kqsim_example_timer);
  constexpr uint64_t kRuns = 100;
  std::string out;
  EXPECT_EQ(explore_program("fine", kqsim_example_timer, kRuns, &out), "");
  EXPECT_EQ(first_mismatch(out, kTimerOut, kRuns), "");
}

// ---- the C API ----

// One execution under "fine"; returns its findings.
template <class F>
std::string in_model(F&& body) {
  return run_in_world("fine", [&](World&) { body(); });
}

sockaddr_in inet_addr_port(uint32_t addr, uint16_t port) {
  sockaddr_in sin;
  std::memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr);
  return sin;
}

TEST(CApiSmoke, OutsideAnExecutionEveryCallIsEnosys) {
  errno = 0;
  EXPECT_EQ(kqsim_kqueue(), -1);
  EXPECT_EQ(errno, ENOSYS);
  int fds[2];
  errno = 0;
  EXPECT_EQ(kqsim_pipe(fds), -1);
  EXPECT_EQ(errno, ENOSYS);
  pthread_t t;
  EXPECT_EQ(kqsim_pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr), ENOSYS);
}

TEST(CApiSmoke, PipeReadWriteAndKeventAsACProgramSeesThem) {
  EXPECT_EQ(in_model([] {
              int kq = kqsim_kqueue();
              ASSERT_GE(kq, 0);
              int p[2];
              ASSERT_EQ(kqsim_pipe(p), 0);
              struct kevent ch;
              EV_SET(&ch, p[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
              ASSERT_EQ(kqsim_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
              EXPECT_EQ(kqsim_write(p[1], "abc", 3), 3);
              struct kevent ev[2];
              struct timespec zero = {0, 0};
              ASSERT_EQ(kqsim_kevent(kq, nullptr, 0, ev, 2, &zero), 1);
              EXPECT_EQ(ev[0].data, 3);
              char buf[8];
              EXPECT_EQ(kqsim_read(p[0], buf, sizeof buf), 3);
              int d = kqsim_dup(p[0]);
              EXPECT_GT(d, p[1]);
              EXPECT_EQ(kqsim_close(d), 0);
              EXPECT_GT(kqsim_getpid(), 0);
              errno = 0;
              EXPECT_EQ(kqsim_close(p[1]), 0);
              EXPECT_EQ(kqsim_read(p[0], buf, sizeof buf), 0);  // EOF
              EXPECT_EQ(kqsim_close(99), -1);
              EXPECT_EQ(errno, EBADF);
            }),
            "");
}

TEST(CApiSmoke, ErrnoAndKeventErrorsAreTheHostsValues) {
  EXPECT_EQ(in_model([] {
              // EAGAIN is 35 on FreeBSD, 11 on Linux; a SOCK_NONBLOCK
              // listener with nothing to accept.
              int l = kqsim_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
              ASSERT_GE(l, 0);
              sockaddr_in sin = inet_addr_port(INADDR_LOOPBACK, 7300);
              ASSERT_EQ(kqsim_bind(l, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
              ASSERT_EQ(kqsim_listen(l, 4), 0);
              errno = 0;
              EXPECT_EQ(kqsim_accept(l, nullptr, nullptr), -1);
              EXPECT_EQ(errno, EAGAIN);
              // ECONNREFUSED: 61 / 111.
              int c = kqsim_socket(AF_INET, SOCK_STREAM, 0);
              sockaddr_in nobody = inet_addr_port(INADDR_LOOPBACK, 7301);
              EXPECT_EQ(kqsim_connect(c, reinterpret_cast<sockaddr*>(&nobody), sizeof nobody), -1);
              EXPECT_EQ(errno, ECONNREFUSED);
              // ENOTSOCK: 38 / 88.
              int p[2];
              ASSERT_EQ(kqsim_pipe(p), 0);
              EXPECT_EQ(kqsim_listen(p[0], 1), -1);
              EXPECT_EQ(errno, ENOTSOCK);
              // Addresses of another host.
              sockaddr_in far = inet_addr_port(0x0a000001, 7300);  // 10.0.0.1
              EXPECT_EQ(kqsim_bind(c, reinterpret_cast<sockaddr*>(&far), sizeof far), -1);
              EXPECT_EQ(errno, EADDRNOTAVAIL);
              EXPECT_EQ(kqsim_connect(c, reinterpret_cast<sockaddr*>(&far), sizeof far), -1);
              EXPECT_EQ(errno, ENETUNREACH);
              // accept() fills in a loopback address.
              EXPECT_EQ(kqsim_connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
              sockaddr_in peer;
              socklen_t plen = sizeof peer;
              int a = kqsim_accept(l, reinterpret_cast<sockaddr*>(&peer), &plen);
              EXPECT_GE(a, 0);
              EXPECT_EQ(plen, sizeof peer);
              EXPECT_EQ(peer.sin_family, AF_INET);
              EXPECT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
              // EV_ERROR entries carry the host's errno in data.
              int kq = kqsim_kqueue();
              struct kevent ch, ev;
              EV_SET(&ch, 77, EVFILT_READ, EV_ADD, 0, 0, nullptr);
              ASSERT_EQ(kqsim_kevent(kq, &ch, 1, &ev, 1, nullptr), 1);
              EXPECT_EQ(ev.flags & EV_ERROR, EV_ERROR);
              EXPECT_EQ(ev.data, EBADF);
            }),
            "");
}

TEST(CApiSmoke, ResetShowsAsHostEconnresetInEofFflagsAndRead) {
  EXPECT_EQ(in_model([] {
              int sv[2];
              ASSERT_EQ(kqsim_socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
              int kq = kqsim_kqueue();
              struct kevent ch;
              EV_SET(&ch, sv[1], EVFILT_READ, EV_ADD, 0, 0, nullptr);
              ASSERT_EQ(kqsim_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
              struct linger lg = {1, 0};
              ASSERT_EQ(kqsim_setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
              ASSERT_EQ(kqsim_close(sv[0]), 0);
              struct kevent ev;
              struct timespec zero = {0, 0};
              ASSERT_EQ(kqsim_kevent(kq, nullptr, 0, &ev, 1, &zero), 1);
              EXPECT_EQ(ev.flags & EV_EOF, EV_EOF);
              EXPECT_EQ(ev.fflags, static_cast<unsigned>(ECONNRESET));
              char buf[4];
              errno = 0;
              EXPECT_EQ(kqsim_recv(sv[1], buf, sizeof buf, 0), -1);
              EXPECT_EQ(errno, ECONNRESET);
              EXPECT_EQ(kqsim_read(sv[1], buf, sizeof buf), 0);
              int one = 1;
              EXPECT_EQ(kqsim_setsockopt(sv[1], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
              EXPECT_EQ(kqsim_setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &one, sizeof one), -1);
              EXPECT_EQ(errno, ENOPROTOOPT);
            }),
            "");
}

TEST(CApiSmoke, UsleepAndSleepTakeVirtualTime) {
  EXPECT_EQ(in_model([] {
              sim::Scheduler* s = sim::Scheduler::current();
              uint64_t t0 = s->now();
              EXPECT_EQ(kqsim_usleep(1500), 0);
              EXPECT_EQ(s->now(), t0 + 1'500'000);
              EXPECT_EQ(kqsim_sleep(2), 0u);
              EXPECT_EQ(s->now(), t0 + 2'001'500'000);
            }),
            "");
}

struct Shared {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  int counter = 0;
  int fd = -1;
};

void* add_under_lock(void* arg) {
  auto* sh = static_cast<Shared*>(arg);
  for (int i = 0; i < 3; ++i) {
    kqsim_pthread_mutex_lock(&sh->mu);
    int v = sh->counter;
    kqsim_getpid();  // a system call: scheduling points inside the critical section
    sh->counter = v + 1;
    kqsim_pthread_mutex_unlock(&sh->mu);
  }
  // Threads share the creator's descriptor table.
  long n = kqsim_write(sh->fd, "x", 1);
  return reinterpret_cast<void*>(n);
}

TEST(CApiSmoke, PthreadsShareTheProcessAndJoinReturnsTheirValue) {
  EXPECT_EQ(in_model([] {
              Shared sh;
              int p[2];
              ASSERT_EQ(kqsim_pipe(p), 0);
              sh.fd = p[1];
              pthread_t t[3];
              for (pthread_t& ti : t) ASSERT_EQ(kqsim_pthread_create(&ti, nullptr, add_under_lock, &sh), 0);
              for (pthread_t ti : t) {
                void* r = nullptr;
                ASSERT_EQ(kqsim_pthread_join(ti, &r), 0);
                EXPECT_EQ(r, reinterpret_cast<void*>(1));
              }
              EXPECT_EQ(kqsim_pthread_join(t[0], nullptr), ESRCH);  // joined already
              EXPECT_EQ(kqsim_pthread_join(kqsim_pthread_self(), nullptr), EDEADLK);
              EXPECT_EQ(sh.counter, 9);
              char buf[8];
              EXPECT_EQ(kqsim_read(p[0], buf, sizeof buf), 3);
              pthread_attr_t attr;
              pthread_attr_init(&attr);
              pthread_t x;
              EXPECT_EQ(kqsim_pthread_create(&x, &attr, add_under_lock, &sh), EINVAL);
              pthread_attr_destroy(&attr);
            }),
            "");
}

TEST(CApi, PthreadMutexKeepsTheCounterExactUnderRandomSchedules) {
  EXPECT_EQ(explore_in_world("fine", 200,
                             [](World&) {
                               Shared sh;
                               int p[2];
                               ASSERT_EQ(kqsim_pipe(p), 0);
                               sh.fd = p[1];
                               pthread_t t[3];
                               for (pthread_t& ti : t)
                                 ASSERT_EQ(kqsim_pthread_create(&ti, nullptr, add_under_lock, &sh), 0);
                               for (pthread_t ti : t) ASSERT_EQ(kqsim_pthread_join(ti, nullptr), 0);
                               EXPECT_EQ(sh.counter, 9);
                             }),
            "");
}

}  // namespace
}  // namespace kqsim
