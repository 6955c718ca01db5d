// The kqsim CLI's verb interface.
//
// Each verb lives in its own file, tools/kqsim/verb_<name>.cc, which defines
//
//   namespace kqsim::cli {
//   void add_<name>_verb(CLI::App& app, Context& ctx) {
//     CLI::App* verb = app.add_subcommand("<name>", "One line for the help listing");
//     auto opts = std::make_shared<NameOptions>();   // must outlive parsing: own it here
//     verb->add_option("--seed", opts->seed, "...");
//     ctx.set_action(verb, [opts] { ...; return kExitOk; });
//   }
//   KQSIM_REGISTER_VERB(<rank>, <name>, add_<name>_verb);
//   }  // namespace kqsim::cli
//
// and nothing else: the CMake glob compiles the file into `kqsim`, and the registration
// makes main.cc add the verb. Verbs appear in `kqsim --help` ordered by rank:
//
//   rank  verb       rank  verb
//   10    list       60    explain
//   20    run        70    bench
//   30    check      80    merge
//   40    replay     100   version
//   50    shrink
//
// Contract of an action:
//   - It runs after the whole command line has parsed, so every option is set.
//   - It returns the exit status: kExitOk, kExitFailure for a run that worked but found
//     something wrong (the verb documents exactly what), or another kExit* code.
//   - A bad argument the parser could not catch (an unknown scenario or design name):
//     throw UsageError("unknown scenario 'x'; run 'kqsim list'"). main prints
//     "kqsim <verb>: <message>" and exits with kExitUsage.
//   - Any other exception is reported as "kqsim <verb>: error: <what>" and exits with
//     kExitFailure.
// Usage errors (unknown verb or option, bad value, missing argument) always exit with
// kExitUsage (2); main.cc maps every CLI11 parse error to it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kqsim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A usage error found by a verb's action rather than by the parser.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What verbs share: the action table, and (later) options common to every verb.
class Context {
 public:
  using Action = std::function<int()>;

  // Makes `action` run when `verb` (a subcommand, possibly nested) is the deepest
  // subcommand on the command line.
  void set_action(const CLI::App* verb, Action action) { actions_[verb] = std::move(action); }

  // The action registered for `verb`, or nullptr.
  const Action* action_for(const CLI::App* verb) const {
    auto it = actions_.find(verb);
    return it == actions_.end() ? nullptr : &it->second;
  }

 private:
  std::map<const CLI::App*, Action> actions_;
};

using AddVerbFn = void (*)(CLI::App& app, Context& ctx);

struct VerbEntry {
  int rank;
  const char* name;
  AddVerbFn add;
};

// Registers a verb at static-initialization time; use KQSIM_REGISTER_VERB.
class VerbRegistration {
 public:
  VerbRegistration(int rank, const char* name, AddVerbFn add);
};

// All registered verbs, ordered by (rank, name).
std::vector<VerbEntry> registered_verbs();

}  // namespace kqsim::cli

#define KQSIM_REGISTER_VERB(rank, name, add_fn) \
  static const ::kqsim::cli::VerbRegistration kqsim_verb_registration_##name { rank, #name, add_fn }
