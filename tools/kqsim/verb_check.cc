// kqsim check: the battery. Every scenario under every design it lists,
// against its expected verdict, as a table:
//
//   SCENARIO        DESIGN  EXPECTED   GOT        RESULT
//   kern-57945      none    data-race  data-race  OK
//
// Exit status: 0 when every verdict matches its expectation, 1 otherwise
// (the mismatches are explained under the table), 2 on a usage error.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct CheckOptions {
  std::string schedules = "2000";
  std::string seed;
  std::string workers = "1";
  std::vector<std::string> scenarios;
  std::vector<std::string> designs;
};

uint64_t number(const std::string& option, const std::string& text) {
  std::optional<uint64_t> v = fuzz::parse_u64(text);
  if (!v) throw UsageError(fmt::format("{}: '{}' is not a non-negative integer", option, text));
  return *v;
}

struct Row {
  std::string scenario, design, expected, got;
  bool ok = false;
  std::string detail;  // for mismatches: what to look at
};

int check_action(const CheckOptions& o) {
  fuzz::RunOptions ro;
  ro.executions = number("--schedules", o.schedules);
  if (ro.executions < 1) throw UsageError("--schedules: must be at least 1");
  if (!o.seed.empty()) {
    ro.seed = number("--seed", o.seed);
  } else if (const char* e = std::getenv("KQSIM_SEED"); e != nullptr && *e != '\0') {
    std::optional<uint64_t> v = fuzz::parse_u64(e);
    if (!v) throw UsageError(fmt::format("KQSIM_SEED='{}' is not a non-negative integer", e));
    ro.seed = *v;
  }
  uint64_t workers = number("--workers", o.workers);
  if (workers < 1 || workers > 1024)
    throw UsageError(fmt::format("--workers: {} is not between 1 and 1024", workers));
  ro.workers = static_cast<unsigned>(workers);
  for (const std::string& n : o.scenarios)
    if (scenarios::find_scenario(n) == nullptr)
      throw UsageError(fmt::format("unknown scenario '{}' (scenarios: {})", n, scenarios::scenario_names()));
  for (const std::string& n : o.designs)
    if (kern::find_design(n) == nullptr)
      throw UsageError(fmt::format("unknown design '{}' (designs: {})", n, kern::design_names()));
  auto selected = [](const std::vector<std::string>& filter, const std::string& name) {
    return filter.empty() || std::find(filter.begin(), filter.end(), name) != filter.end();
  };

  const bool tty = isatty(STDERR_FILENO) != 0;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Row> rows;
  for (const std::string& p : scenarios::registry_problems())
    rows.push_back(Row{"(registry)", "-", "-", "-", false, p});
  for (const scenarios::Scenario* sc : scenarios::all_scenarios()) {
    if (!selected(o.scenarios, sc->name())) continue;
    for (const std::string& dname : sc->designs_to_run()) {
      if (!selected(o.designs, dname)) continue;
      const scenarios::Expected& expected = sc->expectation_for(dname)->expected;
      Row row{sc->name(), dname, expected.str(), "", false, ""};
      const kern::kq_design* design = kern::find_design(dname);
      if (design == nullptr) {
        row.got = "-";
        row.detail = fmt::format("design '{}' does not exist (designs: {})", dname, kern::design_names());
        rows.push_back(std::move(row));
        continue;
      }
      if (tty)
        ro.progress = [&](const fuzz::Progress& p) {
          std::fprintf(stderr, "\r%s under %s: %llu/%llu executions\033[K", sc->name().c_str(), dname.c_str(),
                       static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.total));
          std::fflush(stderr);
        };
      fuzz::RunResult r = fuzz::run_scenario(*sc, *design, ro);
      std::vector<sim::FindingKind> kinds = r.kinds();
      row.got = fuzz::verdict_text(kinds);
      row.ok = fuzz::verdict_matches(expected, kinds);
      if (!row.ok) {
        fuzz::RunInfo info{sc->name(), dname, ro};
        if (r.findings.empty()) {
          row.detail = fmt::format(
              "expected {} but no execution made it: try more schedules (kqsim run {} --design "
              "{} --schedules {})",
              expected.str(), sc->name(), dname, ro.executions * 10);
        } else {
          size_t k = 0;
          if (!expected.is_clean())
            for (size_t x = 0; x < r.findings.size(); ++x)
              if (r.findings[x].finding.kind != expected.kind) {
                k = x;
                break;
              }
          const fuzz::FoundFinding& f = r.findings[k];
          fuzz::ReplayMode mode = k < r.replay.size() ? r.replay[k] : fuzz::ReplayMode::kUnchecked;
          row.detail = fmt::format("{}\n    {}: {}", f.finding.headline(),
                                   mode == fuzz::ReplayMode::kNotAlone ? "rerun" : "replay",
                                   mode == fuzz::ReplayMode::kNotAlone
                                       ? fuzz::rerun_command(info, f.execution)
                                       : fuzz::replay_command(info, f.execution_seed, mode));
        }
      }
      rows.push_back(std::move(row));
    }
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  size_t w[4] = {8, 6, 8, 3};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.scenario.size());
    w[1] = std::max(w[1], r.design.size());
    w[2] = std::max(w[2], r.expected.size());
    w[3] = std::max(w[3], r.got.size());
  }
  std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", "SCENARIO", w[0], "DESIGN", w[1],
                           "EXPECTED", w[2], "GOT", w[3], "RESULT");
  size_t ok = 0;
  for (const Row& r : rows) {
    ok += r.ok ? 1 : 0;
    std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", r.scenario, w[0], r.design, w[1],
                             r.expected, w[2], r.got, w[3], r.ok ? "OK" : "MISMATCH");
  }
  std::cout << fmt::format("\n{} verdicts: {} OK, {} MISMATCH ({} schedules each, seed {}; {:.1f} s)\n",
                           rows.size(), ok, rows.size() - ok, ro.executions, ro.seed, seconds);
  if (ok != rows.size()) {
    std::cout << "\nMismatches:\n";
    for (const Row& r : rows)
      if (!r.ok) std::cout << fmt::format("  {} under {}: {}\n", r.scenario, r.design, r.detail);
  }
  return ok == rows.size() ? kExitOk : kExitFailure;
}

}  // namespace

void add_check_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand(
      "check", "Run every scenario under every design it lists; compare with expected verdicts");
  auto o = std::make_shared<CheckOptions>();
  verb->add_option("--schedules", o->schedules, "Executions per (scenario, design) (default 2000)")
      ->type_name("N");
  verb->add_option("--seed", o->seed, "Exploration seed (default $KQSIM_SEED or 1)")->type_name("SEED");
  verb->add_option("--workers", o->workers, "OS threads per (scenario, design) (default 1)")->type_name("W");
  verb->add_option("--scenario", o->scenarios, "Only this scenario (repeatable)")->type_name("SCENARIO");
  verb->add_option("--design", o->designs, "Only this design (repeatable)")->type_name("DESIGN");
  verb->footer("Exit status: 0 every verdict as expected, 1 at least one MISMATCH, 2 usage error.");
  ctx.set_action(verb, [o] { return check_action(*o); });
}

KQSIM_REGISTER_VERB(30, check, add_check_verb);

}  // namespace kqsim::cli
