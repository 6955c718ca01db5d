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
#include <unordered_set>

#include <fmt/format.h>

#include "fuzz/atomic_file.h"
#include "fuzz/bounded.h"
#include "fuzz/pct.h"
#include "fuzz/shrink.h"
#include "locks/witness.h"
#include "model/sim/strategy.h"

namespace kqsim::fuzz {

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

bool strategy_implemented(StrategyKind) { return true; }

std::string Shard::str() const { return fmt::format("{}/{}", index, count); }

std::optional<Shard> parse_shard(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::optional<uint64_t> i = parse_u64(text.substr(0, slash));
  std::optional<uint64_t> n = parse_u64(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *i >= *n) return std::nullopt;
  return Shard{*i, *n};
}

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
  std::unordered_map<std::string, size_t> index;  // dedup_key -> position in kept
  uint64_t executions = 0;
  uint64_t total_steps = 0;
};

bool uses_giant(const kern::kq_design& d) { return d.kevent_giant || d.all_giant; }

// A reversal found by merging witness graphs, as a finding.
FoundFinding graph_reversal(const locks::Reversal& rev) {
  FoundFinding f;
  f.graph_only = true;
  f.finding.kind = sim::FindingKind::kLockOrderReversal;
  std::string msg = locks::format_reversal(rev);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  f.finding.message = msg;
  f.finding.sites.push_back(sim::Site{rev.first.file, rev.first.line});
  f.finding.sites.push_back(sim::Site{rev.second.file, rev.second.line});
  for (const locks::OrderEdge& oe : rev.established) {
    f.finding.sites.push_back(sim::Site{oe.before.file, oe.before.line});
    f.finding.sites.push_back(sim::Site{oe.after.file, oe.after.line});
  }
  f.execution = UINT64_MAX;
  f.count = 0;
  return f;
}

class ProgressMeter {
 public:
  ProgressMeter(const RunOptions& o, uint64_t total) : fn_(o.progress), total_(total) {}
  void add(uint64_t n) {
    uint64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> g(mu_, std::try_to_lock);
    if (!g.owns_lock() || now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    fn_(snapshot(done, now));
  }
  // A worker made a finding new to it: count it if new to the run.
  void found(const std::string& key) {
    if (!fn_) return;
    std::lock_guard<std::mutex> g(mu_);
    keys_.insert(key);
  }
  void finish() {
    if (!fn_) return;
    std::lock_guard<std::mutex> g(mu_);
    fn_(snapshot(done_.load(), std::chrono::steady_clock::now()));
  }

 private:
  Progress snapshot(uint64_t done, std::chrono::steady_clock::time_point now) const {
    return Progress{done, total_, keys_.size(), std::chrono::duration<double>(now - t0_).count()};
  }
  const std::function<void(const Progress&)>& fn_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;  // serialises fn_, guards keys_
  std::unordered_set<std::string> keys_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = t0_;
};

// The strategy of each execution of a random or pct run: a function of the
// execution seed alone (and the run's pct parameters).
class PerExecution {
 public:
  PerExecution(const RunOptions& o, uint64_t pct_k) : opts_(o), k_(pct_k) {}
  sim::Strategy& for_seed(uint64_t es) {
    if (opts_.strategy == StrategyKind::kPct) {
      pct_.emplace(es, opts_.pct_depth, k_, false);
      return *pct_;
    }
    random_.reseed(es);
    return random_;
  }

 private:
  const RunOptions& opts_;
  uint64_t k_;
  sim::RandomStrategy random_{0};
  std::optional<PctStrategy> pct_;
};

// The execution indices of a run's shard, in order: shard.index,
// shard.index + shard.count, ... below `executions`.
uint64_t shard_size(const RunOptions& o) {
  if (o.executions <= o.shard.index) return 0;
  return (o.executions - o.shard.index + o.shard.count - 1) / o.shard.count;
}

// Keeps execution i's findings in `out`: a finding already kept (same
// dedup_key) only counts one more execution; a new one is kept with its
// execution index and seed (0 for the exhaustive search, which replays by path).
void keep_findings(Share& out, const sim::Execution& e, uint64_t i, uint64_t es, ProgressMeter& progress) {
  for (size_t k = 0; k < e.findings.size(); ++k) {
    const sim::Finding& f = e.findings[k];
    std::string key = f.dedup_key();
    auto it = out.index.find(key);
    if (it != out.index.end()) {
      ++out.kept[it->second].found.count;
      continue;
    }
    progress.found(key);
    out.index.emplace(std::move(key), out.kept.size());
    out.kept.push_back(Kept{FoundFinding{f, i, es, 1}, k});
  }
}

// Worker `w` of `nw`: the shard's executions number w, w + nw, w + 2 nw, ...
Share run_share(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts,
                uint64_t pct_k, unsigned w, unsigned nw, ProgressMeter& progress, locks::Witness& witness) {
  locks::WitnessScope scope(&witness);
  sim::SchedulerOptions so = opts.sched;
  so.trace = false;
  so.stop_on_finding = true;
  sim::Scheduler sched(so);
  PerExecution strategy(opts, pct_k);
  Share out;
  uint64_t since_report = 0;
  const uint64_t n = shard_size(opts);
  for (uint64_t j = w; j < n; j += nw) {
    const uint64_t i = opts.shard.index + j * opts.shard.count;
    uint64_t es = sim::execution_seed(opts.seed, i);
    const sim::Execution& e = sched.run(strategy.for_seed(es), [&sc, &design] { sc.execute(design); });
    ++out.executions;
    out.total_steps += e.steps;
    keep_findings(out, e, i, es, progress);
    if (++since_report == 64) {
      progress.add(since_report);
      since_report = 0;
    }
  }
  progress.add(since_report);
  return out;
}

// The exhaustive search: one depth-first search on the calling thread.
Share run_exhaustive(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts,
                     ProgressMeter& progress, locks::Witness& witness, RunResult& r) {
  locks::WitnessScope scope(&witness);
  sim::SchedulerOptions so = opts.sched;
  so.trace = false;
  so.stop_on_finding = true;
  sim::Scheduler sched(so);
  BoundedStrategy strategy(opts.preemptions);
  Share out;
  uint64_t since_report = 0;
  for (uint64_t i = 0; i < opts.executions; ++i) {
    const sim::Execution& e = sched.run(strategy, [&sc, &design] { sc.execute(design); });
    ++out.executions;
    out.total_steps += e.steps;
    keep_findings(out, e, i, 0, progress);
    if (++since_report == 64) {
      progress.add(since_report);
      since_report = 0;
    }
    if (!strategy.advance()) break;
  }
  progress.add(since_report);
  r.exhausted = strategy.exhausted();
  r.search_diverged = strategy.diverged();
  return out;
}

}  // namespace

RunResult run_scenario(const scenarios::Scenario& sc, const kern::kq_design& design, const RunOptions& opts) {
  if (opts.workers == 0) throw std::invalid_argument("--workers must be at least 1");
  if (opts.shard.count == 0 || opts.shard.index >= opts.shard.count)
    throw std::invalid_argument(fmt::format("--shard {}: needs i < n", opts.shard.str()));
  if (opts.strategy == StrategyKind::kExhaustive && !opts.shard.whole())
    throw std::invalid_argument("--shard: the exhaustive search cannot be sharded (use random or pct)");
  if (opts.strategy == StrategyKind::kPct && opts.pct_depth == 0)
    throw std::invalid_argument("--depth: must be at least 1");
  const unsigned nw = opts.strategy == StrategyKind::kExhaustive ? 1 : opts.workers;
  auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  if (opts.strategy == StrategyKind::kPct)
    r.pct_k = opts.pct_k != 0 ? opts.pct_k : measure_choice_points(sc, design, opts.sched);
  ProgressMeter progress(opts, opts.strategy == StrategyKind::kExhaustive ? opts.executions : shard_size(opts));
  std::vector<Share> shares(nw);
  std::vector<std::unique_ptr<locks::Witness>> witnesses;
  // Order checks on; no lock profile: nothing reads one from a deterministic
  // exploration (live mode and `bench live` profile), and recording it cost
  // two class lookups per lock operation.
  for (unsigned w = 0; w < nw; ++w)
    witnesses.push_back(std::make_unique<locks::Witness>(locks::Witness::Options{.check = true, .profile = false}));
  if (opts.strategy == StrategyKind::kExhaustive) {
    r.workers_serialized = opts.workers > 1;
    shares[0] = run_exhaustive(sc, design, opts, progress, *witnesses[0], r);
  } else if (nw == 1 || uses_giant(design)) {
    r.workers_serialized = nw > 1;
    for (unsigned w = 0; w < nw; ++w)
      shares[w] = run_share(sc, design, opts, r.pct_k, w, nw, progress, *witnesses[w]);
  } else {
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(nw);
    for (unsigned w = 0; w < nw; ++w)
      threads.emplace_back([&, w] {
        try {
          shares[w] = run_share(sc, design, opts, r.pct_k, w, nw, progress, *witnesses[w]);
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

  // The workers' witness graphs, merged: reversals whose halves different
  // workers saw.
  auto graph = std::make_shared<locks::WitnessGraph>();
  std::vector<const locks::WitnessGraph*> inputs;
  for (const auto& w : witnesses) inputs.push_back(&w->graph());
  for (const auto& w : witnesses) {
    locks::MergeResult mr = graph->merge(w->graph());
    for (const locks::Reversal& rev : mr.reversals) {
      if (reversal_reported_in(inputs, rev)) continue;
      FoundFinding f = graph_reversal(rev);
      if (index.emplace(f.finding.dedup_key(), 0).second) r.findings.push_back(std::move(f));
    }
  }
  r.witness = graph;

  for (const FoundFinding& f : r.findings) {
    if (f.graph_only) {
      r.replay.push_back(ReplayMode::kGraphOnly);
      continue;
    }
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
    auto again = [&](bool witness) {
      switch (opts.strategy) {
        case StrategyKind::kPct:
          return replay_pct(sc, design, f.execution_seed, opts.pct_depth, r.pct_k, so, witness);
        case StrategyKind::kExhaustive:
          return replay_path(sc, design, f.finding.path, so, witness);
        case StrategyKind::kRandom:
          break;
      }
      return replay_seed(sc, design, f.execution_seed, so, witness);
    };
    if (made(again(true)))
      r.replay.push_back(ReplayMode::kAlone);
    else if (made(again(false)))
      r.replay.push_back(ReplayMode::kNoWitness);
    else
      r.replay.push_back(ReplayMode::kNotAlone);
  }
  r.shrunk.resize(r.findings.size());
  if (opts.shrink)
    for (size_t i = 0; i < r.findings.size(); ++i) {
      ReplayMode m = r.replay[i];
      if (m != ReplayMode::kAlone && m != ReplayMode::kNoWitness) continue;
      r.shrunk[i] = shrink_finding(sc, design, r.findings[i], opts.sched, m == ReplayMode::kAlone, opts.shrink_runs);
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

ReplayResult replay_pct(const scenarios::Scenario& sc, const kern::kq_design& design, uint64_t execution_seed,
                        unsigned depth, uint64_t k, sim::SchedulerOptions sched, bool witness) {
  PctStrategy strategy(execution_seed, depth, k, false);
  return replay_with(sc, design, strategy, sched, witness);
}

uint64_t measure_choice_points(const scenarios::Scenario& sc, const kern::kq_design& design,
                               sim::SchedulerOptions sched) {
  sched.trace = false;
  ReplayResult r = replay_path(sc, design, sim::Path{}, sched, true);
  return std::max<uint64_t>(1, r.execution.path.size());
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
  if (int{spec.seed.has_value()} + int{!spec.path_file.empty()} + int{spec.choices.has_value()} != 1)
    throw std::invalid_argument("give exactly one of --seed EXECUTION_SEED, --path FILE and --choices HEX");
  if (spec.strategy == StrategyKind::kExhaustive)
    throw std::invalid_argument(
        "--strategy exhaustive: an exhaustive search's executions replay from their choices (--choices or --path)");
  if (spec.strategy == StrategyKind::kPct && !spec.seed)
    throw std::invalid_argument("--strategy pct needs --seed EXECUTION_SEED");
  if (spec.strategy == StrategyKind::kPct && (spec.pct_k == 0 || spec.pct_depth == 0))
    throw std::invalid_argument("--strategy pct needs --depth D >= 1 and --pct-k K >= 1 (as 'kqsim run' printed)");
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
  if (spec.seed && spec.strategy == StrategyKind::kPct) {
    out.how = fmt::format("pct (depth {}, k {}) execution seed {}", spec.pct_depth, spec.pct_k, *spec.seed);
    out.result = replay_pct(*out.scenario, *out.design, *spec.seed, spec.pct_depth, spec.pct_k, spec.sched,
                            spec.witness);
  } else if (spec.seed) {
    out.how = fmt::format("execution seed {}", *spec.seed);
    out.result = replay_seed(*out.scenario, *out.design, *spec.seed, spec.sched, spec.witness);
  } else if (spec.choices) {
    out.how = fmt::format("{} choices", spec.choices->size());
    out.result = replay_path(*out.scenario, *out.design, *spec.choices, spec.sched, spec.witness);
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

namespace {

// " --no-race --max-steps N --max-memory M --stack-kib K" as the run used them.
std::string sched_flags(const RunInfo& info) {
  std::string cmd;
  if (!info.opts.sched.race_detection) cmd += " --no-race";
  if (info.opts.sched.access_points) cmd += " --access-points";
  if (info.opts.sched.max_steps != sim::SchedulerOptions{}.max_steps)
    cmd += fmt::format(" --max-steps {}", info.opts.sched.max_steps);
  if (info.opts.sched.max_memory != sim::SchedulerOptions{}.max_memory)
    cmd += fmt::format(" --max-memory {}", info.opts.sched.max_memory >> 20);
  if (info.opts.sched.stack_size != sim::SchedulerOptions{}.stack_size)
    cmd += fmt::format(" --stack-kib {}", info.opts.sched.stack_size >> 10);
  return cmd;
}

}  // namespace

std::string replay_command(const RunInfo& info, uint64_t execution_seed, ReplayMode mode, const char* verb) {
  std::string cmd =
      fmt::format("kqsim {} {} --design {} --seed {}", verb, info.scenario, info.design, execution_seed);
  cmd += sched_flags(info);
  if (mode == ReplayMode::kNoWitness) cmd += " --no-witness";
  return cmd;
}

std::string compact_choices(const sim::Path& p) {
  if (p.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < p.size();) {
    size_t j = i;
    while (j < p.size() && p[j] == p[i]) ++j;
    if (!out.empty()) out += ',';
    out += "0123456789abcdef"[p[i] & 15];
    if (j - i > 1) out += fmt::format(":{}", j - i);
    i = j;
  }
  return out;
}

std::optional<sim::Path> parse_choices(std::string_view text) {
  if (text == "-") return sim::Path{};
  if (text.empty()) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.find_first_of(":,") == std::string_view::npos) {
    sim::Path p;
    for (char c : text) {
      int d = digit(c);
      if (d < 0) return std::nullopt;
      p.push_back(static_cast<uint8_t>(d));
    }
    return p;
  }
  sim::Path p;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view run = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;  // trailing comma
    if (run.empty() || digit(run[0]) < 0) return std::nullopt;
    uint64_t n = 1;
    if (run.size() > 1) {
      if (run[1] != ':') return std::nullopt;
      std::optional<uint64_t> v = parse_u64(run.substr(2));
      if (!v || *v == 0 || *v > 100'000'000 || run.substr(2).find_first_of("xX") != std::string_view::npos)
        return std::nullopt;
      n = *v;
    }
    if (p.size() + n > 100'000'000) return std::nullopt;
    p.insert(p.end(), n, static_cast<uint8_t>(digit(run[0])));
  }
  return p;
}

std::string choices_command(const RunInfo& info, const sim::Path& choices, ReplayMode mode, const char* verb) {
  std::string cmd = fmt::format("kqsim {} {} --design {} --choices {}", verb, info.scenario, info.design,
                                compact_choices(choices));
  cmd += sched_flags(info);
  if (mode == ReplayMode::kNoWitness) cmd += " --no-witness";
  return cmd;
}

std::string rerun_command(const RunInfo& info, uint64_t execution) {
  std::string cmd = fmt::format("kqsim run {} --design {} --seed {} --schedules {}", info.scenario,
                                info.design, info.opts.seed, execution + 1);
  if (info.opts.strategy == StrategyKind::kPct)
    cmd += fmt::format(" --strategy pct --depth {}", info.opts.pct_depth);
  if (info.opts.strategy == StrategyKind::kExhaustive)
    cmd += fmt::format(" --strategy exhaustive --preemptions {}", info.opts.preemptions);
  cmd += sched_flags(info);
  return cmd;
}

namespace {

ReplayMode mode_of(const RunResult& r, size_t i) {
  return i < r.replay.size() ? r.replay[i] : ReplayMode::kUnchecked;
}

}  // namespace

std::string finding_replay_command(const RunInfo& info, const RunResult& r, size_t i, const char* verb) {
  const FoundFinding& f = r.findings[i];
  ReplayMode m = mode_of(r, i);
  if (m == ReplayMode::kGraphOnly) return "";
  if (m == ReplayMode::kNotAlone) return rerun_command(info, f.execution);
  switch (info.opts.strategy) {
    case StrategyKind::kPct: {
      std::string cmd = fmt::format("kqsim {} {} --design {} --strategy pct --depth {} --pct-k {} --seed {}", verb,
                                    info.scenario, info.design, info.opts.pct_depth, r.pct_k, f.execution_seed);
      cmd += sched_flags(info);
      if (m == ReplayMode::kNoWitness) cmd += " --no-witness";
      return cmd;
    }
    case StrategyKind::kExhaustive:
      return choices_command(info, f.finding.path, m, verb);
    case StrategyKind::kRandom:
      break;
  }
  return replay_command(info, f.execution_seed, m, verb);
}

Shrunk shrink_finding(const scenarios::Scenario& sc, const kern::kq_design& design, const FoundFinding& f,
                      sim::SchedulerOptions sched, bool witness, size_t max_runs) {
  sched.trace = false;
  sched.stop_on_finding = true;
  sim::Scheduler scheduler(sched);
  locks::Witness::Options wo;
  wo.check = witness;
  std::unique_ptr<locks::Witness> w;
  RunOnce run = [&](sim::Strategy& st) -> const sim::Execution& {
    w = std::make_unique<locks::Witness>(wo);  // fresh per execution, as a replay has
    locks::WitnessScope scope(w.get());
    return scheduler.run(st, [&sc, &design] { sc.execute(design); });
  };
  ShrinkResult sr = shrink(run, f.finding.path, f.finding.dedup_key(), max_runs);
  Shrunk out;
  // shrink() returns the path unchanged when it does not reproduce: check.
  sim::ReplayStrategy check(sr.path);
  const sim::Execution& e = run(check);
  bool makes = false;
  for (const sim::Finding& x : e.findings) makes |= x.dedup_key() == f.finding.dedup_key();
  if (!makes) return out;
  out.done = true;
  out.path = sr.path;
  out.preemptions = sr.preemptions;
  out.original_preemptions = sr.original_preemptions;
  out.original_choices = f.finding.path.size();
  out.runs = sr.runs;
  return out;
}

namespace {

// The "replay:" line(s) of finding i.
std::string replay_lines(const RunInfo& info, const RunResult& r, size_t i, const char* pad) {
  const FoundFinding& f = r.findings[i];
  ReplayMode m = mode_of(r, i);
  switch (m) {
    case ReplayMode::kGraphOnly:
      return fmt::format(
          "{}replay: none alone: the two orders were seen in different executions (different workers or "
          "shards); the merged witness graph closes the cycle\n",
          pad);
    case ReplayMode::kNotAlone:
      if (f.finding.kind == sim::FindingKind::kLockOrderReversal)
        return fmt::format(
            "{}replay: does not reproduce alone (part of the established order was seen in earlier "
            "executions); rerun:\n"
            "{}  {}\n",
            pad, pad, rerun_command(info, f.execution));
      return fmt::format(
          "{}replay: does not reproduce alone (after a corruption it read memory that earlier executions "
          "left behind); rerun:\n"
          "{}  {}\n",
          pad, pad, rerun_command(info, f.execution));
    case ReplayMode::kNoWitness:
      return fmt::format(
          "{}replay: {}\n{}  (--no-witness: the run's witness had already reported a reversal "
          "and stayed quiet; a fresh one would report it first)\n",
          pad, finding_replay_command(info, r, i), pad);
    default:
      return fmt::format("{}replay: {}\n", pad, finding_replay_command(info, r, i));
  }
}

bool counted(const FoundFinding& f) {
  return f.finding.kind != sim::FindingKind::kLockOrderReversal && !f.graph_only;
}

std::string execution_text(const RunInfo& info, const FoundFinding& f) {
  if (info.opts.strategy == StrategyKind::kExhaustive) return fmt::format("execution {}", f.execution);
  return fmt::format("execution {} (execution seed {})", f.execution, f.execution_seed);
}

}  // namespace

std::string summary_text(const RunInfo& info, const RunResult& r, bool reproducible) {
  const RunOptions& o = info.opts;
  std::string strategy = fmt::format("{} strategy", strategy_name(o.strategy));
  if (o.strategy == StrategyKind::kPct) strategy += fmt::format(" (depth {}, k {})", o.pct_depth, r.pct_k);
  if (o.strategy == StrategyKind::kExhaustive) strategy += fmt::format(" (<= {} preemptions)", o.preemptions);
  std::string out = fmt::format("{} under {}: {} executions", info.scenario, info.design, r.executions);
  if (!reproducible) {
    double rate = r.seconds > 0 ? static_cast<double>(r.executions) / r.seconds : 0;
    out += fmt::format(" in {:.2f} s ({:.0f}/s)", r.seconds, rate);
  }
  out += ", " + strategy;
  if (o.strategy != StrategyKind::kExhaustive) out += fmt::format(", seed {}", o.seed);
  if (!o.shard.whole()) out += fmt::format(", shard {}", o.shard.str());
  if (!reproducible) {
    out += fmt::format(", {} worker{}", o.workers, o.workers == 1 ? "" : "s");
    if (r.workers_serialized)
      out += o.strategy == StrategyKind::kExhaustive ? " (the exhaustive search runs on one thread)"
                                                     : " (run one after another: the design uses Giant)";
  }
  out += "\n";
  if (o.strategy == StrategyKind::kExhaustive) {
    if (r.exhausted)
      out += fmt::format("exhausted the space of schedules with <= {} preemptions in {} executions\n",
                         o.preemptions, r.executions);
    else
      out += fmt::format("stopped after {} executions, space not exhausted (raise --schedules)\n", r.executions);
    if (r.search_diverged)
      out += "warning: an execution did not follow its recorded prefix (the scenario is not deterministic "
             "given its schedule): the search is unreliable\n";
  }
  return out;
}

std::string findings_text(const RunInfo& info, const RunResult& r, const std::vector<std::string>& paths) {
  std::string out;
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const FoundFinding& f = r.findings[i];
    out += fmt::format("[{}] {}\n", i + 1, f.finding.headline());
    out += indent_rest(f.finding.message, "    ");
    if (f.graph_only)
      out += "    found only in the merged witness graph\n";
    else if (counted(f))
      out += fmt::format("    first at {}, seen in {} of {} executions\n", execution_text(info, f), f.count,
                         r.executions);
    else
      out += fmt::format("    first at {}; the witness reports each reversal once\n", execution_text(info, f));
    out += replay_lines(info, r, i, "    ");
    if (i < paths.size() && !paths[i].empty()) out += fmt::format("    path: {}\n", paths[i]);
    if (i < r.shrunk.size() && r.shrunk[i].done) {
      const Shrunk& s = r.shrunk[i];
      out += fmt::format("    shrunk: {} preemption{}, {} choices (from {} preemption{}, {} choices; {} runs)\n",
                         s.preemptions, s.preemptions == 1 ? "" : "s", s.path.size(), s.original_preemptions,
                         s.original_preemptions == 1 ? "" : "s", s.original_choices, s.runs);
      std::string cmd = choices_command(info, s.path, mode_of(r, i));
      if (cmd.size() <= 400)
        out += fmt::format("    explain: {}\n", cmd);
      else
        out += "    explain: the shrunk schedule is too long to print: --save-path DIR writes it as a path file\n";
    }
  }
  return out;
}

namespace {

// The witness graph as JSON with classes and edges sorted by name, so that
// it does not depend on which worker saw what first.
nlohmann::ordered_json canonical_witness(const locks::WitnessGraph& g) {  // see witness_to_json
  using json = nlohmann::ordered_json;
  json doc = json::parse(g.to_json());
  const json& classes = doc["classes"];
  std::vector<size_t> order(classes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return classes[a]["name"].get<std::string>() < classes[b]["name"].get<std::string>();
  });
  std::vector<size_t> renum(order.size());
  json out_classes = json::array();
  for (size_t i = 0; i < order.size(); ++i) {
    renum[order[i]] = i;
    out_classes.push_back(classes[order[i]]);
  }
  auto remap = [&](json list) {
    for (json& e : list) {
      e["before"] = renum[e["before"].get<size_t>()];
      e["after"] = renum[e["after"].get<size_t>()];
    }
    std::sort(list.begin(), list.end(), [](const json& a, const json& b) {
      return std::pair(a["before"].get<size_t>(), a["after"].get<size_t>()) <
             std::pair(b["before"].get<size_t>(), b["after"].get<size_t>());
    });
    return list;
  };
  doc["classes"] = out_classes;
  doc["edges"] = remap(doc["edges"]);
  doc["reversals"] = remap(doc["reversals"]);
  return doc;
}

}  // namespace

nlohmann::ordered_json run_to_json(const RunInfo& info, const RunResult& r,
                                   const scenarios::Expected* expected,
                                   const std::vector<std::string>& paths, bool reproducible) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["format"] = "kqsim-run";
  doc["version"] = 1;
  doc["scenario"] = info.scenario;
  doc["design"] = info.design;
  doc["strategy"] = strategy_name(info.opts.strategy);
  doc["seed"] = info.opts.seed;
  doc["schedules"] = info.opts.executions;
  doc["shard"] = info.opts.shard.str();
  if (info.opts.strategy == StrategyKind::kPct) {
    doc["pct_depth"] = info.opts.pct_depth;
    doc["pct_k"] = r.pct_k;
  }
  if (info.opts.strategy == StrategyKind::kExhaustive) {
    doc["preemptions"] = info.opts.preemptions;
    doc["exhausted"] = r.exhausted;
  }
  if (!reproducible) doc["workers"] = info.opts.workers;
  doc["max_steps"] = info.opts.sched.max_steps;
  doc["race_detection"] = info.opts.sched.race_detection;
  doc["access_points"] = info.opts.sched.access_points;
  doc["executions"] = r.executions;
  doc["total_steps"] = r.total_steps;
  if (!reproducible) doc["seconds"] = r.seconds;
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
    j["key"] = f.finding.dedup_key();
    j["headline"] = f.finding.headline();
    j["message"] = f.finding.message;
    j["threads"] = f.finding.threads;
    json sites = json::array();
    for (const sim::Site& s : f.finding.sites) sites.push_back(s.str());
    j["sites"] = sites;
    j["step"] = f.finding.step;
    if (f.graph_only) {
      j["graph_only"] = true;
      j["first_execution"] = nullptr;
      j["execution_seed"] = nullptr;
    } else {
      j["first_execution"] = f.execution;
      j["execution_seed"] = f.execution_seed;
    }
    if (counted(f)) j["count"] = f.count;
    j["choices"] = sim::encode_choices(f.finding.path);
    ReplayMode m = mode_of(r, i);
    j["replay"] = finding_replay_command(info, r, i);
    static const char* const kModes[] = {"alone", "no-witness", "not-alone", "unchecked", "graph-only"};
    j["replay_mode"] = kModes[static_cast<int>(m)];
    if (i < paths.size() && !paths[i].empty()) j["path_file"] = paths[i];
    if (i < r.shrunk.size() && r.shrunk[i].done) {
      const Shrunk& s = r.shrunk[i];
      j["shrunk"] = {{"preemptions", s.preemptions},
                     {"original_preemptions", s.original_preemptions},
                     {"choices", sim::encode_choices(s.path)},
                     {"explain", choices_command(info, s.path, m)}};
    }
    findings.push_back(std::move(j));
  }
  doc["findings"] = findings;
  if (r.witness) doc["witness"] = canonical_witness(*r.witness);
  return doc;
}

nlohmann::ordered_json witness_to_json(const locks::WitnessGraph& g) { return canonical_witness(g); }

FoundFinding reversal_finding(const locks::Reversal& rev) { return graph_reversal(rev); }

bool reversal_reported_in(const std::vector<const locks::WitnessGraph*>& graphs, const locks::Reversal& rev) {
  for (const locks::WitnessGraph* g : graphs)
    for (const auto& [b, a] : g->reported_reversals()) {
      std::string nb = g->class_name(b), na = g->class_name(a);
      if ((nb == rev.first.name && na == rev.second.name) || (nb == rev.second.name && na == rev.first.name))
        return true;
    }
  return false;
}

namespace {

// Writes "<dir>/<scenario>.<design>.<n><suffix>" for each finding that
// `pick(i, pf)` fills in (seed and choices), "" for the others; creates `dir`.
template <class Pick>
std::vector<std::string> write_path_files(const RunInfo& info, const RunResult& r, const std::string& dir,
                                          const char* suffix, Pick pick) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create directory '{}': {}", dir, ec.message()));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.findings.size(); ++i) {
    sim::PathFile pf;
    pf.program = info.scenario;
    pf.design = info.design;
    if (!pick(i, pf)) {
      out.emplace_back();
      continue;
    }
    std::string name =
        (fs::path(dir) / fmt::format("{}.{}.{}{}", info.scenario, info.design, i + 1, suffix)).string();
    write_file_atomically(name, sim::path_to_json(pf) + "\n");
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

std::vector<std::string> save_shrunk_paths(const RunInfo& info, const RunResult& r, const std::string& dir) {
  return write_path_files(info, r, dir, ".shrunk.path.json", [&r](size_t i, sim::PathFile& pf) {
    if (i >= r.shrunk.size() || !r.shrunk[i].done) return false;
    pf.seed = r.findings[i].execution_seed;
    pf.choices = r.shrunk[i].path;
    return true;
  });
}

std::vector<std::string> save_paths(const RunInfo& info, const RunResult& r, const std::string& dir) {
  return write_path_files(info, r, dir, ".path.json", [&r](size_t i, sim::PathFile& pf) {
    const FoundFinding& f = r.findings[i];
    if (f.graph_only) return false;  // no execution to replay
    pf.seed = f.execution_seed;
    pf.choices = f.finding.path;
    return true;
  });
}

}  // namespace kqsim::fuzz
