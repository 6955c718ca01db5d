#include "scenarios/scenario.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "knote/knote.h"
#include "model/kern/kern_types.h"
#include "model/kern/syscalls.h"

namespace kqsim::scenarios {

std::string Expected::str() const {
  switch (what) {
    case What::kClean:
      return "clean";
    case What::kSkip:
      return "skip";
    case What::kFailure:
      return std::string(sim::kind_name(kind));
  }
  return "?";
}

Scenario::Scenario(std::string name, std::string summary, std::string story, int threads,
                   std::vector<DesignExpectation> expect)
    : name_(std::move(name)),
      summary_(std::move(summary)),
      story_(std::move(story)),
      threads_(threads),
      expect_(std::move(expect)) {}

const DesignExpectation* Scenario::expectation_for(std::string_view design) const {
  for (const DesignExpectation& e : expect_)
    if (e.design == design) return &e;
  return nullptr;
}

std::vector<std::string> Scenario::designs_to_run() const {
  std::vector<std::string> out;
  for (const kern::kq_design* d : kern::all_designs()) {
    const DesignExpectation* e = expectation_for(d->name);
    if (e != nullptr && !e->expected.is_skip()) out.push_back(d->name);
  }
  for (const DesignExpectation& e : expect_)
    if (!e.expected.is_skip() && kern::find_design(e.design) == nullptr) out.push_back(e.design);
  return out;
}

namespace {

std::vector<std::unique_ptr<Scenario>>& owned() {
  static std::vector<std::unique_ptr<Scenario>> v;
  return v;
}

std::vector<const Scenario*>& sorted() {
  static std::vector<const Scenario*> v;
  return v;
}

}  // namespace

const Scenario& detail::add(std::unique_ptr<Scenario> s) {
  const Scenario& ref = *s;
  owned().push_back(std::move(s));
  auto& v = sorted();
  v.insert(std::upper_bound(v.begin(), v.end(), &ref,
                            [](const Scenario* a, const Scenario* b) { return a->name() < b->name(); }),
           &ref);
  return ref;
}

const std::vector<const Scenario*>& all_scenarios() { return sorted(); }

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario* s : sorted())
    if (s->name() == name) return s;
  return nullptr;
}

std::string scenario_names() {
  std::string out;
  for (const Scenario* s : sorted()) {
    if (!out.empty()) out += ", ";
    out += s->name();
  }
  return out;
}

std::vector<std::string> registry_problems() {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const Scenario* s : sorted()) {
    if (!seen.insert(s->name()).second)
      out.push_back(fmt::format("scenario '{}' is registered twice", s->name()));
    if (s->name().empty()) out.push_back("a scenario has no name");
    if (s->threads() < 1 || s->threads() >= static_cast<int>(sim::kMaxThreads))
      out.push_back(fmt::format("scenario '{}': {} threads (1 to {} supported)", s->name(), s->threads(),
                                sim::kMaxThreads - 1));
    if (s->expectations().empty())
      out.push_back(fmt::format("scenario '{}' expects nothing of any design", s->name()));
    std::set<std::string> designs;
    for (const DesignExpectation& e : s->expectations()) {
      if (kern::find_design(e.design) == nullptr)
        out.push_back(fmt::format("scenario '{}' names unknown design '{}' (known: {})", s->name(), e.design,
                                  kern::design_names()));
      if (!designs.insert(e.design).second)
        out.push_back(fmt::format("scenario '{}' lists design '{}' twice", s->name(), e.design));
    }
  }
  return out;
}

// ---- helpers ----

namespace {
std::atomic<LiveReportSink> g_live_sink{nullptr};
std::atomic<void*> g_live_sink_ctx{nullptr};
}  // namespace

void set_live_report_sink(LiveReportSink sink, void* ctx) {
  g_live_sink_ctx.store(ctx, std::memory_order_relaxed);
  g_live_sink.store(sink, std::memory_order_release);
}

void report(sim::FindingKind kind, std::string message) {
  sim::Finding f;
  f.kind = kind;
  f.message = std::move(message);
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    s->report(std::move(f));
    return;
  }
  LiveReportSink sink = g_live_sink.load(std::memory_order_acquire);
  if (sink == nullptr) {
    std::fprintf(stderr, "kqsim: %s: %s (live mode, no report sink)\n",
                 std::string(sim::kind_name(f.kind)).c_str(), f.message.c_str());
    std::abort();
  }
  sink(g_live_sink_ctx.load(std::memory_order_relaxed), std::move(f));
}

void check_kqueue(int kqfd, std::string_view what) {
  kern::thread* td = kern::curthread();
  // fd_ofiles is plain memory: reading it takes no scheduling point.
  kern::file* fp = kqfd >= 0 && kqfd < kern::kNoFile ? td->td_proc->p_fd->fd_ofiles[kqfd] : nullptr;
  if (fp == nullptr || fp->f_type != kern::DTYPE_KQUEUE || fp->f_data == nullptr) {
    report(sim::FindingKind::kOracle, fmt::format("{} (descriptor {}) is not an open kqueue", what, kqfd));
    return;
  }
  std::string err = kern::kqueue_check(static_cast<const kern::kqueue*>(fp->f_data));
  if (err.empty()) return;
  while (!err.empty() && err.back() == '\n') err.pop_back();
  const bool freed = err.find("freed knote") != std::string::npos;
  report(freed ? sim::FindingKind::kUseAfterFree : sim::FindingKind::kListCorruption,
         freed ? fmt::format("use of a dropped knote: {} ({})", err, what) : err);
}

int kev_change(int kq, uintptr_t ident, short filter, unsigned short flags, unsigned fflags, int64_t data) {
  struct kevent kev;
  EV_SET(&kev, ident, filter, flags, fflags, data, nullptr);
  return kern::sys_kevent(kq, &kev, 1, nullptr, 0, nullptr);
}

int kev_poll(int kq, struct kevent* out, int n) {
  static const struct timespec kZero = {0, 0};
  return kern::sys_kevent(kq, nullptr, 0, out, n, &kZero);
}

void expect_no_event(int kq, uintptr_t ident, const std::string& message) {
  struct kevent ev[4];
  int n = kev_poll(kq, ev, 4);
  for (int j = 0; j < n; ++j)
    if (ev[j].ident == ident) {
      report(sim::FindingKind::kOracle, message);
      return;
    }
}

}  // namespace kqsim::scenarios
