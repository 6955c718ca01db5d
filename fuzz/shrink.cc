#include "fuzz/shrink.h"

#include <algorithm>

#include "fuzz/bounded.h"
#include "fuzz/pct.h"
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

// A schedule given as overrides of the non-preemptive default: at choice i,
// run overrides[i] if it is runnable; otherwise keep the current thread if it
// can run, else the lowest runnable one (what ReplayStrategy does past the
// end of its path). Records the choices made as a path.
class OverrideStrategy final : public sim::Strategy {
 public:
  explicit OverrideStrategy(const std::vector<std::pair<size_t, sim::Tid>>& o) : over_(o) {}
  void begin_execution() override {
    i_ = 0;
    next_ = 0;
  }
  sim::Tid choose(const sim::Tid* r, unsigned n, sim::Tid current) override {
    while (next_ < over_.size() && over_[next_].first < i_) ++next_;
    ++i_;
    if (next_ < over_.size() && over_[next_].first == i_ - 1)
      for (unsigned k = 0; k < n; ++k)
        if (r[k] == over_[next_].second) return r[k];
    for (unsigned k = 0; k < n; ++k)
      if (r[k] == current) return current;
    return r[0];
  }

 private:
  const std::vector<std::pair<size_t, sim::Tid>>& over_;
  size_t i_ = 0;
  size_t next_ = 0;
};

// Replays a path and records where it departs from the default (keep the
// current thread, else the lowest runnable one): those are its overrides.
class OverrideFinder final : public sim::Strategy {
 public:
  explicit OverrideFinder(const sim::Path& p) : inner_(p) {}
  void begin_execution() override {
    inner_.begin_execution();
    over_.clear();
    i_ = 0;
  }
  sim::Tid choose(const sim::Tid* r, unsigned n, sim::Tid current) override {
    sim::Tid t = inner_.choose(r, n, current);
    sim::Tid dflt = r[0];
    for (unsigned k = 0; k < n; ++k)
      if (r[k] == current) dflt = current;
    if (t != dflt) over_.emplace_back(i_, t);
    ++i_;
    return t;
  }
  std::vector<std::pair<size_t, sim::Tid>> over_;

 private:
  sim::ReplayStrategy inner_;
  size_t i_ = 0;
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

  // Phase 0: look for another schedule that makes the same finding with
  // fewer preemptions: every schedule with no preemption, then with one
  // (bounded search), then PCT executions of depth 2 and 3 (few preemptions
  // by construction), within half the budget. The best replaces the path.
  {
    const size_t budget = max_runs / 2;
    const uint64_t k = std::max<size_t>(best.size(), 1);
    auto consider = [&](const sim::Execution& e) {
      if (!makes(e, key)) return;
      sim::Path taken;
      size_t p = 0;
      sim::Path cand = e.path;
      if (test(cand, &taken, &p) && (p < best_p || (p == best_p && taken.size() < best.size()))) {
        best = std::move(taken);
        best_p = p;
      }
    };
    for (unsigned bound = 0; bound <= 1 && bound < best_p && out.runs < budget; ++bound) {
      BoundedStrategy bs(bound);
      do {
        ++out.runs;
        consider(run(bs));
      } while (bound < best_p && out.runs < budget && bs.advance());
    }
    for (uint64_t j = 0; best_p > 1 && out.runs < budget; ++j) {
      PctStrategy ps(sim::splitmix64(j), j % 2 == 0 ? 2 : 3, k, false);
      ++out.runs;
      consider(run(ps));
    }
  }

  // Phase 1: delta debugging (Zeller's ddmin) over the path's departures from
  // the non-preemptive default. Each departure removed is a preemption (or a
  // free choice) less; a set of departures that still makes the finding is
  // kept, and chunks are halved until single departures are tried.
  {
    using Overrides = std::vector<std::pair<size_t, sim::Tid>>;
    OverrideFinder finder(best);
    run(finder);
    Overrides cur = finder.over_;
    size_t chunks = 2;
    while (cur.size() >= 1 && out.runs < max_runs) {
      chunks = std::min(chunks, cur.size());
      bool reduced = false;
      for (size_t c = 0; c < chunks && out.runs < max_runs; ++c) {
        size_t lo = cur.size() * c / chunks, hi = cur.size() * (c + 1) / chunks;
        Overrides cand(cur.begin(), cur.begin() + static_cast<long>(lo));
        cand.insert(cand.end(), cur.begin() + static_cast<long>(hi), cur.end());
        ++out.runs;
        OverrideStrategy os(cand);
        const sim::Execution& e = run(os);
        if (!makes(e, key)) continue;
        cur = std::move(cand);
        chunks = std::max<size_t>(chunks - 1, 2);
        reduced = true;
        break;
      }
      if (!reduced) {
        if (chunks >= cur.size()) break;
        chunks = std::min(cur.size(), chunks * 2);
      }
    }
    // The schedule of the remaining departures, as a path; kept if it is no
    // worse than the original.
    OverrideStrategy os(cur);
    const sim::Execution& e = run(os);
    ++out.runs;
    if (makes(e, key)) {
      sim::Path cand = e.path;
      sim::Path taken;
      size_t p = 0;
      if (test(cand, &taken, &p) && (p < best_p || (p == best_p && taken.size() < best.size()))) {
        best = std::move(taken);
        best_p = p;
      }
    }
  }

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
