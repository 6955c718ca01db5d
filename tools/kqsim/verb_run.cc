// kqsim run: explore one scenario under one design and report what the
// checkers find.
//
//   kqsim run SCENARIO [--design D] [--strategy random|pct|exhaustive]
//                      [--schedules N] [--seed S] [--workers W] [--depth D]
//                      [--preemptions B] [--shard I/N] [--no-shrink]
//                      [--reproducible] [--max-steps N] [--no-race]
//                      [--json FILE] [--save-path DIR]
//
// Exit status: 1 when any finding was made (whatever the scenario expects
// under that design: `kqsim check` compares with expectations), 0 when none,
// 2 on a usage error. Defaults (option, else environment, else built in):
// --design fine, --strategy $KQSIM_STRATEGY or random, --schedules
// $KQSIM_SCHEDULES or 1000, --seed $KQSIM_SEED or 1, --workers $KQSIM_WORKERS
// or 1, --depth $KQSIM_PCT_DEPTH or 3, --preemptions $KQSIM_PREEMPTIONS or 2.
// Each distinct finding is shrunk (at most 1000 executions each) unless
// --no-shrink; shrunk path files are written only with --save-path.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "fuzz/atomic_file.h"
#include "fuzz/limits.h"

#include <fmt/format.h>

#include "fuzz/reports.h"
#include "fuzz/run.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/live_options.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct RunOptions {
  std::string scenario;
  std::string design = "fine";
  std::string strategy;
  std::string schedules;
  std::string seed;
  std::string workers;
  std::string depth;
  std::string preemptions;
  std::string shard;
  bool no_shrink = false;
  bool reproducible = false;
  fuzz::ReportFiles report;  // --html / --dot / --chrome-trace: the first finding's execution
  std::string max_steps;
  std::string max_memory;
  std::string stack_kib;
  bool no_race = false;
  bool access_points = false;
  std::string json;
  std::string save_path;
  LiveCliOptions live;  // --mode live (tools/kqsim/live_options.h)
};

uint64_t number(const std::string& option, const std::string& text) {
  std::optional<uint64_t> v = fuzz::parse_u64(text);
  if (!v) throw UsageError(fmt::format("{}: '{}' is not a non-negative integer", option, text));
  return *v;
}

// The option's value, else the environment variable's, else the default.
uint64_t number_or_env(const std::string& option, const std::string& text, const char* env, uint64_t dflt) {
  if (!text.empty()) return number(option, text);
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') {
    std::optional<uint64_t> v = fuzz::parse_u64(e);
    if (!v) throw UsageError(fmt::format("{}='{}' is not a non-negative integer", env, e));
    return *v;
  }
  return dflt;
}

std::string string_or_env(const std::string& text, const char* env, const char* dflt) {
  if (!text.empty()) return text;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
  return dflt;
}

// "kern-57945 under none: 1234/10000 executions, 5321/s, 1 finding"
void print_progress(const fuzz::RunInfo& info, const fuzz::Progress& p) {
  double rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0;
  std::fprintf(stderr, "\r%s under %s: %llu/%llu executions, %.0f/s, %llu finding%s\033[K", info.scenario.c_str(),
               info.design.c_str(), static_cast<unsigned long long>(p.done),
               static_cast<unsigned long long>(p.total), rate, static_cast<unsigned long long>(p.findings),
               p.findings == 1 ? "" : "s");
  std::fflush(stderr);
}

// Writes `text` to `file` through a temporary file and a rename, so that a
// failed run leaves no partial file.
int run_action(const RunOptions& o) {
  if (live_requested(o.live)) return run_live_action(o.scenario, o.design, o.seed, o.live);
  const scenarios::Scenario* sc = scenarios::find_scenario(o.scenario);
  if (sc == nullptr)
    throw UsageError(
        fmt::format("unknown scenario '{}' (scenarios: {})", o.scenario, scenarios::scenario_names()));
  const kern::kq_design* design = kern::find_design(o.design);
  if (design == nullptr)
    throw UsageError(fmt::format("unknown design '{}' (designs: {})", o.design, kern::design_names()));
  const std::string sname = string_or_env(o.strategy, "KQSIM_STRATEGY", "random");
  std::optional<fuzz::StrategyKind> strategy = fuzz::strategy_from_name(sname);
  if (!strategy)
    throw UsageError(fmt::format("unknown strategy '{}'{} (strategies: {})", sname,
                                 o.strategy.empty() ? " in KQSIM_STRATEGY" : "", fuzz::strategy_names()));

  fuzz::RunInfo info;
  info.scenario = sc->name();
  info.design = design->name;
  fuzz::RunOptions& ro = info.opts;
  ro.strategy = *strategy;
  ro.executions = number_or_env("--schedules", o.schedules, "KQSIM_SCHEDULES", 1000);
  ro.seed = number_or_env("--seed", o.seed, "KQSIM_SEED", 1);
  uint64_t workers = number_or_env("--workers", o.workers, "KQSIM_WORKERS", 1);
  if (workers < 1 || workers > 1024)
    throw UsageError(fmt::format("--workers: {} is not between 1 and 1024", workers));
  ro.workers = static_cast<unsigned>(workers);
  if (ro.executions < 1) throw UsageError("--schedules: must be at least 1");
  uint64_t depth = number_or_env("--depth", o.depth, "KQSIM_PCT_DEPTH", 3);
  if (depth < 1 || depth > 64) throw UsageError(fmt::format("--depth: {} is not between 1 and 64", depth));
  ro.pct_depth = static_cast<unsigned>(depth);
  uint64_t bound = number_or_env("--preemptions", o.preemptions, "KQSIM_PREEMPTIONS", 2);
  if (bound > 1000) throw UsageError(fmt::format("--preemptions: {} is more than 1000", bound));
  ro.preemptions = static_cast<unsigned>(bound);
  if (!o.depth.empty() && ro.strategy != fuzz::StrategyKind::kPct)
    throw UsageError("--depth goes with --strategy pct");
  if (!o.preemptions.empty() && ro.strategy != fuzz::StrategyKind::kExhaustive)
    throw UsageError("--preemptions goes with --strategy exhaustive");
  if (!o.shard.empty()) {
    std::optional<fuzz::Shard> shard = fuzz::parse_shard(o.shard);
    if (!shard) throw UsageError(fmt::format("--shard: '{}' is not I/N with 0 <= I < N", o.shard));
    if (ro.strategy == fuzz::StrategyKind::kExhaustive)
      throw UsageError("--shard: the exhaustive search cannot be sharded (use random or pct)");
    ro.shard = *shard;
  }
  if (!o.max_steps.empty()) {
    ro.sched.max_steps = number("--max-steps", o.max_steps);
    if (ro.sched.max_steps < 1) throw UsageError("--max-steps: must be at least 1");
  }
  if (!o.max_memory.empty() && !(ro.sched.max_memory = fuzz::parse_max_memory(o.max_memory).value_or(0)))
    throw UsageError(fmt::format("--max-memory: '{}' is not a number of MiB between 1 and 1048576", o.max_memory));
  if (!o.stack_kib.empty() && !(ro.sched.stack_size = fuzz::parse_stack_kib(o.stack_kib).value_or(0)))
    throw UsageError(fmt::format("--stack-kib: '{}' is not a number of KiB between 16 and 1048576", o.stack_kib));
  ro.sched.race_detection = !o.no_race;
  ro.sched.access_points = o.access_points;
  ro.shrink = !o.no_shrink;

  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty) ro.progress = [&info](const fuzz::Progress& p) { print_progress(info, p); };
  fuzz::RunResult r = fuzz::run_scenario(*sc, *design, ro);
  if (tty) std::fprintf(stderr, "\r\033[K");

  std::vector<std::string> paths;
  if (!o.save_path.empty()) {
    paths = fuzz::save_paths(info, r, o.save_path);
    fuzz::save_shrunk_paths(info, r, o.save_path);
  }

  const scenarios::DesignExpectation* de = sc->expectation_for(design->name);
  const scenarios::Expected* expected = de != nullptr ? &de->expected : nullptr;
  std::vector<sim::FindingKind> kinds = r.kinds();

  std::cout << fuzz::summary_text(info, r, o.reproducible);
  std::string verdict = fuzz::verdict_text(kinds);
  if (expected == nullptr)
    std::cout << fmt::format("verdict: {} (the scenario expects nothing of design {})\n", verdict,
                             info.design);
  else if (o.no_race)
    std::cout << fmt::format("verdict: {} (expected with race detection on: {})\n", verdict, expected->str());
  else
    std::cout << fmt::format("verdict: {} (expected {}: {})\n", verdict, expected->str(),
                             fuzz::verdict_matches(*expected, kinds) ? "as expected" : "MISMATCH");
  if (!r.findings.empty()) {
    std::cout << fmt::format("{} distinct finding{}:\n", r.findings.size(),
                             r.findings.size() == 1 ? "" : "s");
    std::cout << fuzz::findings_text(info, r, paths);
  }

  if (!o.json.empty()) fuzz::write_file_atomically(o.json, fuzz::run_to_json(info, r, expected, paths, o.reproducible).dump(2) + "\n");
  if (!o.report.empty()) {
    if (r.findings.empty()) {
      std::cerr << "kqsim run: no finding, so no report file was written (--html, --dot, --chrome-trace)\n";
    } else {
      bool same = false;
      try {
        same = fuzz::report_run_finding(o.report, info, r, 0);
      } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
      }
      for (const auto& [what, file] : {std::pair{"html", &o.report.html}, std::pair{"dot", &o.report.dot},
                                        std::pair{"chrome-trace", &o.report.chrome_trace}})
        if (!file->empty()) std::cout << fmt::format("report: {} {} (finding [1])\n", what, *file);
      if (!same)
        std::cout << "report: finding [1] did not reproduce alone; the files show its execution as it ran alone\n";
    }
  }
  return r.findings.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void add_run_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("run", "Explore one scenario under one design; exit 1 on any finding");
  auto o = std::make_shared<RunOptions>();
  verb->add_option("scenario", o->scenario, "Scenario name (see 'kqsim list')")
      ->required()
      ->type_name("SCENARIO");
  verb->add_option("--design", o->design, "Locking design (default fine)")->type_name("DESIGN");
  verb->add_option("--strategy", o->strategy,
                   "Exploration strategy: random, pct or exhaustive (default $KQSIM_STRATEGY or random)")
      ->type_name("STRATEGY");
  verb->add_option("--schedules", o->schedules,
                   "Executions to run; for exhaustive, the most to run (default $KQSIM_SCHEDULES or 1000)")
      ->type_name("N");
  verb->add_option("--seed", o->seed, "Exploration seed (default $KQSIM_SEED or 1)")->type_name("SEED");
  verb->add_option("--workers", o->workers, "OS threads sharing the executions (default $KQSIM_WORKERS or 1)")
      ->type_name("W");
  verb->add_option("--depth", o->depth, "pct: the bug depth d (default $KQSIM_PCT_DEPTH or 3)")->type_name("D");
  verb->add_option("--preemptions", o->preemptions,
                   "exhaustive: the preemption bound (default $KQSIM_PREEMPTIONS or 2)")
      ->type_name("B");
  verb->add_option("--shard", o->shard, "Run only the executions whose index % N == I (random, pct)")
      ->type_name("I/N");
  verb->add_flag("--no-shrink", o->no_shrink, "Do not shrink the findings");
  verb->add_option("--html", o->report.html,
                   "Write a self-contained HTML report of the first finding's execution (docs/reports.md)")
      ->type_name("FILE");
  verb->add_option("--dot", o->report.dot, "Write the first finding's lock-order graph as Graphviz DOT")
      ->type_name("FILE");
  verb->add_option("--chrome-trace", o->report.chrome_trace,
                   "Write the first finding's interleaving as Chrome trace-event JSON (Perfetto)")
      ->type_name("FILE");
  verb->add_flag("--reproducible", o->reproducible,
                 "Leave timings and the worker count out of the report and the JSON (byte-comparable)");
  verb->add_option("--max-steps", o->max_steps, "Steps (scheduling points and plain accesses) per execution before a step-bound finding")
      ->type_name("N");
  verb->add_option("--max-memory", o->max_memory, fuzz::kMaxMemoryHelp)->type_name("MIB");
  verb->add_option("--stack-kib", o->stack_kib, fuzz::kStackKibHelp)->type_name("KIB");
  verb->add_flag("--no-race", o->no_race, "Turn the data-race detector off");
  verb->add_flag("--access-points", o->access_points, fuzz::kAccessPointsHelp);
  verb->add_option("--json", o->json, "Also write the result as JSON (format kqsim-run, version 1)")
      ->type_name("FILE");
  verb->add_option("--save-path", o->save_path,
                   "Write one path file per finding (and per shrunk finding) into this directory")
      ->type_name("DIR");
  add_live_options(verb, o->live);
  verb->footer(
      "Exit status: 0 no finding, 1 at least one finding, 2 usage error.\n"
      "Each finding comes with the 'kqsim replay' command that reproduces it alone, and its shrunk\n"
      "schedule with a 'kqsim explain --choices' command.\n"
      "Environment: KQSIM_STRATEGY, KQSIM_SCHEDULES, KQSIM_SEED, KQSIM_WORKERS, KQSIM_PCT_DEPTH,\n"
      "KQSIM_PREEMPTIONS give the defaults of the options above; the options win.\n"
      "A progress line (executions, rate, findings) goes to stderr when it is a terminal.");
  ctx.set_action(verb, [o] { return run_action(*o); });
}

KQSIM_REGISTER_VERB(20, run, add_run_verb);

}  // namespace kqsim::cli
