// short_path: the sites kqsim prints are relative to the repository root, however the
// build spelled the source file's path (regression: a ccache base_dir build gave
// "../../tests/x.cc", and reports and the tests that match them saw that prefix).
#include <gtest/gtest.h>

#include <string>

#include "model/sim/srcloc.h"

namespace kqsim {
namespace {

TEST(SrcLocSmoke, ShortPathIsRelativeToTheRepositoryRoot) {
  EXPECT_EQ(std::string(short_path("knote/kern_event.cc")), "knote/kern_event.cc");
  EXPECT_EQ(std::string(short_path("../../knote/kern_event.cc")), "knote/kern_event.cc");
  EXPECT_EQ(std::string(short_path("./tests/sim/x.cc")), "tests/sim/x.cc");
  EXPECT_EQ(std::string(short_path("/home/u/kqsim/locks/mutex.cc")), "locks/mutex.cc");
  EXPECT_EQ(std::string(short_path("/usr/lib/gcc/x.h")), "/usr/lib/gcc/x.h");
}

TEST(SrcLocSmoke, CurrentSiteNamesThisFileRelatively) {
  SrcLoc here = SrcLoc::current();
  EXPECT_EQ(std::string(short_path(here.file)), "tests/sim/srcloc_test.cc");
}

}  // namespace
}  // namespace kqsim
