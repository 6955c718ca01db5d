// The lock-order blocks of docs/guide/08-locking-history.md are the orders
// the model's designs really take.
//
// For each design the test runs every registered scenario (50 random
// executions each) and the guide's C programs (one execution each) under one
// Witness, so the witness's lock-order graph holds every order the design
// took. The chapter documents each design's order in a block
//
//   lock order, design <name>:
//     A -> B -> C
//     D -> B
//
// (each line a chain of lock classes; "->" means "acquired before"). The test
// checks:
//   - every documented arrow was taken (the graph has that edge), so the
//     block describes what the code does, not what it might do;
//   - every order the design took between two documented classes follows
//     from the documented arrows (a path in the documented graph), so nothing
//     the design does is missing from the block. Classes the block does not
//     name (the model's own "kqueue taskq", "callout", ...) are not checked;
//   - each "reversal: A -> B" line of a block is reported by the witness
//     (the design tried A -> B against an order it had taken the other way),
//     and a design whose block names no reversal reports none between the
//     classes it names.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/explore.h"
#include "knote/design.h"
#include "locks/witness.h"
#include "model/kern/world.h"
#include "scenarios/scenario.h"

extern "C" {
__attribute__((weak)) int kqsim_example_echo_server(void);
__attribute__((weak)) int kqsim_example_pipe_user(void);
__attribute__((weak)) int kqsim_example_timer(void);
__attribute__((weak)) int kqsim_example_proxy(void);
__attribute__((weak)) int kqsim_example_user_events(void);
}

namespace kqsim {
namespace {

using Edge = std::pair<std::string, std::string>;

struct DocumentedOrder {
  std::set<Edge> arrows;
  std::set<std::string> classes;
  std::vector<Edge> reversals;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_arrows(const std::string& line) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t a = line.find("->", pos);
    out.push_back(trim(line.substr(pos, a == std::string::npos ? std::string::npos : a - pos)));
    if (a == std::string::npos) break;
    pos = a + 2;
  }
  return out;
}

std::map<std::string, DocumentedOrder> parse_chapter(const std::string& path) {
  std::ifstream f(path);
  std::map<std::string, DocumentedOrder> out;
  std::string line, design;
  const std::string head = "lock order, design ";
  while (std::getline(f, line)) {
    std::string t = trim(line);
    if (t.rfind(head, 0) == 0 && t.back() == ':') {
      design = t.substr(head.size(), t.size() - head.size() - 1);
      out[design];
      continue;
    }
    if (design.empty()) continue;
    if (t.empty() || t.rfind("```", 0) == 0) {
      design.clear();
      continue;
    }
    bool reversal = t.rfind("reversal:", 0) == 0;
    if (reversal) t = t.substr(9);
    size_t hash = t.find('#');  // a remark after the chain
    if (hash != std::string::npos) t = t.substr(0, hash);
    std::vector<std::string> chain = split_arrows(t);
    DocumentedOrder& d = out[design];
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      if (reversal) d.reversals.emplace_back(chain[i], chain[i + 1]);
      else d.arrows.emplace(chain[i], chain[i + 1]);
    }
    for (const std::string& c : chain) d.classes.insert(c);
  }
  return out;
}

bool documented_path(const DocumentedOrder& d, const std::string& from, const std::string& to) {
  std::set<std::string> seen{from};
  std::vector<std::string> todo{from};
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    for (const Edge& e : d.arrows)
      if (e.first == c && seen.insert(e.second).second) {
        if (e.second == to) return true;
        todo.push_back(e.second);
      }
  }
  return false;
}

struct Observed {
  std::set<Edge> edges;
  std::vector<Edge> reversals;
};

Observed observe(const kern::kq_design& design) {
  locks::Witness witness;
  auto run = [&](uint64_t executions, const std::function<void()>& body) {
    fuzz::ExploreOptions o;
    o.executions = executions;
    o.witness = &witness;
    o.sched.race_detection = false;
    (void)fuzz::explore(o, body);
  };
  for (const scenarios::Scenario* s : scenarios::all_scenarios())
    run(50, [&] { s->execute(design); });
  using Program = int (*)(void);
  for (Program p : {kqsim_example_echo_server, kqsim_example_pipe_user, kqsim_example_timer,
                    kqsim_example_proxy, kqsim_example_user_events}) {
    if (p == nullptr) continue;
    std::fflush(stdout);
    ::testing::internal::CaptureStdout();
    run(1, [&] {
      kern::World world(design);
      (void)p();
    });
    (void)::testing::internal::GetCapturedStdout();
  }
  Observed o;
  const locks::WitnessGraph& g = witness.graph();
  for (const locks::EdgeInfo& e : g.edges()) o.edges.emplace(g.class_name(e.before), g.class_name(e.after));
  for (const auto& [a, b] : g.reported_reversals()) o.reversals.emplace_back(g.class_name(a), g.class_name(b));
  return o;
}

const std::string kChapter = std::string(KQSIM_SOURCE_DIR) + "/docs/guide/08-locking-history.md";

class GuideLockOrder : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Designs, GuideLockOrder, ::testing::Values("none", "giant", "global", "fine"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(GuideLockOrder, TheChaptersBlockIsWhatTheDesignTakes) {
  const std::string name = GetParam();
  auto docs = parse_chapter(kChapter);
  ASSERT_TRUE(docs.count(name)) << kChapter << " has no 'lock order, design " << name << ":' block";
  const DocumentedOrder& d = docs[name];
  ASSERT_FALSE(d.arrows.empty());
  const kern::kq_design* design = kern::find_design(name);
  ASSERT_NE(design, nullptr);
  Observed o = observe(*design);

  for (const Edge& e : d.arrows)
    EXPECT_TRUE(o.edges.count(e)) << "documented " << e.first << " -> " << e.second << " was never taken";
  for (const Edge& e : o.edges) {
    if (!d.classes.count(e.first) || !d.classes.count(e.second)) continue;
    EXPECT_TRUE(documented_path(d, e.first, e.second))
        << "the design takes " << e.first << " -> " << e.second << ", which the block does not imply";
  }
  std::set<Edge> got;
  for (const Edge& r : o.reversals)
    if (d.classes.count(r.first) && d.classes.count(r.second)) got.insert(r);
  for (const Edge& r : d.reversals)
    EXPECT_TRUE(got.count(r)) << "documented reversal " << r.first << " -> " << r.second << " was not reported";
  if (d.reversals.empty()) {
    EXPECT_TRUE(got.empty()) << "the design reports a reversal its block does not name";
  }

  std::ostringstream all;
  for (const Edge& e : o.edges) all << "  " << e.first << " -> " << e.second << "\n";
  for (const Edge& r : o.reversals) all << "  reversal: " << r.first << " -> " << r.second << "\n";
  std::cout << "lock orders taken by design " << name << ":\n" << all.str() << std::flush;
}

}  // namespace
}  // namespace kqsim
