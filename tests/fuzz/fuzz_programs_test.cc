// The libFuzzer harnesses' decoders, driven with fixed inputs and with every
// committed seed input (fuzz/corpus/<harness>/), so the default build checks
// what the fuzz preset fuzzes, and a saved failing input can be added here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/kevent_program.h"
#include "fuzz/schedule_program.h"
#include "fuzz/fuzz_input.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::fuzz {
namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

std::vector<std::vector<uint8_t>> corpus(const char* harness) {
  std::vector<std::vector<uint8_t>> out;
  std::filesystem::path dir = std::filesystem::path(KQSIM_SOURCE_DIR) / "fuzz" / "corpus" / harness;
  if (!std::filesystem::is_directory(dir)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream is(f, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>());
  }
  return out;
}

TEST(KeventProgramSmoke, EmptyInputRunsAndHolds) {
  KeventProgramResult r = run_kevent_program(nullptr, 0);
  EXPECT_TRUE(r.ok()) << r.failure;
  EXPECT_EQ(r.calls, 0u);
}

TEST(KeventProgramSmoke, DecodesAPipeReadRegistration) {
  // design fine; kqueue() -> 0; pipe() -> 1, 2; kevent(0, [{1, EVFILT_READ, EV_ADD}], 1 change,
  // 2 slots, zero timeout); write(2, 5); kevent(0, [], 0 changes, 2 slots).
  auto in = bytes({0, 0, 1, 7, 1, 1, 2, 0, 1, 0, 0, 0, 2, 0, 2, 3, 4, 7, 1, 0, 2, 0});
  KeventProgramResult r = run_kevent_program(in.data(), in.size());
  ASSERT_TRUE(r.ok()) << r.failure << r.listing;
  EXPECT_NE(r.listing.find("kqueue() = 0"), std::string::npos) << r.listing;
  EXPECT_NE(r.listing.find("pipe() = 0 [1, 2]"), std::string::npos) << r.listing;
  EXPECT_NE(r.listing.find("write(2, 5) = 5"), std::string::npos) << r.listing;
  EXPECT_NE(r.listing.find("2, {0, 0}) = 1"), std::string::npos) << r.listing;
}

TEST(KeventProgram, EveryCorpusInputHolds) {
  auto inputs = corpus("kevent");
  EXPECT_GE(inputs.size(), 10u);
  for (size_t i = 0; i < inputs.size(); ++i) {
    KeventProgramResult r = run_kevent_program(inputs[i].data(), inputs[i].size());
    EXPECT_TRUE(r.ok()) << "corpus input " << i << ": " << r.failure << "\n" << r.listing;
  }
}

TEST(ScheduleProgramSmoke, EmptyInputRunsClean) {
  ScheduleProgramResult r = run_schedule_program(nullptr, 0);
  EXPECT_TRUE(r.ok()) << r.failure;
}

TEST(ScheduleProgram, SameBytesSameExecution) {
  auto in = bytes({1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1, 0, 1, 0});
  ScheduleProgramResult a = run_schedule_program(in.data(), in.size());
  ScheduleProgramResult b = run_schedule_program(in.data(), in.size());
  ASSERT_TRUE(a.ok()) << a.failure;
  EXPECT_EQ(a.listing, b.listing);
  EXPECT_EQ(a.path, b.path);
}

TEST(ScheduleProgram, EveryCorpusInputRunsClean) {
  auto inputs = corpus("schedule");
  EXPECT_GE(inputs.size(), 10u);
  for (size_t i = 0; i < inputs.size(); ++i) {
    ScheduleProgramResult r = run_schedule_program(inputs[i].data(), inputs[i].size());
    EXPECT_TRUE(r.ok()) << "corpus input " << i << ": " << r.failure << "\n" << r.listing;
  }
}

}  // namespace
}  // namespace kqsim::fuzz

namespace kqsim::fuzz {
namespace {

// The invariant checker the harnesses rely on reports broken states.
TEST(KqueueInvariantsSmoke, ReportBrokenStates) {
  std::string closed, count, clean;
  kern::testing::run_in_world("fine", [&](kern::World&) {
    int kq = kern::sys_kqueue();
    int p[2];
    kern::sys_pipe(p);
    struct kevent ch;
    EV_SET(&ch, p[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
    kern::sys_kevent(kq, &ch, 1, nullptr, 0, nullptr);
    kern::proc* pr = kern::curthread()->td_proc;
    clean = check_kqueue_invariants(pr);
    // A descriptor slot emptied behind knote_fdclose's back.
    kern::file* saved = pr->p_fd->fd_ofiles[p[0]];
    pr->p_fd->fd_ofiles[p[0]] = nullptr;
    closed = check_kqueue_invariants(pr);
    pr->p_fd->fd_ofiles[p[0]] = saved;
    // kq_count disagreeing with kq_head.
    kern::kqueue* k = static_cast<kern::kqueue*>(pr->p_fd->fd_ofiles[kq]->f_data);
    k->kq_count.raw_set(k->kq_count.raw() + 1);
    count = check_kqueue_invariants(pr);
    k->kq_count.raw_set(k->kq_count.raw() - 1);
  });
  EXPECT_EQ(clean, "");
  EXPECT_NE(closed.find("on closed descriptor"), std::string::npos) << closed;
  EXPECT_NE(count, "");
}

TEST(ScheduleProgram, PathReplaysTheSameExecution) {
  auto in = std::vector<uint8_t>{1, 1, 0, 2, 4, 2, 4, 1, 0, 1, 4, 2, 3, 6, 1, 1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0};
  ScheduleProgramResult a = run_schedule_program(in.data(), in.size());
  ASSERT_TRUE(a.ok()) << a.failure;
  ASSERT_FALSE(a.path.empty());
  ScheduleProgramResult b = replay_schedule_program(in.data(), in.size(), a.path);
  EXPECT_EQ(a.path, b.path);
  EXPECT_TRUE(b.ok()) << b.failure;
  EXPECT_NE(a.listing.find("cpu2:"), std::string::npos) << a.listing;
}

// Under design "none" the harness finds kern/57945 (the close-vs-KNOTE race):
// the failure path works end to end.
TEST(ScheduleProgram, FindsTheKnownRaceUnderDesignNone) {
  bool found = false;
  std::vector<uint8_t> base = {0, 1, 0, 1, 2, 4, 1, 2, 1, 4, 2};  // setup: EVFILT_READ a.r; cpu0 writes, polls; cpu1 closes a.r
  for (int s = 0; s < 64 && !found; ++s) {
    std::vector<uint8_t> in = base;
    for (int i = 0; i < 40; ++i) in.push_back(static_cast<uint8_t>((s >> (i % 6)) & 1 ? i : s + i));
    ScheduleProgramResult r = run_schedule_program(in.data(), in.size(), "none");
    found = !r.ok();
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace kqsim::fuzz
