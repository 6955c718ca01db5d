// tests/locks/witness_graph_test.cc: unit tests for locks/witness_graph.h.

#include "locks/witness_graph.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace kqsim::locks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Sites used throughout; static strings, as std::source_location gives.
constexpr Site kKqAt120{"knote/kern_event.cc", 120};
constexpr Site kKqAt300{"knote/kern_event.cc", 300};
constexpr Site kFdAt44{"model/kern/filedesc.cc", 44};
constexpr Site kFdAt80{"model/kern/filedesc.cc", 80};

// Every edge must go forward in the graph's topological order.
void expect_valid_order(const WitnessGraph& g) {
  for (const EdgeInfo& e : g.edges()) {
    ASSERT_LT(g.topo_position(e.before), g.topo_position(e.after))
        << g.class_name(e.before) << " -> " << g.class_name(e.after);
  }
  std::vector<uint32_t> pos;
  for (ClassId c = 0; c < g.class_count(); ++c) pos.push_back(g.topo_position(c));
  std::sort(pos.begin(), pos.end());
  for (uint32_t i = 0; i < pos.size(); ++i) ASSERT_EQ(pos[i], i);
}

TEST(WitnessGraph, InternClassIsByName) {
  WitnessGraph g;
  const ClassId kq = g.intern_class("kqueue", "sleep mutex");
  const ClassId fd = g.intern_class("filedesc");
  EXPECT_EQ(kq, 0u);
  EXPECT_EQ(fd, 1u);
  EXPECT_EQ(g.intern_class("kqueue"), kq);
  EXPECT_EQ(g.class_count(), 2u);
  EXPECT_EQ(g.class_name(kq), "kqueue");
  EXPECT_EQ(g.class_kind(kq), "sleep mutex");
  EXPECT_EQ(g.class_kind(fd), "");
  g.intern_class("filedesc", "sx");  // fills in an empty kind
  EXPECT_EQ(g.class_kind(fd), "sx");
  g.intern_class("filedesc", "spin mutex");  // but never changes one
  EXPECT_EQ(g.class_kind(fd), "sx");
  EXPECT_EQ(g.find_class("filedesc"), fd);
  EXPECT_EQ(g.find_class("nope"), std::nullopt);
  EXPECT_THROW(g.class_name(7), std::out_of_range);
}

TEST(WitnessGraph, AddThenExisting) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const ClassId b = g.intern_class("B");
  EXPECT_EQ(g.add_edge(a, b, kKqAt120, kFdAt44).status, AddStatus::kAdded);
  EXPECT_EQ(g.add_edge(a, b, kKqAt300, kFdAt80).status, AddStatus::kExisting);
  EXPECT_TRUE(g.has_edge(a, b));
  EXPECT_FALSE(g.has_edge(b, a));
  // The first-seen sites are kept.
  const auto e = g.edge(a, b);
  ASSERT_TRUE(e.has_value());
  EXPECT_STREQ(e->before_site.file, "knote/kern_event.cc");
  EXPECT_EQ(e->before_site.line, 120u);
  EXPECT_STREQ(e->after_site.file, "model/kern/filedesc.cc");
  EXPECT_EQ(e->after_site.line, 44u);
  EXPECT_EQ(g.edge_count(), 1u);
}

TEST(WitnessGraph, SitesAreCopied) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const ClassId b = g.intern_class("B");
  {
    std::string file = "temporary/file.cc";
    ASSERT_EQ(g.add_edge(a, b, Site{file.c_str(), 1}, Site{file.c_str(), 2})
                  .status,
              AddStatus::kAdded);
    file.assign("XXXXXXXXXXXXXXXXXXXXXXXXXXXX");
  }
  EXPECT_STREQ(g.edge(a, b)->before_site.file, "temporary/file.cc");
}

TEST(WitnessGraph, SameClassIsNotTheGraphsBusiness) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const AddResult r = g.add_edge(a, a, kKqAt120, kKqAt300);
  EXPECT_EQ(r.status, AddStatus::kSameClass);
  EXPECT_EQ(r.reversal, nullptr);
  EXPECT_EQ(g.edge_count(), 0u);
  EXPECT_FALSE(g.has_edge(a, a));
}

TEST(WitnessGraph, UnknownClassThrows) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  EXPECT_THROW(g.add_edge(a, 5, kKqAt120, kFdAt44), std::out_of_range);
  EXPECT_THROW(g.add_edge(kNoClass, a, kKqAt120, kFdAt44), std::out_of_range);
  EXPECT_FALSE(g.has_edge(a, kNoClass));
  EXPECT_EQ(g.edge_count(), 0u);
}

TEST(WitnessGraph, TwoClassReversalNamesBothSitesAndEstablishedSites) {
  WitnessGraph g;
  const ClassId fd = g.intern_class("filedesc");
  const ClassId kq = g.intern_class("kqueue", "sleep mutex");
  // filedesc -> kqueue established: kqueue taken at :300 holding filedesc.
  ASSERT_EQ(g.add_edge(fd, kq, kFdAt80, kKqAt300).status, AddStatus::kAdded);
  // Now filedesc wanted at filedesc.cc:44 while kqueue held from :120.
  const AddResult r = g.add_edge(kq, fd, kKqAt120, kFdAt44);
  ASSERT_EQ(r.status, AddStatus::kReversal);
  ASSERT_NE(r.reversal, nullptr);
  const Reversal& rev = *r.reversal;
  EXPECT_EQ(rev.first, (LockAt{kq, "kqueue", "sleep mutex",
                               "knote/kern_event.cc", 120}));
  EXPECT_EQ(rev.second,
            (LockAt{fd, "filedesc", "", "model/kern/filedesc.cc", 44}));
  ASSERT_EQ(rev.established.size(), 1u);
  EXPECT_EQ(rev.established[0].before,
            (LockAt{fd, "filedesc", "", "model/kern/filedesc.cc", 80}));
  EXPECT_EQ(rev.established[0].after,
            (LockAt{kq, "kqueue", "sleep mutex", "knote/kern_event.cc", 300}));
  EXPECT_THAT(rev.path(), ElementsAre("filedesc", "kqueue"));

  EXPECT_EQ(format_reversal(rev),
            "lock order reversal:\n"
            " 1st kqueue (sleep mutex) @ knote/kern_event.cc:120\n"
            " 2nd filedesc @ model/kern/filedesc.cc:44\n"
            "lock order filedesc -> kqueue established at:\n"
            " filedesc @ model/kern/filedesc.cc:80\n"
            " kqueue @ knote/kern_event.cc:300\n");
}

TEST(WitnessGraph, ReversalReportedOnce) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const ClassId b = g.intern_class("B");
  ASSERT_EQ(g.add_edge(a, b, kKqAt120, kFdAt44).status, AddStatus::kAdded);
  EXPECT_EQ(g.add_edge(b, a, kFdAt80, kKqAt300).status, AddStatus::kReversal);
  for (int i = 0; i < 3; ++i) {
    const AddResult r = g.add_edge(b, a, kFdAt44, kKqAt120);  // other sites
    EXPECT_EQ(r.status, AddStatus::kReversalAlreadyReported);
    EXPECT_EQ(r.reversal, nullptr);
  }
  EXPECT_THAT(g.reported_reversals(), ElementsAre(std::pair{b, a}));
  EXPECT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
}

TEST(WitnessGraph, GraphUnchangedAfterReversal) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const ClassId b = g.intern_class("B");
  ASSERT_EQ(g.add_edge(a, b, kKqAt120, kFdAt44).status, AddStatus::kAdded);
  const std::vector<uint32_t> order_before = {g.topo_position(a),
                                              g.topo_position(b)};
  ASSERT_EQ(g.add_edge(b, a, kFdAt80, kKqAt300).status, AddStatus::kReversal);
  EXPECT_EQ(g.edge_count(), 1u);
  EXPECT_FALSE(g.has_edge(b, a));
  EXPECT_EQ(g.add_edge(a, b, kKqAt300, kFdAt80).status, AddStatus::kExisting);
  EXPECT_EQ(order_before,
            (std::vector<uint32_t>{g.topo_position(a), g.topo_position(b)}));
  EXPECT_EQ(g.edge(a, b)->before_site.line, 120u);  // first-seen sites kept
}

TEST(WitnessGraph, ThreeClassCycleReportsWholePath) {
  WitnessGraph g;
  const ClassId a = g.intern_class("A");
  const ClassId b = g.intern_class("B");
  const ClassId c = g.intern_class("C");
  ASSERT_EQ(g.add_edge(a, b, Site{"a.cc", 1}, Site{"b.cc", 2}).status,
            AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(b, c, Site{"b.cc", 5}, Site{"c.cc", 6}).status,
            AddStatus::kAdded);
  const AddResult r = g.add_edge(c, a, Site{"c.cc", 3}, Site{"a.cc", 9});
  ASSERT_EQ(r.status, AddStatus::kReversal);
  EXPECT_THAT(r.reversal->path(), ElementsAre("A", "B", "C"));
  ASSERT_EQ(r.reversal->established.size(), 2u);
  EXPECT_EQ(r.reversal->established[0].before.file, "a.cc");
  EXPECT_EQ(r.reversal->established[1].after.line, 6u);
  EXPECT_EQ(format_reversal(*r.reversal),
            "lock order reversal:\n"
            " 1st C @ c.cc:3\n"
            " 2nd A @ a.cc:9\n"
            "lock order A -> B -> C established at:\n"
            " A -> B:\n"
            "  A @ a.cc:1\n"
            "  B @ b.cc:2\n"
            " B -> C:\n"
            "  B @ b.cc:5\n"
            "  C @ c.cc:6\n");
  // Closing the cycle elsewhere along it is a separate reversal.
  EXPECT_EQ(g.add_edge(c, b, Site{"c.cc", 3}, Site{"b.cc", 9}).status,
            AddStatus::kReversal);
  EXPECT_EQ(g.add_edge(c, a, Site{"c.cc", 3}, Site{"a.cc", 9}).status,
            AddStatus::kReversalAlreadyReported);
  EXPECT_EQ(g.edge_count(), 2u);
}

TEST(WitnessGraph, ReportedPathIsAShortestOne) {
  WitnessGraph g;
  std::vector<ClassId> c;
  for (int i = 0; i < 6; ++i) c.push_back(g.intern_class(fmt::format("c{}", i)));
  // Long way c0 -> c1 -> c2 -> c3 -> c4 -> c5 and a short cut c0 -> c5.
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(g.add_edge(c[i], c[i + 1], {}, {}).status, AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(c[0], c[5], {}, {}).status, AddStatus::kAdded);
  const AddResult r = g.add_edge(c[5], c[0], {}, {});
  ASSERT_EQ(r.status, AddStatus::kReversal);
  EXPECT_THAT(r.reversal->path(), ElementsAre("c0", "c5"));
  EXPECT_THAT(format_reversal(*r.reversal), HasSubstr(" 1st c5 @ ?:0\n"));
}

TEST(WitnessGraph, OrderStaysTopologicalUnderReordering) {
  WitnessGraph g;
  // Classes created in an order opposite to the edges, so every insertion
  // moves things.
  constexpr int kN = 64;
  std::vector<ClassId> c(kN);
  for (int i = kN - 1; i >= 0; --i) c[i] = g.intern_class(fmt::format("L{}", i));
  std::mt19937 rng(7);
  for (int step = 0; step < 1000; ++step) {
    int i = static_cast<int>(rng() % kN);
    int j = static_cast<int>(rng() % kN);
    if (i == j) continue;
    if (i > j) std::swap(i, j);
    const AddStatus st = g.add_edge(c[i], c[j], {}, {}).status;
    ASSERT_TRUE(st == AddStatus::kAdded || st == AddStatus::kExisting);
    expect_valid_order(g);
  }
  ASSERT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
}

// Random edges among 200 classes, checked against a brute-force model: a
// set of edges and breadth-first reachability.
TEST(WitnessGraph, RandomEdgesMatchBruteForceReachability) {
  constexpr int kClasses = 200;
  constexpr int kAttempts = 2000;
  WitnessGraph g;
  for (int i = 0; i < kClasses; ++i) g.intern_class(fmt::format("k{}", i));

  std::vector<std::vector<int>> adj(kClasses);
  std::set<std::pair<int, int>> edges;
  std::set<std::pair<int, int>> reported;
  // Shortest path from -> to in the model, or empty.
  auto bfs = [&](int from, int to) {
    std::vector<int> parent(kClasses, -2);
    std::vector<int> q{from};
    parent[from] = -1;
    for (size_t h = 0; h < q.size(); ++h) {
      for (int z : adj[q[h]]) {
        if (parent[z] != -2) continue;
        parent[z] = q[h];
        q.push_back(z);
      }
    }
    std::vector<int> path;
    if (parent[to] == -2) return path;
    for (int v = to; v != -1; v = parent[v]) path.push_back(v);
    std::reverse(path.begin(), path.end());
    return path;
  };

  std::mt19937 rng(20240611);
  // A hidden order makes most edges consistent, so the graph grows dense
  // enough for long paths, while some edges go against it.
  std::vector<int> hidden(kClasses);
  std::iota(hidden.begin(), hidden.end(), 0);
  std::shuffle(hidden.begin(), hidden.end(), rng);
  int counts[5] = {};
  std::vector<std::pair<int, int>> history;
  for (int step = 0; step < kAttempts; ++step) {
    int b = static_cast<int>(rng() % kClasses);
    int a = static_cast<int>(rng() % kClasses);
    if (rng() % 10 != 0 && hidden[b] > hidden[a]) std::swap(a, b);
    if (!history.empty() && rng() % 8 == 0)  // sometimes try a pair again
      std::tie(b, a) = history[rng() % history.size()];
    history.emplace_back(b, a);
    const Site bs{"b.cc", static_cast<uint32_t>(step)};
    const Site as{"a.cc", static_cast<uint32_t>(step)};
    const AddResult r = g.add_edge(b, a, bs, as);
    ++counts[static_cast<int>(r.status)];

    AddStatus want;
    std::vector<int> back;
    if (a == b) {
      want = AddStatus::kSameClass;
    } else if (edges.contains({b, a})) {
      want = AddStatus::kExisting;
    } else if (reported.contains({b, a})) {
      want = AddStatus::kReversalAlreadyReported;
    } else if (!(back = bfs(a, b)).empty()) {
      want = AddStatus::kReversal;
      reported.insert({b, a});
    } else {
      want = AddStatus::kAdded;
      edges.insert({b, a});
      adj[b].push_back(a);
    }
    ASSERT_EQ(r.status, want) << "step " << step << ": " << b << " -> " << a;
    if (want == AddStatus::kReversal) {
      // The reported path is an established path a -> ... -> b, as short as
      // the shortest one.
      const auto& est = r.reversal->established;
      ASSERT_EQ(est.size() + 1, back.size());
      ASSERT_EQ(est.front().before.cls, static_cast<ClassId>(a));
      ASSERT_EQ(est.back().after.cls, static_cast<ClassId>(b));
      for (size_t k = 0; k < est.size(); ++k) {
        ASSERT_TRUE(edges.contains({est[k].before.cls, est[k].after.cls}));
        if (k + 1 < est.size()) {
          ASSERT_EQ(est[k].after.cls, est[k + 1].before.cls);
        }
      }
      ASSERT_EQ(r.reversal->first.line, static_cast<uint32_t>(step));
    }
    if (want == AddStatus::kAdded) expect_valid_order(g);
  }
  ASSERT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
  EXPECT_EQ(g.edge_count(), edges.size());
  // The mix exercised every outcome.
  EXPECT_GT(counts[static_cast<int>(AddStatus::kAdded)], 500);
  EXPECT_GT(counts[static_cast<int>(AddStatus::kExisting)], 10);
  EXPECT_GT(counts[static_cast<int>(AddStatus::kReversal)], 10);
  EXPECT_GT(counts[static_cast<int>(AddStatus::kReversalAlreadyReported)], 0);
}

// Edges consistent with a hidden order, inserted in random order: never a
// reversal, whatever reordering the graph has to do.
TEST(WitnessGraph, RandomDagNeverReportsFalseReversal) {
  constexpr int kClasses = 200;
  WitnessGraph g;
  for (int i = 0; i < kClasses; ++i) g.intern_class(fmt::format("d{}", i));
  std::mt19937 rng(42);
  std::vector<int> hidden(kClasses);
  std::iota(hidden.begin(), hidden.end(), 0);
  std::shuffle(hidden.begin(), hidden.end(), rng);
  for (int step = 0; step < 2000; ++step) {
    int b = static_cast<int>(rng() % kClasses);
    int a = static_cast<int>(rng() % kClasses);
    if (a == b) continue;
    if (hidden[b] > hidden[a]) std::swap(a, b);
    const AddStatus st = g.add_edge(b, a, {}, {}).status;
    ASSERT_TRUE(st == AddStatus::kAdded || st == AddStatus::kExisting)
        << "step " << step << ": " << to_string(st);
  }
  expect_valid_order(g);
  EXPECT_TRUE(g.reported_reversals().empty());
  ASSERT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
}

// A long chain built back to front (every insertion reorders the whole
// tail), then closed: the report carries the whole chain, and nothing
// recurses deeply.
TEST(WitnessGraph, LongChainBuiltBackwards) {
  constexpr int kN = 2000;
  WitnessGraph g;
  std::vector<ClassId> c(kN);
  for (int i = 0; i < kN; ++i) c[i] = g.intern_class(fmt::format("x{}", i));
  for (int i = kN - 2; i >= 0; --i)
    ASSERT_EQ(g.add_edge(c[i + 1], c[i], {}, {}).status, AddStatus::kAdded);
  expect_valid_order(g);
  const AddResult r = g.add_edge(c[0], c[kN - 1], {}, {});
  ASSERT_EQ(r.status, AddStatus::kReversal);
  EXPECT_EQ(r.reversal->established.size(), static_cast<size_t>(kN - 1));
  EXPECT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
}

TEST(WitnessGraph, FastTableGrows) {
  WitnessGraph g;
  constexpr int kN = 300;
  for (int i = 0; i < kN; ++i) g.intern_class(fmt::format("g{}", i));
  for (int i = 0; i < kN; ++i)
    for (int j = i + 1; j < kN; j += 7)
      ASSERT_EQ(g.add_edge(i, j, {}, {}).status, AddStatus::kAdded);
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) {
      const bool want = i < j && (j - i - 1) % 7 == 0;
      ASSERT_EQ(g.has_edge(i, j), want) << i << " " << j;
    }
  }
  EXPECT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
}

TEST(WitnessGraph, DeclareOrderAddsTheChain) {
  WitnessGraph g;
  const int line = __LINE__ + 1;
  ASSERT_TRUE(g.declare_order({"proctree", "allproc", "filedesc"}).ok());
  const ClassId p = *g.find_class("proctree");
  const ClassId a = *g.find_class("allproc");
  const ClassId f = *g.find_class("filedesc");
  EXPECT_TRUE(g.has_edge(p, a));
  EXPECT_TRUE(g.has_edge(a, f));
  EXPECT_FALSE(g.has_edge(p, f));
  EXPECT_THAT(g.edge(p, a)->before_site.file, HasSubstr("witness_graph_test"));
  EXPECT_EQ(g.edge(p, a)->before_site.line, static_cast<uint32_t>(line));
  // An acquisition against the declared order is a reversal.
  EXPECT_EQ(g.add_edge(f, p, kFdAt44, kKqAt120).status, AddStatus::kReversal);
  // Re-declaring, or declaring a consistent overlapping chain, is fine.
  std::vector<std::string_view> chain = {"allproc", "filedesc", "kqueue"};
  EXPECT_TRUE(g.declare_order(chain).ok());
  EXPECT_EQ(g.edge_count(), 3u);
}

TEST(WitnessGraph, DeclareOrderContradictingKnownOrderIsRejected) {
  WitnessGraph g;
  const ClassId kq = g.intern_class("kqueue");
  const ClassId kl = g.intern_class("knlist");
  const ClassId fd = g.intern_class("filedesc");
  ASSERT_EQ(g.add_edge(fd, kq, kFdAt80, kKqAt300).status, AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(kq, kl, kKqAt300, Site{"knote/kern_event.cc", 310})
                .status,
            AddStatus::kAdded);
  const std::string json_before = g.to_json();

  // knlist -> filedesc closes filedesc -> kqueue -> knlist.
  const Status s = g.declare_order({"knlist", "filedesc"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message, HasSubstr("knlist -> filedesc contradicts"));
  EXPECT_THAT(s.message, HasSubstr("filedesc -> kqueue -> knlist"));
  EXPECT_THAT(s.message, HasSubstr("model/kern/filedesc.cc:80"));
  EXPECT_EQ(g.to_json(), json_before);

  // A longer chain whose first pairs are fine but whose last one conflicts
  // (through a pair declared in the same call) leaves nothing behind.
  const Status s2 = g.declare_order({"vnode", "mount", "filedesc", "vnode"});
  ASSERT_FALSE(s2.ok());
  EXPECT_THAT(s2.message, HasSubstr("appears twice"));
  const Status s3 = g.declare_order({"knlist", "sleepq", "filedesc"});
  ASSERT_FALSE(s3.ok());
  EXPECT_THAT(s3.message, HasSubstr("sleepq -> filedesc contradicts"));
  EXPECT_THAT(s3.message, HasSubstr("filedesc -> kqueue -> knlist -> sleepq"));
  EXPECT_EQ(g.edge_count(), 2u);
  EXPECT_FALSE(g.has_edge(kl, *g.find_class("sleepq")));
  EXPECT_TRUE(g.reported_reversals().empty());
  EXPECT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
  // The rolled-back pair can be added afterwards as usual.
  EXPECT_EQ(g.add_edge(kl, *g.find_class("sleepq"), {}, {}).status,
            AddStatus::kAdded);
}

TEST(WitnessGraph, MergeFindsReversalSplitAcrossGraphs) {
  // Run 1 saw filedesc -> kqueue; run 2 (another machine, other ids) saw
  // kqueue -> filedesc. Neither alone has a reversal.
  WitnessGraph run1;
  {
    const ClassId fd = run1.intern_class("filedesc");
    const ClassId kq = run1.intern_class("kqueue");
    ASSERT_EQ(run1.add_edge(fd, kq, kFdAt80, kKqAt300).status,
              AddStatus::kAdded);
  }
  WitnessGraph run2;
  {
    const ClassId other = run2.intern_class("pipe");
    const ClassId kq = run2.intern_class("kqueue");
    const ClassId fd = run2.intern_class("filedesc");
    ASSERT_EQ(run2.add_edge(kq, fd, kKqAt120, kFdAt44).status,
              AddStatus::kAdded);
    ASSERT_EQ(run2.add_edge(other, kq, {}, {}).status, AddStatus::kAdded);
  }
  const MergeResult m = run1.merge(run2);
  EXPECT_EQ(m.classes_added, 1u);  // pipe
  EXPECT_EQ(m.edges_added, 1u);     // pipe -> kqueue
  EXPECT_EQ(m.edges_existing, 0u);
  ASSERT_EQ(m.reversals.size(), 1u);
  const Reversal& r = m.reversals[0];
  EXPECT_EQ(r.first.name, "kqueue");
  EXPECT_EQ(r.first.line, 120u);
  EXPECT_EQ(r.second.name, "filedesc");
  EXPECT_EQ(r.second.line, 44u);
  EXPECT_EQ(format_reversal(r),
            "lock order reversal:\n"
            " 1st kqueue @ knote/kern_event.cc:120\n"
            " 2nd filedesc @ model/kern/filedesc.cc:44\n"
            "lock order filedesc -> kqueue established at:\n"
            " filedesc @ model/kern/filedesc.cc:80\n"
            " kqueue @ knote/kern_event.cc:300\n");
  EXPECT_EQ(run1.edge_count(), 2u);
  // Merging again reports nothing new.
  const MergeResult again = run1.merge(run2);
  EXPECT_TRUE(again.reversals.empty());
  EXPECT_EQ(again.reversals_already_reported, 1u);
  EXPECT_EQ(again.edges_existing, 1u);
  // And the live graph keeps the report-once promise.
  EXPECT_EQ(run1.add_edge(*run1.find_class("kqueue"),
                          *run1.find_class("filedesc"), {}, {})
                .status,
            AddStatus::kReversalAlreadyReported);
  EXPECT_TRUE(run1.check_invariants().ok()) << run1.check_invariants().message;
  // Self-merge changes nothing.
  const std::string before = run1.to_json();
  const MergeResult self = run1.merge(run1);
  EXPECT_EQ(self.edges_added + self.edges_existing, 0u);
  EXPECT_EQ(run1.to_json(), before);
}

TEST(WitnessGraph, MergeFindsThreeWayCycleAcrossThreeRuns) {
  WitnessGraph r1, r2, r3;
  r1.add_edge(r1.intern_class("A"), r1.intern_class("B"), {"r1.cc", 1}, {"r1.cc", 2});
  r2.add_edge(r2.intern_class("B"), r2.intern_class("C"), {"r2.cc", 1}, {"r2.cc", 2});
  r3.add_edge(r3.intern_class("C"), r3.intern_class("A"), {"r3.cc", 1}, {"r3.cc", 2});
  WitnessGraph all;
  EXPECT_TRUE(all.merge(r1).reversals.empty());
  EXPECT_TRUE(all.merge(r2).reversals.empty());
  const MergeResult m = all.merge(r3);
  ASSERT_EQ(m.reversals.size(), 1u);
  EXPECT_THAT(m.reversals[0].path(), ElementsAre("A", "B", "C"));
  EXPECT_EQ(m.reversals[0].first.file, "r3.cc");
}

TEST(WitnessGraph, MergeCarriesReportedReversals) {
  WitnessGraph a;
  const ClassId x = a.intern_class("X");
  const ClassId y = a.intern_class("Y");
  a.add_edge(x, y, {}, {});
  ASSERT_EQ(a.add_edge(y, x, {}, {}).status, AddStatus::kReversal);
  WitnessGraph b;
  b.merge(a);
  EXPECT_EQ(b.add_edge(*b.find_class("Y"), *b.find_class("X"), {}, {}).status,
            AddStatus::kReversalAlreadyReported);
  EXPECT_TRUE(b.check_invariants().ok()) << b.check_invariants().message;
}

TEST(WitnessGraph, JsonRoundTrip) {
  WitnessGraph g;
  const ClassId fd = g.intern_class("filedesc", "sx");
  const ClassId kq = g.intern_class("kqueue", "sleep mutex");
  const ClassId kl = g.intern_class("knlist \"quoted\"\\");
  g.intern_class("lonely");
  ASSERT_EQ(g.add_edge(fd, kq, kFdAt80, kKqAt300).status, AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(kq, kl, kKqAt300, Site{"x.cc", 7}).status,
            AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(kl, fd, {}, {}).status, AddStatus::kReversal);
  const std::string text = g.to_json();
  EXPECT_THAT(text, HasSubstr("\"format\": \"kqsim-witness\""));
  EXPECT_THAT(text, HasSubstr("\"version\": 1"));

  LoadResult loaded = WitnessGraph::from_json(text);
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  const WitnessGraph& h = *loaded.graph;
  EXPECT_EQ(h.to_json(), text);
  EXPECT_EQ(h.class_count(), 4u);
  EXPECT_EQ(h.class_kind(kq), "sleep mutex");
  EXPECT_EQ(h.class_name(kl), "knlist \"quoted\"\\");
  ASSERT_EQ(h.edge_count(), 2u);
  EXPECT_STREQ(h.edge(fd, kq)->before_site.file, "model/kern/filedesc.cc");
  EXPECT_EQ(h.edge(kq, kl)->after_site.line, 7u);
  EXPECT_THAT(h.reported_reversals(), ElementsAre(std::pair{kl, fd}));
  EXPECT_TRUE(h.check_invariants().ok()) << h.check_invariants().message;
  // The loaded graph keeps behaving: report once, established orders hold.
  EXPECT_EQ(loaded.graph->add_edge(kl, fd, {}, {}).status,
            AddStatus::kReversalAlreadyReported);
  EXPECT_EQ(loaded.graph->add_edge(kq, fd, {}, {}).status, AddStatus::kReversal);

  // An empty graph round-trips too.
  WitnessGraph empty;
  LoadResult e = WitnessGraph::from_json(empty.to_json());
  ASSERT_TRUE(e.ok()) << e.error;
  EXPECT_EQ(e.graph->class_count(), 0u);
}

TEST(WitnessGraph, JsonErrorsAreClear) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string head = R"("format": "kqsim-witness", "version": 1, )";
  const std::string two = R"("classes": [{"name": "a"}, {"name": "b"}], )";
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"{\"format\": \"kqsim-witness\",}", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {"{}", "missing \"format\""},
      {R"({"format": "lockdep", "version": 1, "classes": []})",
       "\"format\" is \"lockdep\", expected \"kqsim-witness\""},
      {R"({"format": "kqsim-witness", "version": 2, "classes": []})",
       "\"version\" is 2, this kqsim reads version 1"},
      {R"({"format": "kqsim-witness", "version": "1", "classes": []})",
       "\"version\" is \"1\""},
      {R"({"format": "kqsim-witness", "classes": []})", "missing \"version\""},
      {R"({"format": "kqsim-witness", "version": 1})", "missing \"classes\""},
      {"{" + head + R"("classes": {}})", "classes must be an array"},
      {"{" + head + R"("classes": [{"kind": "x"}]})",
       "classes[0]: missing \"name\""},
      {"{" + head + R"("classes": [{"name": 3}]})",
       "classes[0].name must be a string"},
      {"{" + head + R"("classes": [{"name": "a"}, {"name": "a"}]})",
       "classes[1].name \"a\" names an earlier class again"},
      {"{" + head + two + R"("edges": [{"before": 0, "after": 2}]})",
       "edges[0].after = 2 is not a class index (there are 2 classes)"},
      {"{" + head + two + R"("edges": [{"before": -1, "after": 1}]})",
       "edges[0].before must be a non-negative integer"},
      {"{" + head + two + R"("edges": [{"before": 0.5, "after": 1}]})",
       "edges[0].before must be a non-negative integer"},
      {"{" + head + two + R"("edges": [{"before": 99999999999, "after": 1}]})",
       "edges[0].before = 99999999999 is too large"},
      {"{" + head + two + R"("edges": [{"after": 1}]})",
       "edges[0]: missing \"before\""},
      {"{" + head + two + R"("edges": [{"before": 1, "after": 1}]})",
       "edges[0] is a self edge (b -> b)"},
      {"{" + head + two +
           R"("edges": [{"before": 0, "after": 1}, {"before": 1, "after": 0}]})",
       "edges[1] (b -> a) closes a cycle with the earlier edges a -> b"},
      {"{" + head + two +
           R"("edges": [{"before": 0, "after": 1, "before_site": {"line": "x"}}]})",
       "edges[0].before_site.line must be a non-negative integer"},
      {"{" + head + two + R"("edges": [7]})", "edges[0] must be an object"},
      {"{" + head + two + R"("reversals": [{"before": 0, "after": 1}]})",
       "reversals[0] (a -> b) is not a reversal"},
      {"{" + head + two +
           R"("edges": [{"before": 0, "after": 1}], "reversals": [{"before": 0, "after": 1}]})",
       "reversals[0] (a -> b) is also an edge"},
      {"{" + head + two + R"("reversals": [{"before": 0, "after": 5}]})",
       "reversals[0].after = 5 is not a class index"},
  };
  for (const Case& c : cases) {
    const LoadResult r = WitnessGraph::from_json(c.text);
    EXPECT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(r.error, HasSubstr(c.error)) << c.text;
    EXPECT_THAT(r.error, HasSubstr("witness graph JSON: ")) << c.text;
  }
  // Sites and kinds are optional; a minimal hand-written file loads.
  const LoadResult ok = WitnessGraph::from_json(
      "{" + head + two + R"("edges": [{"before": 1, "after": 0}]})");
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_TRUE(ok.graph->has_edge(1, 0));
}

TEST(WitnessGraph, JsonSurvivesArbitraryBytes) {
  // Truncations of a valid document, and byte flips, never crash.
  WitnessGraph g;
  ASSERT_TRUE(g.declare_order({"a", "b", "c"}).ok());
  g.add_edge(2, 0, {}, {});
  const std::string text = g.to_json();
  for (size_t n = 0; n + 1 < text.size(); ++n) {  // text ends "}\n"
    const LoadResult r = WitnessGraph::from_json(text.substr(0, n));
    EXPECT_FALSE(r.ok());
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string t = text;
    t[rng() % t.size()] = static_cast<char>(rng() % 256);
    const LoadResult r = WitnessGraph::from_json(t);
    if (r.ok()) {
      EXPECT_TRUE(r.graph->check_invariants().ok());
    }
  }
}

TEST(WitnessGraph, DotShowsNodesEdgesAndReversal) {
  WitnessGraph g;
  const ClassId fd = g.intern_class("filedesc");
  const ClassId kq = g.intern_class("kqueue", "sleep mutex");
  const ClassId pipe = g.intern_class("pipe");
  ASSERT_EQ(g.add_edge(fd, kq, kFdAt80, kKqAt300).status, AddStatus::kAdded);
  ASSERT_EQ(g.add_edge(pipe, kq, {}, {}).status, AddStatus::kAdded);
  const AddResult r = g.add_edge(kq, fd, kKqAt120, kFdAt44);
  ASSERT_EQ(r.status, AddStatus::kReversal);

  const std::string plain = g.to_dot();
  EXPECT_THAT(plain, HasSubstr("digraph witness {"));
  EXPECT_THAT(plain, HasSubstr("n0 [label=\"filedesc\"]"));
  EXPECT_THAT(plain, HasSubstr("n1 [label=\"kqueue\\n(sleep mutex)\"]"));
  EXPECT_THAT(plain, HasSubstr("n2 [label=\"pipe\"]"));
  EXPECT_THAT(plain,
              HasSubstr("n0 -> n1 [label=\"model/kern/filedesc.cc:80\\n"
                        "knote/kern_event.cc:300\"]"));
  EXPECT_THAT(plain, ::testing::Not(HasSubstr("reversal")));

  const std::vector<Reversal> highlight = {*r.reversal};
  const std::string dot = g.to_dot(&highlight);
  EXPECT_THAT(dot, HasSubstr("n1 -> n0 [label=\"reversal\\n1st kqueue @ "
                             "knote/kern_event.cc:120\\n2nd filedesc @ "
                             "model/kern/filedesc.cc:44\", color=red, "
                             "fontcolor=red, style=dashed"));
  EXPECT_THAT(dot, HasSubstr("knote/kern_event.cc:300\", color=red"));
  EXPECT_THAT(dot, HasSubstr("n2 -> n1 [label=\"?:0\\n?:0\"];"));
  EXPECT_EQ(dot.back(), '\n');
}

// Many threads hammer the same small set of pairs, in both directions:
// every reversal is reported exactly once overall, and the graph stays
// consistent. (Run under -fsanitize=thread too.)
TEST(WitnessGraph, ConcurrentAddEdgeReportsEachReversalOnce) {
  WitnessGraph g;
  constexpr int kClasses = 12;
  for (int i = 0; i < kClasses; ++i) g.intern_class(fmt::format("t{}", i));
  constexpr int kThreads = 4;
  std::atomic<int> reversals{0};
  std::atomic<int> added{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; i < 20000; ++i) {
        const ClassId b = rng() % kClasses;
        const ClassId a = rng() % kClasses;
        const AddResult r = g.add_edge(b, a, {"t.cc", 1}, {"t.cc", 2});
        if (r.status == AddStatus::kReversal) ++reversals;
        if (r.status == AddStatus::kAdded) ++added;
        if (i % 1000 == 0) (void)g.has_edge(a, b);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(static_cast<size_t>(added.load()), g.edge_count());
  EXPECT_EQ(static_cast<size_t>(reversals.load()),
            g.reported_reversals().size());
  EXPECT_TRUE(g.check_invariants().ok()) << g.check_invariants().message;
  expect_valid_order(g);
}

TEST(WitnessGraph, StatusNames) {
  EXPECT_EQ(to_string(AddStatus::kExisting), "Existing");
  EXPECT_EQ(to_string(AddStatus::kAdded), "Added");
  EXPECT_EQ(to_string(AddStatus::kReversal), "Reversal");
  EXPECT_EQ(to_string(AddStatus::kReversalAlreadyReported),
            "ReversalAlreadyReported");
  EXPECT_EQ(to_string(AddStatus::kSameClass), "SameClass");
}

}  // namespace
}  // namespace kqsim::locks
