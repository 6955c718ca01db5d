// profile.h - lock profiling, as FreeBSD's MUTEX_PROFILING / lockstat give.
//
// Contract: per lock class (the witness class id), counts acquisitions and
// contended acquisitions (the lock was held when asked for), and sums and
// maxima of hold time (acquire to release) and wait time (ask to acquire).
// Times are in scheduling steps in deterministic mode and in nanoseconds in
// live mode; `unit()` says which the table holds (a profile mixing both is
// refused: the first record fixes the unit). Thread-safe: counters are
// relaxed atomics, so live-mode threads record without a lock; a
// deterministic worker, the only writer of its own profile, skips the locked
// read-modify-writes (single_writer).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "locks/witness_graph.h"

namespace kqsim::locks {

struct LockStats {
  std::string name;
  uint64_t acquisitions = 0;
  uint64_t contended = 0;
  uint64_t hold_total = 0;
  uint64_t hold_max = 0;
  uint64_t wait_total = 0;
  uint64_t wait_max = 0;
};

class LockProfile {
 public:
  static constexpr ClassId kMaxProfiled = 1024;  // classes beyond share the last row

  enum class Unit : uint8_t { kNone, kSteps, kNanoseconds };

  // `single_writer`: the caller is the only thread recording into this
  // profile (a deterministic worker's own Witness), so the counters are
  // updated with plain loads and stores instead of locked read-modify-writes.
  void record_acquire(ClassId c, bool contended, uint64_t wait, Unit u, bool single_writer = false);
  void record_release(ClassId c, uint64_t hold, Unit u, bool single_writer = false);
  void reset();
  Unit unit() const { return static_cast<Unit>(unit_.load(std::memory_order_relaxed)); }
  const char* unit_name() const;

  // Rows for classes with at least one acquisition, sorted by name, named
  // through the graph.
  std::vector<LockStats> rows(const WitnessGraph& g) const;
  // A fixed-width table: class, acquisitions, contended, hold total/max,
  // wait total/max (with the unit in the header).
  std::string table(const WitnessGraph& g) const;
  std::string json(const WitnessGraph& g) const;

 private:
  struct Row {
    std::atomic<uint64_t> acq{0}, cont{0}, hold_total{0}, hold_max{0}, wait_total{0}, wait_max{0};
  };
  static void max_into(std::atomic<uint64_t>& m, uint64_t v, bool single_writer);
  static void add_into(std::atomic<uint64_t>& m, uint64_t v, bool single_writer) {
    if (single_writer) m.store(m.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    else m.fetch_add(v, std::memory_order_relaxed);
  }
  void set_unit(Unit u);
  std::array<Row, kMaxProfiled> rows_;
  std::atomic<uint8_t> unit_{0};
};

}  // namespace kqsim::locks
