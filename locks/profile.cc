#include "locks/profile.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kqsim::locks {

void LockProfile::max_into(std::atomic<uint64_t>& m, uint64_t v, bool single_writer) {
  uint64_t cur = m.load(std::memory_order_relaxed);
  if (single_writer) {
    if (v > cur) m.store(v, std::memory_order_relaxed);
    return;
  }
  while (v > cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

void LockProfile::set_unit(Unit u) {
  // Set once: a plain load first, so the common call is not a locked RMW.
  if (unit_.load(std::memory_order_relaxed) != 0) return;
  uint8_t expected = 0;
  unit_.compare_exchange_strong(expected, static_cast<uint8_t>(u), std::memory_order_relaxed);
}

void LockProfile::record_acquire(ClassId c, bool contended, uint64_t wait, Unit u, bool single_writer) {
  set_unit(u);
  Row& r = rows_[std::min<ClassId>(c, kMaxProfiled - 1)];
  add_into(r.acq, 1, single_writer);
  if (contended) {
    add_into(r.cont, 1, single_writer);
    add_into(r.wait_total, wait, single_writer);
    max_into(r.wait_max, wait, single_writer);
  }
}

void LockProfile::record_release(ClassId c, uint64_t hold, Unit u, bool single_writer) {
  set_unit(u);
  Row& r = rows_[std::min<ClassId>(c, kMaxProfiled - 1)];
  add_into(r.hold_total, hold, single_writer);
  max_into(r.hold_max, hold, single_writer);
}

void LockProfile::reset() {
  for (Row& r : rows_) {
    r.acq = 0;
    r.cont = 0;
    r.hold_total = 0;
    r.hold_max = 0;
    r.wait_total = 0;
    r.wait_max = 0;
  }
  unit_ = 0;
}

const char* LockProfile::unit_name() const {
  switch (unit()) {
    case Unit::kSteps: return "steps";
    case Unit::kNanoseconds: return "ns";
    default: return "-";
  }
}

std::vector<LockStats> LockProfile::rows(const WitnessGraph& g) const {
  std::vector<LockStats> out;
  size_t n = std::min<size_t>(g.class_count(), kMaxProfiled);
  for (size_t i = 0; i < n; ++i) {
    const Row& r = rows_[i];
    uint64_t acq = r.acq.load(std::memory_order_relaxed);
    if (acq == 0) continue;
    LockStats s;
    s.name = i == kMaxProfiled - 1 && g.class_count() > kMaxProfiled ? "(other classes)"
                                                                      : g.class_name(static_cast<ClassId>(i));
    s.acquisitions = acq;
    s.contended = r.cont.load(std::memory_order_relaxed);
    s.hold_total = r.hold_total.load(std::memory_order_relaxed);
    s.hold_max = r.hold_max.load(std::memory_order_relaxed);
    s.wait_total = r.wait_total.load(std::memory_order_relaxed);
    s.wait_max = r.wait_max.load(std::memory_order_relaxed);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const LockStats& a, const LockStats& b) { return a.name < b.name; });
  return out;
}

std::string LockProfile::table(const WitnessGraph& g) const {
  std::string u = unit_name();
  std::string out = fmt::format("{:<24} {:>12} {:>10} {:>14} {:>10} {:>14} {:>10}\n", "class", "acquisitions",
                                "contended", "hold total/" + u, "hold max", "wait total/" + u, "wait max");
  for (const LockStats& s : rows(g))
    out += fmt::format("{:<24} {:>12} {:>10} {:>14} {:>10} {:>14} {:>10}\n", s.name, s.acquisitions, s.contended,
                       s.hold_total, s.hold_max, s.wait_total, s.wait_max);
  return out;
}

std::string LockProfile::json(const WitnessGraph& g) const {
  nlohmann::ordered_json j;
  j["unit"] = unit_name();
  j["classes"] = nlohmann::json::array();
  for (const LockStats& s : rows(g)) {
    nlohmann::ordered_json r;
    r["class"] = s.name;
    r["acquisitions"] = s.acquisitions;
    r["contended"] = s.contended;
    r["hold_total"] = s.hold_total;
    r["hold_max"] = s.hold_max;
    r["wait_total"] = s.wait_total;
    r["wait_max"] = s.wait_max;
    j["classes"].push_back(std::move(r));
  }
  return j.dump(2);
}

}  // namespace kqsim::locks
