// The poll-style measurement design and the delivery-cost scenario family
// (knote/kqueue_scan_poll.h, scenarios/delivery_curve.h, docs/delivery.md).
// That "poll" delivers the same events as FreeBSD's scan is checked by the
// semantic suites, which run under every design in kAllDesigns ("poll"
// included); here: its cost curve, and the same events under concurrency.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/run.h"
#include "knote/design.h"
#include "model/kern/bsd_errno.h"
#include "scenarios/delivery_curve.h"
#include "scenarios/scenario.h"
#include "tests/kern/kern_test_util.h"
#include "tools/kqsim/svg_plot.h"

namespace kqsim::kern {
namespace {

using scenarios::DeliveryOptions;
using scenarios::DeliveryResult;
using scenarios::measure_delivery;
using testing::explore_in_world;
using testing::make_kev;
using testing::run_semantics;

DeliveryResult measure(const char* design, int pipes, int calls = 8) {
  const kq_design* d = find_design(design);
  EXPECT_NE(d, nullptr) << design;
  DeliveryOptions o;
  o.pipes = pipes;
  o.calls = calls;
  o.batches = 1;
  return measure_delivery(*d, o);
}

TEST(DeliveryDesign, PollIsARegisteredMeasurementDesign) {
  const kq_design* d = find_design("poll");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->poll_scan);
  EXPECT_TRUE(d->measurement_only);
  const kq_design* fine = find_design("fine");
  ASSERT_NE(fine, nullptr);
  EXPECT_FALSE(fine->poll_scan);
  EXPECT_FALSE(fine->measurement_only);
}

TEST(DeliveryCurve, EveryCallReturnsExactlyTheActivePipesUnderBothDesigns) {
  for (const char* design : {"fine", "poll"}) {
    DeliveryResult r = measure(design, 300);
    EXPECT_EQ(r.error, "") << design;
    EXPECT_GT(r.steps_per_call, 0) << design;
    EXPECT_GT(r.setup_steps, 0u) << design;
  }
}

// Deterministic: scheduling points, not time.
TEST(DeliveryCurve, PollStepsGrowWithPipesAndFineStepsStayFlat) {
  DeliveryResult f100 = measure("fine", 100), f1000 = measure("fine", 1000);
  DeliveryResult p100 = measure("poll", 100), p1000 = measure("poll", 1000);
  for (const DeliveryResult* r : {&f100, &f1000, &p100, &p1000}) ASSERT_EQ(r->error, "");
  // fine: the same work whatever N is (a few points of slack for which pipes
  // were chosen).
  EXPECT_LE(f1000.steps_max, f100.steps_max + 8);
  EXPECT_GE(f1000.steps_min + 8, f100.steps_min);
  // poll: at least a few points per registered knote, so ten times the pipes
  // is (nearly) ten times the cost.
  EXPECT_GE(p100.steps_per_call, 100 * 4);
  EXPECT_GE(p1000.steps_per_call, 8 * p100.steps_per_call);
  // And at N = 1000 poll costs far more than fine.
  EXPECT_GE(p1000.steps_per_call, 50 * f1000.steps_per_call);
}

TEST(DeliveryCurve, SameFiguresTwice) {
  DeliveryResult a = measure("poll", 200), b = measure("poll", 200);
  EXPECT_EQ(a.steps_per_call, b.steps_per_call);
  EXPECT_EQ(a.setup_steps, b.setup_steps);
}

TEST(DeliveryCurve, BadOptionsAreRefused) {
  const kq_design* d = find_design("fine");
  ASSERT_NE(d, nullptr);
  DeliveryOptions o;
  o.pipes = 1;
  o.active = 2;
  EXPECT_THROW(measure_delivery(*d, o), std::invalid_argument);
  o.pipes = 10;
  o.active = 0;
  EXPECT_THROW(measure_delivery(*d, o), std::invalid_argument);
}

// More descriptors than the table starts with (kNoFile): it grows.
TEST(DeliveryDesign, DescriptorTableGrowsPastItsInitialSize) {
  std::string f = run_semantics("poll", [](World&) {
    int kq = sys_kqueue();
    ASSERT_GE(kq, 0);
    int p[2] = {-1, -1};
    for (int i = 0; i < kNoFile; ++i) ASSERT_EQ(sys_pipe(p), 0) << i;
    ASSERT_GE(p[1], kNoFile);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    ASSERT_EQ(sys_write(p[1], "ab", 2), 2);
    struct kevent ev[4];
    ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 4, &testing::kZeroTs), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(p[0]));
    EXPECT_EQ(ev[0].data, 2);
    EXPECT_EQ(sys_close(p[0]), 0);
    EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 4, &testing::kZeroTs), 0);
  });
  EXPECT_EQ(f, "");
}

// Level-triggered events come back in descriptor order under poll, and a
// level event not consumed comes back on the next call (it stays queued).
TEST(DeliveryDesign, PollReturnsLevelEventsAgainUntilConsumed) {
  std::string f = run_semantics("poll", [](World&) {
    int kq = sys_kqueue();
    int a[2], b[2];
    ASSERT_EQ(sys_pipe(a), 0);
    ASSERT_EQ(sys_pipe(b), 0);
    struct kevent ch[2] = {make_kev(a[0], EVFILT_READ, EV_ADD), make_kev(b[0], EVFILT_READ, EV_ADD | EV_CLEAR)};
    ASSERT_EQ(sys_kevent(kq, ch, 2, nullptr, 0, nullptr), 0);
    ASSERT_EQ(sys_write(b[1], "x", 1), 1);
    ASSERT_EQ(sys_write(a[1], "y", 1), 1);
    struct kevent ev[4];
    ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 4, &testing::kZeroTs), 2);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(a[0]));
    EXPECT_EQ(ev[1].ident, static_cast<uintptr_t>(b[0]));
    // a is level-triggered and unread: again; b is EV_CLEAR: not again.
    ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 4, &testing::kZeroTs), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(a[0]));
    char buf[4];
    ASSERT_EQ(sys_read(a[0], buf, sizeof buf), 1);
    EXPECT_EQ(sys_kevent(kq, nullptr, 0, ev, 4, &testing::kZeroTs), 0);
  });
  EXPECT_EQ(f, "");
}

// A full buffer does not starve the knotes after it: with three pipes that
// stay readable and room for two events, the second call returns the third
// pipe (FreeBSD requeues delivered level knotes at the tail of kq_head; poll
// starts its next walk after where it stopped).
TEST(DeliveryDesign, AFullBufferDoesNotStarveLaterKnotesUnderAnyDesign) {
  for (const char* design : testing::kAllDesigns) {
    std::string f = run_semantics(design, [](World&) {
      int kq = sys_kqueue();
      int p[3][2];
      for (auto& pp : p) {
        ASSERT_EQ(sys_pipe(pp), 0);
        struct kevent ch = make_kev(pp[0], EVFILT_READ, EV_ADD);
        ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
        ASSERT_EQ(sys_write(pp[1], "x", 1), 1);
      }
      struct kevent ev[2];
      ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 2, &testing::kZeroTs), 2);
      bool third = false;
      for (const auto& e : ev) third |= e.ident == static_cast<uintptr_t>(p[2][0]);
      if (!third) {
        ASSERT_EQ(sys_kevent(kq, nullptr, 0, ev, 2, &testing::kZeroTs), 2);
        for (const auto& e : ev) third |= e.ident == static_cast<uintptr_t>(p[2][0]);
      }
      EXPECT_TRUE(third);
    });
    EXPECT_EQ(f, "") << design;
  }
}

// The poll scan under concurrency: a writer and a watcher, random schedules;
// the watcher must see every write and the checkers nothing.
TEST(DeliveryDesign, PollWriterAndWatcherAreCleanUnderRandomSchedules) {
  std::string f = explore_in_world("poll", 300, [](World&) {
    int kq = sys_kqueue();
    int p[2];
    ASSERT_EQ(sys_pipe(p), 0);
    struct kevent ch = make_kev(p[0], EVFILT_READ, EV_ADD | EV_CLEAR);
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    sim::Scheduler& s = *sim::Scheduler::current();
    sim::Tid w = s.spawn([&] {
      for (int i = 0; i < 3; ++i) sys_write(p[1], "x", 1);
      sys_close(p[1]);
    });
    int64_t seen = 0;
    bool eof = false;
    while (!eof) {
      struct kevent ev;
      int n = sys_kevent(kq, nullptr, 0, &ev, 1, nullptr);
      ASSERT_EQ(n, 1);
      char buf[8];
      long got = sys_read(p[0], buf, sizeof buf);
      ASSERT_GE(got, 0);
      seen += got;
      eof = (ev.flags & EV_EOF) != 0 && got == 0;
      if ((ev.flags & EV_EOF) != 0 && got > 0) {
        // EOF with data still buffered; the next read drains it or sees 0.
        long more;
        while ((more = sys_read(p[0], buf, sizeof buf)) > 0) seen += more;
        eof = true;
      }
    }
    s.join(w);
    EXPECT_EQ(seen, 3);
  });
  EXPECT_EQ(f, "");
}


// Every scenario that FreeBSD's design passes, poll passes too: the scenarios'
// oracles check for lost, duplicated and stale events under random schedules.
TEST(DeliveryDesign, EveryScenarioCleanUnderFineIsCleanUnderPoll) {
  const kq_design* poll = find_design("poll");
  ASSERT_NE(poll, nullptr);
  int ran = 0;
  for (const scenarios::Scenario* sc : scenarios::all_scenarios()) {
    const scenarios::DesignExpectation* e = sc->expectation_for("fine");
    if (e == nullptr || !e->expected.is_clean()) continue;
    fuzz::RunOptions o;
    o.executions = 300;
    fuzz::RunResult r = fuzz::run_scenario(*sc, *poll, o);
    EXPECT_TRUE(r.findings.empty()) << fuzz::findings_text({sc->name(), "poll", o}, r);
    ++ran;
  }
  EXPECT_GE(ran, 3);
}

// ---- the SVG writer ----

// Checks that `doc` is XML-ish: every element closed in order. Returns "" or
// the first problem.
std::string balanced(const std::string& doc) {
  std::vector<std::string> open;
  for (size_t i = doc.find('<'); i != std::string::npos; i = doc.find('<', i + 1)) {
    const size_t end = doc.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = doc.substr(i + 1, end - i - 1);
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "unexpected </" + name + ">";
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

TEST(SvgPlot, BalancedWithOnePolylinePerSeriesAndEscapedText) {
  using cli::SvgPanel;
  using cli::SvgSeries;
  SvgPanel a{"steps <per> call", "N", "points", true, true,
             {SvgSeries{"fine & co", {{100, 160}, {1000, 170}, {10000, 168}}, "#1f77b4", false},
              SvgSeries{"poll", {{100, 3000}, {1000, 30000}, {10000, 300000}}, "#d62728", true}}};
  SvgPanel b{"linear", "N", "ns", false, false,
             {SvgSeries{"one", {{0, 1}, {5, 7}}, "#000000", false}, SvgSeries{"two", {{1, 2}, {2, 3}}, "#00ff00", false},
              SvgSeries{"three", {{1, 9}}, "#0000ff", false}}};
  const std::string svg = cli::svg_plot("title", {a, b});
  EXPECT_EQ(balanced(svg), "");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 5u);
  EXPECT_EQ(count(svg, "<circle"), 3u + 3u + 2u + 2u + 1u);
  EXPECT_NE(svg.find("fine &amp; co"), std::string::npos);
  EXPECT_NE(svg.find("steps &lt;per&gt; call"), std::string::npos);
  EXPECT_EQ(svg.find("fine & co"), std::string::npos);
  // Every polyline has its points inside the document's width and height.
  std::regex pts("points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), pts); it != std::sregex_iterator(); ++it) {
    std::string p = (*it)[1];
    for (char& c : p)
      if (c == ',') c = ' ';
    std::istringstream in(p);
    double x, y;
    while (in >> x >> y) {
      EXPECT_GE(x, 0);
      EXPECT_LE(x, 1040);
      EXPECT_GE(y, 0);
      EXPECT_LE(y, 440);
    }
  }
  EXPECT_EQ(svg, cli::svg_plot("title", {a, b}));  // deterministic
}

TEST(SvgPlot, NonPositiveValuesOnALogAxisAreGapsNotCrashes) {
  cli::SvgPanel p{"t", "x", "y", true, true,
                  {cli::SvgSeries{"missing", {{100, -1}, {0, 5}}, "#000000", false},
                   cli::SvgSeries{"half", {{100, 10}, {1000, 0}}, "#ff0000", false}}};
  const std::string svg = cli::svg_plot("t", {p});
  EXPECT_EQ(balanced(svg), "");
  EXPECT_EQ(count(svg, "<polyline"), 1u);  // "missing" has no plottable point
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_EQ(balanced(cli::svg_plot("empty", {})), "");
}

}  // namespace
}  // namespace kqsim::kern
