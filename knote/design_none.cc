// design_none.cc - FreeBSD 5.1-current: kern_event relies on Giant, but the
// pipe code has become MP-safe and calls KNOTE() under its own mutex only.
//
// Lock order
//   Giant -> filedesc            (kqueue(), kevent(), close(): syscalls under Giant)
//   pipe mutex                   (pipe read/write: no Giant)
//   (kern_event takes no lock of its own: KQ_LOCK is empty)
//
// Rules per entry point
//   kevent(), kqueue(), close(): run under Giant; the scan, registration and
//     knote_fdclose touch kq_head, kq_count and kn_status under Giant only.
//   knote() from an object (pipe_write -> KNOTE): runs under the object's
//     lock, WITHOUT Giant, and reaches knote_enqueue(): TAILQ_INSERT_TAIL on
//     kq_head and kq_count++ with nothing excluding a concurrent kevent().
//   f_event: called from knote() with the object lock, from the scan under
//     Giant only.
//   kqueue in kqueue: allowed; kqueue_wakeup calls KNOTE on the watchers
//     directly (recursion).
//
// In-flux protocol
//   The code is the shared one, but KQ_LOCK excludes nothing, so kn_influx
//   is as unprotected as everything else. This is PR kern/57945: knote_enqueue()
//   on one CPU and kqueue_scan() on another corrupt the kq_head TAILQ.
#include "knote/design.h"

namespace kqsim::kern {
namespace {

const kq_design kDesignNone = {
    .name = "none",
    .summary = "FreeBSD 5.1: kern_event under Giant, MP-safe pipes call KNOTE without it (kern/57945)",
    .kq_mtx = kq_no_mtx,
    .kevent_giant = true,
    .all_giant = false,
    .scan_drops_kq_lock = false,
    .kq_in_kq = true,
    .defer_kq_wakeup = false,
    .kqueue_lock_before_filedesc = false,
    .note_track = true,
};

}  // namespace
KQSIM_REGISTER_DESIGN(kDesignNone);
}  // namespace kqsim::kern
