// trace_model.h - one traced execution, read for reports: lanes, lock hold
// spans, blocked stretches, classified events, and the lock-order graph the
// execution itself establishes.
//
// Contract
// --------
// analyse_trace() takes a replayed execution (fuzz::ReplayRun whose scheduler
// ran with SchedulerOptions::trace on) and derives, without running anything:
//   - lanes: one per simulated thread, by Tid, named as in the scenario
//     ("main", "cpu0", ...), plus a last lane "sched" when the trace holds
//     events made by the scheduler itself (tid kNoThread, e.g. a deadlock
//     FINDING);
//   - events: every trace event with its lane, class (load, store, lock, ...)
//     and its site as a project-relative "dir/file.cc:line";
//   - lock spans: from each lock/slock to the matching unlock/sunlock of the
//     same lock on the same thread. A sleep that drops its interlock (msleep)
//     is an unlock and a later lock in the trace, hence two spans. Spans are
//     well nested per lane: when a lock is released while locks taken after it
//     are still held (A, B, unlock A), the spans above it are closed and
//     reopened (the reopened part has `continued` set), so B/E pairs nest;
//     a lock still held at the end of the trace ends one past the last
//     event (end == events.size(), `released` false);
//   - block spans: from a thread's "block" to its next event;
//   - findings: each of the execution's findings with the index of its
//     FINDING trace event (matched in order; the last event when absent).
// Lock identity is the trace's text `kind "name"` (e.g. sleep mutex
// "kqueue"): two instances with one name on one thread are matched most
// recent first, as WITNESS matches classes.
//
// lock_graph_from_trace() rebuilds the lock-order graph of the execution as
// the witness saw it: for each acquisition (lock, slock, and a block on a lock,
// which the witness checks before sleeping) an edge from every lock the thread
// holds to the one acquired; each lock-order-reversal finding ("1st X @ site /
// 2nd Y @ site") is an attempted edge X -> Y. Trylocks are not marked in the
// trace, so the rebuilt graph may hold edges that the witness skipped.
// Reversals are returned as the graph reported them (with the established
// path), for locks::WitnessGraph::to_dot and the SVG.
//
// No locks: pure functions of their input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/run.h"
#include "locks/witness_graph.h"
#include "model/sim/srcloc.h"

namespace kqsim::fuzz {

// "knote/kern_event.cc:147" for a valid location (leading "./" and "../"
// components removed: builds through ccache may record relative paths), ""
// otherwise.
std::string site_text(SrcLoc loc);

enum class EventClass : uint8_t {
  kLoad,     // load of a plain shared variable (sim::Cell)
  kStore,    // store to a plain shared variable
  kAtomic,   // atomic-load, atomic-store, atomic-rmw
  kLock,     // lock, slock
  kUnlock,   // unlock, sunlock
  kBlock,    // block (park)
  kWake,     // wake, wakeup, wakeup1
  kKnote,    // KNOTE
  kThread,   // spawn, join, exit, yield
  kFinding,  // FINDING
  kOther,
};
const char* event_class_name(EventClass c);  // "load", "store", ...
EventClass classify_op(std::string_view op);

// A list operation label ("TAILQ_INSERT_TAIL"): the queue(3) macros.
bool is_list_label(std::string_view label);

struct TraceEventView {
  size_t index = 0;   // in Execution::trace
  uint64_t step = 0;
  size_t lane = 0;
  EventClass cls = EventClass::kOther;
  std::string op;
  std::string detail;  // the label of a load/store, the lock, what is waited for
  std::string site;    // site_text(loc)
};

struct LockSpan {
  size_t lane = 0;
  unsigned depth = 0;        // nesting level within the lane, 0 outermost
  size_t begin = 0, end = 0;  // event indices: the lock, the unlock (events.size() when never released)
  uint64_t begin_step = 0, end_step = 0;
  std::string lock;  // `sleep mutex "kqueue"`
  std::string name;  // "kqueue"
  std::string kind;  // "sleep mutex"
  std::string site;  // where acquired
  bool shared = false;     // slock
  bool continued = false;  // reopened after a lock below it was released
  bool released = true;
};

struct BlockSpan {
  size_t lane = 0;
  size_t begin = 0, end = 0;  // the block event, the thread's next event (events.size() when none)
  std::string what;
};

struct FindingView {
  size_t event = 0;  // index of its FINDING event
  uint64_t step = 0;
  std::string kind;     // "list-corruption"
  std::string message;  // whole message
  std::string headline;
  std::vector<std::string> threads;  // names
};

struct TraceModel {
  std::string scenario, design, how;
  uint64_t steps = 0;
  std::vector<std::string> lanes;
  std::vector<TraceEventView> events;
  std::vector<LockSpan> spans;  // by begin, then depth
  std::vector<BlockSpan> blocks;
  std::vector<FindingView> findings;
};

TraceModel analyse_trace(const ReplayRun& run);

// Splits `sleep mutex "kqueue" (contended)` into kind "sleep mutex" and name
// "kqueue"; false when the text names no lock.
bool parse_lock_text(std::string_view text, std::string* kind, std::string* name);

struct RebuiltLockGraph {
  std::unique_ptr<locks::WitnessGraph> graph;
  std::vector<locks::Reversal> reversals;  // in the order found
};
RebuiltLockGraph lock_graph_from_trace(const ReplayRun& run);

}  // namespace kqsim::fuzz
