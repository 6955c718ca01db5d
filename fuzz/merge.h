// merge.h - combine the kqsim-run results of the shards of one search
// (`kqsim run --shard i/n --json F` on several machines) into one result.
//
// Contract: merge_runs() takes the texts of kqsim-run version 1 documents
// (fuzz/run.h, run_to_json) and returns the merged document and its text
// report, or throws MergeError with a one-line message naming the input, for:
// text that is not JSON (truncated files included), another format or
// version, missing or mistyped fields, a missing or malformed witness graph,
// results of different runs (scenario, design, strategy, seed, schedules,
// max_steps, race_detection, pct_depth, pct_k or the shard count differ), and
// the same shard given twice. Nothing is partly merged.
//
// The merge, independent of the order of the inputs (they are taken in shard
// order):
//   - executions and total_steps are summed; "shard" becomes "merged" and
//     "shards" lists the shards merged ("0/4", "2/4", ...), "missing_shards"
//     the others;
//   - findings are deduplicated by their "key" (Finding::dedup_key): the one
//     with the lowest first_execution is kept, counts are summed;
//   - the witness graphs are merged (WitnessGraph::merge, shard order); each
//     reversal that only the merged graph shows (each shard saw one of the
//     two orders) is added as a finding with "graph_only": true, after the
//     others; the merged graph is the result's "witness";
//   - the verdict is recomputed, and matches_expected when the scenario is
//     known to this binary.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kqsim::fuzz {

struct MergeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MergeInput {
  std::string name;  // for messages: the file name
  std::string text;  // its contents
};

struct MergedRun {
  nlohmann::ordered_json doc;  // kqsim-run version 1
  std::string text;            // the report kqsim merge prints
  bool has_findings = false;
};

MergedRun merge_runs(const std::vector<MergeInput>& inputs);

}  // namespace kqsim::fuzz
