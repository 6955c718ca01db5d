// kqsim explain: replay one execution and print it step by step.
//
//   kqsim explain SCENARIO [--design D] (--seed EXECUTION_SEED | --path FILE)
//                 [--no-race] [--max-steps N] [--tail N]
//                 [--html FILE] [--dot FILE] [--chrome-trace FILE]
//
// Output: a header naming the threads, then one line per traced event:
//   step  thread  operation  site  detail
// where operations are instrumented loads and stores (a TAILQ or LIST link
// named by its field, "store tqe_next", with the list operation it belongs
// to, "TAILQ_INSERT_TAIL"), lock and unlock, block and
// wake, spawn, join, exit, and KNOTE notes. Each thread's events are indented
// by its own column so the CPUs' interleaving shows at a glance; a line of
// '=' marks each finding, followed by its full report.
//
// Report files (fuzz/reports.h): --html writes a self-contained HTML report
// of the execution, --dot the lock-order graph it establishes (Graphviz), and
// --chrome-trace its timeline as Chrome trace-event JSON (Perfetto); each is
// announced on stdout after the trace. See docs/reports.md.
//
// Exit status as replay: 1 when the execution made a finding, 0 when not, 2 on
// a usage error.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz/reports.h"
#include "fuzz/run.h"
#include "tools/kqsim/replay_options.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

// ---- report files (--html, --dot, --chrome-trace) ----

struct ReportOptions {
  fuzz::ReportFiles files;
};

void add_report_options(CLI::App* verb, ReportOptions& o) {
  verb->add_option("--html", o.files.html, "Write a self-contained HTML report of the execution")->type_name("FILE");
  verb->add_option("--dot", o.files.dot, "Write the lock-order graph as Graphviz DOT (reversing edges in red)")
      ->type_name("FILE");
  verb->add_option("--chrome-trace", o.files.chrome_trace,
                   "Write the timeline as Chrome trace-event JSON (open in ui.perfetto.dev)")
      ->type_name("FILE");
}

// The command that replays what explain ran: "kqsim replay S --design D
// --seed N" (or --path F) with the options that change the execution.
std::string replay_command_of(const ReplayOptions& o, const fuzz::ReplayRun& run) {
  std::string cmd = fmt::format("kqsim replay {} --design {}", run.scenario->name(), run.design->name);
  if (!o.path.empty()) cmd += " --path " + o.path;
  else cmd += " --seed " + o.seed;
  if (o.no_race) cmd += " --no-race";
  if (o.access_points) cmd += " --access-points";
  if (o.no_witness) cmd += " --no-witness";
  if (!o.max_steps.empty()) cmd += " --max-steps " + o.max_steps;
  return cmd;
}

// Writes the requested files; "report: html FILE" per file on stdout.
void write_reports(const ReportOptions& r, const ReplayOptions& o, const fuzz::ReplayRun& run) {
  if (r.files.empty()) return;
  try {
    fuzz::write_report_files(r.files, run, replay_command_of(o, run));
  } catch (const std::runtime_error& e) {
    throw UsageError(e.what());
  }
  auto say = [](const char* what, const std::string& f) {
    if (!f.empty()) std::cout << fmt::format("report: {} {}\n", what, f);
  };
  say("html", r.files.html);
  say("dot", r.files.dot);
  say("chrome-trace", r.files.chrome_trace);
}

// ---- end of report files ----

struct ExplainOptions : ReplayOptions {
  bool no_source = false;
  std::string tail;
  ReportOptions report;
};

// Source lines for sites ("knote/kern_event.cc:131"), when the source tree is
// found: $KQSIM_SOURCE_DIR, the current directory, or a parent of the
// executable's directory (an in-tree build: build/default/kqsim).
class SourceLines {
 public:
  SourceLines() {
    namespace fs = std::filesystem;
    auto is_root = [](const fs::path& p) {
      std::error_code ec;
      return fs::exists(p / "knote" / "kern_event.cc", ec);
    };
    if (const char* e = std::getenv("KQSIM_SOURCE_DIR"); e != nullptr && *e != '\0' && is_root(e)) {
      root_ = e;
      return;
    }
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    if (!ec && is_root(cwd)) {
      root_ = cwd;
      return;
    }
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return;
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
      if (is_root(p)) {
        root_ = p;
        return;
      }
  }
  bool found() const { return !root_.empty(); }
  // The trimmed text of `file`:`line`, or "".
  std::string line(const std::string& file, uint32_t line) {
    if (root_.empty() || file.empty() || line == 0) return "";
    auto it = files_.find(file);
    if (it == files_.end()) {
      std::vector<std::string> lines;
      std::ifstream is(root_ / file);
      for (std::string l; std::getline(is, l);) lines.push_back(std::move(l));
      it = files_.emplace(file, std::move(lines)).first;
    }
    if (line > it->second.size()) return "";
    std::string t = it->second[line - 1];
    size_t b = t.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    t = t.substr(b);
    if (t.size() > 70) t = t.substr(0, 67) + "...";
    return t;
  }

 private:
  std::filesystem::path root_;
  std::map<std::string, std::vector<std::string>> files_;
};

int explain_action(const ExplainOptions& o) {
  fuzz::ReplaySpec spec = to_spec(o);
  uint64_t tail = 0;
  if (!o.tail.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.tail);
    if (!v) throw UsageError(fmt::format("--tail: '{}' is not a non-negative integer", o.tail));
    tail = *v;
  }
  fuzz::ReplayRun run;
  try {
    run = fuzz::replay(spec);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const sim::Execution& e = run.result.execution;
  const auto& names = run.result.thread_names;
  auto name_of = [&names](sim::Tid t) {
    if (t == sim::kNoThread) return std::string("sched");
    return t < names.size() ? names[t] : fmt::format("t{}", t);
  };
  auto site_of = [](const sim::TraceEvent& ev) { return ev.loc.valid() ? ev.loc.str() : std::string(); };

  std::cout << fmt::format("{} under {}, {}: {} steps\n", run.scenario->name(), run.design->name, run.how,
                           e.steps);
  std::cout << "threads:";
  for (size_t t = 0; t < names.size(); ++t) std::cout << fmt::format(" t{}={}", t, names[t]);
  std::cout << "\n";
  if (run.result.diverged)
    std::cout << fmt::format(
        "note: the path stopped fitting at choice {}; the lowest runnable thread ran from there\n",
        run.result.diverged_at);
  size_t wname = 5;
  for (const std::string& n : names) wname = std::max(wname, n.size());

  size_t first = 0;
  if (tail > 0 && e.trace.size() > tail) first = e.trace.size() - tail;
  std::cout << fmt::format("\n{:>6}  {:<{}}  {}\n", "STEP", "THREAD", wname,
                           "OPERATION (one column per thread), SITE, DETAIL | SOURCE");
  if (first > 0) std::cout << fmt::format("  ... {} earlier events (--tail 0 shows all)\n", first);
  SourceLines source;
  const bool show_source = !o.no_source && source.found();
  // Widths: site column, so that details and source line up.
  size_t wsite = 0;
  for (size_t i = first; i < e.trace.size(); ++i) wsite = std::max(wsite, site_of(e.trace[i]).size());
  const size_t wthreads = 3 * names.size();
  for (size_t i = first; i < e.trace.size(); ++i) {
    const sim::TraceEvent& ev = e.trace[i];
    std::string op = ev.op;
    if (op == "FINDING") {
      std::cout << std::string(100, '=') << "\n";
      std::cout << fmt::format("{:>6}  {:<{}}  FINDING {}\n", ev.step, name_of(ev.tid), wname, ev.detail);
      std::cout << std::string(100, '=') << "\n";
      continue;
    }
    // Each thread has its own column for the operation: the interleaving of
    // the CPUs reads as a zig-zag.
    std::string indent(3 * static_cast<size_t>(ev.tid), ' ');
    std::string opcol = indent + op;
    std::string detail = ev.detail;
    if (show_source && ev.loc.valid()) {
      sim::Site site = sim::Site::from(ev.loc);
      std::string text = source.line(site.file, site.line);
      if (!text.empty()) detail = detail.empty() ? "| " + text : detail + "  | " + text;
    }
    std::string line = fmt::format("{:>6}  {:<{}}  {:<{}}  {:<{}}  {}", ev.step, name_of(ev.tid), wname,
                                   opcol, wthreads + 12, site_of(ev), wsite, detail);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  if (e.findings.empty()) {
    std::cout << "\nno findings\n";
    write_reports(o.report, o, run);
    return kExitOk;
  }
  std::cout << "\n" << fuzz::execution_findings_text(run.result);
  write_reports(o.report, o, run);
  return kExitFailure;
}

}  // namespace

void add_explain_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("explain", "Replay one execution and print it step by step");
  auto o = std::make_shared<ExplainOptions>();
  add_replay_options(verb, *o);
  verb->add_option("--tail", o->tail, "Print only the last N events (default: all)")->type_name("N");
  verb->add_flag("--no-source", o->no_source, "Do not show the source line of each site");
  add_report_options(verb, o->report);
  verb->footer("Exit status: 0 no finding, 1 a finding, 2 usage error.");
  ctx.set_action(verb, [o] { return explain_action(*o); });
}

KQSIM_REGISTER_VERB(60, explain, add_explain_verb);

}  // namespace kqsim::cli
