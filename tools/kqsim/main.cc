// kqsim: the command-line front end.
//
// main.cc owns the top-level app and the exit-code policy; each verb lives in its own
// verb_<name>.cc and registers itself (see verb.h). Exit codes: 0 success, 1 a verb's own
// failure, 2 any usage error (unknown verb or option, bad or missing argument, no verb).
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/kqsim/verb.h"

#ifndef KQSIM_VERSION
#error "KQSIM_VERSION must be defined by the build (CMakeLists.txt)"
#endif

namespace kqsim::cli {
namespace {

std::vector<VerbEntry>& registry() {
  static std::vector<VerbEntry> verbs;
  return verbs;
}

// "kqsim", "kqsim check", ...: how the user typed the (sub)command.
std::string command_path(const CLI::App* app) {
  std::string path = app->get_name();
  for (const CLI::App* p = app->get_parent(); p != nullptr; p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  return path;
}

// The deepest subcommand selected on the command line so far (the app itself if none).
const CLI::App* deepest_selected(const CLI::App& app) {
  const CLI::App* current = &app;
  for (;;) {
    std::vector<CLI::App*> selected = current->get_subcommands();
    if (selected.empty()) return current;
    current = selected.front();
  }
}

// The first app, top-down along the selected path, with arguments it could not use. CLI11
// checks for leftovers in the same order, so this is the app an ExtrasError came from.
const CLI::App* app_with_leftovers(const CLI::App& app) {
  const CLI::App* current = &app;
  while (current != nullptr) {
    if (!current->remaining(false).empty()) return current;
    std::vector<CLI::App*> selected = current->get_subcommands();
    current = selected.empty() ? nullptr : selected.front();
  }
  return nullptr;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// Prints "<command>: <message>; run '<command> --help'" and returns kExitUsage.
int usage_error(const CLI::App* where, const std::string& message) {
  const std::string path = command_path(where);
  std::cerr << path << ": " << one_line(message) << "; run '" << path << " --help'\n";
  return kExitUsage;
}

int parse_error(const CLI::App& app, const CLI::ParseError& e) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    if (const CLI::App* where = app_with_leftovers(app)) {
      const std::string arg = where->remaining(false).front();
      if (arg.rfind('-', 0) == 0) return usage_error(where, "unknown option '" + arg + "'");
      const bool has_verbs = !where->get_subcommands([](const CLI::App*) { return true; }).empty();
      if (has_verbs && where->get_subcommands().empty()) {
        return usage_error(where, "unknown command '" + arg + "'");
      }
      return usage_error(where, "unexpected argument '" + arg + "'");
    }
  }
  return usage_error(deepest_selected(app), e.what());
}

int run(int argc, char** argv) {
  CLI::App app{"kqsim: a userspace model of FreeBSD kqueue and a locking model checker", "kqsim"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("kqsim ") + KQSIM_VERSION, "Print the version and exit");

  Context ctx;
  for (const VerbEntry& verb : registered_verbs()) verb.add(app, ctx);
  // After the verbs, so that they do not inherit it.
  app.footer("Run 'kqsim <command> --help' for the options of a command.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, with exit code 0: CLI11 prints them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    return parse_error(app, e);
  }

  const CLI::App* verb = deepest_selected(app);
  const Context::Action* action = ctx.action_for(verb);
  if (action == nullptr) {
    // No verb given (or a verb that only groups sub-verbs): show what can be run.
    std::cerr << verb->help();
    return kExitUsage;
  }
  try {
    return (*action)();
  } catch (const UsageError& e) {
    std::cerr << command_path(verb) << ": " << one_line(e.what()) << "\n";
    return kExitUsage;
  } catch (const CLI::Error& e) {
    return usage_error(verb, e.what());
  } catch (const std::exception& e) {
    std::cerr << command_path(verb) << ": error: " << one_line(e.what()) << "\n";
    return kExitFailure;
  }
}

}  // namespace

VerbRegistration::VerbRegistration(int rank, const char* name, AddVerbFn add) {
  registry().push_back(VerbEntry{rank, name, add});
}

std::vector<VerbEntry> registered_verbs() {
  std::vector<VerbEntry> verbs = registry();
  std::sort(verbs.begin(), verbs.end(), [](const VerbEntry& a, const VerbEntry& b) {
    return a.rank != b.rank ? a.rank < b.rank : std::string(a.name) < std::string(b.name);
  });
  return verbs;
}

}  // namespace kqsim::cli

int main(int argc, char** argv) {
  try {
    return kqsim::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "kqsim: internal error: " << e.what() << "\n";
    return kqsim::cli::kExitFailure;
  }
}
