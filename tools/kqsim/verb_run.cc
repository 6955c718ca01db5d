// kqsim run: explore one scenario under one design and report what the
// checkers find.
//
//   kqsim run SCENARIO [--design D] [--strategy S] [--schedules N] [--seed S]
//                      [--workers W] [--max-steps N] [--no-race] [--json FILE]
//                      [--save-path DIR]
//
// Exit status: 1 when any finding was made (whatever the scenario expects
// under that design: `kqsim check` compares with expectations), 0 when none,
// 2 on a usage error. Defaults: --design fine, --strategy random, --schedules
// $KQSIM_SCHEDULES or 1000, --seed $KQSIM_SEED or 1, --workers 1.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "fuzz/limits.h"

#include <fmt/format.h>

#include "fuzz/run.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct RunOptions {
  std::string scenario;
  std::string design = "fine";
  std::string strategy = "random";
  std::string schedules;
  std::string seed;
  std::string workers = "1";
  std::string max_steps;
  std::string max_memory;
  bool no_race = false;
  std::string json;
  std::string save_path;
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

int run_action(const RunOptions& o) {
  const scenarios::Scenario* sc = scenarios::find_scenario(o.scenario);
  if (sc == nullptr)
    throw UsageError(
        fmt::format("unknown scenario '{}' (scenarios: {})", o.scenario, scenarios::scenario_names()));
  const kern::kq_design* design = kern::find_design(o.design);
  if (design == nullptr)
    throw UsageError(fmt::format("unknown design '{}' (designs: {})", o.design, kern::design_names()));
  std::optional<fuzz::StrategyKind> strategy = fuzz::strategy_from_name(o.strategy);
  if (!strategy)
    throw UsageError(
        fmt::format("unknown strategy '{}' (strategies: {})", o.strategy, fuzz::strategy_names()));
  if (!fuzz::strategy_implemented(*strategy))
    throw UsageError(fmt::format("strategy '{}' is not implemented yet", o.strategy));

  fuzz::RunInfo info;
  info.scenario = sc->name();
  info.design = design->name;
  fuzz::RunOptions& ro = info.opts;
  ro.strategy = *strategy;
  ro.executions = number_or_env("--schedules", o.schedules, "KQSIM_SCHEDULES", 1000);
  ro.seed = number_or_env("--seed", o.seed, "KQSIM_SEED", 1);
  uint64_t workers = number("--workers", o.workers);
  if (workers < 1 || workers > 1024)
    throw UsageError(fmt::format("--workers: {} is not between 1 and 1024", workers));
  ro.workers = static_cast<unsigned>(workers);
  if (ro.executions < 1) throw UsageError("--schedules: must be at least 1");
  if (!o.max_steps.empty()) {
    ro.sched.max_steps = number("--max-steps", o.max_steps);
    if (ro.sched.max_steps < 1) throw UsageError("--max-steps: must be at least 1");
  }
  if (!o.max_memory.empty() && !(ro.sched.max_memory = fuzz::parse_max_memory(o.max_memory).value_or(0)))
    throw UsageError(fmt::format("--max-memory: '{}' is not a number of MiB between 1 and 1048576", o.max_memory));
  ro.sched.race_detection = !o.no_race;

  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty)
    ro.progress = [&info](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\r%s under %s: %llu/%llu executions", info.scenario.c_str(), info.design.c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
      std::fflush(stderr);
    };
  fuzz::RunResult r = fuzz::run_scenario(*sc, *design, ro);
  if (tty) std::fprintf(stderr, "\r\033[K");

  std::vector<std::string> paths;
  if (!o.save_path.empty()) paths = fuzz::save_paths(info, r, o.save_path);

  const scenarios::DesignExpectation* de = sc->expectation_for(design->name);
  const scenarios::Expected* expected = de != nullptr ? &de->expected : nullptr;
  std::vector<sim::FindingKind> kinds = r.kinds();

  double rate = r.seconds > 0 ? static_cast<double>(r.executions) / r.seconds : 0;
  std::cout << fmt::format(
      "{} under {}: {} executions in {:.2f} s ({:.0f}/s), {} strategy, seed {}, {} worker{}{}\n",
      info.scenario, info.design, r.executions, r.seconds, rate, fuzz::strategy_name(ro.strategy), ro.seed,
      ro.workers, ro.workers == 1 ? "" : "s",
      r.workers_serialized ? " (run one after another: the design uses Giant)" : "");
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

  if (!o.json.empty()) {
    std::ofstream os(o.json);
    os << fuzz::run_to_json(info, r, expected, paths).dump(2) << "\n";
    if (!os) throw std::runtime_error(fmt::format("cannot write '{}'", o.json));
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
  verb->add_option("--strategy", o->strategy, "Exploration strategy: random (pct, exhaustive: not yet)")
      ->type_name("STRATEGY");
  verb->add_option("--schedules", o->schedules, "Executions to run (default $KQSIM_SCHEDULES or 1000)")
      ->type_name("N");
  verb->add_option("--seed", o->seed, "Exploration seed (default $KQSIM_SEED or 1)")->type_name("SEED");
  verb->add_option("--workers", o->workers, "OS threads sharing the executions (default 1)")->type_name("W");
  verb->add_option("--max-steps", o->max_steps, "Scheduling points per execution before a step-bound finding")
      ->type_name("N");
  verb->add_option("--max-memory", o->max_memory, fuzz::kMaxMemoryHelp)->type_name("MIB");
  verb->add_flag("--no-race", o->no_race, "Turn the data-race detector off");
  verb->add_option("--json", o->json, "Also write the result as JSON (format kqsim-run, version 1)")
      ->type_name("FILE");
  verb->add_option("--save-path", o->save_path, "Write one path file per finding into this directory")
      ->type_name("DIR");
  verb->footer(
      "Exit status: 0 no finding, 1 at least one finding, 2 usage error.\n"
      "Each finding comes with the 'kqsim replay' command that reproduces it alone.");
  ctx.set_action(verb, [o] { return run_action(*o); });
}

KQSIM_REGISTER_VERB(20, run, add_run_verb);

}  // namespace kqsim::cli
