// kqsim version: print the version.
#include <iostream>

#include "tools/kqsim/verb.h"

namespace kqsim::cli {

void add_version_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("version", "Print the kqsim version");
  ctx.set_action(verb, [] {
    std::cout << "kqsim " << KQSIM_VERSION << "\n";
    return kExitOk;
  });
}

KQSIM_REGISTER_VERB(100, version, add_version_verb);

}  // namespace kqsim::cli
