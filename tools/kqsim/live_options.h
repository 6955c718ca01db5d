// live_options.h - `kqsim run SCENARIO --mode live ...`: the live-mode options
// of the run verb and the action that runs them (fuzz/live.h).
//
// Contract: add_live_options() declares --mode, --iterations, --duration,
// --threads, --chaos, --stall-timeout and --profile on the run verb (call it
// after the verb's own options: it remembers the verb to refuse the
// deterministic-only ones in live mode). live_requested() is true for
// --mode live and false for --mode deterministic (the default); it throws
// UsageError for another mode, or for a live-only option without --mode live.
// run_live_action() validates the rest (UsageError, exit 2), runs the scenario
// live, prints the result on stdout, and returns kExitFailure when an oracle
// or the witness reported anything, kExitOk otherwise.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace kqsim::cli {

struct LiveCliOptions {
  std::string mode = "deterministic";
  std::string iterations;
  std::string duration;
  std::string threads;
  std::string chaos;
  std::string stall_timeout;
  bool profile = false;
  const CLI::App* verb = nullptr;
};

void add_live_options(CLI::App* verb, LiveCliOptions& o);
bool live_requested(const LiveCliOptions& o);
// `seed` is the run verb's --seed text (empty: $KQSIM_SEED or 1).
int run_live_action(const std::string& scenario, const std::string& design, const std::string& seed,
                    const LiveCliOptions& o);

}  // namespace kqsim::cli
