// kqsim shrink: replay one execution, shrink its first finding's schedule to
// fewer preemptions and fewer choices (fuzz/shrink.h), and write the shrunk
// schedule as a path file.
//
//   kqsim shrink SCENARIO [--design D] (--seed EXECUTION_SEED | --path FILE | --choices HEX)
//                [--strategy pct --depth D --pct-k K] [--no-race] [--no-witness]
//                [--max-steps N] [--out FILE] [--runs N]
//
// Prints the finding, the preemptions and choices before and after, the path
// file written (--out, default ./<scenario>.<design>.shrunk.path.json) and the
// `kqsim replay` / `kqsim explain` commands for it.
//
// Exit status: 1 when the execution made a finding (shrunk and written), 0
// when it made none (nothing to shrink, nothing written), 2 on a usage error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "fuzz/atomic_file.h"
#include "fuzz/run.h"
#include "tools/kqsim/replay_options.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct ShrinkOptions : ReplayOptions {
  std::string out;
  std::string runs;
};

std::string plural(size_t n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

int shrink_action(const ShrinkOptions& o) {
  fuzz::ReplaySpec spec = to_spec(o);
  spec.sched.trace = false;
  size_t runs = 2000;
  if (!o.runs.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.runs);
    if (!v || *v < 1) throw UsageError(fmt::format("--runs: '{}' is not a positive integer", o.runs));
    runs = static_cast<size_t>(*v);
  }
  fuzz::ReplayRun run;
  try {
    run = fuzz::replay(spec);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const sim::Execution& e = run.result.execution;
  std::cout << fmt::format("{} under {}, {}: {} steps\n", run.scenario->name(), run.design->name, run.how, e.steps);
  if (e.findings.empty()) {
    std::cout << "no findings: nothing to shrink\n";
    return kExitOk;
  }
  fuzz::FoundFinding f;
  f.finding = e.findings.front();
  std::cout << f.finding.headline() << "\n";
  fuzz::Shrunk s = fuzz::shrink_finding(*run.scenario, *run.design, f, spec.sched, spec.witness, runs);
  if (!s.done) {
    // Cannot happen for a deterministic model: the replay made it just now.
    throw std::runtime_error("the finding's own choices did not reproduce it: not shrunk");
  }
  std::cout << fmt::format("before: {}, {}\n", plural(s.original_preemptions, "preemption"),
                           plural(s.original_choices, "choice"));
  std::cout << fmt::format("after:  {}, {} ({} runs)\n", plural(s.preemptions, "preemption"),
                           plural(s.path.size(), "choice"), s.runs);

  std::string out = o.out.empty() ? fmt::format("{}.{}.shrunk.path.json", run.scenario->name(), run.design->name)
                                  : o.out;
  sim::PathFile pf;
  pf.program = run.scenario->name();
  pf.design = run.design->name;
  pf.seed = spec.seed.value_or(0);
  pf.choices = s.path;
  fuzz::write_file_atomically(out, sim::path_to_json(pf) + "\n");
  std::string flags;
  if (o.no_race) flags += " --no-race";
  if (o.access_points) flags += " --access-points";
  if (o.no_witness) flags += " --no-witness";
  if (!o.max_steps.empty()) flags += " --max-steps " + o.max_steps;
  std::cout << fmt::format("wrote {}\n", out);
  std::cout << fmt::format("replay:  kqsim replay {} --design {} --path {}{}\n", run.scenario->name(),
                           run.design->name, out, flags);
  std::cout << fmt::format("explain: kqsim explain {} --design {} --path {}{}\n", run.scenario->name(),
                           run.design->name, out, flags);
  return kExitFailure;
}

}  // namespace

void add_shrink_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb =
      app.add_subcommand("shrink", "Shrink a failing execution to fewer preemptions and write its path file");
  auto o = std::make_shared<ShrinkOptions>();
  add_replay_options(verb, *o);
  verb->add_option("--out", o->out, "Shrunk path file to write (default ./SCENARIO.DESIGN.shrunk.path.json)")
      ->type_name("FILE");
  verb->add_option("--runs", o->runs, "At most this many executions while shrinking (default 2000)")
      ->type_name("N");
  verb->footer("Exit status: 0 no finding (nothing written), 1 a finding shrunk and written, 2 usage error.");
  ctx.set_action(verb, [o] { return shrink_action(*o); });
}

KQSIM_REGISTER_VERB(50, shrink, add_shrink_verb);

}  // namespace kqsim::cli
