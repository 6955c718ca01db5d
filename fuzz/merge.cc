#include "fuzz/merge.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "fuzz/run.h"
#include "locks/witness_graph.h"
#include "scenarios/scenario.h"

namespace kqsim::fuzz {

namespace {

using json = nlohmann::ordered_json;

struct Loaded {
  std::string name;
  json doc;
  Shard shard;
  std::unique_ptr<locks::WitnessGraph> witness;
};

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw MergeError(fmt::format("{}: {}", name, what));
}

const json& field(const Loaded& in, const char* key) {
  auto it = in.doc.find(key);
  if (it == in.doc.end()) fail(in.name, fmt::format("no \"{}\" field (is it a complete kqsim-run result?)", key));
  return *it;
}

std::string string_field(const Loaded& in, const char* key) {
  const json& v = field(in, key);
  if (!v.is_string()) fail(in.name, fmt::format("\"{}\" is not a string", key));
  return v.get<std::string>();
}

uint64_t uint_field(const Loaded& in, const char* key) {
  const json& v = field(in, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail(in.name, fmt::format("\"{}\" is not a non-negative integer", key));
  return v.get<uint64_t>();
}

Loaded load(const MergeInput& input) {
  Loaded in;
  in.name = input.name;
  try {
    in.doc = json::parse(input.text);
  } catch (const json::parse_error& e) {
    fail(in.name, fmt::format("not JSON (truncated?): {}", e.what()));
  }
  if (!in.doc.is_object()) fail(in.name, "not a kqsim-run result (not a JSON object)");
  auto fmt_it = in.doc.find("format");
  if (fmt_it == in.doc.end() || !fmt_it->is_string() || *fmt_it != "kqsim-run")
    fail(in.name, "not a kqsim-run result (\"format\" is not \"kqsim-run\")");
  auto ver = in.doc.find("version");
  if (ver == in.doc.end() || !ver->is_number_integer() || *ver != 1)
    fail(in.name, fmt::format("kqsim-run version {} is not supported (this kqsim reads version 1)",
                              ver == in.doc.end() ? std::string("(none)") : ver->dump()));
  for (const char* k : {"scenario", "design", "strategy"}) (void)string_field(in, k);
  for (const char* k : {"seed", "schedules", "executions", "total_steps", "max_steps"}) (void)uint_field(in, k);
  if (!field(in, "race_detection").is_boolean()) fail(in.name, "\"race_detection\" is not a boolean");
  std::string shard = string_field(in, "shard");
  std::optional<Shard> s = parse_shard(shard);
  if (!s) fail(in.name, fmt::format("\"shard\" '{}' is not I/N (a merged result cannot be merged again)", shard));
  in.shard = *s;
  const json& findings = field(in, "findings");
  if (!findings.is_array()) fail(in.name, "\"findings\" is not an array");
  for (size_t i = 0; i < findings.size(); ++i) {
    const json& f = findings[i];
    auto bad = [&](const char* what) { fail(in.name, fmt::format("findings[{}]: {}", i, what)); };
    if (!f.is_object()) bad("not an object");
    if (!f.contains("key") || !f["key"].is_string()) bad("no \"key\" string (written by an older kqsim?)");
    if (!f.contains("kind") || !f["kind"].is_string() || !sim::kind_from_name(f["kind"].get<std::string>()))
      bad("no known \"kind\"");
    if (!f.contains("headline") || !f["headline"].is_string()) bad("no \"headline\" string");
    if (!f.contains("message") || !f["message"].is_string()) bad("no \"message\" string");
    bool graph_only = f.value("graph_only", false);
    if (!graph_only && !(f.contains("first_execution") && f["first_execution"].is_number_unsigned()))
      bad("no \"first_execution\"");
    if (f.contains("count") && !f["count"].is_number_unsigned()) bad("\"count\" is not a number");
  }
  const json& w = field(in, "witness");
  locks::LoadResult lr = locks::WitnessGraph::from_json(w.dump());
  if (!lr.ok()) fail(in.name, fmt::format("witness graph: {}", lr.error));
  in.witness = std::move(lr.graph);
  return in;
}

}  // namespace

MergedRun merge_runs(const std::vector<MergeInput>& inputs) {
  if (inputs.empty()) throw MergeError("no result files given");
  std::vector<Loaded> ins;
  for (const MergeInput& i : inputs) ins.push_back(load(i));
  std::sort(ins.begin(), ins.end(), [](const Loaded& a, const Loaded& b) { return a.shard.index < b.shard.index; });

  // Same run?
  const Loaded& first = ins.front();
  static const char* const kSame[] = {"scenario", "design", "strategy",  "seed",        "schedules",
                                      "max_steps", "race_detection", "access_points", "pct_depth", "pct_k",
                                      "preemptions"};
  for (size_t i = 1; i < ins.size(); ++i) {
    for (const char* k : kSame) {
      json a = first.doc.contains(k) ? first.doc[k] : json();
      json b = ins[i].doc.contains(k) ? ins[i].doc[k] : json();
      if (a != b)
        throw MergeError(fmt::format("{} and {} are not shards of the same run: \"{}\" is {} in one and {} in the other",
                                     first.name, ins[i].name, k, a.dump(), b.dump()));
    }
    if (ins[i].shard.count != first.shard.count)
      throw MergeError(fmt::format("{} and {} are not shards of the same run: shard {} and shard {}", first.name,
                                   ins[i].name, first.shard.str(), ins[i].shard.str()));
    if (ins[i].shard.index == ins[i - 1].shard.index)
      throw MergeError(fmt::format("{} and {} are the same shard {}", ins[i - 1].name, ins[i].name,
                                   ins[i].shard.str()));
  }

  // Counts and findings.
  uint64_t executions = 0, total_steps = 0;
  json shards = json::array();
  std::set<uint64_t> have;
  for (const Loaded& in : ins) {
    executions += in.doc["executions"].get<uint64_t>();
    total_steps += in.doc["total_steps"].get<uint64_t>();
    shards.push_back(in.shard.str());
    have.insert(in.shard.index);
  }
  json missing = json::array();
  for (uint64_t i = 0; i < first.shard.count && missing.size() < 1000; ++i)
    if (!have.count(i)) missing.push_back(Shard{i, first.shard.count}.str());

  std::vector<json> kept;
  std::unordered_map<std::string, size_t> index;
  for (const Loaded& in : ins)
    for (const json& f : in.doc["findings"]) {
      std::string key = f["key"].get<std::string>();
      auto it = index.find(key);
      if (it == index.end()) {
        index.emplace(key, kept.size());
        kept.push_back(f);
        continue;
      }
      json& m = kept[it->second];
      bool m_graph = m.value("graph_only", false), f_graph = f.value("graph_only", false);
      std::optional<uint64_t> count;
      if (m.contains("count") && f.contains("count"))
        count = m["count"].get<uint64_t>() + f["count"].get<uint64_t>();
      else if (m.contains("count") || f.contains("count"))
        count = m.contains("count") ? m["count"].get<uint64_t>() : f["count"].get<uint64_t>();
      if ((m_graph && !f_graph) ||
          (!m_graph && !f_graph && f["first_execution"].get<uint64_t>() < m["first_execution"].get<uint64_t>()))
        m = f;
      if (count) m["count"] = *count;
    }
  auto order = [](const json& f) {
    return f.value("graph_only", false) ? UINT64_MAX : f["first_execution"].get<uint64_t>();
  };
  std::stable_sort(kept.begin(), kept.end(), [&](const json& a, const json& b) { return order(a) < order(b); });

  // Witness graphs: reversals only the merged graph shows.
  locks::WitnessGraph graph;
  std::vector<const locks::WitnessGraph*> graphs;
  for (const Loaded& in : ins) graphs.push_back(in.witness.get());
  for (const Loaded& in : ins) {
    locks::MergeResult mr = graph.merge(*in.witness);
    for (const locks::Reversal& rev : mr.reversals) {
      if (reversal_reported_in(graphs, rev)) continue;  // a shard reported it already
      FoundFinding f = reversal_finding(rev);
      std::string key = f.finding.dedup_key();
      if (!index.emplace(key, kept.size()).second) continue;
      json j;
      j["kind"] = std::string(sim::kind_name(f.finding.kind));
      j["key"] = key;
      j["headline"] = f.finding.headline();
      j["message"] = f.finding.message;
      j["threads"] = json::array();
      json sites = json::array();
      for (const sim::Site& s : f.finding.sites) sites.push_back(s.str());
      j["sites"] = sites;
      j["graph_only"] = true;
      j["first_execution"] = nullptr;
      j["execution_seed"] = nullptr;
      j["replay"] = "";
      j["replay_mode"] = "graph-only";
      kept.push_back(std::move(j));
    }
  }

  // The verdict.
  std::vector<sim::FindingKind> kinds;
  for (const json& f : kept) kinds.push_back(*sim::kind_from_name(f["kind"].get<std::string>()));
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  const std::string scenario = first.doc["scenario"].get<std::string>();
  const std::string design = first.doc["design"].get<std::string>();
  const scenarios::Scenario* sc = scenarios::find_scenario(scenario);
  const scenarios::DesignExpectation* de = sc != nullptr ? sc->expectation_for(design) : nullptr;

  MergedRun out;
  json& doc = out.doc;
  doc["format"] = "kqsim-run";
  doc["version"] = 1;
  for (const char* k : {"scenario", "design", "strategy", "seed", "schedules"}) doc[k] = first.doc[k];
  doc["shard"] = "merged";
  doc["shards"] = shards;
  doc["missing_shards"] = missing;
  for (const char* k : {"pct_depth", "pct_k", "preemptions"})
    if (first.doc.contains(k)) doc[k] = first.doc[k];
  doc["max_steps"] = first.doc["max_steps"];
  doc["race_detection"] = first.doc["race_detection"];
  doc["executions"] = executions;
  doc["total_steps"] = total_steps;
  if (de != nullptr) {
    doc["expected"] = de->expected.str();
    doc["matches_expected"] = verdict_matches(de->expected, kinds);
  } else {
    doc["expected"] = nullptr;
    doc["matches_expected"] = nullptr;
  }
  json verdict = json::array();
  for (sim::FindingKind k : kinds) verdict.push_back(std::string(sim::kind_name(k)));
  doc["verdict"] = verdict;
  doc["findings"] = kept;
  doc["witness"] = witness_to_json(graph);
  out.has_findings = !kept.empty();

  // The report.
  std::string& t = out.text;
  std::string shard_list;
  for (const json& s : shards) shard_list += (shard_list.empty() ? "" : ", ") + s.get<std::string>();
  t += fmt::format("{} under {}: {} executions, {} strategy, seed {}; merged {} result{} (shards {} of {}",
                   scenario, design, executions, first.doc["strategy"].get<std::string>(),
                   first.doc["seed"].get<uint64_t>(), ins.size(), ins.size() == 1 ? "" : "s", shard_list,
                   first.shard.count);
  if (!missing.empty()) t += fmt::format("; {} missing", missing.size());
  t += ")\n";
  std::string vtext = verdict_text(kinds);
  if (de != nullptr)
    t += fmt::format("verdict: {} (expected {}: {})\n", vtext, de->expected.str(),
                     verdict_matches(de->expected, kinds) ? "as expected" : "MISMATCH");
  else
    t += fmt::format("verdict: {}\n", vtext);
  if (!kept.empty()) t += fmt::format("{} distinct finding{}:\n", kept.size(), kept.size() == 1 ? "" : "s");
  for (size_t i = 0; i < kept.size(); ++i) {
    const json& f = kept[i];
    t += fmt::format("[{}] {}\n", i + 1, f["headline"].get<std::string>());
    t += indent_rest(f["message"].get<std::string>(), "    ");
    if (f.value("graph_only", false)) {
      t += "    found only in the merged witness graph: the two orders were seen in different shards\n";
      continue;
    }
    std::string seed = f.contains("execution_seed") && f["execution_seed"].is_number_unsigned()
                           ? fmt::format(" (execution seed {})", f["execution_seed"].get<uint64_t>())
                           : "";
    if (f.contains("count"))
      t += fmt::format("    first at execution {}{}, seen in {} of {} executions\n",
                       f["first_execution"].get<uint64_t>(), seed, f["count"].get<uint64_t>(), executions);
    else
      t += fmt::format("    first at execution {}{}\n", f["first_execution"].get<uint64_t>(), seed);
    if (f.contains("replay") && f["replay"].is_string() && !f["replay"].get<std::string>().empty())
      t += fmt::format("    replay: {}\n", f["replay"].get<std::string>());
    if (f.contains("shrunk") && f["shrunk"].is_object()) {
      const json& s = f["shrunk"];
      if (s.contains("preemptions") && s["preemptions"].is_number_unsigned())
        t += fmt::format("    shrunk: {} preemption{}\n", s["preemptions"].get<uint64_t>(),
                         s["preemptions"].get<uint64_t>() == 1 ? "" : "s");
      if (s.contains("explain") && s["explain"].is_string())
        t += fmt::format("    explain: {}\n", s["explain"].get<std::string>());
    }
  }
  return out;
}

}  // namespace kqsim::fuzz
