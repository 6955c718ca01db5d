// replay_options.h - what `kqsim replay` and `kqsim explain` share: which
// execution to run again (a scenario, a design, an execution seed or a path
// file) and how (race detector, witness, step bound).
//
// Contract: add_replay_options() declares the shared options on a verb;
// to_spec() validates them (UsageError on a malformed number) and builds the
// fuzz::ReplaySpec, with tracing on.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "fuzz/run.h"

namespace kqsim::cli {

struct ReplayOptions {
  std::string scenario;
  std::string design;
  std::string seed;
  std::string path;
  std::string choices;
  std::string strategy;
  std::string depth;
  std::string pct_k;
  bool no_race = false;
  bool access_points = false;
  bool no_witness = false;
  std::string max_steps;
  std::string max_memory;
  std::string stack_kib;
};

void add_replay_options(CLI::App* verb, ReplayOptions& o);
fuzz::ReplaySpec to_spec(const ReplayOptions& o);

}  // namespace kqsim::cli
