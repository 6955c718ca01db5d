// list_check.h - invariant checkers for the instrumented lists of list.h.
//
// Contract
// --------
// check_tailq / check_list / check_slist walk a list through Cell::raw(): they
// take no scheduling point, record no race-detector event and never change the
// list, so calling them (from a scenario invariant, a test, or the root thread
// after joining) does not perturb the schedule being checked. They are bounded:
// a walk stops after `bound` elements (default max(expected count, number of
// expected elements) * 2 + 1024) and a walk that revisits an element stops
// there, so a corrupted list never makes a checker loop.
//
// TAILQ and LIST are walked forwards (next) and backwards (prev); SLIST forwards
// only. Each problem found is one line in ListReport::problems, in walk order:
//   bad back-pointer   "bad back-pointer: elm#0 (X): next is elm#1 (Y) but elm#1 (Y)'s prev is elm#2 (Z)"
//   bad forward link   "bad forward pointer: bwd#0 (A): prev is elm#0 (X) but elm#0 (X)'s next is elm#1 (B)"
//   null link          "null link: elm#1 (Y): next is NULL (forward walk stopped after 2 elements)"
//   cycle              "cycle: forward walk: elm#2 (Z): next is elm#0 (X), which the walk already visited"
//   too long           "forward walk did not reach the end within 1024 elements"
//   lost element       "lost element: bwd#0 (A) is reachable backwards but not forwards"
//   missing element    "missing element: expected#0 (B) is not on the list"   (ListExpect::elements)
//   count mismatch     "count mismatch: forward 2, backward 2, expected 3"
// Elements are named by position, never by address, so reports are identical
// across runs: "elm#i" is the i-th element of the forward walk, "bwd#j" the j-th
// of the backward walk (0 = last) for an element the forward walk did not
// reach, "expected#k" the k-th expected element when neither walk reached it,
// "head" the list head, "NULL" a null link, and "an unlisted element" any other
// entry (a stale link to an element that is on neither walk). With a Labeler
// (a callable std::string(const T&)) every element named is followed by its
// label in parentheses: "elm#2 (kn 7)". The labeler is only called on elements
// reached by a walk or given as expected, never on unlisted ones (which may
// be freed memory).
//
// ListReport::text(name) renders the report the way the kernel would complain:
//   "list corrupted: TAILQ kq_head: <first problem>\n <next problem>\n ..."
// or "TAILQ kq_head: ok, 3 elements" when the list is consistent.
//
// report_list_corruption() turns a failed report into a kListCorruption
// finding of the running execution.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "model/sim/list.h"
#include "model/sim/srcloc.h"

namespace kqsim::sim {

struct ListReport {
  bool ok = true;
  const char* kind = "";          // "TAILQ", "LIST", "SLIST"
  size_t forward = 0;             // distinct elements the forward walk visited
  size_t backward = 0;            // same for the backward walk (0 for SLIST)
  bool forward_complete = true;   // the forward walk got back to the head (SLIST: reached NULL)
  bool backward_complete = true;  // the backward walk got back to the head (true for SLIST)
  std::vector<std::string> problems;

  // "list corrupted: TAILQ kq_head: ..." (one problem per line) or
  // "TAILQ kq_head: ok, N elements".
  std::string text(const char* list_name) const;
};

// What the caller knows the list must hold.
template <class T>
struct ListExpect {
  std::optional<size_t> count;     // exact number of elements
  std::vector<const T*> elements;  // each must be on the list (both walks)
  std::optional<size_t> bound;     // walk bound; default max(count, elements) * 2 + 1024
};

// The default labeler: elements are named by position only.
struct NoLabels {};

// Files `report` as a kListCorruption finding (message report.text(list_name),
// site `loc`) through Scheduler::report() when it is not ok and a Scheduler is
// running; returns whether it did. Called from a simulated thread with
// stop_on_finding (the default), the finding ends the execution and this does
// not return.
bool report_list_corruption(const ListReport& report, const char* list_name, SrcLoc loc = SrcLoc::current());

namespace list_detail {

// The type-erased walk (list_check.cc). Nodes are entry addresses.
struct CheckSpec {
  const char* kind = "";
  const void* head = nullptr;
  const void* (*next)(const void*) = nullptr;
  const void* (*prev)(const void*) = nullptr;  // nullptr: singly linked, NULL-terminated
  std::string (*label)(void* ctx, const void* node) = nullptr;
  void* label_ctx = nullptr;
  std::vector<const void*> expected_nodes;
  std::optional<size_t> expected_count;
  std::optional<size_t> bound;
  size_t align = 1;  // alignment of an entry: a misaligned link is a wild pointer, never followed
};
ListReport check_links(const CheckSpec& spec);

// The common case, a short well-formed list, checked without allocating: a
// forward walk in which every link is mirrored by the next node's back link
// (and the head's back link names the last node) implies a backward walk over
// the same nodes, so one pass decides it. Anything unusual (a NULL or wild
// link, a cycle, a long list, a count or an element missing) returns false and
// the full walk (check_links) runs, which also writes the problems. `next` and
// `prev` map a node to its link (prev == nullptr: singly linked); check_head
// passes typed lambdas, so an oracle run after every execution makes no call.
template <class Prev>
bool has_prev(Prev prev) {
  if constexpr (std::is_same_v<Prev, std::nullptr_t>) return false;
  else if constexpr (std::is_pointer_v<Prev>) return prev != nullptr;
  else return true;
}
template <class Prev>
const void* prev_of(Prev prev, const void* n) {
  if constexpr (std::is_same_v<Prev, std::nullptr_t>) return nullptr;
  else return prev(n);
}
template <class Next, class Prev>
bool quick_walk(const void* head, Next next, Prev prev, size_t align, std::optional<size_t> expected_count,
                const std::vector<const void*>& expected_nodes, std::optional<size_t> walk_bound, ListReport& r) {
  constexpr size_t kMax = 32;
  const bool doubly = has_prev(prev);
  const size_t bound = walk_bound.value_or(std::max(expected_count.value_or(0), expected_nodes.size()) * 2 + 1024);
  const void* nodes[kMax];
  size_t n = 0;
  const void* a = head;
  for (;;) {
    const void* b = next(a);
    if (b == nullptr) {
      if (doubly) return false;
      break;
    }
    if (align > 1 && reinterpret_cast<uintptr_t>(b) % align != 0) return false;
    if (b == head) {
      if (!doubly) return false;
      break;
    }
    if (n == kMax || n == bound) return false;
    for (size_t i = 0; i < n; ++i)
      if (nodes[i] == b) return false;
    if (doubly && prev_of(prev, b) != a) return false;
    nodes[n++] = b;
    a = b;
  }
  if (doubly && prev_of(prev, head) != a) return false;
  if (expected_count && *expected_count != n) return false;
  for (const void* e : expected_nodes)
    if (std::find(nodes, nodes + n, e) == nodes + n) return false;
  r.forward = n;
  r.backward = doubly ? n : 0;
  r.forward_complete = r.backward_complete = true;
  r.ok = true;
  return true;
}

template <class E>
const void* raw_next(const void* n) {
  return static_cast<const E*>(n)->next.raw();
}
template <class E>
const void* raw_prev(const void* n) {
  return static_cast<const E*>(n)->prev.raw();
}

template <class Head, class Labeler>
ListReport check_head(const Head& h, const char* kind, bool doubly, const ListExpect<typename Head::value_type>& ex,
                      Labeler& label) {
  using T = typename Head::value_type;
  using E = typename Head::entry_type;
  if (ex.elements.empty()) {  // the oracle's common call: the quick walk, typed
    ListReport r;
    r.kind = kind;
    static const std::vector<const void*> kNone;
    auto next = [](const void* n) { return raw_next<E>(n); };  // inlined, unlike &raw_next<E>
    bool ok;
    if constexpr (requires(const E& e) { e.prev; }) {
      auto prev = [](const void* n) { return raw_prev<E>(n); };
      ok = doubly ? quick_walk(&h.head_node(), next, prev, alignof(E), ex.count, kNone, ex.bound, r)
                  : quick_walk(&h.head_node(), next, nullptr, alignof(E), ex.count, kNone, ex.bound, r);
    } else {
      ok = quick_walk(&h.head_node(), next, nullptr, alignof(E), ex.count, kNone, ex.bound, r);
    }
    if (ok) return r;
  }
  CheckSpec spec;
  spec.kind = kind;
  spec.head = &h.head_node();
  spec.align = alignof(E);
  spec.next = &raw_next<E>;
  if (doubly) {
    if constexpr (requires(const E& e) { e.prev; }) spec.prev = &raw_prev<E>;
  }
  if constexpr (!std::is_same_v<Labeler, NoLabels>) {
    spec.label = [](void* ctx, const void* node) -> std::string {
      return std::string((*static_cast<Labeler*>(ctx))(*Head::elem_of(static_cast<const E*>(node))));
    };
    spec.label_ctx = &label;
  }
  spec.expected_nodes.reserve(ex.elements.size());
  for (const T* e : ex.elements) spec.expected_nodes.push_back(Head::node_of(const_cast<T*>(e)));
  spec.expected_count = ex.count;
  spec.bound = ex.bound;
  return check_links(spec);
}

}  // namespace list_detail

template <class T, TailqEntry T::*F, class Labeler = NoLabels>
ListReport check_tailq(const TailqHead<T, F>& h, const ListExpect<T>& expect, Labeler label = {}) {
  return list_detail::check_head(h, "TAILQ", true, expect, label);
}
template <class T, TailqEntry T::*F, class Labeler = NoLabels>
ListReport check_tailq(const TailqHead<T, F>& h, std::optional<size_t> expected_count = std::nullopt,
                       Labeler label = {}) {
  return list_detail::check_head(h, "TAILQ", true, ListExpect<T>{expected_count, {}, {}}, label);
}

template <class T, ListEntry T::*F, class Labeler = NoLabels>
ListReport check_list(const ListHead<T, F>& h, const ListExpect<T>& expect, Labeler label = {}) {
  return list_detail::check_head(h, "LIST", true, expect, label);
}
template <class T, ListEntry T::*F, class Labeler = NoLabels>
ListReport check_list(const ListHead<T, F>& h, std::optional<size_t> expected_count = std::nullopt,
                      Labeler label = {}) {
  return list_detail::check_head(h, "LIST", true, ListExpect<T>{expected_count, {}, {}}, label);
}

template <class T, SlistEntry T::*F, class Labeler = NoLabels>
ListReport check_slist(const SlistHead<T, F>& h, const ListExpect<T>& expect, Labeler label = {}) {
  return list_detail::check_head(h, "SLIST", false, expect, label);
}
template <class T, SlistEntry T::*F, class Labeler = NoLabels>
ListReport check_slist(const SlistHead<T, F>& h, std::optional<size_t> expected_count = std::nullopt,
                       Labeler label = {}) {
  return list_detail::check_head(h, "SLIST", false, ListExpect<T>{expected_count, {}, {}}, label);
}

}  // namespace kqsim::sim
