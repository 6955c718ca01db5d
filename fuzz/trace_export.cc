#include "fuzz/trace_export.h"

#include <algorithm>

#include <fmt/format.h>

namespace kqsim::fuzz {

namespace {

constexpr int kPid = 1;
constexpr int kSchedTid = 1000;

int track_of(const TraceModel& m, size_t lane) {
  if (lane + 1 == m.lanes.size() && m.lanes[lane] == "sched") return kSchedTid;
  return static_cast<int>(lane) + 1;
}

}  // namespace

std::vector<double> event_timestamps(const TraceModel& m) {
  std::vector<double> ts(m.events.size());
  uint64_t prev_step = UINT64_MAX;
  unsigned k = 0;
  for (size_t i = 0; i < m.events.size(); ++i) {
    const uint64_t step = m.events[i].step;
    k = step == prev_step ? k + 1 : 0;
    prev_step = step;
    // Past 999 events in one step (never seen), keep them at the last slot.
    ts[i] = static_cast<double>(step) + static_cast<double>(std::min(k, 999u)) / 1000.0;
  }
  return ts;
}

nlohmann::ordered_json chrome_trace_json(const TraceModel& m, const std::string& replay_cmd) {
  using json = nlohmann::ordered_json;
  const std::vector<double> ts = event_timestamps(m);
  json events = json::array();
  events.push_back({{"ph", "M"},
                    {"pid", kPid},
                    {"name", "process_name"},
                    {"args", {{"name", fmt::format("kqsim {} under {}", m.scenario, m.design)}}}});
  for (size_t lane = 0; lane < m.lanes.size(); ++lane) {
    events.push_back({{"ph", "M"},
                      {"pid", kPid},
                      {"tid", track_of(m, lane)},
                      {"name", "thread_name"},
                      {"args", {{"name", m.lanes[lane]}}}});
    events.push_back({{"ph", "M"},
                      {"pid", kPid},
                      {"tid", track_of(m, lane)},
                      {"name", "thread_sort_index"},
                      {"args", {{"sort_index", static_cast<int>(lane)}}}});
  }

  // Span boundaries, by event index: opens happen after the event's own
  // instant (a lock span starts at its lock), closes before (an unlock ends
  // it). Sorted so that closes of deeper spans come first and opens of
  // shallower spans come first: B/E stay nested.
  struct Edge {
    size_t event;
    bool open;
    unsigned depth;
    json ev;
  };
  std::vector<Edge> edges;
  auto span_json = [&](const char* ph, size_t lane, const std::string& name, const char* cat, json args) {
    json j = {{"ph", ph}, {"pid", kPid}, {"tid", track_of(m, lane)}, {"name", name}, {"cat", cat}};
    if (!args.is_null()) j["args"] = std::move(args);
    return j;
  };
  for (const LockSpan& s : m.spans) {
    json args = {{"lock", s.lock}, {"site", s.site}, {"shared", s.shared}, {"continued", s.continued}};
    if (!s.released) args["released"] = false;
    edges.push_back(Edge{s.begin, true, s.depth, span_json("B", s.lane, s.name, "lock", std::move(args))});
    edges.push_back(Edge{s.end, false, s.depth, span_json("E", s.lane, s.name, "lock", nullptr)});
  }
  // A block span is innermost (nothing happens on its thread meanwhile).
  for (const BlockSpan& b : m.blocks) {
    const std::string name = "blocked: " + b.what;
    edges.push_back(Edge{b.begin, true, 10000, span_json("B", b.lane, name, "block", nullptr)});
    edges.push_back(Edge{b.end, false, 10000, span_json("E", b.lane, name, "block", nullptr)});
  }
  std::stable_sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    if (a.event != b.event) return a.event < b.event;
    if (a.open != b.open) return !a.open;  // closes first
    return a.open ? a.depth < b.depth : a.depth > b.depth;
  });

  size_t ei = 0;
  auto emit_edges = [&](size_t event, bool open, double t) {
    while (ei < edges.size() && edges[ei].event == event && edges[ei].open == open) {
      json j = std::move(edges[ei].ev);
      j["ts"] = t;
      events.push_back(std::move(j));
      ++ei;
    }
  };
  size_t fi = 0;
  for (size_t i = 0; i < m.events.size(); ++i) {
    const TraceEventView& v = m.events[i];
    // Skip edges of earlier events (none: every edge's event exists).
    emit_edges(i, false, ts[i]);
    const int tid = track_of(m, v.lane);
    switch (v.cls) {
      case EventClass::kLoad:
      case EventClass::kStore:
      case EventClass::kAtomic: {
        const bool list = is_list_label(v.detail);
        std::string name = v.op;
        if (!v.detail.empty()) name += " " + v.detail;
        events.push_back({{"ph", "i"},
                          {"s", "t"},
                          {"pid", kPid},
                          {"tid", tid},
                          {"ts", ts[i]},
                          {"name", name},
                          {"cat", list ? "list" : "memory"},
                          {"args", {{"site", v.site}, {"label", v.detail}, {"step", v.step}}}});
        break;
      }
      case EventClass::kKnote:
      case EventClass::kWake:
      case EventClass::kThread:
      case EventClass::kOther: {
        const bool knote = v.cls == EventClass::kKnote;
        events.push_back({{"ph", "i"},
                          {"s", "t"},
                          {"pid", kPid},
                          {"tid", tid},
                          {"ts", ts[i]},
                          {"name", knote ? "KNOTE " + v.detail : v.op},
                          {"cat", knote ? "knote" : "sched"},
                          {"args", {{"site", v.site}, {"detail", v.detail}, {"step", v.step}}}});
        break;
      }
      case EventClass::kFinding: {
        const FindingView* f = nullptr;
        for (; fi < m.findings.size(); ++fi)
          if (m.findings[fi].event == i) {
            f = &m.findings[fi++];
            break;
          }
        json args = {{"step", v.step}};
        std::string name = "FINDING";
        if (f != nullptr) {
          name += " " + f->kind;
          args = {{"kind", f->kind}, {"message", f->message}, {"step", f->step}, {"threads", f->threads}};
        } else {
          args["message"] = v.detail;
        }
        events.push_back({{"ph", "i"},
                          {"s", "g"},
                          {"pid", kPid},
                          {"tid", tid},
                          {"ts", ts[i]},
                          {"name", name},
                          {"cat", "finding"},
                          {"args", std::move(args)}});
        break;
      }
      case EventClass::kLock:
      case EventClass::kUnlock:
      case EventClass::kBlock:
        break;  // drawn as spans
    }
    emit_edges(i, true, ts[i]);
  }
  // Spans still open end one nanosecond after the last event.
  const double end = m.events.empty() ? 0.0 : ts.back() + 0.001;
  for (; ei < edges.size(); ++ei) {
    json j = std::move(edges[ei].ev);
    j["ts"] = end;
    events.push_back(std::move(j));
  }

  json doc;
  doc["traceEvents"] = std::move(events);
  doc["displayTimeUnit"] = "ns";
  doc["otherData"] = {{"format", "kqsim-chrome-trace"}, {"version", 1},         {"scenario", m.scenario},
                      {"design", m.design},             {"how", m.how},         {"steps", m.steps},
                      {"replay", replay_cmd}};
  return doc;
}

std::string lock_order_dot(const locks::WitnessGraph& graph, const std::vector<locks::Reversal>& reversals) {
  return graph.to_dot(&reversals);
}

}  // namespace kqsim::fuzz
