#include "fuzz/reports.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "fuzz/html_report.h"
#include "fuzz/lor_svg.h"
#include "fuzz/atomic_file.h"
#include "fuzz/trace_export.h"
#include "fuzz/trace_model.h"

namespace kqsim::fuzz {

void write_report_files(const ReportFiles& files, const ReplayRun& run, const std::string& replay_cmd,
                        const locks::WitnessGraph* graph) {
  if (files.empty()) return;
  RebuiltLockGraph rebuilt = lock_graph_from_trace(run);
  const locks::WitnessGraph& g = graph != nullptr ? *graph : *rebuilt.graph;
  if (!files.dot.empty()) write_file_atomically(files.dot, lock_order_dot(g, rebuilt.reversals));
  const TraceModel model = analyse_trace(run);
  if (!files.chrome_trace.empty())
    write_file_atomically(files.chrome_trace, chrome_trace_json(model, replay_cmd).dump(1) + "\n");
  if (!files.html.empty())
    write_file_atomically(files.html, html_report(model, replay_cmd, lock_order_svg(g, rebuilt.reversals)));
}

bool report_run_finding(const ReportFiles& files, const RunInfo& info, const RunResult& result, size_t index) {
  if (index >= result.findings.size())
    throw std::out_of_range(fmt::format("no finding {} (the run has {})", index + 1, result.findings.size()));
  const FoundFinding& f = result.findings[index];
  const ReplayMode mode = index < result.replay.size() ? result.replay[index] : ReplayMode::kUnchecked;
  ReplaySpec spec;
  spec.scenario = info.scenario;
  spec.design = info.design;
  spec.seed = f.execution_seed;
  spec.sched = info.opts.sched;
  spec.sched.trace = true;
  spec.sched.stop_on_finding = true;
  spec.witness = mode != ReplayMode::kNoWitness;
  const ReplayRun run = replay(spec);
  write_report_files(files, run, replay_command(info, f.execution_seed, mode));
  for (const sim::Finding& g : run.result.execution.findings)
    if (g.kind == f.finding.kind) return true;
  return false;
}

}  // namespace kqsim::fuzz
