#include "fuzz/shrink.h"

#include "model/sim/strategy.h"

namespace kqsim::fuzz {

namespace {

// Replays a path and records, per choice, whether it was a preemption.
class CountingReplay final : public sim::Strategy {
 public:
  explicit CountingReplay(const sim::Path& p) : inner_(p) {}
  void begin_execution() override {
    inner_.begin_execution();
    preempt_.clear();
  }
  sim::Tid choose(const sim::Tid* r, unsigned n, sim::Tid current) override {
    sim::Tid t = inner_.choose(r, n, current);
    bool could_continue = false;
    for (unsigned i = 0; i < n; ++i) could_continue |= r[i] == current;
    preempt_.push_back(could_continue && t != current ? current : sim::kNoThread);
    return t;
  }
  // preempt_[i] = the thread preempted at choice i, or kNoThread.
  std::vector<sim::Tid> preempt_;
  sim::ReplayStrategy inner_;
};

bool makes(const sim::Execution& e, const std::string& key) {
  for (const sim::Finding& f : e.findings)
    if (f.dedup_key() == key) return true;
  return false;
}

}  // namespace

size_t count_preemptions(const RunOnce& run, const sim::Path& path) {
  CountingReplay cr(path);
  run(cr);
  size_t n = 0;
  for (sim::Tid t : cr.preempt_) n += t != sim::kNoThread;
  return n;
}

ShrinkResult shrink(const RunOnce& run, const sim::Path& failing, const std::string& key, size_t max_runs) {
  ShrinkResult out;
  out.path = failing;
  // Evaluates a candidate: does it make the finding, and with how many
  // preemptions (and which path was actually taken)?
  auto test = [&](const sim::Path& cand, sim::Path* taken, size_t* preemptions) {
    ++out.runs;
    CountingReplay cr(cand);
    const sim::Execution& e = run(cr);
    if (!makes(e, key)) return false;
    *taken = e.path;  // normalised: the choices actually made
    for (const sim::Finding& f : e.findings)
      if (f.dedup_key() == key && f.path.size() < taken->size()) taken->resize(f.path.size());
    *preemptions = 0;
    for (size_t i = 0; i < cr.preempt_.size() && i < taken->size(); ++i) *preemptions += cr.preempt_[i] != sim::kNoThread;
    return true;
  };
  sim::Path best;
  size_t best_p = 0;
  if (!test(failing, &best, &best_p)) {
    out.preemptions = out.original_preemptions = count_preemptions(run, failing);
    return out;  // does not reproduce: return it unchanged
  }
  out.original_preemptions = best_p;
  bool improved = true;
  while (improved && out.runs < max_runs) {
    improved = false;
    // Remove one preemption at a time: at a preemption, keep the running thread.
    CountingReplay probe(best);
    run(probe);
    for (size_t i = 0; i < probe.preempt_.size() && i < best.size() && out.runs < max_runs; ++i) {
      if (probe.preempt_[i] == sim::kNoThread) continue;
      sim::Path cand(best.begin(), best.begin() + static_cast<long>(i));
      cand.push_back(static_cast<uint8_t>(probe.preempt_[i]));
      // keep the rest of the old choices after it as a hint
      cand.insert(cand.end(), best.begin() + static_cast<long>(i) + 1, best.end());
      sim::Path taken;
      size_t p = 0;
      if (test(cand, &taken, &p) && (p < best_p || (p == best_p && taken.size() < best.size()))) {
        best = std::move(taken);
        best_p = p;
        improved = true;
        break;
      }
    }
    if (improved) continue;
    // Cut the tail: a prefix continues without preemptions.
    for (size_t len = 0; len < best.size() && out.runs < max_runs; ++len) {
      sim::Path cand(best.begin(), best.begin() + static_cast<long>(len));
      sim::Path taken;
      size_t p = 0;
      if (test(cand, &taken, &p) && p <= best_p && taken.size() < best.size()) {
        best = std::move(taken);
        best_p = p;
        improved = true;
        break;
      }
    }
  }
  out.path = best;
  out.preemptions = best_p;
  return out;
}

}  // namespace kqsim::fuzz
