// The harnesses arm EVFILT_TIMER again (they did not while the softclock
// use-after-free was open, tests/data/fuzz_findings/README.md): the timer seeds
// of fuzz/corpus/ arm timers that fire on virtual time, and run clean.
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

std::vector<uint8_t> seed(const char* harness, const char* name) {
  std::filesystem::path f = std::filesystem::path(KQSIM_SOURCE_DIR) / "fuzz" / "corpus" / harness / name;
  std::ifstream is(f, std::ios::binary);
  EXPECT_TRUE(is.good()) << "cannot read " << f;
  return {std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>()};
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// A 2 ms periodic timer and five 1 ms waits: the timer fires at 2 ms and 4
// ms; a wait whose timeout falls on the same virtual instant may time out
// first, and the next wait returns the event at once. At least one wait gets
// the timer's event, and some time out.
TEST(FuzzTimersSmoke, PeriodicTimerSeedFires) {
  std::vector<uint8_t> in = seed("kevent", "timer_periodic");
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  ASSERT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  EXPECT_NE(r.listing.find("{0x1, -7, 0x1, 0x0, 2}"), std::string::npos) << r.listing;  // armed, 2 ms
  EXPECT_GE(count(r.listing, "4, {0, 1000000}) = 1"), 1u) << r.listing;
  EXPECT_GE(count(r.listing, "4, {0, 1000000}) = 0"), 2u) << r.listing;
}

// Units: data is scaled so that no period is under 1 ms (kevent_program.cc,
// timer_data): 3 us -> 3000 us, 0 ns one-shot -> 1 ms.
TEST(FuzzTimersSmoke, TimerUnitsAreScaledToMilliseconds) {
  std::vector<uint8_t> in = seed("kevent", "timer_units");
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  ASSERT_TRUE(r.ok()) << r.failure << "\n" << r.listing;
  EXPECT_NE(r.listing.find("{0x1, -7, 0x1, 0x4, 3000}"), std::string::npos) << r.listing;
  EXPECT_NE(r.listing.find("{0x2, -7, 0x11, 0x8, 1000000}"), std::string::npos) << r.listing;
  EXPECT_NE(r.listing.find("{0x4, -7, 0x1, 0x12, 2}"), std::string::npos) << r.listing;  // NOTE_ABSTIME: as is
}

TEST(FuzzTimersSmoke, TimerSeedsRunClean) {
  for (const char* name : {"timer", "timer_readd", "timer_close_armed", "timer_fork", "timer_left_armed"}) {
    std::vector<uint8_t> in = seed("kevent", name);
    KeventProgramResult r = run_kevent_program(in.data(), in.size());
    EXPECT_TRUE(r.ok()) << name << ": " << r.failure << "\n" << r.listing;
  }
  for (const char* name : {"timer", "timer_close_kq", "timer_oneshot_readd"}) {
    std::vector<uint8_t> in = seed("schedule", name);
    ScheduleProgramResult r = run_schedule_program(in.data(), in.size());
    EXPECT_TRUE(r.ok()) << name << ": " << r.failure << "\n" << r.listing;
    EXPECT_NE(r.listing.find("EVFILT_TIMER 1 (1 ms)"), std::string::npos) << r.listing;
  }
}

}  // namespace
}  // namespace kqsim::fuzz
