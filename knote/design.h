// design.h - a locking design for kern_event: what differs between "none",
// "giant", "global", "fine" and any design a user adds.
//
// Contract: the operations in kern_event.cc are written once, FreeBSD's way,
// against KQ_LOCK/KQ_UNLOCK, the knlist lock of each object, and the in-flux
// protocol. A design decides only what genuinely differs:
//   - which mutex KQ_LOCK takes (per kqueue, one global, or none because the
//     caller's Giant is supposed to cover it),
//   - which syscalls run under Giant,
//   - whether kqueue_scan drops the kq lock around f_event (the in-flux
//     protocol) or calls the filter with the kq lock held,
//   - whether a kqueue may be registered in another kqueue, and whether its
//     wakeup recurses directly into KNOTE() or is deferred to a task,
//   - whether kqueue() takes the kq lock before the filedesc lock (the order
//     Brian Feldman's patch had),
//   - whether NOTE_TRACK is supported,
//   - whether kevent() finds events on the pending queue (FreeBSD) or by
//     asking the filter of every registered knote (poll_scan, a measurement
//     design: knote/kqueue_scan_poll.h, docs/delivery.md).
// Each design is one file (knote/design_<name>.cc) with its rules in a
// NetBSD-style block at the top (lock order as arrows, rules per entry point,
// the in-flux protocol), registered with KQSIM_REGISTER_DESIGN. See
// docs/designs.md for how to add one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "locks/mutex.h"

namespace kqsim::kern {

struct kqueue;

// The two common kq_design::kq_mtx answers (kern_event.cc): the kqueue's own
// "kqueue" mutex, kq->kq_lock (FreeBSD 5.3+), and nothing (a design relying on
// Giant). KQ_LOCK recognises them and resolves the mutex without the call
// (kq_lock_mtx in knote.h): KQ_OWNED runs at every queue operation.
locks::mtx* kq_own_mtx(kqueue* kq);
locks::mtx* kq_no_mtx(kqueue* kq);

struct kq_design {
  const char* name = "";
  const char* summary = "";
  // The mutex KQ_LOCK(kq) takes, or nullptr when KQ_LOCK takes nothing.
  // kq_own_mtx and kq_no_mtx (below) are the two common answers.
  locks::mtx* (*kq_mtx)(kqueue* kq) = nullptr;
  // kqueue() and kevent() run under Giant.
  bool kevent_giant = false;
  // Every syscall of the model (pipes, sockets, close, ...) runs under Giant.
  bool all_giant = false;
  // kqueue_scan marks the knote in flux, drops the kq lock and calls f_event
  // under the knote's knlist lock (FreeBSD 5.3+). Otherwise f_event is called
  // with the kq lock (whatever KQ_LOCK is) held.
  bool scan_drops_kq_lock = false;
  // EVFILT_READ on a kqueue descriptor is allowed (kqueue in kqueue).
  bool kq_in_kq = true;
  // kqueue_wakeup defers KNOTE(&kq->kq_sel) to the kqueue task, run under the
  // global "kqueue order" lock; otherwise it calls KNOTE directly (recursion).
  bool defer_kq_wakeup = false;
  // kqueue() takes the KQ_LOCK mutex of the new kqueue's design before the
  // filedesc lock (Feldman's order, the reverse of close()).
  bool kqueue_lock_before_filedesc = false;
  // NOTE_TRACK on EVFILT_PROC is supported; EINVAL otherwise.
  bool note_track = true;
  // kqueue_scan is the poll-style scan (knote/kqueue_scan_poll.h): every call
  // walks every registered knote and asks its filter whether it is ready, as
  // poll(2) and the Linux kqueue module did, instead of taking what KNOTE()
  // queued on kq_head. For measuring delivery cost; delivers the same events.
  bool poll_scan = false;
  // Not a locking design to check: scenarios need not list it and `kqsim
  // check` runs none under it (it runs only the designs a scenario lists).
  bool measurement_only = false;
};

// The registry, in registration order; find_design returns nullptr for an
// unknown name.
const std::vector<const kq_design*>& all_designs();
const kq_design* find_design(std::string_view name);
std::string design_names();  // "none, giant, global, fine"

struct DesignRegistrar {
  explicit DesignRegistrar(const kq_design* d);
};

}  // namespace kqsim::kern

#define KQSIM_REGISTER_DESIGN(var) static ::kqsim::kern::DesignRegistrar kqsim_design_registrar_##var(&var)
