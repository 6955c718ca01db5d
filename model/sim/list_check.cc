#include "model/sim/list_check.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "model/sim/finding.h"
#include "model/sim/scheduler.h"

namespace kqsim::sim {

namespace {

using list_detail::CheckSpec;

// Past this many problems the rest are counted, not listed.
constexpr size_t kMaxProblems = 32;

enum class Stop { kEnd, kNull, kCycle, kBound, kWild };

struct Walk {
  std::vector<const void*> nodes;
  std::unordered_map<const void*, size_t> index;
  Stop stop = Stop::kEnd;
  const void* from = nullptr;  // the last node before the stop (the head when the walk is empty)
  const void* to = nullptr;    // kCycle: the node visited again
  bool contains(const void* n) const { return index.count(n) != 0; }
};

// Follows `step` from the head. For a circular list the walk ends back at the
// head and NULL is corruption; for a linear one NULL is the end.
Walk walk(const CheckSpec& spec, const void* (*step)(const void*), bool circular, size_t bound) {
  Walk w;
  const void* a = spec.head;
  for (;;) {
    const void* b = step(a);
    w.from = a;
    if (b == nullptr) {
      w.stop = circular ? Stop::kNull : Stop::kEnd;
      break;
    }
    if (spec.align > 1 && reinterpret_cast<uintptr_t>(b) % spec.align != 0) {
      // Not an entry at all (garbage left by a corruption): never follow it.
      w.stop = Stop::kWild;
      w.to = b;
      break;
    }
    if (circular && b == spec.head) {
      w.stop = Stop::kEnd;
      break;
    }
    if (b == spec.head || w.contains(b)) {  // a linear list pointing back at its head is a cycle too
      w.stop = Stop::kCycle;
      w.to = b;
      break;
    }
    if (w.nodes.size() == bound) {
      w.stop = Stop::kBound;
      break;
    }
    w.index.emplace(b, w.nodes.size());
    w.nodes.push_back(b);
    a = b;
  }
  return w;
}

class Checker {
 public:
  Checker(const CheckSpec& spec, ListReport& r) : spec_(spec), r_(r) {
    for (size_t k = 0; k < spec.expected_nodes.size(); ++k) expected_.emplace(spec.expected_nodes[k], k);
  }

  void run() {
    const bool doubly = spec_.prev != nullptr;
    size_t bound = spec_.bound.value_or(std::max(spec_.expected_count.value_or(0), spec_.expected_nodes.size()) * 2 +
                                        1024);
    fwd_ = walk(spec_, spec_.next, doubly, bound);
    if (doubly) bwd_ = walk(spec_, spec_.prev, true, bound);
    r_.forward = fwd_.nodes.size();
    r_.backward = bwd_.nodes.size();
    r_.forward_complete = fwd_.stop == Stop::kEnd;
    r_.backward_complete = !doubly || bwd_.stop == Stop::kEnd;

    if (doubly) {
      check_links(fwd_, spec_.prev, "next", "prev", "bad back-pointer");
      walk_stop(fwd_, "forward", "next", bound);
      check_links(bwd_, spec_.next, "prev", "next", "bad forward pointer");
      walk_stop(bwd_, "backward", "prev", bound);
      // A walk cut off by the bound says nothing about the elements it did
      // not reach; one stopped by a cycle or a NULL link does.
      if (bwd_.stop != Stop::kBound)
        for (const void* n : fwd_.nodes)
          if (!bwd_.contains(n))
            problem(fmt::format("lost element: {} is reachable forwards but not backwards", name(n)));
      if (fwd_.stop != Stop::kBound)
        for (const void* n : bwd_.nodes)
          if (!fwd_.contains(n))
            problem(fmt::format("lost element: {} is reachable backwards but not forwards", name(n)));
    } else {
      walk_stop(fwd_, "forward", "next", bound);
    }
    if (fwd_.stop != Stop::kBound && bwd_.stop != Stop::kBound) {
      for (const void* n : spec_.expected_nodes) {
        bool f = fwd_.contains(n), b = bwd_.contains(n);
        if (!f && !b) problem(fmt::format("missing element: {} is not on the list", name(n)));
        // Reachable one way only: already reported as a lost element.
      }
    }
    counts(doubly);
    if (omitted_ > 0) r_.problems.push_back(fmt::format("... and {} more problems", omitted_));
    r_.ok = r_.problems.empty();
  }

 private:
  void problem(std::string p) {
    if (r_.problems.size() < kMaxProblems) r_.problems.push_back(std::move(p));
    else ++omitted_;
  }

  // Every link the walk followed, a -> b, must be mirrored: b's back link is a.
  // When the walk ended at the head, the head's back link must be the last node.
  void check_links(const Walk& w, const void* (*back)(const void*), const char* fwd_name, const char* back_name,
                   const char* what) {
    const void* a = spec_.head;
    auto check = [&](const void* b) {
      const void* c = back(b);
      if (c != a)
        problem(fmt::format("{}: {}: {} is {} but {}'s {} is {}", what, name(a), fwd_name, name(b), name(b), back_name,
                            name(c)));
    };
    for (const void* b : w.nodes) {
      check(b);
      a = b;
    }
    if (w.stop == Stop::kEnd) check(spec_.head);
  }

  void walk_stop(const Walk& w, const char* dir, const char* link, size_t bound) {
    switch (w.stop) {
      case Stop::kEnd:
        break;
      case Stop::kNull:
        problem(fmt::format("null link: {}: {} is NULL ({} walk stopped after {} element{})", name(w.from), link,
                            dir, w.nodes.size(), w.nodes.size() == 1 ? "" : "s"));
        break;
      case Stop::kCycle:
        problem(fmt::format("cycle: {} walk: {}: {} is {}, which the walk already visited", dir, name(w.from), link,
                            name(w.to)));
        break;
      case Stop::kBound:
        problem(fmt::format("{} walk did not reach the end within {} elements", dir, bound));
        break;
      case Stop::kWild:
        problem(fmt::format("wild pointer: {}: {} is a misaligned address ({} walk stopped after {} element{})",
                            name(w.from), link, dir, w.nodes.size(), w.nodes.size() == 1 ? "" : "s"));
        break;
    }
  }

  void counts(bool doubly) {
    auto count = [](const Walk& w) {
      return w.stop == Stop::kEnd ? fmt::format("{}", w.nodes.size()) : fmt::format("{} (incomplete)", w.nodes.size());
    };
    bool mismatch = false;
    if (spec_.expected_count) {
      mismatch |= fwd_.nodes.size() != *spec_.expected_count;
      if (doubly) mismatch |= bwd_.nodes.size() != *spec_.expected_count;
    }
    if (doubly && fwd_.stop == Stop::kEnd && bwd_.stop == Stop::kEnd)
      mismatch |= fwd_.nodes.size() != bwd_.nodes.size();
    if (!mismatch) return;
    std::string s = fmt::format("count mismatch: forward {}", count(fwd_));
    if (doubly) s += fmt::format(", backward {}", count(bwd_));
    if (spec_.expected_count) s += fmt::format(", expected {}", *spec_.expected_count);
    problem(std::move(s));
  }

  // A deterministic name: by walk position, never by address.
  std::string name(const void* n) const {
    if (n == nullptr) return "NULL";
    if (n == spec_.head) return "head";
    std::string s;
    bool labelable = true;
    if (auto it = fwd_.index.find(n); it != fwd_.index.end()) {
      s = fmt::format("elm#{}", it->second);
    } else if (auto jt = bwd_.index.find(n); jt != bwd_.index.end()) {
      s = fmt::format("bwd#{}", jt->second);
    } else if (auto kt = expected_.find(n); kt != expected_.end()) {
      s = fmt::format("expected#{}", kt->second);
    } else {
      s = "an unlisted element";
      labelable = false;
    }
    if (labelable && spec_.label != nullptr) s += fmt::format(" ({})", spec_.label(spec_.label_ctx, n));
    return s;
  }

  const CheckSpec& spec_;
  ListReport& r_;
  Walk fwd_, bwd_;
  std::unordered_map<const void*, size_t> expected_;
  size_t omitted_ = 0;
};

}  // namespace

std::string ListReport::text(const char* list_name) const {
  if (ok) return fmt::format("{} {}: ok, {} elements", kind, list_name, forward);
  std::string out = fmt::format("list corrupted: {} {}: ", kind, list_name);
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) out += "\n ";
    out += problems[i];
  }
  return out;
}

bool report_list_corruption(const ListReport& report, const char* list_name, SrcLoc loc) {
  if (report.ok) return false;
  Scheduler* s = Scheduler::current();
  if (s == nullptr) return false;
  Finding f;
  f.kind = FindingKind::kListCorruption;
  f.message = report.text(list_name);
  f.sites = {Site::from(loc)};
  s->report(std::move(f));
  return true;
}

namespace list_detail {

bool quick_ok(const CheckSpec& spec, ListReport& r) {
  return quick_walk(spec.head, spec.next, spec.prev, spec.align, spec.expected_count, spec.expected_nodes, spec.bound,
                    r);
}

ListReport check_links(const CheckSpec& spec) {
  ListReport r;
  r.kind = spec.kind;
  if (quick_ok(spec, r)) return r;
  Checker(spec, r).run();
  return r;
}

}  // namespace list_detail

}  // namespace kqsim::sim
