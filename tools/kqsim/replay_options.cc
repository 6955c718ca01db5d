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
  verb->add_option("--path", o.path, "Path file, as written by 'kqsim run --save-path' or 'kqsim shrink'")
      ->type_name("FILE");
  verb->add_option("--choices", o.choices,
                   "The schedule's choices: hex digits, one thread id each, or runs like 0:3,1:36,2 ('-': none)")
      ->type_name("HEX");
  verb->add_option("--strategy", o.strategy, "What made --seed: random (default) or pct (with --depth, --pct-k)")
      ->type_name("STRATEGY");
  verb->add_option("--depth", o.depth, "pct: the depth d of the run")->type_name("D");
  verb->add_option("--pct-k", o.pct_k, "pct: the k (choice points) of the run, as 'kqsim run' printed")
      ->type_name("K");
  verb->add_flag("--no-race", o.no_race, "Turn the data-race detector off (as the run that found it)");
  verb->add_flag("--access-points", o.access_points, fuzz::kAccessPointsHelp);
  verb->add_flag("--no-witness", o.no_witness, "Turn the witness's lock-order checks off (see 'kqsim run' output)");
  verb->add_option("--max-steps", o.max_steps, "Steps (scheduling points and plain accesses) before a step-bound finding")->type_name("N");
  verb->add_option("--max-memory", o.max_memory, fuzz::kMaxMemoryHelp)->type_name("MIB");
  verb->add_option("--stack-kib", o.stack_kib, fuzz::kStackKibHelp)->type_name("KIB");
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
  if (!o.choices.empty()) {
    spec.choices = fuzz::parse_choices(o.choices);
    if (!spec.choices)
      throw UsageError(fmt::format(
          "--choices: '{}' is neither hex digits nor runs like 0:3,1:36,2 (thread:count, comma-separated)",
          o.choices.size() > 60 ? o.choices.substr(0, 57) + "..." : o.choices));
  }
  if (!o.strategy.empty()) {
    std::optional<fuzz::StrategyKind> k = fuzz::strategy_from_name(o.strategy);
    if (!k) throw UsageError(fmt::format("unknown strategy '{}' (strategies: {})", o.strategy, fuzz::strategy_names()));
    spec.strategy = *k;
  }
  if (spec.strategy != fuzz::StrategyKind::kPct && (!o.depth.empty() || !o.pct_k.empty()))
    throw UsageError("--depth and --pct-k go with --strategy pct");
  if (!o.depth.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.depth);
    if (!v || *v < 1 || *v > 64) throw UsageError(fmt::format("--depth: '{}' is not an integer from 1 to 64", o.depth));
    spec.pct_depth = static_cast<unsigned>(*v);
  }
  if (!o.pct_k.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.pct_k);
    if (!v || *v < 1) throw UsageError(fmt::format("--pct-k: '{}' is not a positive integer", o.pct_k));
    spec.pct_k = *v;
  }
  if (!o.max_steps.empty()) {
    std::optional<uint64_t> v = fuzz::parse_u64(o.max_steps);
    if (!v || *v < 1) throw UsageError(fmt::format("--max-steps: '{}' is not a positive integer", o.max_steps));
    spec.sched.max_steps = *v;
  }
  if (!o.max_memory.empty() && !(spec.sched.max_memory = fuzz::parse_max_memory(o.max_memory).value_or(0)))
    throw UsageError(fmt::format("--max-memory: '{}' is not a number of MiB between 1 and 1048576", o.max_memory));
  if (!o.stack_kib.empty() && !(spec.sched.stack_size = fuzz::parse_stack_kib(o.stack_kib).value_or(0)))
    throw UsageError(fmt::format("--stack-kib: '{}' is not a number of KiB between 16 and 1048576", o.stack_kib));
  spec.sched.race_detection = !o.no_race;
  spec.sched.access_points = o.access_points;
  spec.witness = !o.no_witness;
  spec.sched.trace = true;
  return spec;
}

}  // namespace kqsim::cli
