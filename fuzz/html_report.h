// html_report.h - one traced execution as a single self-contained HTML page.
//
// Contract
// --------
// html_report(model, replay_cmd, lock_svg, opts) returns a complete HTML5
// document that needs nothing else: inline CSS, one inline script, the data
// as inline JSON (<script type="application/json" id="kqsim-data">), no URL
// to fetch (no http:, https:, //host references; no <script src>, <link>,
// <img src>). It shows:
//   - a header: scenario, design, how the execution was chosen, steps;
//   - each finding (id "finding-N"): kind, step, threads and its full
//     kernel-style message;
//   - the replay command;
//   - the timeline, drawn by the script into <svg id="timeline-svg">: one
//     lane per simulated thread (<g class="lane" data-lane="cpu0">), one
//     column per trace event (so idle stretches take no room), lock hold
//     spans stacked by nesting depth, blocked stretches, and a mark per event
//     (loads, stores, pointer writes of queue(3) operations in red, atomics,
//     KNOTE, wakeups), each with a tooltip; every finding as a red line across
//     the lanes (<g class="finding-marker">) labelled with its kind and step;
//     zoom buttons; the view opens scrolled to the first finding. When the
//     script has drawn everything it sets data-rendered="ok" on <body> (and
//     data-error="..." if it failed), which the browser test reads;
//   - a table of the events just before the first finding (or the end), one
//     column per thread, pointer writes highlighted: readable without script;
//   - the lock-order graph (`lock_svg`, e.g. from lock_order_svg) inline.
// Traces longer than opts.max_events are cut to the max_events events that
// end at the last finding (or the end of the trace); the page says so.
//
// No locks: a pure function.
#pragma once

#include <cstddef>
#include <string>

#include "fuzz/trace_model.h"

namespace kqsim::fuzz {

struct HtmlReportOptions {
  size_t max_events = 6000;  // timeline window
  size_t table_events = 60;  // rows of the table before the finding
};

std::string html_report(const TraceModel& m, const std::string& replay_cmd, const std::string& lock_svg,
                        const HtmlReportOptions& opts = {});

}  // namespace kqsim::fuzz
