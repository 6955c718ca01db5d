// kqsim bench: run the measurement sections (tools/kqsim/bench.h) and print
// their tables.
//
//   kqsim bench [SECTION...] [--list] [--repetitions N] [--workers W] [--quick]
//               [--json FILE]
//
// Exit status: 0 when every section ran, 1 when one failed to measure, 2 on a
// usage error (unknown section, bad number).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fuzz/atomic_file.h"
#include "tools/kqsim/bench.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {

namespace {

std::vector<BenchSection>& sections() {
  static std::vector<BenchSection> s;
  return s;
}

std::string table_text(const BenchTable& t) {
  std::vector<size_t> width(t.columns.size(), 0);
  for (size_t c = 0; c < t.columns.size(); ++c) width[c] = t.columns[c].size();
  for (const auto& row : t.rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      // First column left-aligned (names), the others right-aligned (figures).
      out += c == 0 ? fmt::format("{:<{}}", cell, width[c]) : fmt::format("  {:>{}}", cell, width[c]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = t.title + "\n" + line(t.columns);
  for (const auto& row : t.rows) out += line(row);
  for (const auto& n : t.notes) out += "  " + n + "\n";
  return out;
}

struct BenchCliOptions {
  std::vector<std::string> names;
  bool list = false;
  unsigned repetitions = 5;
  unsigned workers = 0;
  bool quick = false;
  std::string json;
};

int bench_action(const BenchCliOptions& o) {
  std::vector<BenchSection> all = bench_sections();
  if (o.list) {
    for (const BenchSection& s : all) std::cout << fmt::format("{:<16} {}\n", s.name, s.summary);
    return kExitOk;
  }
  std::vector<BenchSection> chosen;
  if (o.names.empty()) {
    chosen = all;
  } else {
    for (const std::string& n : o.names) {
      auto it = std::find_if(all.begin(), all.end(), [&](const BenchSection& s) { return n == s.name; });
      if (it == all.end()) {
        std::string names;
        for (const BenchSection& s : all) names += (names.empty() ? "" : ", ") + std::string(s.name);
        throw UsageError(fmt::format("unknown section '{}' (sections: {})", n, names));
      }
      chosen.push_back(*it);
    }
  }
  if (o.repetitions < 1) throw UsageError("--repetitions: must be at least 1");
  BenchOptions bo;
  bo.repetitions = o.quick ? 1 : o.repetitions;
  bo.workers = o.workers != 0 ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  bo.quick = o.quick;

  nlohmann::ordered_json doc = {{"format", "kqsim-bench"}, {"version", 1}, {"repetitions", bo.repetitions},
                                {"workers", bo.workers}, {"quick", bo.quick}, {"sections", nlohmann::json::array()}};
  int status = kExitOk;
  for (const BenchSection& s : chosen) {
    BenchReport rep;
    rep.section = s.name;
    try {
      s.run(bo, rep);
    } catch (const std::exception& e) {
      std::cerr << fmt::format("kqsim bench: section {} failed: {}\n", s.name, e.what());
      status = kExitFailure;
      continue;
    }
    nlohmann::ordered_json js = {{"name", s.name}, {"tables", nlohmann::json::array()}};
    for (const BenchTable& t : rep.tables) {
      std::cout << table_text(t) << "\n";
      js["tables"].push_back(
          {{"title", t.title}, {"columns", t.columns}, {"rows", t.rows}, {"notes", t.notes}});
    }
    std::cout.flush();
    doc["sections"].push_back(std::move(js));
  }
  if (!o.json.empty()) fuzz::write_file_atomically(o.json, doc.dump(2) + "\n");
  return status;
}

}  // namespace

BenchRegistration::BenchRegistration(int rank, const char* name, const char* summary, BenchFn fn) {
  sections().push_back(BenchSection{rank, name, summary, fn});
}

std::vector<BenchSection> bench_sections() {
  std::vector<BenchSection> s = sections();
  std::sort(s.begin(), s.end(), [](const BenchSection& a, const BenchSection& b) {
    return a.rank != b.rank ? a.rank < b.rank : std::string_view(a.name) < std::string_view(b.name);
  });
  return s;
}

double bench_median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void add_bench_verb(CLI::App& app, Context& ctx) {
  CLI::App* verb = app.add_subcommand("bench", "Measure the checker and the model (see --list)");
  auto o = std::make_shared<BenchCliOptions>();
  verb->add_option("section", o->names, "Sections to run (default: all)")->type_name("SECTION");
  verb->add_flag("--list", o->list, "List the sections and exit");
  verb->add_option("--repetitions", o->repetitions, "Repetitions per measurement; medians are reported (default 5)");
  verb->add_option("--workers", o->workers, "Workers for the all-cores figures (default: every core)");
  verb->add_flag("--quick", o->quick, "Tiny sizes, one repetition: checks the sections work, figures mean nothing");
  verb->add_option("--json", o->json, "Also write the tables as JSON (format kqsim-bench, version 1)")
      ->type_name("FILE");
  ctx.set_action(verb, [o] { return bench_action(*o); });
}

KQSIM_REGISTER_VERB(70, bench, add_bench_verb);

}  // namespace kqsim::cli
