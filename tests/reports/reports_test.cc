// Tests of the report formats (fuzz/trace_model.h, trace_export.h, lor_svg.h,
// html_report.h, reports.h): Chrome trace-event JSON, DOT, the HTML page, and
// the HTML page in a real browser (headless Chromium; skipped when absent).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fuzz/html_report.h"
#include "fuzz/lor_svg.h"
#include "fuzz/atomic_file.h"
#include "fuzz/reports.h"
#include "fuzz/trace_export.h"
#include "fuzz/trace_model.h"
#include "tests/reports/reports_test.h"

namespace kqsim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::traced_finding;

// kern-57945 under none, without the race detector: the unlocked
// TAILQ_INSERT_TAIL/TAILQ_REMOVE pair corrupts kq_head.
const fuzz::ReplayRun& corruption_run() {
  static const std::optional<fuzz::ReplayRun> run =
      traced_finding("kern-57945", "none", sim::FindingKind::kListCorruption, false, 2000);
  return *run;
}

const fuzz::ReplayRun& lor_run() {
  static const std::optional<fuzz::ReplayRun> run =
      traced_finding("feldman-lor", "global", sim::FindingKind::kLockOrderReversal, true, 200);
  return *run;
}

std::string slurp(const std::string& path) {
  std::ifstream is(path);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

// Checks B/E pairs of one Chrome trace: per track, every E closes the most
// recent open B of the same name, timestamps never go back, nothing stays open.
void expect_balanced(const nlohmann::json& events) {
  std::map<int, std::vector<std::string>> open;
  std::map<int, double> last_ts;
  for (const auto& e : events) {
    const std::string ph = e.at("ph");
    if (ph == "M") continue;
    const int tid = e.at("tid");
    const double ts = e.at("ts");
    EXPECT_GE(ts, last_ts[tid]) << e.dump();
    last_ts[tid] = ts;
    if (ph == "B") {
      open[tid].push_back(e.at("name"));
    } else if (ph == "E") {
      ASSERT_FALSE(open[tid].empty()) << "E without B: " << e.dump();
      EXPECT_EQ(open[tid].back(), e.at("name").get<std::string>()) << "E closes another span: " << e.dump();
      open[tid].pop_back();
    }
  }
  for (const auto& [tid, st] : open) EXPECT_TRUE(st.empty()) << "track " << tid << " leaves " << st.size() << " open";
}

TEST(Reports, FindsTheExecutionsTheyReport) {
  ASSERT_NO_FATAL_FAILURE(corruption_run());
  ASSERT_TRUE(corruption_run().scenario != nullptr) << "no replayable list corruption in kern-57945/none";
  ASSERT_TRUE(lor_run().scenario != nullptr) << "no replayable reversal in feldman-lor/global";
}

TEST(Reports, ChromeTraceHasOneTrackPerThreadBalancedSpansAndTheFinding) {
  const fuzz::ReplayRun& run = corruption_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const fuzz::TraceModel m = fuzz::analyse_trace(run);
  const std::string text = fuzz::chrome_trace_json(m, "kqsim replay x").dump(1);
  const nlohmann::json doc = nlohmann::json::parse(text);  // throws if not JSON
  ASSERT_TRUE(doc.contains("traceEvents"));
  const auto& events = doc["traceEvents"];
  std::map<int, std::string> tracks;
  for (const auto& e : events)
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"]] = e["args"]["name"];
  std::set<std::string> names;
  for (const auto& [tid, name] : tracks) names.insert(name);
  EXPECT_EQ(tracks.size(), names.size()) << "one track per thread";
  for (const std::string& t : run.result.thread_names) EXPECT_TRUE(names.contains(t)) << t;
  expect_balanced(events);
  size_t lock_spans = 0, finding = 0, list_stores = 0;
  for (const auto& e : events) {
    if (e["ph"] == "B" && e["cat"] == "lock") ++lock_spans;
    if (e["ph"] == "i" && e["s"] == "g" && e["cat"] == "finding") {
      ++finding;
      EXPECT_EQ(e["name"], "FINDING list-corruption");
      EXPECT_THAT(e["args"]["message"].get<std::string>(), HasSubstr("list corrupted: TAILQ kq_head"));
    }
    if (e["ph"] == "i" && e["cat"] == "list" && e["name"].get<std::string>().starts_with("store tq")) ++list_stores;
  }
  EXPECT_GT(lock_spans, 0u);
  EXPECT_EQ(finding, 1u);
  EXPECT_GT(list_stores, 0u) << "pointer writes appear as 'store tqe_next' etc.";
  EXPECT_EQ(doc["otherData"]["format"], "kqsim-chrome-trace");
}

// The point of kern/57945: both CPUs write kq_head's pointers without a
// common lock. The trace names the fields, and both CPUs' writes interleave
// shortly before the corruption is detected.
TEST(Reports, Kern57945ShowsBothCpusPointerWritesInterleaved) {
  const fuzz::ReplayRun& run = corruption_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const fuzz::TraceModel m = fuzz::analyse_trace(run);
  ASSERT_FALSE(m.findings.empty());
  const size_t end = m.findings.front().event;
  std::vector<std::string> writers;  // lane per pointer write, in order
  std::set<std::string> fields;
  for (size_t i = end > 120 ? end - 120 : 0; i < end; ++i) {
    const fuzz::TraceEventView& v = m.events[i];
    if (v.cls != fuzz::EventClass::kStore || !fuzz::is_list_label(v.detail)) continue;
    EXPECT_THAT(v.op, ::testing::MatchesRegex("store (tqe_next|tqe_prev|tqh_first|tqh_last|next|prev)")) << v.op;
    fields.insert(v.op);
    writers.push_back(m.lanes[v.lane]);
  }
  std::set<std::string> cpus(writers.begin(), writers.end());
  EXPECT_GE(cpus.size(), 2u) << "pointer writes from both CPUs before the corruption";
  size_t switches = 0;
  for (size_t i = 1; i < writers.size(); ++i) switches += writers[i] != writers[i - 1];
  EXPECT_GE(switches, 1u) << "the CPUs' pointer writes interleave";
  EXPECT_GE(fields.size(), 2u);
}

// A lock released while a later one is still held (A, B, unlock A) keeps
// the spans nested: B is closed and reopened as "continued".
TEST(Reports, LockSpansStayNestedWhenUnlockedOutOfOrder) {
  static const char kFile[] = "knote/kern_event.cc";
  fuzz::ReplayRun run;
  run.how = "synthetic";
  run.result.thread_names = {"cpu0"};
  auto ev = [&](uint64_t step, const char* op, const char* detail) {
    run.result.execution.trace.push_back(sim::TraceEvent{step, 0, op, SrcLoc{kFile, 10}, detail});
  };
  ev(1, "lock", "sleep mutex \"A\"");
  ev(2, "lock", "sleep mutex \"B\" (contended)");
  ev(3, "unlock", "sleep mutex \"A\"");
  ev(4, "store tqe_next", "TAILQ_INSERT_TAIL");
  ev(5, "unlock", "sleep mutex \"B\"");
  ev(6, "lock", "sx \"C\"");
  run.result.execution.steps = 6;
  const fuzz::TraceModel m = fuzz::analyse_trace(run);
  ASSERT_EQ(m.spans.size(), 4u);
  EXPECT_EQ(m.spans[0].name, "A");
  EXPECT_EQ(m.spans[0].end, 2u);
  EXPECT_EQ(m.spans[1].name, "B");
  EXPECT_EQ(m.spans[1].depth, 1u);
  EXPECT_EQ(m.spans[1].end, 2u);
  EXPECT_EQ(m.spans[2].name, "B");
  EXPECT_TRUE(m.spans[2].continued);
  EXPECT_EQ(m.spans[2].depth, 0u);
  EXPECT_EQ(m.spans[2].end, 4u);
  EXPECT_EQ(m.spans[3].name, "C");
  EXPECT_EQ(m.spans[3].kind, "sx");
  EXPECT_FALSE(m.spans[3].released);
  EXPECT_EQ(m.spans[3].end, m.events.size());
  const nlohmann::json doc = nlohmann::json::parse(fuzz::chrome_trace_json(m, "").dump());
  expect_balanced(doc["traceEvents"]);
  const std::vector<double> ts = fuzz::event_timestamps(m);
  EXPECT_DOUBLE_EQ(ts[0], 1.0);
  EXPECT_DOUBLE_EQ(ts[5], 6.0);
}

TEST(Reports, ParsesLockTextAndNormalisesSites) {
  std::string kind, name;
  EXPECT_TRUE(fuzz::parse_lock_text("sleep mutex \"kqueue global\" (contended)", &kind, &name));
  EXPECT_EQ(kind, "sleep mutex");
  EXPECT_EQ(name, "kqueue global");
  EXPECT_FALSE(fuzz::parse_lock_text("exit of thread 1 \"cpu0\"", &kind, &name));
  EXPECT_FALSE(fuzz::parse_lock_text("wakeup on \"kqread\"", &kind, &name));
  EXPECT_EQ(fuzz::site_text(SrcLoc{"../../knote/kern_event.cc", 147}), "knote/kern_event.cc:147");
  EXPECT_EQ(fuzz::site_text(SrcLoc{"/src/kqsim/knote/kern_event.cc", 1}), "knote/kern_event.cc:1");
  EXPECT_EQ(fuzz::site_text(SrcLoc{}), "");
}

TEST(Reports, LockGraphFromTraceHasTheReversal) {
  const fuzz::ReplayRun& run = lor_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const fuzz::RebuiltLockGraph g = fuzz::lock_graph_from_trace(run);
  ASSERT_FALSE(g.reversals.empty());
  const locks::Reversal& r = g.reversals.front();
  // The witness's own report names the same two locks.
  std::string witness_msg;
  for (const sim::Finding& f : run.result.execution.findings)
    if (f.kind == sim::FindingKind::kLockOrderReversal) witness_msg = f.message;
  EXPECT_THAT(witness_msg, HasSubstr(" 1st " + r.first.name));
  EXPECT_THAT(witness_msg, HasSubstr(" 2nd " + r.second.name));
  EXPECT_TRUE(g.graph->check_invariants().ok());
}

TEST(Reports, DotOfFeldmanLorMarksTheReversingEdgeAndRenders) {
  const fuzz::ReplayRun& run = lor_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const std::string dir = testing::build_dir() + "/reports-test";
  std::filesystem::create_directories(dir);
  const std::string dot_file = dir + "/feldman-lor.dot";
  fuzz::write_report_files(fuzz::ReportFiles{"", dot_file, ""}, run, "kqsim replay feldman-lor");
  const std::string dot = slurp(dot_file);
  EXPECT_THAT(dot, HasSubstr("digraph witness {"));
  EXPECT_THAT(dot, ::testing::ContainsRegex("label=\"reversal\\\\n1st [^\"]*@ [a-z/_]+\\.cc:[0-9]+\\\\n2nd [^\"]*\", "
                                            "color=red"));
  EXPECT_THAT(dot, HasSubstr("style=dashed"));
  if (!testing::have_program("dot")) GTEST_SKIP() << "Graphviz 'dot' is not installed (scripts/setup installs it)";
  std::string svg;
  const int rc = testing::run_command("dot -Tsvg '" + dot_file + "' 2>&1", &svg);
  EXPECT_EQ(rc, 0) << svg;
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("reversal"));
}

TEST(Reports, HtmlIsSelfContained) {
  const fuzz::ReplayRun& run = corruption_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const fuzz::TraceModel m = fuzz::analyse_trace(run);
  const fuzz::RebuiltLockGraph g = fuzz::lock_graph_from_trace(run);
  const std::string html =
      fuzz::html_report(m, "kqsim replay kern-57945 --design none --seed 1 --no-race", fuzz::lock_order_svg(*g.graph, g.reversals));
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_THAT(html, Not(HasSubstr("http:")));
  EXPECT_THAT(html, Not(HasSubstr("https:")));
  EXPECT_THAT(html, Not(::testing::ContainsRegex("<script[^>]* src")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(http")));
  EXPECT_THAT(html, HasSubstr("id=\"finding-1\""));
  EXPECT_THAT(html, HasSubstr("list corrupted: TAILQ kq_head"));
  EXPECT_THAT(html, HasSubstr("kqsim replay kern-57945 --design none --seed 1 --no-race"));
  EXPECT_THAT(html, HasSubstr("<svg class=\"lock-graph\""));
  EXPECT_THAT(html, HasSubstr("<tr class=\"ptr-write\">"));
  // The inline data cannot end its <script> element early.
  const size_t data = html.find("id=\"kqsim-data\">");
  ASSERT_NE(data, std::string::npos);
  const size_t close = html.find("</script>", data);
  EXPECT_EQ(html.substr(data, close - data).find('<'), std::string::npos);
}

TEST(Reports, LockOrderSvgMarksTheReversal) {
  const fuzz::ReplayRun& run = lor_run();
  ASSERT_TRUE(run.scenario != nullptr);
  const fuzz::RebuiltLockGraph g = fuzz::lock_graph_from_trace(run);
  const std::string svg = fuzz::lock_order_svg(*g.graph, g.reversals);
  EXPECT_THAT(svg, HasSubstr("<svg class=\"lock-graph\""));
  EXPECT_THAT(svg, HasSubstr("class=\"reversal-edge\""));
  EXPECT_THAT(svg, HasSubstr("stroke=\"#c00\""));
  for (size_t i = 0; i < g.graph->class_count(); ++i)
    EXPECT_THAT(svg, HasSubstr(">" + fuzz::xml_escape(g.graph->class_name(static_cast<locks::ClassId>(i))) + "<"));
  EXPECT_THAT(fuzz::lock_order_svg(locks::WitnessGraph{}, {}), HasSubstr("no locks were taken"));
}

TEST(Reports, WritesFilesAtomicallyAndReportsErrors) {
  const std::string dir = testing::build_dir() + "/reports-test";
  std::filesystem::create_directories(dir);
  fuzz::write_file_atomically(dir + "/atomic.txt", "one\n");
  fuzz::write_file_atomically(dir + "/atomic.txt", "two\n");
  EXPECT_EQ(slurp(dir + "/atomic.txt"), "two\n");
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  try {
    fuzz::write_file_atomically(dir + "/no/such/dir/x.html", "x");
    ADD_FAILURE() << "no error for an unwritable path";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write '" + dir + "/no/such/dir/x.html': "));
  }
}

// What `kqsim run --html` will call: the files of a run's finding.
TEST(Reports, ReportRunFindingWritesTheFilesOfThatExecution) {
  const scenarios::Scenario* sc = scenarios::find_scenario("feldman-lor");
  const kern::kq_design* d = kern::find_design("global");
  ASSERT_TRUE(sc != nullptr && d != nullptr);
  fuzz::RunInfo info{"feldman-lor", "global", {}};
  info.opts.executions = 50;
  const fuzz::RunResult r = fuzz::run_scenario(*sc, *d, info.opts);
  ASSERT_FALSE(r.findings.empty());
  const std::string dir = testing::build_dir() + "/reports-test";
  std::filesystem::create_directories(dir);
  const fuzz::ReportFiles files{dir + "/run.html", dir + "/run.dot", dir + "/run.json"};
  EXPECT_TRUE(fuzz::report_run_finding(files, info, r, 0));
  const std::string html = slurp(files.html);
  EXPECT_THAT(html, HasSubstr(fuzz::replay_command(info, r.findings[0].execution_seed, r.replay[0])));
  EXPECT_THAT(html, HasSubstr(std::string(sim::kind_name(r.findings[0].finding.kind))));
  EXPECT_THAT(slurp(files.dot), HasSubstr("digraph witness"));
  nlohmann::json trace;
  EXPECT_NO_THROW(trace = nlohmann::json::parse(slurp(files.chrome_trace)));
  EXPECT_TRUE(trace.contains("traceEvents"));
  EXPECT_THROW(fuzz::report_run_finding(files, info, r, r.findings.size()), std::out_of_range);
}

// The acceptance test of the HTML report: headless Chromium loads the
// kern-57945 page without errors, and the DOM after the script ran has one
// lane per simulated CPU and the finding's marker. A screenshot is saved.
TEST(ReportsBrowser, ChromiumDrawsLanesAndTheFindingOfKern57945) {
  const fuzz::ReplayRun& run = corruption_run();
  ASSERT_TRUE(run.scenario != nullptr);
  std::string chromium;
  for (const char* c : {"chromium", "chromium-browser"})
    if (testing::have_program(c)) {
      chromium = c;
      break;
    }
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup installs it; CI has it)";
  const std::string dir = std::filesystem::absolute(testing::build_dir() + "/reports-test").string();
  std::filesystem::create_directories(dir);
  const std::string html = dir + "/kern-57945.html";
  fuzz::write_report_files(fuzz::ReportFiles{html, "", ""}, run, "kqsim replay kern-57945 --design none");
  const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir='" + dir +
                            "/chromium-profile' ";
  std::string dom;
  const int rc = testing::run_command("timeout 120 " + chromium + flags + "--dump-dom 'file://" + html + "' 2>/dev/null", &dom);
  ASSERT_EQ(rc, 0) << "chromium failed";
  EXPECT_THAT(dom, HasSubstr("data-rendered=\"ok\"")) << "the page's script did not finish";
  EXPECT_THAT(dom, Not(HasSubstr("data-error=")));
  const fuzz::TraceModel m = fuzz::analyse_trace(run);
  for (const std::string& lane : m.lanes)
    EXPECT_THAT(dom, HasSubstr("<g class=\"lane\" data-lane=\"" + lane + "\"")) << "no lane for " << lane;
  const std::regex lane_re("<g class=\"lane\"");
  const auto lanes = std::distance(std::sregex_iterator(dom.begin(), dom.end(), lane_re), std::sregex_iterator());
  EXPECT_EQ(static_cast<size_t>(lanes), m.lanes.size());
  EXPECT_THAT(dom, HasSubstr("<g class=\"finding-marker\" data-kind=\"list-corruption\""));
  EXPECT_THAT(dom, HasSubstr("FINDING list-corruption at step "));
  EXPECT_THAT(dom, HasSubstr("class=\"ev ev-store\""));
  EXPECT_THAT(dom, HasSubstr("class=\"lock-span\""));

  const std::string png = dir + "/kern-57945.png";
  std::filesystem::remove(png);
  const int src = testing::run_command("timeout 120 " + chromium + flags + "--window-size=1400,1100 --screenshot='" +
                                           png + "' 'file://" + html + "' >/dev/null 2>&1",
                                       nullptr);
  EXPECT_EQ(src, 0);
  EXPECT_TRUE(std::filesystem::exists(png));
  std::cout << "screenshot: " << png << "\n";
}

}  // namespace
}  // namespace kqsim
