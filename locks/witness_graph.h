// locks/witness_graph.h: the lock-order graph at the heart of kqsim's witness.
//
// A WitnessGraph records which lock classes have been acquired while which
// others were held, and refuses, with a report, any acquisition order that
// would contradict what it has seen. It is the data structure behind
// FreeBSD's WITNESS (sys/kern/subr_witness.c: w_rmatrix, isitmydescendant)
// and Linux lockdep (the class dependency graph); the lock primitives and
// the per-thread held-lock stack live elsewhere (locks/witness.*) and call in.
//
// STATE
//
// A graph is, abstractly:
//   C  the lock classes, in creation order. A class has an id (its index:
//      0, 1, 2, ...), a unique name ("kqueue") and an optional lock kind
//      ("sleep mutex"). All locks initialised with the same name are one
//      class, as in WITNESS.
//   E  the order edges: a set of ordered pairs (before, after) of distinct
//      classes, each with the sites at which it was first seen: where the
//      `before` lock had been acquired and where the `after` lock was being
//      acquired. E is always acyclic. E only grows.
//   R  the reported reversals: ordered pairs (before, after) for which
//      add_edge has returned kReversal. R and E are disjoint and, for each
//      pair in R, E has a path after -> ... -> before. R only grows.
// There is nothing else observable. (Internally the graph also keeps a
// topological order of E, exposed for tests as topo_position().)
//
// ALGORITHM
//
// Cycle detection is incremental, with the dynamic topological order of
// Pearce and Kelly ("A Dynamic Topological Sort Algorithm for Directed
// Acyclic Graphs", ACM JEA 11, 2006): every class has a position ord[c] and
// every edge b -> a satisfies ord[b] < ord[a]. To insert x -> y:
//   - ord[x] < ord[y]: the order already agrees; insert. O(1).
//   - otherwise search forward from y, visiting only classes with
//     ord < ord[x] (breadth first, so the path found is a shortest one), and
//     backward from x, visiting only classes with ord > ord[y]. If the forward
//     search meets x, y already reaches x and the edge would close a cycle:
//     nothing is inserted and the path y -> ... -> x is the report. Otherwise
//     the classes found are given the same set of positions again, the
//     backward set first, and the edge is inserted.
// Cost of a new edge: O(1) if the order agrees, else O(d log d) where d is
// the number of classes and edges inside the affected region (Pearce-Kelly's
// bound), independent of the size of the rest of the graph. The searches are
// iterative (no recursion: callers may run on small fiber stacks).
//
// Existing edges and already-reported reversals are found in a lock-free
// open-addressing hash table of packed (before, after) pairs: one multiply,
// one shift, usually one load. That is the hot path: the witness calls
// add_edge on every acquisition for every lock held.
//
// THREAD SAFETY
//
// Every member function may be called concurrently from any thread. The
// add_edge and has_edge fast paths (edge already in E, or pair already in R)
// take no lock and write no shared memory; everything else takes one internal
// mutex. Reports are therefore exactly-once even when several threads race on
// the same reversal.
//
// LIFETIME OF SITES
//
// Site is a cheap (pointer, line) pair, as kqsim::SrcLoc (file, line) gives. The
// graph copies (interns) a site's file name when it records the site, so a
// caller's Site need only be valid during the call. Sites the graph hands out
// point into the graph's own storage and remain valid for the lifetime of the
// graph (it never forgets a name). Reversal and everything else returned by
// value own their strings.

#ifndef KQSIM_LOCKS_WITNESS_GRAPH_H_
#define KQSIM_LOCKS_WITNESS_GRAPH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "model/sim/srcloc.h"

namespace kqsim::locks {

// Dense class identifier: the index of the class in creation order.
using ClassId = uint32_t;
inline constexpr ClassId kNoClass = UINT32_MAX;
// intern_class throws std::length_error beyond this many classes
// (FreeBSD's WITNESS_COUNT is 1536).
inline constexpr ClassId kMaxClasses = ClassId{1} << 24;

// An acquisition site. `file` must be NUL-terminated; it need only be valid
// for the duration of the call it is passed to (see LIFETIME OF SITES).
struct Site {
  const char* file = "";
  uint32_t line = 0;

  // The caller's own location.
  static constexpr Site here(
      kqsim::SrcLoc loc = kqsim::SrcLoc::current()) {
    return Site{loc.file, loc.line};
  }
};

// What add_edge did. See the table at WitnessGraph::add_edge.
enum class AddStatus : uint8_t {
  kExisting,                 // (before, after) was in E already.
  kAdded,                    // (before, after) inserted into E.
  kReversal,                 // would close a cycle; inserted into R; report.
  kReversalAlreadyReported,  // (before, after) was in R already.
  kSameClass,                // before == after: not the graph's business.
};
std::string_view to_string(AddStatus status);

// One lock of a report: its class and the site at which it was acquired.
// Owns its strings.
struct LockAt {
  ClassId cls = kNoClass;  // id in the graph that produced the report
  std::string name;
  std::string kind;  // empty if the class was interned without one
  std::string file;
  uint32_t line = 0;

  friend bool operator==(const LockAt&, const LockAt&) = default;
};

// An edge of E, with the sites at which it was first seen.
struct OrderEdge {
  LockAt before;
  LockAt after;

  friend bool operator==(const OrderEdge&, const OrderEdge&) = default;
};

// A lock order reversal: acquiring `second` while holding `first`
// contradicts the established order second -> ... -> first.
struct Reversal {
  LockAt first;   // the lock held (add_edge's `before`), where acquired
  LockAt second;  // the lock being acquired (add_edge's `after`), where
  // The established path, in order: established.front().before is `second`'s
  // class, established.back().after is `first`'s class, and each edge's
  // `after` is the next edge's `before`. One edge for an A/B reversal.
  std::vector<OrderEdge> established;

  // The class names along the path: second, ..., first.
  std::vector<std::string> path() const;

  friend bool operator==(const Reversal&, const Reversal&) = default;
};

// Formats a reversal in WITNESS's form (without the lock pointers):
//
//   lock order reversal:
//    1st kqueue (sleep mutex) @ knote/kern_event.cc:120
//    2nd filedesc @ model/kern/filedesc.cc:44
//   lock order filedesc -> kqueue established at:
//    filedesc @ model/kern/filedesc.cc:80
//    kqueue @ knote/kern_event.cc:300
//
// The lock kind is printed in parentheses when the class has one. When the
// established path has more than one edge, each edge gets a sub-heading:
//
//   lock order kqueue -> knlist -> filedesc established at:
//    kqueue -> knlist:
//     kqueue @ knote/kern_event.cc:300
//     knlist @ knote/kern_event.cc:310
//    knlist -> filedesc:
//     knlist @ knote/kern_event.cc:900
//     filedesc @ model/kern/filedesc.cc:80
//
// Every line ends with '\n'. An empty file name prints as "?".
std::string format_reversal(const Reversal& reversal);

// The report lives on the heap: it is rare, and keeping AddResult two words
// keeps the hot path free of a 250-byte initialisation.
struct AddResult {
  AddStatus status = AddStatus::kExisting;
  std::unique_ptr<Reversal> reversal;  // non-null iff status == kReversal
};

// An edge of E as stored: sites point into the graph's interned storage.
struct EdgeInfo {
  ClassId before = kNoClass;
  ClassId after = kNoClass;
  Site before_site;
  Site after_site;
};

// Success, or an error message.
struct [[nodiscard]] Status {
  std::string message;  // empty iff ok
  bool ok() const { return message.empty(); }
};

struct MergeResult {
  size_t classes_added = 0;   // names new to this graph
  size_t edges_added = 0;     // other's edges inserted into E
  size_t edges_existing = 0;  // other's edges already in E
  // Other's edges that would have closed a cycle here, in the order met.
  // Each pair is inserted into R. `first`/`second` carry other's first-seen
  // sites of the edge; the established path and ids are this graph's.
  std::vector<Reversal> reversals;
  size_t reversals_already_reported = 0;  // other's edges already in R
};

class WitnessGraph;

// The result of WitnessGraph::from_json: a graph, or why there is none.
struct LoadResult {
  std::unique_ptr<WitnessGraph> graph;  // non-null iff ok
  std::string error;
  bool ok() const { return graph != nullptr; }
};

class WitnessGraph {
 public:
  // An empty graph: no classes, no edges, no reported reversals.
  WitnessGraph();
  ~WitnessGraph();
  WitnessGraph(const WitnessGraph&) = delete;
  WitnessGraph& operator=(const WitnessGraph&) = delete;

  // --- Classes ---------------------------------------------------------

  // Returns the id of the class named `name`, appending a new class to C if
  // there is none. A class created with an empty kind takes the first
  // non-empty `kind` given later; otherwise `kind` is ignored.
  // Throws std::length_error if C would exceed kMaxClasses.
  ClassId intern_class(std::string_view name, std::string_view kind = {});

  // The id of the class named `name`, if any. Does not change C.
  std::optional<ClassId> find_class(std::string_view name) const;

  // Name and kind of class `id`. Throw std::out_of_range for an unknown id.
  std::string class_name(ClassId id) const;
  std::string class_kind(ClassId id) const;

  size_t class_count() const;

  // --- Edges -----------------------------------------------------------

  // Records that a lock of class `after` is being acquired (at `after_site`)
  // while one of class `before` is held (acquired at `before_site`).
  //
  //   condition (first that holds)       effect                 returns
  //   before == after                    none                   kSameClass
  //   (before, after) in E               none                   kExisting
  //   (before, after) in R               none                   kReversalAlreadyReported
  //   E has a path after -> ... -> before
  //                                      R += (before, after)   kReversal + report
  //   otherwise                          E += (before, after),  kAdded
  //                                      with the two sites
  //
  // On kReversal E is unchanged (as absl's GraphCycles::InsertEdge), and
  // `reversal` holds: first = (before, before_site), second = (after,
  // after_site), and a shortest established path after -> ... -> before
  // with each edge's first-seen sites.
  //
  // kExisting and kReversalAlreadyReported are O(1), lock-free and
  // allocation-free. Throws std::out_of_range if `before` or `after` is not
  // a class id of this graph (checked whenever the fast path misses).
  AddResult add_edge(ClassId before, ClassId after, Site before_site,
                     Site after_site);

  // Whether (before, after) is in E. Lock-free; false for unknown ids.
  bool has_edge(ClassId before, ClassId after) const;

  // The edge (before, after) with its first-seen sites, if it is in E.
  std::optional<EdgeInfo> edge(ClassId before, ClassId after) const;

  // All of E, in insertion order.
  std::vector<EdgeInfo> edges() const;
  size_t edge_count() const;

  // All of R, in the order reported.
  std::vector<std::pair<ClassId, ClassId>> reported_reversals() const;

  // --- Static order (WITNESS's order_lists) ----------------------------

  // Declares chain[0] -> chain[1] -> ... -> chain[n-1]: interns the names
  // and inserts each consecutive pair into E (pairs already in E are kept
  // as they are), with `site` as both sites of every new edge.
  // If the chain names a class twice, or any pair would close a cycle with E
  // and the earlier pairs, returns an error naming the cycle and inserts no
  // edge (E and R unchanged; the names may have been interned).
  Status declare_order(
      std::span<const std::string_view> chain,
      kqsim::SrcLoc site = kqsim::SrcLoc::current());
  Status declare_order(
      std::initializer_list<std::string_view> chain,
      kqsim::SrcLoc site = kqsim::SrcLoc::current());

  // --- Merging and persistence -----------------------------------------

  // Adds `other`'s classes (matched by name) and edges (in other's insertion
  // order) to this graph, with other's first-seen sites. An edge that would
  // close a cycle here is not inserted but reported in the result and put in
  // R, exactly as add_edge does: this is how a reversal seen half in one run
  // and half in another (or on another machine) is found. Then other's R is
  // added to R, for pairs that are reversals of this graph's E. Merging a
  // graph into itself changes nothing. `other` is not changed.
  MergeResult merge(const WitnessGraph& other);

  // The whole state (C, E in insertion order, R) as JSON:
  //   {"format": "kqsim-witness", "version": 1,
  //    "classes": [{"name": "kqueue", "kind": "sleep mutex"}, ...],
  //    "edges": [{"before": 0, "after": 1,
  //               "before_site": {"file": "...", "line": 120},
  //               "after_site": {"file": "...", "line": 44}}, ...],
  //    "reversals": [{"before": 1, "after": 0}, ...]}
  // Indices refer to "classes".
  std::string to_json() const;

  // Rebuilds a graph from to_json's output. Errors (never crashes): text
  // that is not JSON, another "format" or "version", missing or mistyped
  // fields, duplicate class names, class indices out of range, self edges,
  // edges forming a cycle, and "reversals" entries that are edges or are not
  // reversals of the file's edges. Each message says where.
  static LoadResult from_json(std::string_view text);

  // Graphviz DOT: one node per class, one edge per element of E labelled
  // with its first-seen sites. For each reversal in `highlight` (matched to
  // this graph's classes by name), the reversing edge first -> second is
  // drawn red and dashed with label "reversal" followed, when the reversal
  // has sites, by "\n1st NAME @ file:line\n2nd NAME @ file:line", and the
  // edges of its established path are drawn red.
  std::string to_dot(const std::vector<Reversal>* highlight = nullptr) const;

  // --- For tests -------------------------------------------------------

  // The position of `id` in the internal topological order: a permutation
  // of 0 .. class_count()-1 with pos(before) < pos(after) for every edge.
  uint32_t topo_position(ClassId id) const;

  // Checks every internal invariant (order is a topological permutation,
  // adjacency lists, hash tables and edge list agree, R and E disjoint).
  // Expensive: O(|C| + |E| + |R|).
  Status check_invariants() const;

 private:
  struct Snapshot;

  // Lock-free table of packed pairs; a slot is 0 (empty) or a packed key,
  // with kReportedBit set for pairs in R. Tables only grow: a grown table is
  // published with a release store and the old one is kept until the graph
  // is destroyed, so readers never see freed memory.
  struct FastTable {
    explicit FastTable(unsigned log2_capacity);
    unsigned shift;  // 64 - log2(capacity)
    uint64_t mask;   // capacity - 1
    std::unique_ptr<std::atomic<uint64_t>[]> slots;
  };
  enum class FastHit : uint8_t { kMiss, kEdge, kReported };

  static constexpr uint64_t kReportedBit = uint64_t{1} << 63;
  static constexpr uint64_t kHashMul = 0x9E3779B97F4A7C15ull;

  // Non-zero for valid ids; bit 63 clear because ids < kMaxClasses.
  static constexpr uint64_t pack(ClassId before, ClassId after) {
    return ((uint64_t{before} + 1) << 32) | after;
  }

  FastHit fast_find(uint64_t key) const {
    const FastTable* t = fast_.load(std::memory_order_acquire);
    uint64_t i = (key * kHashMul) >> t->shift;
    for (;;) {
      const uint64_t s = t->slots[i].load(std::memory_order_relaxed);
      if (s == 0) return FastHit::kMiss;
      if ((s & ~kReportedBit) == key)
        return (s & kReportedBit) != 0 ? FastHit::kReported : FastHit::kEdge;
      i = (i + 1) & t->mask;
    }
  }

  struct EdgeRec {
    ClassId before;
    ClassId after;
    Site before_site;  // file interned
    Site after_site;   // file interned
  };
  struct ClassRec {
    std::string name;
    std::string kind;
  };

  AddResult add_edge_slow(ClassId before, ClassId after, Site before_site,
                          Site after_site);

  // All *_locked functions require mu_ held.
  void check_class_locked(ClassId id) const;
  ClassId intern_class_locked(std::string_view name, std::string_view kind,
                              bool* created);
  const char* intern_file_locked(const char* file);
  // Pearce-Kelly: makes ord_[x] < ord_[y] by reordering, or returns false
  // with *cycle = y ... x (a shortest path in E) if y reaches x.
  bool make_order_locked(ClassId x, ClassId y, std::vector<ClassId>* cycle);
  uint32_t next_epoch_locked();
  void append_edge_locked(ClassId before, ClassId after, Site before_site,
                          Site after_site);
  void pop_edge_locked();
  void fast_insert_locked(uint64_t slot_value);
  // Tries to insert (before, after) as add_edge does, minus the fast path.
  AddStatus insert_locked(ClassId before, ClassId after, Site before_site,
                          Site after_site, std::unique_ptr<Reversal>* reversal);
  bool reaches_locked(ClassId from, ClassId to);
  LockAt lock_at_locked(ClassId id, Site site) const;
  std::vector<OrderEdge> path_edges_locked(
      const std::vector<ClassId>& path) const;
  Snapshot snapshot() const;

  mutable std::mutex mu_;

  std::atomic<const FastTable*> fast_;  // newest table; writes under mu_
  std::vector<std::unique_ptr<FastTable>> tables_;  // all, newest last
  size_t fast_count_ = 0;  // entries in the newest table

  // Everything below is protected by mu_.
  std::deque<ClassRec> classes_;  // C; deque: names never move
  std::unordered_map<std::string_view, ClassId> by_name_;  // views of names
  std::deque<std::string> file_store_;  // interned file names
  std::unordered_set<std::string_view> files_;  // views into file_store_
  std::vector<EdgeRec> edges_;                  // E, insertion order
  std::unordered_map<uint64_t, uint32_t> edge_index_;  // pack -> edges_ idx
  std::vector<std::vector<ClassId>> out_;  // successors, per class
  std::vector<std::vector<ClassId>> in_;   // predecessors, per class
  std::vector<std::pair<ClassId, ClassId>> reported_;  // R, in order
  std::unordered_set<uint64_t> reported_set_;          // packed R
  std::vector<uint32_t> ord_;  // topological position, per class

  // Scratch for the searches, reused to avoid allocation.
  std::vector<uint32_t> mark_;     // epoch stamp, per class
  std::vector<ClassId> parent_;    // BFS tree, per class
  uint32_t epoch_ = 0;
  std::vector<ClassId> forward_;   // forward region (BFS queue)
  std::vector<ClassId> backward_;  // backward region
  std::vector<ClassId> stack_;
  std::vector<uint32_t> positions_;
};

// --- Inline hot path ---------------------------------------------------

inline AddResult WitnessGraph::add_edge(ClassId before, ClassId after,
                                        Site before_site, Site after_site) {
  if (before == after) return AddResult{AddStatus::kSameClass, nullptr};
  if (((before | after) & ~(kMaxClasses - 1)) == 0) {
    switch (fast_find(pack(before, after))) {
      case FastHit::kEdge:
        return AddResult{AddStatus::kExisting, nullptr};
      case FastHit::kReported:
        return AddResult{AddStatus::kReversalAlreadyReported, nullptr};
      case FastHit::kMiss:
        break;
    }
  }
  return add_edge_slow(before, after, before_site, after_site);
}

inline bool WitnessGraph::has_edge(ClassId before, ClassId after) const {
  if (before == after || ((before | after) & ~(kMaxClasses - 1)) != 0)
    return false;
  return fast_find(pack(before, after)) == FastHit::kEdge;
}

}  // namespace kqsim::locks

#endif  // KQSIM_LOCKS_WITNESS_GRAPH_H_
