// Bad input files at the library level: path files (model/sim/path.h),
// witness graphs (locks/witness_graph.h), and the atomic output writer
// (fuzz/atomic_file.h). The CLI side is tests/cli/tests_bad_input.cmake.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include "fuzz/atomic_file.h"
#include "locks/witness_graph.h"
#include "model/sim/path.h"

namespace kqsim {
namespace {

namespace fs = std::filesystem;

// A directory per test process, removed when the process exits (it was left
// behind, empty, by every run).
struct ScratchDir {
  fs::path d = fs::temp_directory_path() / ("kqsim_bad_files_" + std::to_string(getpid()));
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
};

fs::path scratch(const char* name) {
  static ScratchDir dir;
  fs::create_directories(dir.d);
  return dir.d / name;
}

std::string path_error(const std::string& file) {
  try {
    sim::load_path_file(file);
  } catch (const sim::PathError& e) {
    return e.what();
  }
  return "";
}

TEST(BadPathFileSmoke, AbsurdSizeIsRefusedBeforeReading) {
  fs::path f = scratch("huge.json");
  { std::ofstream(f) << "{"; }
  fs::resize_file(f, sim::kMaxPathFileBytes + 1);  // sparse: no disk used
  std::string e = path_error(f.string());
  EXPECT_NE(e.find("bytes (the limit is 64 MiB)"), std::string::npos) << e;
  fs::remove(f);
}

TEST(BadPathFileSmoke, ErrorsAreOneLineAndNameTheFile) {
  const char* texts[] = {"", "{", "[]", "{\"format\": null}", "{\"format\": \"kqsim-path\"}",
                         "{\"format\": \"kqsim-path\", \"version\": 1, \"choices\": \"0 1\"}",
                         "{\"format\": \"kqsim-path\", \"version\": 1, \"seed\": -1, \"choices\": \"\"}",
                         "{\"format\": \"kqsim-path\", \"version\": 1, \"seed\": 18446744073709551616, \"choices\": \"\"}"};
  fs::path f = scratch("bad.json");
  for (const char* t : texts) {
    { std::ofstream(f) << t; }
    std::string e = path_error(f.string());
    ASSERT_FALSE(e.empty()) << t;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_NE(e.find("bad.json"), std::string::npos) << e;
  }
  fs::remove(f);
}

TEST(BadPathFileSmoke, RoundTripStillWorks) {
  sim::PathFile pf{"kern-57945", "none", 42, {0, 1, 15, 2}};
  fs::path f = scratch("good.json");
  fuzz::write_file_atomically(f.string(), sim::path_to_json(pf));
  sim::PathFile back = sim::load_path_file(f.string());
  EXPECT_EQ(back.program, "kern-57945");
  EXPECT_EQ(back.seed, 42u);
  EXPECT_EQ(back.choices, pf.choices);
  fs::remove(f);
}

TEST(BadWitnessGraphSmoke, MalformedDocumentsAreErrorsNotCrashes) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  const std::string texts[] = {
      "", "\xff\xfe", deep, "{\"format\": \"kqsim-path\", \"version\": 1}",
      "{\"format\": \"kqsim-witness-graph\", \"version\": 99}",
      "{\"format\": \"kqsim-witness-graph\", \"version\": 1, \"classes\": {}}",
      "{\"format\": \"kqsim-witness-graph\", \"version\": 1, \"classes\": [{\"name\": 5}]}",
  };
  for (const std::string& t : texts) {
    locks::LoadResult r = locks::WitnessGraph::from_json(t);
    EXPECT_FALSE(r.ok()) << t.substr(0, 80);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
  }
}

TEST(AtomicFileSmoke, FailureLeavesNoFileAndKeepsTheOld) {
  fs::path dir = scratch("atomic");
  fs::create_directories(dir);
  fs::path f = dir / "out.json";
  fuzz::write_file_atomically(f.string(), "old\n");
  // A directory where the file should go: refused, nothing left behind.
  EXPECT_THROW(fuzz::write_file_atomically(dir.string(), "x"), std::runtime_error);
  // An unwritable directory: the message names the file, the old content stays.
  try {
    fuzz::write_file_atomically((dir / "no" / "such" / "dir.json").string(), "x");
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write '"), std::string::npos) << e.what();
  }
  fuzz::write_file_atomically(f.string(), "new\n");
  std::ifstream is(f);
  std::string line;
  std::getline(is, line);
  EXPECT_EQ(line, "new");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temporary left
  fs::remove_all(dir);
}

// Regression: `kqsim run --json /dev/stdout` (as root) renamed the output over
// the /dev/stdout symlink, leaving a regular file there for every later
// program. A path that is not a regular file is written in place; a symlink to
// a regular file stays a symlink.
TEST(AtomicFileSmoke, NonRegularTargetsAreWrittenInPlaceAndSymlinksKept) {
  fs::path dir = scratch("atomic_special");
  fs::create_directories(dir);
  // A FIFO, read by a child process.
  fs::path fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream is(fifo);
    std::getline(is, got);
  });
  fuzz::write_file_atomically(fifo.string(), "through the fifo\n");
  reader.join();
  EXPECT_EQ(got, "through the fifo");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  // A symlink to /dev/null: the link survives and /dev/null is still a device.
  fs::path null_link = dir / "null";
  fs::create_symlink("/dev/null", null_link);
  fuzz::write_file_atomically(null_link.string(), "discarded\n");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(null_link)));
  EXPECT_TRUE(fs::is_character_file(fs::status("/dev/null")));
  // A symlink to a regular file: the file gets the text, the link stays.
  fs::path real = dir / "real.json";
  fs::path link = dir / "link.json";
  fuzz::write_file_atomically(real.string(), "old\n");
  fs::create_symlink(real, link);
  fuzz::write_file_atomically(link.string(), "new\n");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link)));
  std::ifstream is(real);
  std::string line;
  std::getline(is, line);
  EXPECT_EQ(line, "new");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kqsim

#include "fuzz/limits.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"
#include "knote/design.h"

namespace kqsim {
namespace {

// The per-execution memory bound: a program that keeps creating kernel
// objects ends with a memory-limit finding that names --max-memory.
TEST(CheckerLimitsSmoke, MemoryBoundIsANamedFinding) {
  sim::SchedulerOptions so;
  so.max_memory = 64 * 1024;
  sim::Scheduler s(so);
  sim::RandomStrategy st(1);
  int made = 0;
  const sim::Execution& e = s.run(st, [&] {
    kern::World w(*kern::find_design("fine"));
    for (int i = 0; i < 100000; ++i) {
      int p[2];
      if (kern::sys_pipe(p) != 0) break;
      kern::sys_close(p[0]);
      kern::sys_close(p[1]);
      ++made;
    }
  });
  ASSERT_EQ(e.findings.size(), 1u);
  EXPECT_EQ(e.findings[0].kind, sim::FindingKind::kMemoryLimit);
  EXPECT_EQ(sim::kind_name(e.findings[0].kind), "memory-limit");
  EXPECT_NE(e.findings[0].message.find("--max-memory"), std::string::npos) << e.findings[0].message;
  EXPECT_LT(made, 100000);
  // The default bound leaves ordinary programs alone.
  sim::Scheduler s2;
  const sim::Execution& e2 = s2.run(st, [&] {
    kern::World w(*kern::find_design("fine"));
    int p[2];
    kern::sys_pipe(p);
  });
  EXPECT_TRUE(e2.findings.empty());
}

TEST(CheckerLimitsSmoke, MaxMemoryOptionParsing) {
  EXPECT_EQ(fuzz::parse_max_memory("1"), uint64_t{1} << 20);
  EXPECT_EQ(fuzz::parse_max_memory("1048576"), uint64_t{1} << 40);
  EXPECT_FALSE(fuzz::parse_max_memory("0"));
  EXPECT_FALSE(fuzz::parse_max_memory("1048577"));
  EXPECT_FALSE(fuzz::parse_max_memory("-1"));
  EXPECT_FALSE(fuzz::parse_max_memory("12abc"));
  EXPECT_FALSE(fuzz::parse_max_memory("99999999999999999999999"));
}

}  // namespace
}  // namespace kqsim
