// design_global.cc - Brian Feldman's April 2004 proposal: one global kqueue
// lock for knotes, klists and kqueues.
//
// Lock order
//   object lock (pipe mutex, socket buffer, process lock) -> kqueue global
//   kqueue global -> filedesc                      (kqueue(): the patch's order)
//   filedesc -> kqueue global                      (close() -> knote_fdclose)
//   The last two contradict each other: the witness reports the reversal
//   (scenario feldman-lor) even when no run deadlocks.
//
// Rules per entry point
//   KQ_LOCK(kq) takes the one global lock, whatever the kqueue.
//   f_attach/f_detach: called without the global lock; they lock their own
//     object lists (knlist_add/knlist_remove take the object's lock).
//   f_event: called with the global lock held (from the scan, and from
//     knote() where the object lock is held too) and must not sleep.
//   kqueue in kqueue: refused (EV_ADD of a kqueue descriptor gives EINVAL).
//   NOTE_TRACK: refused (EINVAL).
//
// In-flux protocol
//   Shared code for registration and drop; the scan keeps the global lock
//   across f_event, so a scanned knote is never in flux.
#include "knote/design.h"
#include "model/kern/world.h"

namespace kqsim::kern {
namespace {

locks::mtx* global_kq_mtx(kqueue*) { return &World::current()->kq_design_lock; }

const kq_design kDesignGlobal = {
    .name = "global",
    .summary = "Feldman 2004: one global kqueue lock, no kqueue in kqueue, f_event under the lock",
    .kq_mtx = global_kq_mtx,
    .kevent_giant = false,
    .all_giant = false,
    .scan_drops_kq_lock = false,
    .kq_in_kq = false,
    .defer_kq_wakeup = false,
    .kqueue_lock_before_filedesc = true,
    .note_track = false,
};

}  // namespace
KQSIM_REGISTER_DESIGN(kDesignGlobal);
}  // namespace kqsim::kern
