// short_path: source sites print relative to the repository root, whether the
// compiler saw an absolute path, a root-relative one, or one relative to the
// build directory (a launcher such as ccache with base_dir rewrites paths to
// "../../knote/kern_event.cc").
#include <gtest/gtest.h>

#include <string>

#include "model/sim/srcloc.h"

namespace kqsim {
namespace {

TEST(SrcLocShortPath, EveryFormPrintsRootRelative) {
  EXPECT_EQ(std::string(short_path("knote/kern_event.cc")), "knote/kern_event.cc");
  EXPECT_EQ(std::string(short_path("/work/wt/x/knote/kern_event.cc")), "knote/kern_event.cc");
  EXPECT_EQ(std::string(short_path("../../knote/kern_event.cc")), "knote/kern_event.cc");
  EXPECT_EQ(std::string(short_path("./tests/locks/locks_test.cc")), "tests/locks/locks_test.cc");
  EXPECT_EQ(std::string(short_path("../../../scenarios/proxy_flow_reset.cc")), "scenarios/proxy_flow_reset.cc");
  // Names that merely start with a dot are left alone.
  EXPECT_EQ(std::string(short_path(".hidden/x.cc")), ".hidden/x.cc");
}

}  // namespace
}  // namespace kqsim
