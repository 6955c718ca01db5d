// trace_export.h - one traced execution as Chrome trace-event JSON (the
// "traceEvents" format that Perfetto, ui.perfetto.dev, and chrome://tracing
// open), and the lock-order graph as Graphviz DOT.
//
// Contract
// --------
// chrome_trace_json(model, replay_cmd) returns a JSON object
//   {"traceEvents": [...], "displayTimeUnit": "ns",
//    "otherData": {"format": "kqsim-chrome-trace", "version": 1, "scenario",
//                  "design", "how", "steps", "replay"}}
// with, for process pid 1 named "kqsim <scenario> under <design>":
//   - per lane (simulated thread, plus "sched" when present) a track: tid =
//     Tid + 1 ("sched" has tid 1000), "thread_name" and "thread_sort_index"
//     metadata events (ph "M");
//   - lock hold spans: ph "B" / "E" pairs, name = the lock's name, cat
//     "lock", args {lock, site, shared, continued}; well nested per track
//     (TraceModel's spans); a lock held at the end ends with the last event;
//   - blocked stretches: "B"/"E", name "blocked: <what>", cat "block";
//   - loads, stores, atomics: instant events (ph "i", s "t"), name = op plus
//     list-operation label ("store TAILQ_INSERT_TAIL"), cat "memory", or
//     "list" when the access belongs to a queue(3) operation; args {site,
//     label, step};
//   - KNOTE: instant, cat "knote"; wake/wakeup, spawn, join, exit: instant,
//     cat "sched";
//   - each finding: a global instant (ph "i", s "g") named
//     "FINDING <kind>", cat "finding", args {kind, message, step, threads}.
// Timestamps: ts (microseconds in the format) is the scheduling step; the
// k-th event recorded at one step gets ts = step + k/1000 (one nanosecond
// apart), so events keep their trace order and a span that opens and closes
// at the same step still has a length.
//
// lock_order_dot(graph, reversals) is WitnessGraph::to_dot with the
// reversing edges highlighted.
//
// No locks: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/trace_model.h"
#include "locks/witness_graph.h"

namespace kqsim::fuzz {

// The microsecond timestamp of every event of `m` (see above).
std::vector<double> event_timestamps(const TraceModel& m);

nlohmann::ordered_json chrome_trace_json(const TraceModel& m, const std::string& replay_cmd);

std::string lock_order_dot(const locks::WitnessGraph& graph, const std::vector<locks::Reversal>& reversals);

}  // namespace kqsim::fuzz
