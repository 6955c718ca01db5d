// The inputs the libFuzzer harnesses once failed on (tests/data/fuzz_findings/,
// README.md there), replayed through the harnesses' decoders in the default
// build: each must now run clean. Suite names end in "Smoke", so CI's ASan pass
// (label sanitizer-short) runs them too, where a use after free is a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/kevent_program.h"
#include "fuzz/schedule_program.h"

namespace kqsim::fuzz {
namespace {

std::vector<uint8_t> finding(const char* name) {
  std::filesystem::path f = std::filesystem::path(KQSIM_SOURCE_DIR) / "tests" / "data" / "fuzz_findings" / name;
  std::ifstream is(f, std::ios::binary);
  EXPECT_TRUE(is.good()) << "cannot read " << f;
  return {std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>()};
}

TEST(FuzzFindingsSmoke, SoftclockUafInputRunsClean) {
  std::vector<uint8_t> in = finding("schedule-softclock-uaf");
  ASSERT_FALSE(in.empty());
  ScheduleProgramResult r = run_schedule_program(in.data(), in.size());
  EXPECT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  // The program still arms its timer (the harness decodes timers again).
  EXPECT_NE(r.listing.find("EVFILT_TIMER"), std::string::npos) << r.listing;
}

TEST(FuzzFindingsSmoke, ForkCountMismatchInputHolds) {
  std::vector<uint8_t> in = finding("kevent-count-mismatch-with-forks");
  ASSERT_FALSE(in.empty());
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  EXPECT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  // It used to fail after call 17, two forks in: the check ran while the
  // second child, exiting, held kqueue 1's lock with a NOTE_EXIT knote
  // inserted on kq_head and kq_count not yet incremented. Now a check made
  // while a child is live is put off (the same schedule: the child does
  // nothing more than before), and the final one runs after the children.
  EXPECT_EQ(r.calls, 17u) << r.listing;
  EXPECT_NE(r.listing.find("fork() = 3"), std::string::npos) << r.listing;
  EXPECT_GT(r.deferred_checks, 0u);
  EXPECT_EQ(r.checks + r.deferred_checks, r.calls + 1);  // every call, then the final check
}

TEST(FuzzFindingsSmoke, SoftclockCountMismatchInputHolds) {
  std::vector<uint8_t> in = finding("kevent-count-mismatch-softclock");
  ASSERT_FALSE(in.empty());
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  EXPECT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  // It used to fail after call 8: a 1 ms EV_DISPATCH timer had fired and the
  // check ran while the softclock, in the expiry's KNOTE, held the kqueue's
  // lock with the knote on kq_head and kq_count not yet incremented. Checks
  // made while the softclock is busy are now put off.
  EXPECT_GT(r.calls, 8u) << r.listing;
  EXPECT_NE(r.listing.find("{0x1, -7, 0x81, 0x0, 1}"), std::string::npos) << r.listing;
  EXPECT_GT(r.deferred_checks, 0u);
  EXPECT_EQ(r.checks + r.deferred_checks, r.calls + 1);
}

// A data race under design fine: the softclock's expiry read the timer
// knote's kn_flags (EV_ONESHOT) under kc_mtx only, while kqueue_register's
// EV_FORCEONESHOT wrote them under the kq lock. The expiry now reads them
// under the kq lock.
TEST(FuzzFindingsSmoke, TimerForceOneshotRaceInputRunsClean) {
  std::vector<uint8_t> in = finding("kevent-timer-forceoneshot-race");
  ASSERT_FALSE(in.empty());
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  EXPECT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  EXPECT_NE(r.listing.find("{0x1, -7, 0x1, 0x4, 3000}"), std::string::npos) << r.listing;
}

}  // namespace
}  // namespace kqsim::fuzz
