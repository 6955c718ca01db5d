// tailq-pingpong: the reference workload for performance (docs/performance.md).
//
// The workload. One kqueue (a real struct kqueue: kq_head TAILQ, kq_count,
// kq_lock) and three knotes on it. cpu0 is knote() activating the three
// knotes one after another: for each, KQ_LOCK, set KN_ACTIVE, knote_enqueue()
// (TAILQ_INSERT_TAIL on kq_head, KN_QUEUED, kq_count++, kqueue_wakeup),
// KQ_UNLOCK - what KNOTE_ACTIVATE(kn, 0) does. cpu1 is the dequeue half of
// kqueue_scan(): KQ_LOCK once, then up to three times TAILQ_FIRST and
// knote_dequeue() (TAILQ_REMOVE, KN_QUEUED off, kq_count--), KQ_UNLOCK. The
// threads take what the design's callers would hold: cpu1 runs in kevent(),
// so under Giant when the design runs kevent() under Giant; cpu0 runs in the
// object code that calls KNOTE (pipe_write), under Giant only when the design
// runs every syscall under Giant.
//
// Oracle: kq_head is consistent (walks both ways, kq_count is its length,
// KN_QUEUED exactly on queued knotes), and every knote is either still queued
// or was removed exactly once (never both, never neither, never twice).
//
// Verdicts: "fine" (the per-kqueue mutex), "global" (the design-wide kqueue
// lock) and "giant" (Giant around both) order the two threads: clean. "none"
// has no kqueue mutex and knote() runs without Giant while the scan holds it:
// the race detector reports the unordered kq_head/kq_count accesses
// (data-race); with --no-race the same interleavings corrupt kq_head or lose
// a knote, as in PR kern/57945.
//
// Why it exists: it is small and pure kern_event (no descriptors, no
// filters), so `kqsim run tailq-pingpong` measures the runtime's cost per
// execution and per scheduling point (`kqsim bench tailq-pingpong`).
#include <array>
#include <string>

#include <fmt/format.h>

#include "knote/knote.h"
#include "locks/mutex.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

constexpr int kKnotes = 3;

struct State {
  // Not an aggregate: `State state{}` then runs the members' constructors
  // without first zero-filling all 3.4 KB (scenarios/scenario.h).
  State() {}  // NOLINT(modernize-use-equals-default)
  kern::kqueue kq;
  std::array<kern::knote, kKnotes> kn;
  std::array<int, kKnotes> removed{};  // written by cpu1 only, read after the join
};

void init_state(Env<State>& env) {
  State& s = env.state;
  kern::kqueue* kq = &s.kq;
  kq->kq_serial = env.world.next_serial();
  kq->kq_lock.init("kqueue", nullptr, locks::MTX_DEF | locks::MTX_DUPOK);
  if (locks::mtx* m = kern::kq_lock_mtx(kq)) kern::knlist_init_mtx(&kq->kq_sel, m);
  for (kern::knote& kn : s.kn) {
    kn.kn_kq = kq;
    kn.kn_serial = env.world.next_serial();
  }
}

// KNOTE_ACTIVATE(kn, 0): what knote() does for each knote whose filter fired.
void activate_all(State& s) {
  for (kern::knote& kn : s.kn) kern::knote_activate(&kn, false);
}

// The dequeue half of kqueue_scan: one KQ_LOCK, up to three knotes off kq_head.
void dequeue_some(State& s) {
  kern::kqueue* kq = &s.kq;
  kern::KQ_LOCK(kq);
  for (int n = 0; n < kKnotes; ++n) {
    kern::knote* kn = kq->kq_head.first();
    if (kn == nullptr) break;
    kern::knote_dequeue(kn);
    const auto idx = kn - s.kn.data();
    if (idx >= 0 && idx < kKnotes) ++s.removed[static_cast<size_t>(idx)];
  }
  kern::KQ_UNLOCK(kq);
}

const auto& kTailqPingpong = register_scenario<State>({
    .name = "tailq-pingpong",
    .summary = "knote_enqueue of three knotes vs a scan dequeuing them, under the kq lock (the benchmark)",
    .story =
        "The reference workload of docs/performance.md. cpu0 activates three knotes of one kqueue, each "
        "with KQ_LOCK, knote_enqueue (TAILQ_INSERT_TAIL on kq_head, KN_QUEUED, kq_count++) and KQ_UNLOCK; "
        "cpu1 takes KQ_LOCK once and removes up to three knotes with TAILQ_FIRST and knote_dequeue. "
        "Oracle: kq_head consistent and every knote either still queued or removed exactly once. The "
        "designs with a kqueue lock (fine, global) and giant are clean; 'none' has no kqueue lock and "
        "races, as in kern/57945 (with --no-race: list corruption or a lost knote).",
    .threads = 2,
    .before = init_state,
    .thread =
        [](Env<State>& env, int i) {
          const kern::kq_design& d = env.world.design();
          // cpu0 is object code calling KNOTE (Giant only when every syscall
          // runs under it); cpu1 is kevent() (Giant when kevent runs under it).
          const bool giant = i == 0 ? d.all_giant : d.kevent_giant;
          if (giant) locks::mtx_lock(&locks::Giant);
          if (i == 0) activate_all(env.state);
          else dequeue_some(env.state);
          if (giant) locks::mtx_unlock(&locks::Giant);
        },
    .invariant = nullptr,  // the oracle checks kq_head once, after the join
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          std::string bad = kern::kqueue_check(&s.kq);
          if (!bad.empty()) {
            report(FindingKind::kListCorruption, bad);
            return;
          }
          for (int k = 0; k < kKnotes; ++k) {
            const kern::knote& kn = s.kn[static_cast<size_t>(k)];
            const bool queued = (kn.kn_status.raw() & kern::KN_QUEUED) != 0;
            const int removed = s.removed[static_cast<size_t>(k)];
            if (removed > 1 || (queued && removed == 1)) {
              report(FindingKind::kDuplicateEvent,
                     fmt::format("duplicate event: knote {} removed {} time(s) and {}", kn.kn_serial, removed,
                                 queued ? "still queued" : "not queued"));
              return;
            }
            if (!queued && removed == 0) {
              report(FindingKind::kLostEvent,
                     fmt::format("lost event: knote {} was activated but is neither queued nor removed",
                                 kn.kn_serial));
              return;
            }
          }
        },
    .expect =
        {
            {"none", Expected::failure(FindingKind::kDataRace),
             "knote() runs without Giant and there is no kqueue lock; with --no-race: list-corruption or "
             "lost-event"},
            {"giant", Expected::clean(), "Giant around both threads"},
            {"global", Expected::clean(), "the global kqueue lock"},
            {"fine", Expected::clean(), "the per-kqueue mutex"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
