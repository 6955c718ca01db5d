// kqsim replay: run exactly one execution of a scenario again, from the
// execution seed `kqsim run` printed or from a path file (run --save-path),
// and print its findings.
//
//   kqsim replay SCENARIO [--design D] (--seed EXECUTION_SEED | --path FILE | --choices HEX)
//                [--strategy pct --depth D --pct-k K] [--no-race] [--no-witness] [--max-steps N]
//
// Exit status: 1 when the execution made a finding, 0 when not, 2 on a usage
// error (unknown names, a missing or malformed path file).
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "tools/kqsim/replay_options.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

int replay_action(const ReplayOptions& o) {
  fuzz::ReplaySpec spec = to_spec(o);
  fuzz::ReplayRun run;
  try {
    run = fuzz::replay(spec);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const sim::Execution& e = run.result.execution;
  std::cout << fmt::format("{} under {}, {}: {} steps, {} threads\n", run.scenario->name(), run.design->name,
                           run.how, e.steps, e.threads);
  if (run.result.diverged)
    std::cout << fmt::format(
        "note: the path stopped fitting at choice {} (the scenario or the model changed since it was "
        "recorded); "
        "the lowest runnable thread ran from there\n",
        run.result.diverged_at);
  if (e.findings.empty()) {
    std::cout << "no findings\n";
    return kExitOk;
  }
  std::cout << fuzz::execution_findings_text(run.result);
  std::string how = !o.seed.empty() ? "--seed " + o.seed : !o.path.empty() ? "--path " + o.path : "--choices " + o.choices;
  if (!o.seed.empty() && !o.strategy.empty() && o.strategy != "random")
    how = fmt::format("--strategy {} --depth {} --pct-k {} {}", o.strategy, spec.pct_depth, spec.pct_k, how);
  if (o.no_race) how += " --no-race";
  if (o.access_points) how += " --access-points";
  if (o.no_witness) how += " --no-witness";
  if (!o.max_steps.empty()) how += " --max-steps " + o.max_steps;
  std::cout << fmt::format("step by step: kqsim explain {} --design {} {}\n", run.scenario->name(),
                           run.design->name, how);
  return kExitFailure;
}

}  // namespace

void add_replay_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("replay", "Run one execution again from its seed or path file");
  auto o = std::make_shared<ReplayOptions>();
  add_replay_options(verb, *o);
  verb->footer("Exit status: 0 no finding, 1 a finding, 2 usage error.");
  ctx.set_action(verb, [o] { return replay_action(*o); });
}

KQSIM_REGISTER_VERB(40, replay, add_replay_verb);

}  // namespace kqsim::cli
