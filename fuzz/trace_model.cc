#include "fuzz/trace_model.h"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace kqsim::fuzz {

std::string site_text(SrcLoc loc) {
  if (!loc.valid()) return {};
  std::string_view f = short_path(loc.file);
  for (;;) {
    if (f.starts_with("./")) f.remove_prefix(2);
    else if (f.starts_with("../")) f.remove_prefix(3);
    else break;
  }
  return fmt::format("{}:{}", f, loc.line);
}

const char* event_class_name(EventClass c) {
  switch (c) {
    case EventClass::kLoad: return "load";
    case EventClass::kStore: return "store";
    case EventClass::kAtomic: return "atomic";
    case EventClass::kLock: return "lock";
    case EventClass::kUnlock: return "unlock";
    case EventClass::kBlock: return "block";
    case EventClass::kWake: return "wake";
    case EventClass::kKnote: return "knote";
    case EventClass::kThread: return "thread";
    case EventClass::kFinding: return "finding";
    case EventClass::kOther: return "other";
  }
  return "other";
}

EventClass classify_op(std::string_view op) {
  if (op.starts_with("atomic")) return EventClass::kAtomic;
  if (op == "load" || op.starts_with("load ")) return EventClass::kLoad;
  if (op == "store" || op.starts_with("store ")) return EventClass::kStore;
  if (op == "lock" || op == "slock") return EventClass::kLock;
  if (op == "unlock" || op == "sunlock") return EventClass::kUnlock;
  if (op == "block") return EventClass::kBlock;
  if (op == "wake" || op == "wakeup" || op == "wakeup1") return EventClass::kWake;
  if (op == "KNOTE") return EventClass::kKnote;
  if (op == "spawn" || op == "join" || op == "exit" || op == "yield") return EventClass::kThread;
  if (op == "FINDING") return EventClass::kFinding;
  return EventClass::kOther;
}

bool is_list_label(std::string_view label) {
  return label.starts_with("TAILQ_") || label.starts_with("LIST_") || label.starts_with("SLIST_") ||
         label.starts_with("STAILQ_");
}

bool parse_lock_text(std::string_view text, std::string* kind, std::string* name) {
  const size_t q1 = text.find('"');
  if (q1 == std::string_view::npos || q1 < 2 || text[q1 - 1] != ' ') return false;
  const size_t q2 = text.find('"', q1 + 1);
  if (q2 == std::string_view::npos || q2 == q1 + 1) return false;
  std::string_view k = text.substr(0, q1 - 1);
  // What a lock's describe() prints: the lock class names of locks/ and
  // model/sim/basic_mutex ("mutex"); not "exit of thread", "wakeup on".
  static constexpr std::string_view kKinds[] = {"sleep mutex", "spin mutex", "sx", "rw", "rwlock", "mutex",
                                                "lockmgr", "rm"};
  if (std::find(std::begin(kKinds), std::end(kKinds), k) == std::end(kKinds)) return false;
  if (kind != nullptr) *kind = std::string(k);
  if (name != nullptr) *name = std::string(text.substr(q1 + 1, q2 - q1 - 1));
  return true;
}

namespace {

// The lock text without " (contended)".
std::string lock_key(std::string_view detail) {
  const size_t q1 = detail.find('"');
  if (q1 == std::string_view::npos) return std::string(detail);
  const size_t q2 = detail.find('"', q1 + 1);
  if (q2 == std::string_view::npos) return std::string(detail);
  return std::string(detail.substr(0, q2 + 1));
}

struct Open {
  size_t span;  // index into spans
};

}  // namespace

TraceModel analyse_trace(const ReplayRun& run) {
  TraceModel m;
  const sim::Execution& e = run.result.execution;
  m.scenario = run.scenario != nullptr ? run.scenario->name() : std::string("?");
  m.design = run.design != nullptr ? run.design->name : std::string("?");
  m.how = run.how;
  m.steps = e.steps;
  m.lanes = run.result.thread_names;
  size_t sched_lane = SIZE_MAX;
  auto lane_of = [&](sim::Tid t) -> size_t {
    if (t == sim::kNoThread) {
      if (sched_lane == SIZE_MAX) {
        sched_lane = m.lanes.size();
        m.lanes.push_back("sched");
      }
      return sched_lane;
    }
    while (m.lanes.size() <= t) m.lanes.push_back(fmt::format("t{}", m.lanes.size()));
    return t;
  };
  // The "sched" lane, when needed, comes after every thread lane.
  for (const sim::TraceEvent& ev : e.trace)
    if (ev.tid != sim::kNoThread) lane_of(ev.tid);

  m.events.reserve(e.trace.size());
  for (size_t i = 0; i < e.trace.size(); ++i) {
    const sim::TraceEvent& ev = e.trace[i];
    TraceEventView v;
    v.index = i;
    v.step = ev.step;
    v.lane = lane_of(ev.tid);
    v.op = ev.op;
    v.cls = classify_op(v.op);
    v.detail = ev.detail;
    v.site = site_text(ev.loc);
    m.events.push_back(std::move(v));
  }

  // Lock spans, kept well nested per lane (see the header).
  std::vector<std::vector<size_t>> stacks(m.lanes.size());  // open span indices per lane
  auto open_span = [&](size_t lane, size_t ev, const std::string& lock, const std::string& site, bool shared,
                       bool continued) {
    LockSpan s;
    s.lane = lane;
    s.depth = static_cast<unsigned>(stacks[lane].size());
    s.begin = ev;
    s.begin_step = m.events[ev].step;
    s.lock = lock;
    parse_lock_text(lock, &s.kind, &s.name);
    if (s.name.empty()) s.name = lock;
    s.site = site;
    s.shared = shared;
    s.continued = continued;
    stacks[lane].push_back(m.spans.size());
    m.spans.push_back(std::move(s));
  };
  auto close_top = [&](size_t lane, size_t ev, bool released) {
    LockSpan& s = m.spans[stacks[lane].back()];
    s.end = ev;
    s.end_step = ev < m.events.size() ? m.events[ev].step : m.steps;
    s.released = released;
    stacks[lane].pop_back();
  };
  std::vector<std::optional<size_t>> blocked(m.lanes.size());  // open block event per lane
  for (size_t i = 0; i < m.events.size(); ++i) {
    const TraceEventView& v = m.events[i];
    if (blocked[v.lane]) {
      m.blocks.push_back(BlockSpan{v.lane, *blocked[v.lane], i, m.events[*blocked[v.lane]].detail});
      blocked[v.lane].reset();
    }
    if (v.cls == EventClass::kLock) {
      open_span(v.lane, i, lock_key(v.detail), v.site, v.op == "slock", false);
    } else if (v.cls == EventClass::kUnlock) {
      const std::string key = lock_key(v.detail);
      auto& st = stacks[v.lane];
      size_t pos = st.size();
      while (pos-- > 0)
        if (m.spans[st[pos]].lock == key) break;
      if (pos == SIZE_MAX) continue;  // not seen taken (e.g. taken before tracing): nothing to close
      // Close everything above it, close it, reopen the ones above.
      std::vector<size_t> above(st.begin() + static_cast<long>(pos) + 1, st.end());
      while (st.size() > pos + 1) close_top(v.lane, i, true);
      close_top(v.lane, i, true);
      for (size_t sp : above) {
        const LockSpan old = m.spans[sp];
        m.spans[sp].released = true;
        open_span(v.lane, i, old.lock, old.site, old.shared, true);
      }
    } else if (v.cls == EventClass::kBlock) {
      blocked[v.lane] = i;
    }
  }
  {
    const size_t last = m.events.size();  // one past the end: still held, still blocked
    for (size_t lane = 0; lane < stacks.size(); ++lane) {
      while (!stacks[lane].empty()) close_top(lane, last, false);
      if (blocked[lane]) m.blocks.push_back(BlockSpan{lane, *blocked[lane], last, m.events[*blocked[lane]].detail});
    }
  }
  std::stable_sort(m.spans.begin(), m.spans.end(), [](const LockSpan& a, const LockSpan& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.depth < b.depth;
  });

  // Findings, matched to their FINDING events in order.
  size_t next = 0;
  for (const sim::Finding& f : e.findings) {
    FindingView fv;
    fv.kind = std::string(sim::kind_name(f.kind));
    fv.message = f.message;
    fv.headline = f.headline();
    fv.step = f.step;
    for (sim::Tid t : f.threads)
      fv.threads.push_back(t < run.result.thread_names.size() ? run.result.thread_names[t] : fmt::format("t{}", t));
    fv.event = m.events.empty() ? 0 : m.events.size() - 1;
    for (size_t i = next; i < m.events.size(); ++i)
      if (m.events[i].cls == EventClass::kFinding) {
        fv.event = i;
        next = i + 1;
        break;
      }
    m.findings.push_back(std::move(fv));
  }
  return m;
}

namespace {

struct HeldLock {
  std::string key;
  locks::ClassId cls;
  std::string site;  // file:line
};

locks::Site to_site(const std::string& file_line, std::string* storage) {
  *storage = file_line;
  const size_t c = storage->rfind(':');
  if (c == std::string::npos) return locks::Site{storage->c_str(), 0};
  uint32_t line = 0;
  for (size_t i = c + 1; i < storage->size(); ++i) line = line * 10 + static_cast<uint32_t>((*storage)[i] - '0');
  storage->resize(c);
  return locks::Site{storage->c_str(), line};
}

// " 1st filedesc (sx) @ model/kern/filedesc.cc:79" -> name, kind, site.
bool parse_reversal_line(std::string_view line, std::string_view tag, std::string* name, std::string* kind,
                         std::string* site) {
  const size_t t = line.find(tag);
  if (t == std::string_view::npos) return false;
  std::string_view rest = line.substr(t + tag.size());
  const size_t at = rest.rfind(" @ ");
  if (at == std::string_view::npos) return false;
  std::string_view who = rest.substr(0, at);
  *site = std::string(rest.substr(at + 3));
  // Sites in messages may carry "../" prefixes too.
  while (site->starts_with("../")) site->erase(0, 3);
  kind->clear();
  if (who.ends_with(")")) {
    const size_t open = who.rfind(" (");
    if (open != std::string_view::npos) {
      *kind = std::string(who.substr(open + 2, who.size() - open - 3));
      who = who.substr(0, open);
    }
  }
  *name = std::string(who);
  return !name->empty();
}

}  // namespace

RebuiltLockGraph lock_graph_from_trace(const ReplayRun& run) {
  RebuiltLockGraph out;
  out.graph = std::make_unique<locks::WitnessGraph>();
  locks::WitnessGraph& g = *out.graph;
  const sim::Execution& e = run.result.execution;
  std::map<sim::Tid, std::vector<HeldLock>> held;
  std::string s1, s2;
  auto add = [&](locks::ClassId before, const std::string& before_site, locks::ClassId after,
                 const std::string& after_site) {
    locks::AddResult r = g.add_edge(before, after, to_site(before_site, &s1), to_site(after_site, &s2));
    if (r.status == locks::AddStatus::kReversal && r.reversal) out.reversals.push_back(*r.reversal);
  };
  // A lock-order-reversal finding: the attempted edge "1st X" -> "2nd Y".
  auto attempt = [&](const sim::Finding& f) {
    if (f.kind != sim::FindingKind::kLockOrderReversal || !f.message.starts_with("lock order reversal")) return;
    std::string_view msg = f.message;
    const size_t l1 = msg.find(" 1st ");
    const size_t l2 = msg.find(" 2nd ");
    if (l1 == std::string_view::npos || l2 == std::string_view::npos) return;
    std::string n1, k1, site1, n2, k2, site2;
    if (!parse_reversal_line(msg.substr(l1, msg.find('\n', l1) - l1), " 1st ", &n1, &k1, &site1) ||
        !parse_reversal_line(msg.substr(l2, msg.find('\n', l2) - l2), " 2nd ", &n2, &k2, &site2))
      return;
    const locks::ClassId a = g.intern_class(n1, k1);
    const locks::ClassId b = g.intern_class(n2, k2);
    if (a != b) add(a, site1, b, site2);
  };
  size_t finding = 0;
  for (const sim::TraceEvent& ev : e.trace) {
    const EventClass c = classify_op(ev.op);
    if (c == EventClass::kLock || c == EventClass::kBlock) {
      std::string kind, name;
      if (!parse_lock_text(ev.detail, &kind, &name)) continue;
      const locks::ClassId cls = g.intern_class(name, kind);
      const std::string site = site_text(ev.loc);
      auto& h = held[ev.tid];
      for (const HeldLock& x : h)
        if (x.cls != cls) add(x.cls, x.site, cls, site);
      if (c == EventClass::kLock) h.push_back(HeldLock{lock_key(ev.detail), cls, site});
    } else if (c == EventClass::kUnlock) {
      auto& h = held[ev.tid];
      const std::string key = lock_key(ev.detail);
      for (size_t i = h.size(); i-- > 0;)
        if (h[i].key == key) {
          h.erase(h.begin() + static_cast<long>(i));
          break;
        }
    } else if (c == EventClass::kFinding) {
      // The witness reports a reversal before the second lock is taken, so
      // the attempt is only in the finding's message.
      if (finding < e.findings.size()) attempt(e.findings[finding++]);
    }
  }
  return out;
}

}  // namespace kqsim::fuzz
