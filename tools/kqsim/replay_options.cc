#include "tools/kqsim/replay_options.h"

#include <fmt/format.h>

#include "fuzz/limits.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {

void add_replay_options(CLI::App* verb, ReplayOptions& o) {
  verb->add_option("scenario", o.scenario, "Scenario name (see 'kqsim list')")->required()->type_name("SCENARIO");
  verb->add_option("--design", o.design, "Locking design (default: the path file's, else fine)")
      ->type_name("DESIGN");
  verb->add_option("--seed", o.seed, "Execution seed, as printed by 'kqsim run'")->type_name("SEED");
  verb->add_option("--path", o.path, "Path file, as written by 'kqsim run --save-path'")->type_name("FILE");
  verb->add_flag("--no-race", o.no_race, "Turn the data-race detector off (as the run that found it)");
  verb->add_flag("--no-witness", o.no_witness, "Turn the witness's lock-order checks off (see 'kqsim run' output)");
  verb->add_option("--max-steps", o.max_steps, "Scheduling points before a step-bound finding")->type_name("N");
  verb->add_option("--max-memory", o.max_memory, fuzz::kMaxMemoryHelp)->type_name("MIB");
}

fuzz::ReplaySpec to_spec(const ReplayOptions& o) {
  fuzz::ReplaySpec spec;
  spec.scenario = o.scenario;
  spec.design = o.design;
  spec.path_file = o.path;
  if (!o.seed.empty()) {
    spec.seed = fuzz::parse_u64(o.seed);
    if (!spec.seed) throw UsageError(fmt::format("--seed: '{}' is not a non-negative integer", o.seed));
  }
  if (!o.max_steps.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.max_steps);
    if (!v || *v < 1) throw UsageError(fmt::format("--max-steps: '{}' is not a positive integer", o.max_steps));
    spec.sched.max_steps = *v;
  }
  if (!o.max_memory.empty() && !(spec.sched.max_memory = fuzz::parse_max_memory(o.max_memory).value_or(0)))
    throw UsageError(fmt::format("--max-memory: '{}' is not a number of MiB between 1 and 1048576", o.max_memory));
  spec.sched.race_detection = !o.no_race;
  spec.witness = !o.no_witness;
  spec.sched.trace = true;
  return spec;
}

}  // namespace kqsim::cli
