#include "locks/witness.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

namespace kqsim::locks {

namespace {

Site to_site(SrcLoc l) { return Site{l.valid() ? short_path(l.file) : "", l.line}; }

// Registers the runtime's thread-exit hook once: locks held at exit.
struct ExitHookInstaller {
  ExitHookInstaller() {
    sim::Scheduler::set_exit_hook([](sim::Scheduler&, Tid tid) {
      if (Witness* w = Witness::current()) w->thread_exit(tid);
    });
    sim::Scheduler::set_holds_hook([](Tid tid) -> std::string {
      Witness* w = Witness::current();
      return w != nullptr ? w->holds_of(tid) : std::string();
    });
  }
} g_exit_hook_installer;

}  // namespace

uint64_t Witness::next_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

ClassId Witness::class_of(lock_object& lo) {
  const uint64_t word = lo.w_cache.load(std::memory_order_relaxed);
  if (word >> 32 == id_) return static_cast<ClassId>(word);
  // A lock built afresh (each execution's kqueue mutex) has no cached class:
  // before the graph's name table (a hash lookup under its mutex), try a small
  // per-OS-thread cache keyed by the type string's address and confirmed by
  // its text, so a reused address with another name never matches.
  struct TypeEntry {
    uint64_t witness = 0;
    const char* type = nullptr;
    LockClass cls = LockClass::kSleepMutex;
    ClassId id = 0;
    std::array<char, 32> text{};
  };
  thread_local std::array<TypeEntry, 16> type_cache;
  TypeEntry& e = type_cache[(reinterpret_cast<uintptr_t>(lo.lo_type) >> 4) % type_cache.size()];
  ClassId c;
  if (e.witness == id_ && e.type == lo.lo_type && e.cls == lo.lo_class &&
      std::strncmp(e.text.data(), lo.lo_type, e.text.size()) == 0) {
    c = e.id;
  } else {
    c = graph_.intern_class(lo.lo_type, lock_class_name(lo.lo_class));
    if (std::strlen(lo.lo_type) < e.text.size()) {
      e.witness = id_;
      e.type = lo.lo_type;
      e.cls = lo.lo_class;
      e.id = c;
      std::strncpy(e.text.data(), lo.lo_type, e.text.size());
    }
  }
  // Ids past 2^32 never match a cached word; such a witness interns each time.
  if (id_ <= UINT32_MAX) lo.w_cache.store(id_ << 32 | c, std::memory_order_relaxed);
  return c;
}

Witness::HeldStack& Witness::live_held() {
  thread_local HeldStack live_held;
  HeldStack& h = live_held;
  if (h.owner != this) {
    h.owner = this;
    h.locks.clear();
  }
  return h;
}

std::string Witness::held_line(const Held& h) const {
  const lock_object& lo = *h.lo;
  bool shared = !(h.flags & LOP_EXCLUSIVE);
  uint32_t r = lo.recurse;
  return fmt::format("{} {} {} ({}) r = {} locked @ {}", shared ? "shared" : "exclusive", lock_class_name(lo.lo_class),
                     lo.lo_name, lo.lo_type, shared ? 0 : r, h.site.str());
}

std::string Witness::held_text() {
  std::string out;
  for (const Held& h : held().locks) out += held_line(h) + "\n";
  return out;
}

std::string Witness::holds_of(Tid tid) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr || tid >= sim::kMaxThreads) return {};
  const HeldStack& h = sim_held_[tid];
  if (h.gen != s->generation()) return {};
  std::string out;
  for (const Held& e : h.locks) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} \"{}\" locked @ {}", lock_class_name(e.lo->lo_class), e.lo->lo_name, e.site.str());
  }
  return out;
}

void Witness::report(sim::Finding f) {
  if (sim::Scheduler* s = sim::Scheduler::current()) {
    s->report(std::move(f));
    return;
  }
  std::lock_guard<std::mutex> g(live_mu_);
  live_findings_.push_back(std::move(f));
}

std::vector<sim::Finding> Witness::take_findings() {
  std::lock_guard<std::mutex> g(live_mu_);
  return std::exchange(live_findings_, {});
}

size_t Witness::live_finding_count() {
  std::lock_guard<std::mutex> g(live_mu_);
  return live_findings_.size();
}

void Witness::checkorder_held(HeldStack& h, lock_object& lo, SrcLoc site) {
  ClassId c = class_of(lo);
  for (const Held& e : h.locks) {
    if (e.lo == &lo) continue;  // recursion: the primitive decides
    if (e.lo->lo_flags & MTX_NOWITNESS) continue;
    ClassId ec = class_of(*e.lo);
    if (ec == c) {
      if (lo.dupok() || e.lo->dupok()) continue;
      sim::Finding f;
      f.kind = sim::FindingKind::kLockOrderReversal;
      f.message = fmt::format("acquiring duplicate lock of same type: \"{}\"\n 1st {} @ {}\n 2nd {} @ {}", lo.lo_type,
                              e.lo->lo_name, e.site.str(), lo.lo_name, site.str());
      f.sites = {sim::Site::from(e.site), sim::Site::from(site)};
      report(std::move(f));
      continue;
    }
    AddResult r = graph_.add_edge(ec, c, to_site(e.site), to_site(site));
    if (r.status == AddStatus::kReversal && r.reversal) {
      sim::Finding f;
      f.kind = sim::FindingKind::kLockOrderReversal;
      f.message = format_reversal(*r.reversal);
      if (!f.message.empty() && f.message.back() == '\n') f.message.pop_back();
      f.sites = {sim::Site::from(e.site), sim::Site::from(site)};
      for (const OrderEdge& oe : r.reversal->established) {
        f.sites.push_back(sim::Site{oe.before.file, oe.before.line});
        f.sites.push_back(sim::Site{oe.after.file, oe.after.line});
      }
      report(std::move(f));
    }
  }
}

void Witness::unlock_inner(HeldStack& h, lock_object& lo) {
  for (size_t i = h.locks.size(); i-- > 0;) {
    if (h.locks[i].lo == &lo) {
      h.locks.erase(h.locks.begin() + static_cast<long>(i));
      return;
    }
  }
}

bool Witness::holds_spin() {
  for (const Held& e : held().locks)
    if (e.lo->lo_class == LockClass::kSpinMutex) return true;
  return false;
}

bool Witness::sleep_check(const lock_object* except, const std::string& what, SrcLoc site) {
  if (!opts_.check) return false;
  if (sim::Scheduler* s = sim::Scheduler::current(); s != nullptr && s->aborting()) return false;
  std::string list;
  std::vector<sim::Site> sites{sim::Site::from(site)};
  for (const Held& e : held().locks) {
    if (e.lo == except || e.lo->lo_class != LockClass::kSpinMutex) continue;
    list += "\n" + held_line(e);
    sites.push_back(sim::Site::from(e.site));
  }
  if (list.empty()) return false;
  sim::Finding f;
  f.kind = sim::FindingKind::kLockMisuse;
  f.message = fmt::format("{} @ {} with the following non-sleepable locks held:{}", what, site.str(), list);
  f.sites = std::move(sites);
  report(std::move(f));
  return true;
}

void Witness::report_held_at_exit(HeldStack& h, Tid tid) {
  std::string list;
  sim::Finding f;
  for (const Held& e : h.locks) {
    list += "\n" + held_line(e);
    f.sites.push_back(sim::Site::from(e.site));
  }
  f.kind = sim::FindingKind::kLockMisuse;
  std::string who = sim::Scheduler::current() != nullptr
                        ? fmt::format("thread {} \"{}\"", tid, sim::Scheduler::current()->thread_name(tid))
                        : fmt::format("thread {}", tid);
  f.message = fmt::format("{} exiting with the following locks held:{}", who, list);
  f.threads = {tid};
  h.locks.clear();
  report(std::move(f));
}

}  // namespace kqsim::locks
