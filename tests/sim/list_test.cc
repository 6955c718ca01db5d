// Tests of the instrumented BSD lists (model/sim/list.h) and their invariant
// checkers (model/sim/list_check.h): sequential semantics against std::list,
// the scheduling-point cost of every operation (checked against the table in
// docs/lists.md), the checkers' diagnosis of hand-made corruption, and the
// acceptance tests: unlocked concurrent TAILQ operations really corrupt the
// list (kern/57945), are reported as data races, and are clean under a lock.
#include "model/sim/list.h"

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <iostream>
#include <list>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model/sim/basic_mutex.h"
#include "model/sim/list_check.h"
#include "model/sim/scheduler.h"
#include "model/sim/strategy.h"

namespace kqsim::sim {
namespace {

// A knote-like element that can be on one list of each kind at once.
struct Kn {
  explicit Kn(int i = 0) : id(i) {}
  int id;
  TailqEntry tqe;
  ListEntry le;
  SlistEntry link;
};
using Tq = TailqHead<Kn, &Kn::tqe>;
using Lh = ListHead<Kn, &Kn::le>;
using Sl = SlistHead<Kn, &Kn::link>;

std::string kn_label(const Kn& k) { return "kn " + std::to_string(k.id); }
constexpr auto kLabel = [](const Kn& k) { return kn_label(k); };

bool has_kind(const Execution& e, FindingKind k) {
  for (const Finding& f : e.findings)
    if (f.kind == k) return true;
  return false;
}
std::string first_message(const Execution& e) { return e.findings.empty() ? "no finding" : e.findings[0].message; }

// ---------------------------------------------------------------- helpers

template <class H>
std::vector<int> forward_ids(const H& h) {
  std::vector<int> v;
  for (Kn* k = h.first(); k != nullptr && v.size() < 1000; k = h.next(k)) v.push_back(k->id);
  return v;
}
std::vector<int> backward_ids(const Tq& h) {
  std::vector<int> v;
  for (Kn* k = h.last(); k != nullptr && v.size() < 1000; k = h.prev(k)) v.push_back(k->id);
  return v;
}
template <class H>
std::vector<int> foreach_ids(H& h) {
  std::vector<int> v;
  h.foreach([&](Kn* k) { v.push_back(k->id); });
  return v;
}
std::vector<int> ids(const std::list<int>& l) { return {l.begin(), l.end()}; }

// Runs `body` as the root thread of one execution (single thread: every
// scheduling point is counted but none switches).
template <class F>
const Execution& run_single(Scheduler& s, F& body) {
  RandomStrategy st(1);
  return s.run(st, [&body] { body(); });
}

// ---------------------------------------------------------------- sequential semantics

// Random operations on a TAILQ, mirrored on a std::list of ids; after each
// operation the list must read the same forwards and backwards and pass the
// checker.
void tailq_differential(uint64_t seed) {
  Rng rng(seed);
  std::deque<Kn> pool;
  for (int i = 0; i < 12; ++i) pool.emplace_back(i);
  Tq head, other;
  std::list<int> model;
  std::set<int> on;  // ids on `head`
  auto free_elm = [&]() -> Kn* {
    for (int tries = 0; tries < 50; ++tries) {
      int i = static_cast<int>(rng.below(12));
      if (!on.count(i)) return &pool[i];
    }
    return nullptr;
  };
  auto listed = [&]() -> Kn* {
    if (model.empty()) return nullptr;
    auto it = model.begin();
    std::advance(it, rng.below(static_cast<uint32_t>(model.size())));
    return &pool[*it];
  };
  for (int step = 0; step < 600; ++step) {
    unsigned op = rng.below(8);
    Kn* e = free_elm();
    Kn* l = listed();
    switch (op) {
      case 0:
        if (!e) break;
        head.insert_head(e);
        model.push_front(e->id);
        on.insert(e->id);
        break;
      case 1:
        if (!e) break;
        head.insert_tail(e);
        model.push_back(e->id);
        on.insert(e->id);
        break;
      case 2:
        if (!e || !l) break;
        head.insert_after(l, e);
        model.insert(std::next(std::find(model.begin(), model.end(), l->id)), e->id);
        on.insert(e->id);
        break;
      case 3:
        if (!e || !l) break;
        Tq::insert_before(l, e);
        model.insert(std::find(model.begin(), model.end(), l->id), e->id);
        on.insert(e->id);
        break;
      case 4:
      case 5:
        if (!l) break;
        head.remove(l);
        model.remove(l->id);
        on.erase(l->id);
        break;
      case 6: {  // TAILQ_FOREACH_SAFE removing every element with an odd id
        head.foreach([&](Kn* k) {
          if (k->id % 2 != 0) {
            head.remove(k);
            on.erase(k->id);
          }
        });
        model.remove_if([](int i) { return i % 2 != 0; });
        break;
      }
      case 7: {  // TAILQ_CONCAT of up to 3 free elements
        for (int j = 0; j < 3; ++j) {
          Kn* f = free_elm();  // not on head, nor already on other (they are in `on`)
          if (!f) continue;
          other.insert_tail(f);
          model.push_back(f->id);
          on.insert(f->id);
        }
        head.concat(other);
        ASSERT_TRUE(other.empty());
        break;
      }
    }
    ASSERT_EQ(forward_ids(head), ids(model)) << "step " << step << " op " << op;
    std::vector<int> rev(model.rbegin(), model.rend());
    ASSERT_EQ(backward_ids(head), rev) << "step " << step;
    ASSERT_EQ(foreach_ids(head), ids(model));
    std::vector<int> rv;
    head.foreach_reverse([&](Kn* k) { rv.push_back(k->id); });
    ASSERT_EQ(rv, rev);
    ASSERT_EQ(head.empty(), model.empty());
    ListReport r = check_tailq(head, model.size(), kLabel);
    ASSERT_TRUE(r.ok) << r.text("head");
  }
}

TEST(SimListSmoke, TailqBasics) {
  Tq h;
  Kn a(1), b(2), c(3), d(4);
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.first(), nullptr);
  EXPECT_EQ(h.last(), nullptr);
  h.insert_tail(&b);
  h.insert_head(&a);
  h.insert_tail(&d);
  Tq::insert_before(&d, &c);
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(forward_ids(h), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(backward_ids(h), (std::vector<int>{4, 3, 2, 1}));
  EXPECT_EQ(h.first(), &a);
  EXPECT_EQ(h.last(), &d);
  EXPECT_EQ(h.next(&d), nullptr);
  EXPECT_EQ(h.prev(&a), nullptr);
  EXPECT_EQ(h.next(&b), &c);
  EXPECT_EQ(h.prev(&c), &b);
  h.remove(&a);
  h.remove(&d);
  EXPECT_EQ(forward_ids(h), (std::vector<int>{2, 3}));
  h.insert_after(&c, &d);  // after the last: d becomes the last
  EXPECT_EQ(h.last(), &d);
  // FOREACH_SAFE: the body may remove the current element; false stops.
  h.foreach([&](Kn* k) { h.remove(k); });
  EXPECT_TRUE(h.empty());
  h.insert_tail(&a);
  h.insert_tail(&b);
  int seen = 0;
  h.foreach([&](Kn*) { return ++seen < 1; });
  EXPECT_EQ(seen, 1);
  h.init();
  EXPECT_TRUE(h.empty());
  EXPECT_TRUE(check_tailq(h, 0).ok);
}

TEST(SimListSmoke, TailqMatchesStdListOutsideScheduler) { tailq_differential(1); }

TEST(SimList, TailqMatchesStdListUnderScheduler) {
  SchedulerOptions o;
  o.max_steps = 10'000'000;
  Scheduler s(o);
  for (uint64_t seed = 2; seed < 5; ++seed) {
    auto body = [seed] { tailq_differential(seed); };
    const Execution& e = run_single(s, body);
    ASSERT_TRUE(e.findings.empty()) << first_message(e);
  }
}

TEST(SimListSmoke, ListMatchesStdList) {
  Rng rng(17);
  std::deque<Kn> pool;
  for (int i = 0; i < 10; ++i) pool.emplace_back(i);
  Lh head;
  std::list<int> model;
  std::set<int> on;
  for (int step = 0; step < 600; ++step) {
    Kn* e = &pool[rng.below(10)];
    bool e_free = !on.count(e->id);
    Kn* l = nullptr;
    if (!model.empty()) {
      auto it = model.begin();
      std::advance(it, rng.below(static_cast<uint32_t>(model.size())));
      l = &pool[*it];
    }
    switch (rng.below(5)) {
      case 0:
        if (!e_free) break;
        head.insert_head(e);
        model.push_front(e->id);
        on.insert(e->id);
        break;
      case 1:
        if (!e_free || !l) break;
        Lh::insert_after(l, e);
        model.insert(std::next(std::find(model.begin(), model.end(), l->id)), e->id);
        on.insert(e->id);
        break;
      case 2:
        if (!e_free || !l) break;
        Lh::insert_before(l, e);
        model.insert(std::find(model.begin(), model.end(), l->id), e->id);
        on.insert(e->id);
        break;
      case 3:
        if (!l) break;
        Lh::remove(l);
        model.remove(l->id);
        on.erase(l->id);
        break;
      case 4:
        head.foreach([&](Kn* k) {
          if (k->id % 3 == 0) {
            head.remove(k);
            on.erase(k->id);
          }
        });
        model.remove_if([](int i) { return i % 3 == 0; });
        break;
    }
    ASSERT_EQ(forward_ids(head), ids(model)) << "step " << step;
    ASSERT_EQ(foreach_ids(head), ids(model));
    ASSERT_EQ(head.empty(), model.empty());
    ListReport r = check_list(head, model.size(), kLabel);
    ASSERT_TRUE(r.ok) << r.text("head");
  }
  head.init();
  EXPECT_TRUE(head.empty());
}

TEST(SimListSmoke, SlistMatchesStdList) {
  Rng rng(23);
  std::deque<Kn> pool;
  for (int i = 0; i < 10; ++i) pool.emplace_back(i);
  Sl head;
  std::list<int> model;
  std::set<int> on;
  for (int step = 0; step < 600; ++step) {
    Kn* e = &pool[rng.below(10)];
    bool e_free = !on.count(e->id);
    Kn* l = nullptr;
    if (!model.empty()) {
      auto it = model.begin();
      std::advance(it, rng.below(static_cast<uint32_t>(model.size())));
      l = &pool[*it];
    }
    switch (rng.below(6)) {
      case 0:
        if (!e_free) break;
        head.insert_head(e);
        model.push_front(e->id);
        on.insert(e->id);
        break;
      case 1:
        if (!e_free || !l) break;
        Sl::insert_after(l, e);
        model.insert(std::next(std::find(model.begin(), model.end(), l->id)), e->id);
        on.insert(e->id);
        break;
      case 2:
        if (model.empty()) break;
        on.erase(model.front());
        head.remove_head();
        model.pop_front();
        break;
      case 3: {
        if (!l) break;
        auto it = std::next(std::find(model.begin(), model.end(), l->id));
        if (it == model.end()) break;
        on.erase(*it);
        Sl::remove_after(l);
        model.erase(it);
        break;
      }
      case 4:
        if (!l) break;
        head.remove(l);
        model.remove(l->id);
        on.erase(l->id);
        break;
      case 5:
        head.foreach([&](Kn* k) {
          if (k->id % 4 == 1) {
            head.remove(k);
            on.erase(k->id);
          }
        });
        model.remove_if([](int i) { return i % 4 == 1; });
        break;
    }
    ASSERT_EQ(forward_ids(head), ids(model)) << "step " << step;
    ASSERT_EQ(foreach_ids(head), ids(model));
    ASSERT_EQ(head.empty(), model.empty());
    ListReport r = check_slist(head, model.size(), kLabel);
    ASSERT_TRUE(r.ok) << r.text("head");
  }
  head.init();
  EXPECT_TRUE(head.empty());
}

TEST(SimListSmoke, OneElementOnThreeListsAtOnce) {
  Tq tq;
  Lh lh;
  Sl sl;
  Kn a(1), b(2);
  tq.insert_tail(&a);
  lh.insert_head(&a);
  sl.insert_head(&a);
  tq.insert_tail(&b);
  sl.insert_head(&b);
  EXPECT_EQ(forward_ids(tq), (std::vector<int>{1, 2}));
  EXPECT_EQ(forward_ids(lh), (std::vector<int>{1}));
  EXPECT_EQ(forward_ids(sl), (std::vector<int>{2, 1}));
  tq.remove(&a);
  EXPECT_EQ(forward_ids(lh), (std::vector<int>{1}));
  EXPECT_EQ(forward_ids(sl), (std::vector<int>{2, 1}));
}

// ---------------------------------------------------------------- costs

// One measured operation: scheduling points (Scheduler::steps() around the
// call, inside a simulated thread) and link reads/writes (load/store events of
// the trace between two markers).
struct Cost {
  std::string op, kase;
  int var = 0;  // n or k of a formula row
  uint64_t points = 0, reads = 0, writes = 0;
};

std::vector<Cost> measure_costs() {
  SchedulerOptions o;
  o.trace = true;
  Scheduler s(o);
  std::vector<Cost> out;
  auto body = [&out] {
    Scheduler& sc = *Scheduler::current();
    auto m = [&](const char* op, const char* kase, int var, auto&& fn) {
      sc.trace_note("measure", op);
      uint64_t s0 = sc.steps();
      fn();
      uint64_t s1 = sc.steps();
      sc.trace_note("measured", op);
      out.push_back(Cost{op, kase, var, s1 - s0, 0, 0});
    };
    Kn k[8] = {Kn(0), Kn(1), Kn(2), Kn(3), Kn(4), Kn(5), Kn(6), Kn(7)};
    {
      Tq h, h2;
      m("TAILQ_INIT", "", 0, [&] { h.init(); });
      m("TAILQ_INSERT_HEAD", "", 0, [&] { h.insert_head(&k[1]); });
      m("TAILQ_INSERT_TAIL", "", 0, [&] { h.insert_tail(&k[3]); });
      m("TAILQ_INSERT_AFTER", "", 0, [&] { h.insert_after(&k[1], &k[2]); });
      m("TAILQ_INSERT_BEFORE", "", 0, [&] { Tq::insert_before(&k[1], &k[0]); });
      m("TAILQ_EMPTY", "", 0, [&] { h.empty(); });
      m("TAILQ_FIRST", "", 0, [&] { h.first(); });
      m("TAILQ_LAST", "", 0, [&] { h.last(); });
      m("TAILQ_NEXT", "", 0, [&] { h.next(&k[1]); });
      m("TAILQ_PREV", "", 0, [&] { h.prev(&k[1]); });
      m("TAILQ_REMOVE", "", 0, [&] { h.remove(&k[2]); });
      m("TAILQ_CONCAT", "head2 empty", 0, [&] { h.concat(h2); });
      h2.insert_tail(&k[4]);
      h2.insert_tail(&k[5]);
      m("TAILQ_CONCAT", "head2 not empty", 0, [&] { h.concat(h2); });
      for (int n : {0, 1, 3}) {
        Tq e;
        Kn extra[3] = {Kn(10), Kn(11), Kn(12)};
        for (int i = 0; i < n; ++i) e.insert_tail(&extra[i]);
        m("TAILQ_FOREACH_SAFE", "n elements", n, [&] { e.foreach([](Kn*) {}); });
        m("TAILQ_FOREACH_REVERSE_SAFE", "n elements", n, [&] { e.foreach_reverse([](Kn*) {}); });
      }
    }
    {
      Lh h;
      m("LIST_INIT", "", 0, [&] { h.init(); });
      m("LIST_INSERT_HEAD", "", 0, [&] { h.insert_head(&k[1]); });
      m("LIST_INSERT_AFTER", "", 0, [&] { Lh::insert_after(&k[1], &k[2]); });
      m("LIST_INSERT_BEFORE", "", 0, [&] { Lh::insert_before(&k[1], &k[0]); });
      m("LIST_EMPTY", "", 0, [&] { h.empty(); });
      m("LIST_FIRST", "", 0, [&] { h.first(); });
      m("LIST_NEXT", "", 0, [&] { h.next(&k[1]); });
      m("LIST_REMOVE", "", 0, [&] { Lh::remove(&k[1]); });
      for (int n : {0, 1, 3}) {
        Lh e;
        Kn extra[3] = {Kn(10), Kn(11), Kn(12)};
        for (int i = 0; i < n; ++i) e.insert_head(&extra[i]);
        m("LIST_FOREACH_SAFE", "n elements", n, [&] { e.foreach([](Kn*) {}); });
      }
    }
    {
      Sl h;
      m("SLIST_INIT", "", 0, [&] { h.init(); });
      m("SLIST_INSERT_HEAD", "", 0, [&] { h.insert_head(&k[3]); });
      m("SLIST_INSERT_AFTER", "", 0, [&] { Sl::insert_after(&k[3], &k[4]); });
      m("SLIST_EMPTY", "", 0, [&] { h.empty(); });
      m("SLIST_FIRST", "", 0, [&] { h.first(); });
      m("SLIST_NEXT", "", 0, [&] { Sl::next(&k[3]); });
      m("SLIST_REMOVE_AFTER", "", 0, [&] { Sl::remove_after(&k[3]); });
      m("SLIST_REMOVE_HEAD", "", 0, [&] { h.remove_head(); });
      for (int pos : {0, 1, 3}) {
        Sl e;
        Kn extra[4] = {Kn(10), Kn(11), Kn(12), Kn(13)};
        for (int i = 3; i >= 0; --i) e.insert_head(&extra[i]);  // extra[i] at position i
        m("SLIST_REMOVE", "elm at position k", pos, [&] { e.remove(&extra[pos]); });
      }
      for (int n : {0, 1, 3}) {
        Sl e;
        Kn extra[3] = {Kn(10), Kn(11), Kn(12)};
        for (int i = 0; i < n; ++i) e.insert_head(&extra[i]);
        m("SLIST_FOREACH_SAFE", "n elements", n, [&] { e.foreach([](Kn*) {}); });
      }
    }
  };
  RandomStrategy st(1);
  const Execution& e = s.run(st, body);
  EXPECT_TRUE(e.findings.empty()) << first_message(e);
  // Reads and writes from the trace, between each pair of markers. Every
  // access inside an operation must carry the operation's label and the call
  // site in this file (not list.h).
  size_t i = 0;
  bool in = false;
  for (const TraceEvent& ev : e.trace) {
    std::string op = ev.op;
    if (op == "measure") {
      in = true;
    } else if (op == "measured") {
      in = false;
      ++i;
    } else if (in && (op.starts_with("load") || op.starts_with("store"))) {
      Cost& c = out.at(i);
      (op.starts_with("load") ? c.reads : c.writes)++;
      EXPECT_EQ(ev.detail, c.op) << "access during " << c.op << " carries label " << ev.detail;
      EXPECT_NE(std::string(ev.loc.file).find("tests/sim/list_test.cc"), std::string::npos)
          << c.op << ": access attributed to " << ev.loc.str();
    }
  }
  EXPECT_EQ(i, out.size());
  return out;
}

// "5", "n+1", "k+3" -> value for var.
long eval_formula(const std::string& f, int var) {
  std::string t;
  for (char c : f)
    if (c != ' ' && c != '`') t += c;
  long v = 0;
  size_t plus = t.find('+');
  if (plus != std::string::npos) {
    std::string lhs = t.substr(0, plus);
    v += (lhs == "n" || lhs == "k") ? var : std::stol(lhs);
    t = t.substr(plus + 1);
  }
  if (t == "n" || t == "k") return v + var;
  return v + std::stol(t);
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t`");
  size_t e = s.find_last_not_of(" \t`");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The cost table of docs/lists.md: rows "| `OP` | case | points | reads | writes | ... |".
std::map<std::pair<std::string, std::string>, std::vector<std::string>> doc_cost_table(std::string* path_out) {
  std::string path = std::string(KQSIM_SOURCE_DIR) + "/docs/lists.md";
  *path_out = path;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line.substr(1));
    std::string col;
    while (std::getline(ss, col, '|')) cols.push_back(trim(col));
    if (cols.size() < 5 || cols[0].find("_") == std::string::npos) continue;
    if (cols[0].rfind("TAILQ", 0) != 0 && cols[0].rfind("LIST", 0) != 0 && cols[0].rfind("SLIST", 0) != 0) continue;
    rows[{cols[0], cols[1]}] = {cols[2], cols[3], cols[4]};
  }
  return rows;
}

TEST(SimList, OperationCostsAreFixedAndMatchTheDocs) {
  // The documented cost of each operation, also asserted here so that a change
  // to list.h that changes a cost fails even when the doc is not found.
  const std::map<std::pair<std::string, std::string>, std::string> expected_points = {
      {{"TAILQ_INIT", ""}, "2"},         {{"TAILQ_EMPTY", ""}, "1"},
      {{"TAILQ_FIRST", ""}, "1"},        {{"TAILQ_LAST", ""}, "1"},
      {{"TAILQ_NEXT", ""}, "1"},         {{"TAILQ_PREV", ""}, "1"},
      {{"TAILQ_INSERT_HEAD", ""}, "5"},  {{"TAILQ_INSERT_TAIL", ""}, "5"},
      {{"TAILQ_INSERT_AFTER", ""}, "5"}, {{"TAILQ_INSERT_BEFORE", ""}, "5"},
      {{"TAILQ_REMOVE", ""}, "4"},       {{"TAILQ_CONCAT", "head2 empty"}, "1"},
      {{"TAILQ_CONCAT", "head2 not empty"}, "10"},
      {{"TAILQ_FOREACH_SAFE", "n elements"}, "n+1"},
      {{"TAILQ_FOREACH_REVERSE_SAFE", "n elements"}, "n+1"},
      {{"LIST_INIT", ""}, "2"},          {{"LIST_EMPTY", ""}, "1"},
      {{"LIST_FIRST", ""}, "1"},         {{"LIST_NEXT", ""}, "1"},
      {{"LIST_INSERT_HEAD", ""}, "5"},   {{"LIST_INSERT_AFTER", ""}, "5"},
      {{"LIST_INSERT_BEFORE", ""}, "5"}, {{"LIST_REMOVE", ""}, "4"},
      {{"LIST_FOREACH_SAFE", "n elements"}, "n+1"},
      {{"SLIST_INIT", ""}, "1"},         {{"SLIST_EMPTY", ""}, "1"},
      {{"SLIST_FIRST", ""}, "1"},        {{"SLIST_NEXT", ""}, "1"},
      {{"SLIST_INSERT_HEAD", ""}, "3"},  {{"SLIST_INSERT_AFTER", ""}, "3"},
      {{"SLIST_REMOVE_HEAD", ""}, "3"},  {{"SLIST_REMOVE_AFTER", ""}, "3"},
      {{"SLIST_REMOVE", "elm at position k"}, "k+3"},
      {{"SLIST_FOREACH_SAFE", "n elements"}, "n+1"},
  };
  std::vector<Cost> costs = measure_costs();
  std::string path;
  auto doc = doc_cost_table(&path);
  ASSERT_FALSE(doc.empty()) << "no cost table found in " << path;
  std::set<std::pair<std::string, std::string>> measured_rows;
  std::ostringstream table;
  for (const Cost& c : costs) {
    std::pair<std::string, std::string> key{c.op, c.kase};
    measured_rows.insert(key);
    table << c.op << " [" << c.kase << (c.kase.empty() ? "" : ", " + std::to_string(c.var)) << "]: " << c.points
          << " points, " << c.reads << " reads, " << c.writes << " writes\n";
    EXPECT_EQ(c.points, c.reads + c.writes) << c.op << ": a point that is not a link access";
    auto ex = expected_points.find(key);
    ASSERT_NE(ex, expected_points.end()) << c.op << " " << c.kase;
    EXPECT_EQ(static_cast<long>(c.points), eval_formula(ex->second, c.var)) << c.op << " " << c.kase << " " << c.var;
    auto d = doc.find(key);
    if (d == doc.end()) {
      ADD_FAILURE() << "docs/lists.md has no cost row for " << c.op << " | " << c.kase;
      continue;
    }
    EXPECT_EQ(static_cast<long>(c.points), eval_formula(d->second[0], c.var)) << "doc points of " << c.op;
    EXPECT_EQ(static_cast<long>(c.reads), eval_formula(d->second[1], c.var)) << "doc reads of " << c.op;
    EXPECT_EQ(static_cast<long>(c.writes), eval_formula(d->second[2], c.var)) << "doc writes of " << c.op;
  }
  for (const auto& [key, cols] : doc)
    EXPECT_TRUE(measured_rows.count(key)) << "docs/lists.md row " << key.first << " | " << key.second
                                          << " is not measured by this test";
  EXPECT_EQ(measured_rows.size(), expected_points.size());
  std::cout << table.str();
}

TEST(SimListSmoke, OperationRestoresTheThreadLabel) {
  Scheduler s;
  const char* after = nullptr;
  auto body = [&after] {
    Scheduler& sc = *Scheduler::current();
    Tq h;
    Kn a(1);
    const char* old = sc.set_label("outer");
    h.insert_tail(&a);
    h.remove(&a);
    after = sc.set_label(old);
  };
  const Execution& e = run_single(s, body);
  ASSERT_TRUE(e.findings.empty()) << first_message(e);
  EXPECT_STREQ(after, "outer");
}

// ---------------------------------------------------------------- corruption met by an operation

TEST(SimListSmoke, RemovingAnElementThatIsOnNoListIsListCorruption) {
  Scheduler s;
  auto body = [] {
    Tq h;
    Kn a(1), never(2);
    h.insert_tail(&a);
    h.remove(&never);  // never inserted: its links are NULL
  };
  const Execution& e = run_single(s, body);
  ASSERT_TRUE(has_kind(e, FindingKind::kListCorruption)) << first_message(e);
  const Finding& f = e.findings[0];
  EXPECT_NE(f.message.find("NULL link followed"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("during TAILQ_REMOVE"), std::string::npos) << f.message;
  ASSERT_EQ(f.sites.size(), 1u);
  EXPECT_NE(f.sites[0].file.find("tests/sim/list_test.cc"), std::string::npos) << f.sites[0].str();
  EXPECT_TRUE(e.aborted);
}

TEST(SimListSmoke, SlistRemoveOfAMissingElementIsListCorruption) {
  Scheduler s;
  auto body = [] {
    Sl h;
    Kn a(1), b(2), missing(3);
    h.insert_head(&a);
    h.insert_head(&b);
    h.remove(&missing);
  };
  const Execution& e = run_single(s, body);
  ASSERT_TRUE(has_kind(e, FindingKind::kListCorruption)) << first_message(e);
  EXPECT_NE(e.findings[0].message.find("SLIST_REMOVE: element not on the list during SLIST_REMOVE"),
            std::string::npos)
      << e.findings[0].message;

  auto empty_body = [] {
    Sl h;
    h.remove_head();
  };
  const Execution& e2 = run_single(s, empty_body);
  ASSERT_TRUE(has_kind(e2, FindingKind::kListCorruption)) << first_message(e2);
  EXPECT_NE(e2.findings[0].message.find("SLIST_REMOVE_HEAD on an empty list"), std::string::npos);
}

TEST(SimListDeathTest, CorruptionOutsideASchedulerPanics) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Sl h;
        h.remove_head();
      },
      "panic: list corrupted: SLIST_REMOVE_HEAD on an empty list");
}

// ---------------------------------------------------------------- checkers

// H <-> X(0) <-> Y(1) <-> Z(2), built without a scheduler.
struct Three {
  Tq h;
  Kn x{0}, y{1}, z{2};
  Three() {
    h.insert_tail(&x);
    h.insert_tail(&y);
    h.insert_tail(&z);
  }
};

using Problems = std::vector<std::string>;

TEST(SimListSmoke, CheckerPassesAGoodList) {
  Three t;
  ListReport r = check_tailq(t.h, 3, kLabel);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.forward, 3u);
  EXPECT_EQ(r.backward, 3u);
  EXPECT_EQ(r.text("kq_head"), "TAILQ kq_head: ok, 3 elements");
  Tq empty;
  EXPECT_TRUE(check_tailq(empty, 0).ok);
  EXPECT_TRUE(check_tailq(empty).ok);
}

TEST(SimListSmoke, CheckerPinpointsABadBackPointer) {
  Three t;
  t.y.tqe.prev.raw_set(&t.z.tqe);  // Y's prev should be X
  ListReport r = check_tailq(t.h, 3, kLabel);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problems,
            (Problems{
                "bad back-pointer: elm#0 (kn 0): next is elm#1 (kn 1) but elm#1 (kn 1)'s prev is elm#2 (kn 2)",
                "cycle: backward walk: elm#1 (kn 1): prev is elm#2 (kn 2), which the walk already visited",
                "lost element: elm#0 (kn 0) is reachable forwards but not backwards",
                "count mismatch: forward 3, backward 2 (incomplete), expected 3",
            }));
  EXPECT_EQ(r.text("kq_head"),
            "list corrupted: TAILQ kq_head: bad back-pointer: elm#0 (kn 0): next is elm#1 (kn 1) but elm#1 (kn 1)'s "
            "prev is elm#2 (kn 2)\n cycle: backward walk: elm#1 (kn 1): prev is elm#2 (kn 2), which the walk already "
            "visited\n lost element: elm#0 (kn 0) is reachable forwards but not backwards\n count mismatch: forward "
            "3, backward 2 (incomplete), expected 3");
}

TEST(SimListSmoke, CheckerFindsAnElementLostFromTheForwardChain) {
  Three t;
  t.x.tqe.next.raw_set(&t.z.tqe);  // X skips Y; Y still points both ways
  ListReport r = check_tailq(t.h, std::nullopt, kLabel);
  EXPECT_EQ(r.problems,
            (Problems{
                "bad back-pointer: elm#0 (kn 0): next is elm#1 (kn 2) but elm#1 (kn 2)'s prev is bwd#1 (kn 1)",
                "bad forward pointer: bwd#1 (kn 1): prev is elm#0 (kn 0) but elm#0 (kn 0)'s next is elm#1 (kn 2)",
                "lost element: bwd#1 (kn 1) is reachable backwards but not forwards",
                "count mismatch: forward 2, backward 3",
            }));
}

TEST(SimListSmoke, CheckerFindsAMissingExpectedElement) {
  Three t;
  Kn w(9);
  t.h.remove(&t.y);  // properly removed: the list is consistent, but Y was expected
  ListReport r = check_tailq(t.h, ListExpect<Kn>{3, {&t.x, &t.y, &t.z, &w}, {}}, kLabel);
  EXPECT_EQ(r.problems, (Problems{
                            "missing element: expected#1 (kn 1) is not on the list",
                            "missing element: expected#3 (kn 9) is not on the list",
                            "count mismatch: forward 2, backward 2, expected 3",
                        }));
}

TEST(SimListSmoke, CheckerFindsACycle) {
  Three t;
  t.z.tqe.next.raw_set(&t.x.tqe);  // Z -> X instead of Z -> head
  ListReport r = check_tailq(t.h, std::nullopt, kLabel);
  EXPECT_EQ(r.problems,
            (Problems{
                "cycle: forward walk: elm#2 (kn 2): next is elm#0 (kn 0), which the walk already visited",
                "bad forward pointer: head: prev is elm#2 (kn 2) but elm#2 (kn 2)'s next is elm#0 (kn 0)",
            }));
  EXPECT_FALSE(r.forward_complete);
  EXPECT_TRUE(r.backward_complete);
}

TEST(SimListSmoke, CheckerFindsANullLinkInTheMiddle) {
  Three t;
  t.y.tqe.next.raw_set(nullptr);
  ListReport r = check_tailq(t.h, 3, kLabel);
  EXPECT_EQ(r.problems,
            (Problems{
                "null link: elm#1 (kn 1): next is NULL (forward walk stopped after 2 elements)",
                "bad forward pointer: bwd#0 (kn 2): prev is elm#1 (kn 1) but elm#1 (kn 1)'s next is NULL",
                "lost element: bwd#0 (kn 2) is reachable backwards but not forwards",
                "count mismatch: forward 2 (incomplete), backward 3, expected 3",
            }));
}

TEST(SimListSmoke, CheckerFindsACountMismatchAndUsesPositionsWithoutLabeler) {
  Three t;
  ListReport r = check_tailq(t.h, 4);
  EXPECT_EQ(r.problems, (Problems{"count mismatch: forward 3, backward 3, expected 4"}));
  // A stale link to an element on neither walk is named without calling the labeler.
  Kn w(9);
  t.x.tqe.prev.raw_set(&w.tqe);
  t.z.tqe.prev.raw_set(nullptr);  // the backward walk stops before reaching x (and w)
  int calls = 0;
  r = check_tailq(t.h, std::nullopt, [&calls](const Kn& k) {
    ++calls;
    EXPECT_NE(k.id, 9) << "labeler called on an unlisted element";
    return std::to_string(k.id);
  });
  EXPECT_EQ(r.problems, (Problems{
                            "bad back-pointer: head: next is elm#0 (0) but elm#0 (0)'s prev is an unlisted element",
                            "bad back-pointer: elm#1 (1): next is elm#2 (2) but elm#2 (2)'s prev is NULL",
                            "null link: elm#2 (2): prev is NULL (backward walk stopped after 1 element)",
                            "lost element: elm#0 (0) is reachable forwards but not backwards",
                            "lost element: elm#1 (1) is reachable forwards but not backwards",
                        }));
  EXPECT_GT(calls, 0);
  // Default labels: positions only.
  t.z.tqe.prev.raw_set(&t.y.tqe);
  r = check_tailq(t.h);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0], "bad back-pointer: head: next is elm#0 but elm#0's prev is bwd#3");
}

TEST(SimListSmoke, CheckerIsBounded) {
  std::deque<Kn> many(20);
  Tq h;
  for (Kn& k : many) h.insert_tail(&k);
  ListReport r = check_tailq(h, ListExpect<Kn>{std::nullopt, {}, 5});
  EXPECT_EQ(r.problems, (Problems{
                            "forward walk did not reach the end within 5 elements",
                            "backward walk did not reach the end within 5 elements",
                        }));
  // A cycle that never returns to the head ends the walk at the revisit, not the bound.
  many[19].tqe.next.raw_set(&many[10].tqe);
  many[0].tqe.prev.raw_set(&many[5].tqe);
  r = check_tailq(h);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.forward, 20u);
  EXPECT_LE(r.backward, 20u);
}

TEST(SimListSmoke, ListCheckerPinpointsCorruption) {
  Lh h;
  Kn a(1), b(2), c(3);
  h.insert_head(&c);
  h.insert_head(&b);
  h.insert_head(&a);
  EXPECT_TRUE(check_list(h, 3, kLabel).ok);
  c.le.prev.raw_set(&a.le);
  ListReport r = check_list(h, 3, kLabel);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0], "bad back-pointer: elm#1 (kn 2): next is elm#2 (kn 3) but elm#2 (kn 3)'s prev is elm#0 (kn 1)");
  EXPECT_EQ(r.text("kl_list").rfind("list corrupted: LIST kl_list: bad back-pointer", 0), 0u);
}

TEST(SimListSmoke, SlistCheckerPinpointsCorruption) {
  Sl h;
  Kn a(1), b(2), c(3);
  h.insert_head(&c);
  h.insert_head(&b);
  h.insert_head(&a);
  ListReport r = check_slist(h, 3, kLabel);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.text("kl_list"), "SLIST kl_list: ok, 3 elements");
  c.link.next.raw_set(&b.link);
  r = check_slist(h, 3, kLabel);
  EXPECT_EQ(r.problems, (Problems{
                            "cycle: forward walk: elm#2 (kn 3): next is elm#1 (kn 2), which the walk already visited",
                        }));
  r = check_slist(h, 4, kLabel);
  EXPECT_EQ(r.problems.back(), "count mismatch: forward 3 (incomplete), expected 4");
  c.link.next.raw_set(nullptr);
  b.link.next.raw_set(nullptr);  // c lost
  r = check_slist(h, ListExpect<Kn>{3, {&a, &b, &c}, {}}, kLabel);
  EXPECT_EQ(r.problems, (Problems{
                            "missing element: expected#2 (kn 3) is not on the list",
                            "count mismatch: forward 2, expected 3",
                        }));
}

TEST(SimListSmoke, CheckersTakeNoSchedulingPointsAndFileFindings) {
  Scheduler s;
  uint64_t points = ~uint64_t{0};
  auto body = [&points] {
    Scheduler& sc = *Scheduler::current();
    Three t;
    t.y.tqe.prev.raw_set(&t.z.tqe);
    uint64_t s0 = sc.steps();
    ListReport r = check_tailq(t.h, 3, kLabel);
    points = sc.steps() - s0;
    report_list_corruption(r, "kq_head");  // ends the execution (stop_on_finding)
  };
  const Execution& e = run_single(s, body);
  EXPECT_EQ(points, 0u);
  ASSERT_TRUE(has_kind(e, FindingKind::kListCorruption)) << first_message(e);
  EXPECT_EQ(e.findings[0].message.rfind("list corrupted: TAILQ kq_head: bad back-pointer: elm#0 (kn 0)", 0), 0u)
      << e.findings[0].message;
  ASSERT_EQ(e.findings[0].sites.size(), 1u);
  EXPECT_NE(e.findings[0].sites[0].file.find("tests/sim/list_test.cc"), std::string::npos);
  // Outside a scheduler, and for a good list, nothing is filed.
  Three good;
  EXPECT_FALSE(report_list_corruption(check_tailq(good.h, 3), "kq_head"));
  good.y.tqe.prev.raw_set(&good.z.tqe);
  EXPECT_FALSE(report_list_corruption(check_tailq(good.h, 3), "kq_head"));
}

// ---------------------------------------------------------------- concurrency (kern/57945)

// kq_head with one knote already queued; two CPUs knote_enqueue() one more
// knote each with TAILQ_INSERT_TAIL, locked or not.
struct ConcurrentEnqueue {
  Tq kq_head;
  Kn queued{0}, kn1{1}, kn2{2};
  BasicMutex kq_lock{"kqueue"};
  bool locked = false;
  ListReport report;

  void run() {
    Scheduler& s = *Scheduler::current();
    kq_head.insert_tail(&queued);
    Tid a = s.spawn([this] { enqueue(&kn1); }, "cpu0");
    Tid b = s.spawn([this] { enqueue(&kn2); }, "cpu1");
    s.join(a);
    s.join(b);
    report = check_tailq(kq_head, ListExpect<Kn>{3, {&queued, &kn1, &kn2}, {}}, kLabel);
  }
  void enqueue(Kn* kn) {
    if (locked) kq_lock.lock();
    kq_head.insert_tail(kn);
    if (locked) kq_lock.unlock();
  }
};

TEST(SimList, UnlockedConcurrentInsertTailCorruptsTheList) {
  SchedulerOptions o;
  o.race_detection = false;  // let the execution run on past the race
  Scheduler s(o);
  int corrupted = 0;
  std::string first_report;
  uint64_t first_index = 0;
  std::map<std::string, int> outcomes;
  for (uint64_t i = 0; i < 1000; ++i) {
    RandomStrategy st(execution_seed(57945, i));
    ConcurrentEnqueue prog;
    const Execution& e = s.run(st, [&prog] { prog.run(); });
    ASSERT_TRUE(e.findings.empty()) << first_message(e);
    if (prog.report.ok) continue;
    ++corrupted;
    std::string text = prog.report.text("kq_head");
    ++outcomes[text];
    if (corrupted == 1) {
      first_report = text;
      first_index = i;
      // Every corrupting interleaving loses an insert: at most two of the
      // three knotes on each chain.
      EXPECT_NE(text.find("count mismatch"), std::string::npos) << text;
      EXPECT_TRUE(text.find("lost element") != std::string::npos ||
                  text.find("missing element") != std::string::npos)
          << text;
    }
  }
  ASSERT_GT(corrupted, 0) << "no interleaving of two unlocked TAILQ_INSERT_TAILs corrupted kq_head";
  // The same seed gives the same corruption and the same report, word for word.
  {
    RandomStrategy st(execution_seed(57945, first_index));
    ConcurrentEnqueue prog;
    s.run(st, [&prog] { prog.run(); });
    EXPECT_EQ(prog.report.text("kq_head"), first_report);
  }
  std::cout << "first corrupting execution: " << first_index << " (seed execution_seed(57945, " << first_index
            << "))\n"
            << first_report << "\n"
            << corrupted << " of 1000 executions corrupted kq_head; distinct reports: " << outcomes.size() << "\n";
  for (const auto& [text, n] : outcomes) std::cout << "--- " << n << "x\n" << text << "\n";
}

TEST(SimList, UnlockedConcurrentInsertTailIsADataRaceOnTheFirstExecution) {
  Scheduler s;
  RandomStrategy st(execution_seed(57945, 0));
  ConcurrentEnqueue prog;
  const Execution& e = s.run(st, [&prog] { prog.run(); });
  ASSERT_TRUE(has_kind(e, FindingKind::kDataRace)) << first_message(e);
  const Finding& f = e.findings[0];
  EXPECT_NE(f.message.find("during TAILQ_INSERT_TAIL"), std::string::npos) << f.message;
  ASSERT_EQ(f.sites.size(), 2u);
  for (const Site& site : f.sites)
    EXPECT_NE(site.file.find("tests/sim/list_test.cc"), std::string::npos) << site.str() << "\n" << f.message;
  EXPECT_EQ(f.threads.size(), 2u);
  std::cout << f.message << "\n";
}

TEST(SimList, LockedConcurrentInsertTailNeverCorruptsOrRaces) {
  Scheduler s;
  for (uint64_t i = 0; i < 2000; ++i) {
    RandomStrategy st(execution_seed(57945, i));
    ConcurrentEnqueue prog;
    prog.locked = true;
    const Execution& e = s.run(st, [&prog] { prog.run(); });
    ASSERT_TRUE(e.findings.empty()) << "execution " << i << ": " << first_message(e);
    ASSERT_TRUE(prog.report.ok) << "execution " << i << ": " << prog.report.text("kq_head");
    std::vector<int> order = forward_ids(prog.kq_head);
    ASSERT_TRUE(order == (std::vector<int>{0, 1, 2}) || order == (std::vector<int>{0, 2, 1}));
  }
}

// knote_enqueue() (TAILQ_INSERT_TAIL) on one CPU against kqueue_scan()
// taking the first knote off (TAILQ_FIRST + TAILQ_REMOVE) on another.
struct EnqueueVsScan {
  Tq kq_head;
  Kn queued{0}, kn{1};
  ListReport report;
  void run() {
    Scheduler& s = *Scheduler::current();
    kq_head.insert_tail(&queued);
    Tid a = s.spawn([this] { kq_head.insert_tail(&kn); }, "knote_enqueue");
    Tid b = s.spawn(
        [this] {
          if (Kn* first = kq_head.first()) kq_head.remove(first);
        },
        "kqueue_scan");
    s.join(a);
    s.join(b);
    report = check_tailq(kq_head, ListExpect<Kn>{1, {&kn}, {}}, kLabel);
  }
};

TEST(SimList, InsertConcurrentWithRemoveCorruptsTheList) {
  SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  int corrupted = 0;
  std::string first;
  for (uint64_t i = 0; i < 1000; ++i) {
    RandomStrategy st(execution_seed(1, i));
    EnqueueVsScan prog;
    const Execution& e = s.run(st, [&prog] { prog.run(); });
    ASSERT_TRUE(e.findings.empty()) << first_message(e);
    if (!prog.report.ok && corrupted++ == 0) first = prog.report.text("kq_head");
  }
  ASSERT_GT(corrupted, 0);
  std::cout << corrupted << " of 1000 executions corrupted kq_head; the first:\n" << first << "\n";
  EXPECT_NE(first.find("list corrupted: TAILQ kq_head"), std::string::npos);

  // With the race detector on, the same program is a data race between the two list operations.
  Scheduler r;
  RandomStrategy st(execution_seed(1, 0));
  EnqueueVsScan prog;
  const Execution& e = r.run(st, [&prog] { prog.run(); });
  ASSERT_TRUE(has_kind(e, FindingKind::kDataRace)) << first_message(e);
  EXPECT_TRUE(e.findings[0].message.find("during TAILQ_") != std::string::npos) << e.findings[0].message;
}

TEST(SimList, UnlockedConcurrentSlistInsertHeadLosesAnElement) {
  // knlist_add() on two CPUs without the knlist lock: SLIST_INSERT_HEAD.
  SchedulerOptions o;
  o.race_detection = false;
  Scheduler s(o);
  bool lost = false;
  for (uint64_t i = 0; i < 1000 && !lost; ++i) {
    RandomStrategy st(execution_seed(2, i));
    struct Prog {
      Sl kl_list;
      Kn a{1}, b{2};
      ListReport report;
    } prog;
    s.run(st, [&prog] {
      Scheduler& sc = *Scheduler::current();
      Tid t1 = sc.spawn([&prog] { prog.kl_list.insert_head(&prog.a); });
      Tid t2 = sc.spawn([&prog] { prog.kl_list.insert_head(&prog.b); });
      sc.join(t1);
      sc.join(t2);
      prog.report = check_slist(prog.kl_list, ListExpect<Kn>{2, {&prog.a, &prog.b}, {}}, kLabel);
    });
    if (!prog.report.ok) {
      lost = true;
      EXPECT_NE(prog.report.text("kl_list").find("missing element"), std::string::npos)
          << prog.report.text("kl_list");
      std::cout << prog.report.text("kl_list") << "\n";
    }
  }
  EXPECT_TRUE(lost);
}

}  // namespace
}  // namespace kqsim::sim
