#include "fuzz/explore.h"

#include <memory>
#include <unordered_map>

#include "model/sim/strategy.h"

namespace kqsim::fuzz {

bool ExploreResult::found(sim::FindingKind k) const { return first(k) != nullptr; }

const FoundFinding* ExploreResult::first(sim::FindingKind k) const {
  for (const FoundFinding& f : findings)
    if (f.finding.kind == k) return &f;
  return nullptr;
}

ExploreResult explore(const ExploreOptions& opts, const std::function<void()>& program) {
  std::unique_ptr<locks::Witness> own;
  locks::Witness* w = opts.witness;
  if (w == nullptr) {
    own = std::make_unique<locks::Witness>();
    w = own.get();
  }
  locks::WitnessScope scope(w);
  sim::Scheduler sched(opts.sched);
  sim::RandomStrategy strategy(0);
  ExploreResult out;
  std::unordered_map<std::string, size_t> index;
  for (uint64_t i = 0; i < opts.executions; ++i) {
    uint64_t es = sim::execution_seed(opts.seed, i);
    strategy.reseed(es);
    const sim::Execution& e = sched.run(strategy, [&program] { program(); });
    ++out.executions;
    out.total_steps += e.steps;
    for (const sim::Finding& f : e.findings) {
      std::string key = f.dedup_key();
      auto it = index.find(key);
      if (it != index.end()) {
        ++out.findings[it->second].count;
        continue;
      }
      index.emplace(std::move(key), out.findings.size());
      out.findings.push_back(FoundFinding{f, i, es, 1});
    }
    if (opts.stop_at_first_finding && !e.findings.empty()) break;
  }
  return out;
}

}  // namespace kqsim::fuzz
