// Tests of the guide's C programs: examples/user_events.c, examples/proxy.c
// and the answers to Randall Stewart's questions, examples/stewart_*.c
// (docs/guide/stewart.md, examples/README.md).
//
// Each program is compiled into the kqsim_examples object library with main
// renamed kqsim_example_<name> (see examples_test.cc for the mechanism; the
// declarations are weak, so a build without the library skips). Each runs as
// simulated thread 0 of an execution with a fresh World under "fine",
// "giant" and "global"; its stdout must equal the expected text below (the
// same text docs/guide/stewart.md and examples/README.md show), it must
// return 0, and the execution must make no finding (under "global", apart
// from that design's known kqueue()/close() reversal). The Explore tests run
// each program under random schedules of "fine" and check every execution's
// output.
//
// After a passing run the Output tests print the program's output, so the
// guide's commands (build/default/kqsim_tests --gtest_filter=GuideProgram...)
// show the reader what the program printed.
#define KQSIM_C_API 1
#define KQSIM_C_API_NO_REDIRECT 1

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "tests/kern/kern_test_util.h"

extern "C" {
__attribute__((weak)) int kqsim_example_user_events(void);
__attribute__((weak)) int kqsim_example_proxy(void);
__attribute__((weak)) int kqsim_example_stewart_delete(void);
__attribute__((weak)) int kqsim_example_stewart_stale(void);
__attribute__((weak)) int kqsim_example_stewart_connect_listen(void);
__attribute__((weak)) int kqsim_example_stewart_flags(void);
__attribute__((weak)) int kqsim_example_stewart_ev_error(void);
__attribute__((weak)) int kqsim_example_stewart_eof(void);
}

namespace kqsim {
namespace {

using kern::World;
using kern::testing::explore_in_world;
using kern::testing::run_in_world;

using Program = int (*)(void);

struct GuideProgram {
  const char* name;        // examples/<name>.c
  Program (*get)();        // the weak symbol, read at run time
  const char* expected;    // its stdout
  uint64_t explore_runs;   // random schedules of "fine" in the Explore test
};

// ---- expected output (docs/guide/stewart.md, examples/README.md) ----

constexpr const char k_user_events[] =
    "before trigger: 0 pending\n"
    "level: 1 event, ident 1 fflags 0x5\n"
    "level: scanned again, 1 event (still triggered)\n"
    "clear: 1 event, fflags 0x2\n"
    "clear: scanned again, 0 events (delivery reset it)\n"
    "trigger after EV_DELETE: No such file or directory\n"
    "worker: round 0 fflags 0x100\n"
    "worker: round 1 fflags 0x101\n"
    "worker: round 2 fflags 0x102\n"
    "worker: ok\n";

constexpr const char k_proxy[] =
    "client got:\n"
    "ok GET /a\n"
    "ok GET /b\n"
    "ok GET /c\n"
    "server answered 3 requests\n"
    "proxy: 21 bytes client->server, 30 bytes server->client, 0 errors\n";

constexpr const char k_stewart_delete[] =
    "registered: 1 event, data 5\n"
    "after EV_DELETE: 0 events, though 5 bytes wait\n"
    "more data after EV_DELETE: 0 events\n"
    "the socket still works: read 8 bytes\n"
    "EV_DELETE again: No such file or directory\n"
    "EV_ADD again: 1 event, data 2 (the data that came meanwhile)\n";

constexpr const char k_stewart_stale[] =
    "one kevent() call: 2 events\n"
    "the array still holds an event for fd 3, which is now the new socket\n"
    "a new kevent() call: 0 events for the deleted knote\n"
    "queued, then deleted: 0 events\n";

constexpr const char k_stewart_connect_listen[] =
    "listening, nobody connected: 0 events\n"
    "client socket before connect: 0 events\n"
    "after connect: 2 events\n"
    "  listener EVFILT_READ data 1\n"
    "  client EVFILT_WRITE data 8192\n"
    "second connect: 1 event\n"
    "  listener EVFILT_READ data 2\n"
    "after one accept: 1 event\n"
    "  listener EVFILT_READ data 1\n"
    "after the second accept: 0 events\n"
    "knote added before listen(), one connection queued: 0 events\n"
    "connect to a port nobody listens on: Connection refused\n";

constexpr const char k_stewart_flags[] =
    "(none)      first scan 1, second scan 1\n"
    "EV_CLEAR    first scan 1, second scan 0\n"
    "EV_CLEAR    after 1 more byte: 1 event, data 11\n"
    "EV_ONESHOT  first scan 1, second scan 0\n"
    "EV_ONESHOT  then EV_DELETE: No such file or directory (the knote is gone)\n"
    "EV_DISPATCH first scan 1, second scan 0\n"
    "EV_DISPATCH after EV_ENABLE: 1 event, data 11\n"
    "EV_RECEIPT  two changes: 2 entries, flags EV_ERROR, data 0 and 0\n";

constexpr const char k_stewart_ev_error[] =
    "with room for errors: kevent returned 2\n"
    "  ident 99 flags EV_ERROR data 9 (Bad file descriptor)\n"
    "  ident 1 flags EV_ERROR data 2 (No such file or directory)\n"
    "without room: kevent returned -1, errno Bad file descriptor\n"
    "  the change after the failing one was not applied: No such file or directory\n"
    "bad filter, then EV_RECEIPT: kevent returned 2\n"
    "  ident 0 flags EV_ERROR data 22 (Invalid argument)\n"
    "  ident 1 flags EV_ERROR data 0 (success)\n";

constexpr const char k_stewart_eof[] =
    "graceful close, level-triggered knote:\n"
    "  peer wrote 3 bytes and closed  EVFILT_READ data 3 EV_EOF fflags 0\n"
    "  after reading them             EVFILT_READ data 0 EV_EOF fflags 0\n"
    "shutdown(SHUT_WR) by the peer:\n"
    "  reader                         EVFILT_READ data 0 EV_EOF fflags 0\n"
    "  writing the other way          EVFILT_READ data 2 fflags 0\n"
    "knote added after the close:\n"
    "  registered later               EVFILT_READ data 0 EV_EOF fflags 0\n"
    "EV_ONESHOT fired on the data first:\n"
    "  data                           EVFILT_READ data 1 fflags 0\n"
    "  peer closed                    no event\n"
    "EV_CLEAR, data and close before the scan:\n"
    "  one event                      EVFILT_READ data 1 EV_EOF fflags 0\n"
    "  next scan                      no event\n"
    "reset (SO_LINGER 0) instead of a graceful close:\n"
    "  reader                         EVFILT_READ data 0 EV_EOF fflags Connection reset by peer\n"
    "  writer side                    EVFILT_WRITE data 8192 EV_EOF fflags Connection reset by peer\n";

#define PROGRAM(name, runs) \
  GuideProgram { #name, [] { return static_cast<Program>(kqsim_example_##name); }, k_##name, runs }

const GuideProgram kPrograms[] = {
    PROGRAM(user_events, 100),
    PROGRAM(proxy, 100),
    PROGRAM(stewart_delete, 10),
    PROGRAM(stewart_stale, 10),
    PROGRAM(stewart_connect_listen, 10),
    PROGRAM(stewart_flags, 10),
    PROGRAM(stewart_ev_error, 10),
    PROGRAM(stewart_eof, 10),
};

struct Outcome {
  std::string findings;
  std::string out;
  int rc = -1;
};

Outcome run_program(const char* design, Program prog) {
  Outcome o;
  std::fflush(stdout);
  ::testing::internal::CaptureStdout();
  o.findings =
      run_in_world(design, [&](World&) { o.rc = prog(); }, 1, std::string_view(design) == "global");
  std::fflush(stdout);
  o.out = ::testing::internal::GetCapturedStdout();
  return o;
}

std::string param_name(const ::testing::TestParamInfo<GuideProgram>& info) { return info.param.name; }

// ---- each program under each design ----

class GuideProgramDesigns
    : public ::testing::TestWithParam<std::tuple<GuideProgram, const char*>> {};

INSTANTIATE_TEST_SUITE_P(All, GuideProgramDesigns,
                         ::testing::Combine(::testing::ValuesIn(kPrograms),
                                            ::testing::Values("fine", "giant", "global")),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  std::get<1>(info.param);
                         });

TEST_P(GuideProgramDesigns, PrintsTheExpectedOutputWithoutFinding) {
  const auto& [p, design] = GetParam();
  Program prog = p.get();
  if (prog == nullptr) GTEST_SKIP() << p.name << " is not linked in";
  Outcome o = run_program(design, prog);
  EXPECT_EQ(o.findings, "");
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(o.out, p.expected);
}

// ---- the output, shown (the guide's commands run these) ----

class GuideProgramOutput : public ::testing::TestWithParam<GuideProgram> {};
INSTANTIATE_TEST_SUITE_P(Fine, GuideProgramOutput, ::testing::ValuesIn(kPrograms), param_name);

TEST_P(GuideProgramOutput, Shown) {
  const GuideProgram& p = GetParam();
  Program prog = p.get();
  if (prog == nullptr) GTEST_SKIP() << p.name << " is not linked in";
  Outcome o = run_program("fine", prog);
  EXPECT_EQ(o.findings, "");
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(o.out, p.expected);
  std::cout << "---- examples/" << p.name << ".c printed (design fine):\n" << o.out << std::flush;
}

// ---- many schedules ----

class GuideProgramExplore : public ::testing::TestWithParam<GuideProgram> {};
INSTANTIATE_TEST_SUITE_P(Fine, GuideProgramExplore, ::testing::ValuesIn(kPrograms), param_name);

TEST_P(GuideProgramExplore, SameOutputUnderRandomSchedules) {
  const GuideProgram& p = GetParam();
  Program prog = p.get();
  if (prog == nullptr) GTEST_SKIP() << p.name << " is not linked in";
  std::fflush(stdout);
  ::testing::internal::CaptureStdout();
  std::string findings = explore_in_world("fine", p.explore_runs, [&](World&) {
    int rc = prog();
    std::printf("--- rc=%d\n", rc);
  });
  std::fflush(stdout);
  std::string all = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(findings, "");
  std::string one = std::string(p.expected) + "--- rc=0\n";
  std::string want;
  for (uint64_t i = 0; i < p.explore_runs; ++i) want += one;
  EXPECT_EQ(all, want);
}

}  // namespace
}  // namespace kqsim

namespace kqsim {
namespace {

// Under "none" (FreeBSD 5.1: kevent() under Giant, MP-safe objects calling
// KNOTE without it) the proxy's client and server threads KNOTE the proxy's
// sockets while the proxy scans its kqueue: the race of kern/57945, found by
// an ordinary program.
TEST(GuideProgramNone, ProxyRacesOnTheKqueue) {
  if (kqsim_example_proxy == nullptr) GTEST_SKIP() << "proxy is not linked in";
  std::fflush(stdout);
  ::testing::internal::CaptureStdout();
  std::string findings = explore_in_world("none", 100, [&](World&) { (void)kqsim_example_proxy(); });
  std::fflush(stdout);
  (void)::testing::internal::GetCapturedStdout();
  EXPECT_NE(findings.find("data race"), std::string::npos) << findings;
  std::cout << findings.substr(0, findings.find('\n')) << "\n";
}

}  // namespace
}  // namespace kqsim
