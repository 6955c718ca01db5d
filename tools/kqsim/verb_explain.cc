// kqsim explain: replay one execution and print it step by step.
//
//   kqsim explain SCENARIO [--design D] (--seed EXECUTION_SEED | --path FILE)
//                 [--no-race] [--max-steps N] [--tail N]
//
// Output: a header naming the threads, then one line per traced event:
//   step  thread  operation  site  detail
// where operations are instrumented loads and stores (with the list operation
// they belong to, "TAILQ_INSERT_TAIL(kq_head)"), lock and unlock, block and
// wake, spawn, join, exit, and KNOTE notes. Each thread's events are indented
// by its own column so the CPUs' interleaving shows at a glance; a line of
// '=' marks each finding, followed by its full report.
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

#include "fuzz/run.h"
#include "tools/kqsim/replay_options.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct ExplainOptions : ReplayOptions {
  bool no_source = false;
  std::string tail;
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
    return kExitOk;
  }
  std::cout << "\n" << fuzz::execution_findings_text(run.result);
  return kExitFailure;
}

}  // namespace

void add_explain_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("explain", "Replay one execution and print it step by step");
  auto o = std::make_shared<ExplainOptions>();
  add_replay_options(verb, *o);
  verb->add_option("--tail", o->tail, "Print only the last N events (default: all)")->type_name("N");
  verb->add_flag("--no-source", o->no_source, "Do not show the source line of each site");
  verb->footer("Exit status: 0 no finding, 1 a finding, 2 usage error.");
  ctx.set_action(verb, [o] { return explain_action(*o); });
}

KQSIM_REGISTER_VERB(60, explain, add_explain_verb);

}  // namespace kqsim::cli
