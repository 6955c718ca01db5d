// reports.h - the one entry point that writes an execution's report files:
// HTML page, Graphviz DOT of the lock-order graph, Chrome trace-event JSON.
//
// Contract
// --------
// write_report_files(files, run, replay_cmd, graph) writes each file whose
// name in `files` is non-empty, from one replayed execution `run` (replayed
// with SchedulerOptions::trace on: fuzz::replay does that for kqsim replay and
// explain). Each file is written to "<name>.tmp.<pid>" and renamed over
// <name>, so a reader never sees half a report. The lock-order graph is
// `graph` when given (e.g. a run's witness graph), else the graph this
// execution establishes, rebuilt from its trace (lock_graph_from_trace); the
// reversals of this execution are highlighted in both the DOT and the HTML.
//   html:         html_report (fuzz/html_report.h)
//   dot:          WitnessGraph::to_dot with the reversing edges marked
//   chrome_trace: chrome_trace_json (fuzz/trace_export.h), pretty-printed
// `replay_cmd` is shown in the HTML and recorded in the Chrome trace.
// Throws std::runtime_error("cannot write FILE: reason") on I/O errors; files
// written before the failing one stay.
//
// report_run_finding(files, info, result, i) is what `kqsim run ... --html F
// --dot F --chrome-trace F` calls: it replays finding i of the run alone, with
// tracing (its execution seed; --no-witness when its ReplayMode is
// kNoWitness; the run's race detection and step bound), and writes the files
// of that execution with replay_command(...) as the replay command. Returns
// whether the replayed execution made a finding of the same kind (false for a
// kNotAlone finding that did not reproduce alone: the files then show that
// execution as it ran alone). Throws std::out_of_range for a bad index and
// std::runtime_error on I/O errors.
//
// No locks: callers serialise writes to one file name.
#pragma once

#include <string>

#include "fuzz/run.h"
#include "locks/witness_graph.h"

namespace kqsim::fuzz {

struct ReportFiles {
  std::string html, dot, chrome_trace;
  bool empty() const { return html.empty() && dot.empty() && chrome_trace.empty(); }
};

void write_report_files(const ReportFiles& files, const ReplayRun& run, const std::string& replay_cmd,
                        const locks::WitnessGraph* graph = nullptr);

bool report_run_finding(const ReportFiles& files, const RunInfo& info, const RunResult& result, size_t index);

// Files are written with write_file_atomically (fuzz/atomic_file.h).

}  // namespace kqsim::fuzz
