#include "fuzz/run.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "locks/witness.h"
#include "model/sim/strategy.h"

namespace kqsim::fuzz {

namespace {

// The lines of `message` after the first, each prefixed by `pad`.
std::string indent_rest(const std::string& message, const char* pad) {
  std::string out;
  size_t nl = message.find('\n');
  while (nl != std::string::npos) {
    size_t next = message.find('\n', nl + 1);
    out += pad;
    out += message.substr(nl + 1, next == std::string::npos ? std::string::npos : next - nl - 1);
    out += '\n';
    nl = next;
  }
  return out;
}

}  // namespace

// ---- strategies ----

std::optional<StrategyKind> strategy_from_name(std::string_view name) {
  if (name == "random") return StrategyKind::kRandom;
  if (name == "pct") return StrategyKind::kPct;
  if (name == "exhaustive") return StrategyKind::kExhaustive;
  return std::nullopt;
}

const char* strategy_name(StrategyKind s) {
  switch (s) {
    case StrategyKind::kRandom:
      return "random";
    case StrategyKind::kPct:
      return "pct";
    case StrategyKind::kExhaustive:
      return "exhaustive";
  }
  return "?";
}

bool strategy_implemented(StrategyKind s) { return s == StrategyKind::kRandom; }

std::string strategy_names() { return "random, pct, exhaustive"; }

// ---- results ----

std::vector<sim::FindingKind> RunResult::kinds() const {
  std::vector<sim::FindingKind> out;
  for (const FoundFinding& f : findings) out.push_back(f.finding.kind);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const FoundFinding* RunResult::first(sim::FindingKind k) const {
  for (const FoundFinding& f : findings)
    if (f.finding.kind == k) return &f;
  return nullptr;
}

namespace {

// A finding as a worker keeps it: plus its position within its execution, so
// that merged results have one order whatever the number of workers.
struct Kept {
  FoundFinding found;
  size_t pos = 0;
};

struct Share {
  std::vector<Kept> kept;
  uint64_t executions = 0;
  uint64_t total_steps = 0;
};

bool uses_giant(const kern::kq_design& d) { return d.kevent_giant || d.all_giant; }

class Progress {
 public:
  explicit Progress(const RunOptions& o) : fn_(o.progress), total_(o.executions) {}
  void add(uint64_t n) {
    uint64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> g(mu_, std::try_to_lock);
    if (!g.owns_lock() || now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    fn_(done, total_);
  }
  void finish() {
    if (fn_) fn_(done_.load(), total_);
  }

 private:
  const std::function<void(uint64_t, uint64_t)>& fn_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Worker `w` of `nw`: executions w, w + nw, w + 2 nw, ...
Share run_share(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts,
                unsigned w, unsigned nw, Progress& progress) {
  locks::Witness witness;
  locks::WitnessScope scope(&witness);
  sim::SchedulerOptions so = opts.sched;
  so.trace = false;
  so.stop_on_finding = true;
  sim::Scheduler sched(so);
  sim::RandomStrategy strategy(0);
  Share out;
  std::unordered_map<std::string, size_t> index;
  uint64_t since_report = 0;
  for (uint64_t i = w; i < opts.executions; i += nw) {
    uint64_t es = sim::execution_seed(opts.seed, i);
    strategy.reseed(es);
    const sim::Execution& e = sched.run(strategy, [&sc, &design] { sc.execute(design); });
    ++out.executions;
    out.total_steps += e.steps;
    for (size_t k = 0; k < e.findings.size(); ++k) {
      const sim::Finding& f = e.findings[k];
      std::string key = f.dedup_key();
      auto it = index.find(key);
      if (it != index.end()) {
        ++out.kept[it->second].found.count;
        continue;
      }
      index.emplace(std::move(key), out.kept.size());
      out.kept.push_back(Kept{FoundFinding{f, i, es, 1}, k});
    }
    if (++since_report == 64) {
      progress.add(since_report);
      since_report = 0;
    }
  }
  progress.add(since_report);
  return out;
}

}  // namespace

RunResult run_scenario(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts) {
  if (!strategy_implemented(opts.strategy))
    throw std::invalid_argument(
        fmt::format("strategy '{}' is not implemented yet", strategy_name(opts.strategy)));
  if (opts.workers == 0) throw std::invalid_argument("--workers must be at least 1");
  const unsigned nw = opts.workers;
  auto t0 = std::chrono::steady_clock::now();
  Progress progress(opts);
  std::vector<Share> shares(nw);
  RunResult r;
  if (nw == 1 || uses_giant(design)) {
    r.workers_serialized = nw > 1;
    for (unsigned w = 0; w < nw; ++w) shares[w] = run_share(sc, design, opts, w, nw, progress);
  } else {
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(nw);
    for (unsigned w = 0; w < nw; ++w)
      threads.emplace_back([&, w] {
        try {
          shares[w] = run_share(sc, design, opts, w, nw, progress);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    for (std::thread& t : threads) t.join();
    for (std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }
  progress.finish();

  // Merge: lowest execution index wins, counts add up.
  std::vector<Kept> merged;
  std::unordered_map<std::string, size_t> index;
  for (Share& s : shares) {
    r.executions += s.executions;
    r.total_steps += s.total_steps;
    for (Kept& k : s.kept) {
      std::string key = k.found.finding.dedup_key();
      auto it = index.find(key);
      if (it == index.end()) {
        index.emplace(std::move(key), merged.size());
        merged.push_back(std::move(k));
        continue;
      }
      Kept& m = merged[it->second];
      uint64_t count = m.found.count + k.found.count;
      if (k.found.execution < m.found.execution) m = std::move(k);
      m.found.count = count;
    }
  }
  std::sort(merged.begin(), merged.end(), [](const Kept& a, const Kept& b) {
    return a.found.execution != b.found.execution ? a.found.execution < b.found.execution : a.pos < b.pos;
  });
  for (Kept& k : merged) r.findings.push_back(std::move(k.found));
  for (const FoundFinding& f : r.findings) {
    if (!opts.verify_replays) {
      r.replay.push_back(ReplayMode::kUnchecked);
      continue;
    }
    const std::string key = f.finding.dedup_key();
    auto made = [&key](const ReplayResult& rr) {
      for (const sim::Finding& x : rr.execution.findings)
        if (x.dedup_key() == key) return true;
      return false;
    };
    // With tracing on, as `kqsim replay` and `kqsim explain` run it: after a
    // corruption, what a dangling pointer into a dead stack frame reads depends
    // on what ran on that stack since, tracing included.
    sim::SchedulerOptions so = opts.sched;
    so.trace = true;
    if (made(replay_seed(sc, design, f.execution_seed, so, true)))
      r.replay.push_back(ReplayMode::kAlone);
    else if (made(replay_seed(sc, design, f.execution_seed, so, false)))
      r.replay.push_back(ReplayMode::kNoWitness);
    else
      r.replay.push_back(ReplayMode::kNotAlone);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// ---- one execution ----

namespace {

ReplayResult replay_with(const scenarios::Scenario& sc, const kern::kq_design& design,
                         sim::Strategy& strategy, sim::SchedulerOptions so, bool check) {
  locks::Witness::Options wo;
  wo.check = check;
  locks::Witness witness(wo);
  locks::WitnessScope scope(&witness);
  so.stop_on_finding = true;
  sim::Scheduler sched(so);
  const sim::Execution& e = sched.run(strategy, [&sc, &design] { sc.execute(design); });
  ReplayResult out;
  out.execution = e;
  for (unsigned t = 0; t < e.threads; ++t)
    out.thread_names.emplace_back(sched.thread_name(static_cast<sim::Tid>(t)));
  return out;
}

}  // namespace

ReplayResult replay_seed(const scenarios::Scenario& sc, const kern::kq_design& design,
                         uint64_t execution_seed, sim::SchedulerOptions sched, bool witness) {
  sim::RandomStrategy strategy(execution_seed);
  return replay_with(sc, design, strategy, sched, witness);
}

ReplayResult replay_path(const scenarios::Scenario& sc, const kern::kq_design& design, const sim::Path& path,
                         sim::SchedulerOptions sched, bool witness) {
  sim::ReplayStrategy strategy(path);
  ReplayResult out = replay_with(sc, design, strategy, sched, witness);
  out.diverged = strategy.diverged();
  out.diverged_at = strategy.diverged_at();
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

ReplayRun replay(const ReplaySpec& spec) {
  ReplayRun out;
  out.scenario = scenarios::find_scenario(spec.scenario);
  if (out.scenario == nullptr)
    throw std::invalid_argument(
        fmt::format("unknown scenario '{}' (scenarios: {})", spec.scenario, scenarios::scenario_names()));
  if (spec.seed.has_value() == !spec.path_file.empty())
    throw std::invalid_argument("give exactly one of --seed EXECUTION_SEED and --path FILE");
  std::string design = spec.design;
  sim::PathFile pf;
  if (!spec.path_file.empty()) {
    try {
      pf = sim::load_path_file(spec.path_file);
    } catch (const sim::PathError& e) {
      throw std::invalid_argument(e.what());
    }
    if (!pf.program.empty() && pf.program != spec.scenario)
      throw std::invalid_argument(fmt::format("path file '{}' was recorded for scenario '{}', not '{}'",
                                              spec.path_file, pf.program, spec.scenario));
    if (!design.empty() && !pf.design.empty() && pf.design != design)
      throw std::invalid_argument(fmt::format("path file '{}' was recorded under design '{}', not '{}'",
                                              spec.path_file, pf.design, design));
    if (design.empty()) design = pf.design;
  }
  if (design.empty()) design = "fine";
  out.design = kern::find_design(design);
  if (out.design == nullptr)
    throw std::invalid_argument(
        fmt::format("unknown design '{}' (designs: {})", design, kern::design_names()));
  if (spec.seed) {
    out.how = fmt::format("execution seed {}", *spec.seed);
    out.result = replay_seed(*out.scenario, *out.design, *spec.seed, spec.sched, spec.witness);
  } else {
    out.how = fmt::format("path file {} ({} choices)", spec.path_file, pf.choices.size());
    out.result = replay_path(*out.scenario, *out.design, pf.choices, spec.sched, spec.witness);
  }
  return out;
}

std::string execution_findings_text(const ReplayResult& r) {
  std::string out;
  for (const sim::Finding& f : r.execution.findings) {
    out += f.headline() + "\n";
    out += indent_rest(f.message, "  ");
    std::string who;
    for (sim::Tid t : f.threads) {
      if (!who.empty()) who += ", ";
      who += t < r.thread_names.size() ? r.thread_names[t] : fmt::format("t{}", t);
    }
    out += fmt::format("  at step {}{}{}\n", f.step, who.empty() ? "" : "; threads ", who);
  }
  return out;
}

// ---- verdicts ----

bool verdict_matches(const scenarios::Expected& e, const std::vector<sim::FindingKind>& kinds) {
  switch (e.what) {
    case scenarios::Expected::What::kClean:
      return kinds.empty();
    case scenarios::Expected::What::kSkip:
      return true;
    case scenarios::Expected::What::kFailure:
      return std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end();
  }
  return false;
}

std::string verdict_text(const std::vector<sim::FindingKind>& kinds) {
  if (kinds.empty()) return "clean";
  std::string out;
  for (sim::FindingKind k : kinds) {
    if (!out.empty()) out += ", ";
    out += sim::kind_name(k);
  }
  return out;
}

// ---- reports ----

std::string replay_command(const RunInfo& info, uint64_t execution_seed, ReplayMode mode, const char* verb) {
  std::string cmd =
      fmt::format("kqsim {} {} --design {} --seed {}", verb, info.scenario, info.design, execution_seed);
  if (!info.opts.sched.race_detection) cmd += " --no-race";
  if (info.opts.sched.max_steps != sim::SchedulerOptions{}.max_steps)
    cmd += fmt::format(" --max-steps {}", info.opts.sched.max_steps);
  if (info.opts.sched.max_memory != sim::SchedulerOptions{}.max_memory)
    cmd += fmt::format(" --max-memory {}", info.opts.sched.max_memory >> 20);
  if (mode == ReplayMode::kNoWitness) cmd += " --no-witness";
  return cmd;
}

std::string rerun_command(const RunInfo& info, uint64_t execution) {
  std::string cmd = fmt::format("kqsim run {} --design {} --seed {} --schedules {}", info.scenario,
                                info.design, info.opts.seed, execution + 1);
  if (!info.opts.sched.race_detection) cmd += " --no-race";
  if (info.opts.sched.max_steps != sim::SchedulerOptions{}.max_steps)
    cmd += fmt::format(" --max-steps {}", info.opts.sched.max_steps);
  if (info.opts.sched.max_memory != sim::SchedulerOptions{}.max_memory)
    cmd += fmt::format(" --max-memory {}", info.opts.sched.max_memory >> 20);
  return cmd;
}

namespace {

ReplayMode mode_of(const RunResult& r, size_t i) {
  return i < r.replay.size() ? r.replay[i] : ReplayMode::kUnchecked;
}

// The "replay:" line(s) of finding i.
std::string replay_lines(const RunInfo& info, const RunResult& r, size_t i, const char* pad) {
  const FoundFinding& f = r.findings[i];
  ReplayMode m = mode_of(r, i);
  switch (m) {
    case ReplayMode::kNotAlone:
      return fmt::format(
          "{}replay: does not reproduce alone (after a corruption it read memory that earlier executions "
          "left behind); rerun:\n"
          "{}  {}\n",
          pad, pad, rerun_command(info, f.execution));
    case ReplayMode::kNoWitness:
      return fmt::format(
          "{}replay: {}\n{}  (--no-witness: the run's witness had already reported a reversal "
          "and stayed quiet; a fresh one would report it first)\n",
          pad, replay_command(info, f.execution_seed, m), pad);
    default:
      return fmt::format("{}replay: {}\n", pad, replay_command(info, f.execution_seed, m));
  }
}

}  // namespace

namespace {

bool counted(const FoundFinding& f) { return f.finding.kind != sim::FindingKind::kLockOrderReversal; }

}  // namespace

std::string findings_text(const RunInfo& info, const RunResult& r, const std::vector<std::string>& paths) {
  std::string out;
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const FoundFinding& f = r.findings[i];
    out += fmt::format("[{}] {}\n", i + 1, f.finding.headline());
    out += indent_rest(f.finding.message, "    ");
    if (counted(f))
      out += fmt::format("    first at execution {} (execution seed {}), seen in {} of {} executions\n",
                         f.execution, f.execution_seed, f.count, r.executions);
    else
      out += fmt::format(
          "    first at execution {} (execution seed {}); the witness reports each reversal once\n",
          f.execution, f.execution_seed);
    out += replay_lines(info, r, i, "    ");
    if (i < paths.size()) out += fmt::format("    path: {}\n", paths[i]);
  }
  return out;
}

nlohmann::ordered_json run_to_json(const RunInfo& info, const RunResult& r,
                                   const scenarios::Expected* expected,
                                   const std::vector<std::string>& paths) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["format"] = "kqsim-run";
  doc["version"] = 1;
  doc["scenario"] = info.scenario;
  doc["design"] = info.design;
  doc["strategy"] = strategy_name(info.opts.strategy);
  doc["seed"] = info.opts.seed;
  doc["schedules"] = info.opts.executions;
  doc["workers"] = info.opts.workers;
  doc["max_steps"] = info.opts.sched.max_steps;
  doc["race_detection"] = info.opts.sched.race_detection;
  doc["executions"] = r.executions;
  doc["total_steps"] = r.total_steps;
  doc["seconds"] = r.seconds;
  std::vector<sim::FindingKind> kinds = r.kinds();
  if (expected != nullptr) {
    doc["expected"] = expected->str();
    doc["matches_expected"] = verdict_matches(*expected, kinds);
  } else {
    doc["expected"] = nullptr;
    doc["matches_expected"] = nullptr;
  }
  json verdict = json::array();
  for (sim::FindingKind k : kinds) verdict.push_back(std::string(sim::kind_name(k)));
  doc["verdict"] = verdict;
  json findings = json::array();
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const FoundFinding& f = r.findings[i];
    json j;
    j["kind"] = std::string(sim::kind_name(f.finding.kind));
    j["headline"] = f.finding.headline();
    j["message"] = f.finding.message;
    j["threads"] = f.finding.threads;
    json sites = json::array();
    for (const sim::Site& s : f.finding.sites) sites.push_back(s.str());
    j["sites"] = sites;
    j["step"] = f.finding.step;
    j["first_execution"] = f.execution;
    j["execution_seed"] = f.execution_seed;
    if (counted(f)) j["count"] = f.count;
    j["choices"] = sim::encode_choices(f.finding.path);
    ReplayMode m = mode_of(r, i);
    j["replay"] = m == ReplayMode::kNotAlone ? rerun_command(info, f.execution)
                                             : replay_command(info, f.execution_seed, m);
    static const char* const kModes[] = {"alone", "no-witness", "not-alone", "unchecked"};
    j["replay_mode"] = kModes[static_cast<int>(m)];
    if (i < paths.size()) j["path_file"] = paths[i];
    findings.push_back(std::move(j));
  }
  doc["findings"] = findings;
  return doc;
}

std::vector<std::string> save_paths(const RunInfo& info, const RunResult& r, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create directory '{}': {}", dir, ec.message()));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const FoundFinding& f = r.findings[i];
    sim::PathFile pf;
    pf.program = info.scenario;
    pf.design = info.design;
    pf.seed = f.execution_seed;
    pf.choices = f.finding.path;
    std::string name =
        (fs::path(dir) / fmt::format("{}.{}.{}.path.json", info.scenario, info.design, i + 1)).string();
    std::ofstream os(name);
    os << sim::path_to_json(pf) << "\n";
    if (!os) throw std::runtime_error(fmt::format("cannot write path file '{}'", name));
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace kqsim::fuzz
