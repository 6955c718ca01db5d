// kqsim merge: combine the kqsim-run results of the shards of one search
// (`kqsim run --shard i/n --json FILE`), see fuzz/merge.h.
//
//   kqsim merge FILE... [--json OUT]
//
// Prints the merged report: findings deduplicated (lowest execution first),
// counts summed, and the lock-order reversals that only the merged witness
// graph shows. --json writes the merged kqsim-run document (through a
// temporary file and a rename: a failed merge leaves no file).
//
// Exit status: 1 when the merged result has a finding, 0 when not, 2 on bad
// input (an unreadable, truncated or malformed file, another format or
// version, results of different runs, a shard given twice): one line on
// stderr, no output file.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz/atomic_file.h"
#include "fuzz/merge.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

struct MergeOptions {
  std::vector<std::string> files;
  std::string json;
};

int merge_action(const MergeOptions& o) {
  std::vector<fuzz::MergeInput> inputs;
  for (const std::string& f : o.files) {
    std::ifstream is(f, std::ios::binary);
    if (!is) throw UsageError(fmt::format("cannot read '{}': {}", f, std::strerror(errno)));
    std::string text((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
    if (is.bad()) throw UsageError(fmt::format("cannot read '{}'", f));
    inputs.push_back(fuzz::MergeInput{f, std::move(text)});
  }
  fuzz::MergedRun m;
  try {
    m = fuzz::merge_runs(inputs);
  } catch (const fuzz::MergeError& e) {
    throw UsageError(e.what());
  }
  if (!o.json.empty()) fuzz::write_file_atomically(o.json, m.doc.dump(2) + "\n");
  std::cout << m.text;
  return m.has_findings ? kExitFailure : kExitOk;
}

}  // namespace

void add_merge_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("merge", "Combine the JSON results of the shards of one run");
  auto o = std::make_shared<MergeOptions>();
  verb->add_option("files", o->files, "kqsim-run JSON results ('kqsim run --shard I/N --json FILE')")
      ->required()
      ->type_name("FILE...");
  verb->add_option("--json", o->json, "Write the merged result (format kqsim-run, version 1)")->type_name("OUT");
  verb->footer(
      "Exit status: 0 no finding, 1 a finding, 2 bad input (unreadable, malformed or truncated file,\n"
      "another format or version, results of different runs, a shard twice).");
  ctx.set_action(verb, [o] { return merge_action(*o); });
}

KQSIM_REGISTER_VERB(80, merge, add_merge_verb);

}  // namespace kqsim::cli
