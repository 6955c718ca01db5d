// Regression: a corrupted link holding garbage (a misaligned address) must be
// reported as a wild pointer and never followed (UBSan aborted on it, and an
// unmapped one would fault).
#include <gtest/gtest.h>

#include "model/sim/list.h"
#include "model/sim/list_check.h"

namespace kqsim::sim {
namespace {

struct Elem {
  TailqEntry link;
  int id = 0;
};

TEST(SimListSmoke, MisalignedLinkIsAWildPointerAndIsNotFollowed) {
  TailqHead<Elem, &Elem::link> head;
  Elem a, b;
  head.insert_tail(&a);
  head.insert_tail(&b);
  ASSERT_TRUE(check_tailq(head, std::optional<size_t>(2)).ok);
  a.link.next.raw_set(reinterpret_cast<TailqEntry*>(uintptr_t{0xf6854df7894df631}));
  ListReport r = check_tailq(head, std::optional<size_t>(2));
  EXPECT_FALSE(r.ok);
  std::string text = r.text("kq_head");
  EXPECT_NE(text.find("wild pointer"), std::string::npos) << text;
}

}  // namespace
}  // namespace kqsim::sim
