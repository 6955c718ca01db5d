// kqsim list: the scenarios (summary and expected verdict per design) and the
// locking designs. --verbose adds each scenario's story and the reason for
// each expectation.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "knote/design.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {
namespace {

// Greedy word wrap of `text` at `width` columns, each line prefixed by `pad`.
std::string wrap(const std::string& text, size_t width, const std::string& pad) {
  std::string out, line;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    std::string word = text.substr(i, j - i);
    i = j + 1;
    if (word.empty()) continue;
    if (!line.empty() && pad.size() + line.size() + 1 + word.size() > width) {
      out += pad + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += pad + line + "\n";
  return out;
}

int list_action(bool verbose) {
  const auto& scs = scenarios::all_scenarios();
  size_t wname = 0;
  for (const scenarios::Scenario* s : scs) wname = std::max(wname, s->name().size());
  std::cout << fmt::format("Scenarios ({}):\n", scs.size());
  for (const scenarios::Scenario* s : scs) {
    std::cout << fmt::format("  {:<{}}  {}\n", s->name(), wname, s->summary());
    std::string expect;
    for (const scenarios::DesignExpectation& e : s->expectations()) {
      if (!expect.empty()) expect += ", ";
      expect += e.design + " " + e.expected.str();
    }
    std::cout << fmt::format("  {:<{}}  expected: {}\n", "", wname, expect);
    if (verbose) {
      std::cout << fmt::format("  {:<{}}  threads: {}\n", "", wname, s->threads());
      std::cout << "\n" << wrap(s->story(), 92, std::string(wname + 4, ' '));
      for (const scenarios::DesignExpectation& e : s->expectations())
        if (!e.note.empty())
          std::cout << wrap(fmt::format("{}: {} - {}", e.design, e.expected.str(), e.note), 92,
                            std::string(wname + 4, ' '));
      std::cout << "\n";
    }
  }
  const auto& designs = kern::all_designs();
  size_t wdesign = 0;
  for (const kern::kq_design* d : designs) wdesign = std::max(wdesign, std::string(d->name).size());
  std::cout << fmt::format("\nDesigns ({}):\n", designs.size());
  for (const kern::kq_design* d : designs)
    std::cout << fmt::format("  {:<{}}  {}\n", d->name, wdesign, d->summary);
  return kExitOk;
}

}  // namespace

void add_list_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb =
      app.add_subcommand("list", "List the scenarios with their expected verdicts, and the designs");
  auto verbose = std::make_shared<bool>(false);
  verb->add_flag("-v,--verbose", *verbose,
                 "Also print each scenario's story and why each verdict is expected");
  ctx.set_action(verb, [verbose] { return list_action(*verbose); });
}

KQSIM_REGISTER_VERB(10, list, add_list_verb);

}  // namespace kqsim::cli
