// design_fine.cc - the design FreeBSD shipped in 5.3 (John-Mark Gurney,
// 2004) and keeps today: a mutex per kqueue, knlist locks provided by the
// objects, the in-flux protocol, marker knotes in the scan, and a global lock
// for kqueue-in-kqueue.
//
// Lock order (as FreeBSD's sources have it)
//   filedesc -> kqueue order (kq_global) -> knlist lock -> kqueue
//   knlist lock (object lock: pipe mutex, socket buffer, process lock) -> kqueue
//   kqueue -> kqueue (two kq locks, MTX_DUPOK: kqueue_task holds the watched
//     kqueue while knote() locks each watching kqueue)
//
// Rules per entry point
//   knote(list): the caller holds (KNOTE_LOCKED) or knote takes the list
//     lock; for each knote: KQ_LOCK, skip if in flux (unless KN_SCAN), call
//     f_event with the list lock, enqueue if active.
//   kqueue_register: finds or allocates the knote under KQ_LOCK, marks it in
//     flux, drops KQ_LOCK around f_attach and (under the list lock) f_event.
//     Registering a kqueue descriptor takes filedesc then kq_global first.
//   kqueue_scan: a marker knote bounds the pass; each knote is marked in flux
//     (KN_SCAN), the kq lock dropped, the list lock taken (and kq_global for a
//     kqueue knote) around f_event/f_touch, then the kq lock retaken.
//   knote_fdclose / kqueue_drain: wait for in-flux knotes, then drop them with
//     the kq lock released.
//   kqueue in kqueue: kqueue_wakeup never recurses: it schedules the kqueue
//     task, which takes kq_global and the watched kqueue's lock and KNOTEs its
//     kq_sel list.
//
// In-flux protocol
//   kn_influx > 0: only the thread that raised it may change or drop the
//   knote; others set KQ_FLUXWAIT and msleep on the kqueue ("kqflxwt") until
//   KQ_FLUX_WAKEUP. knote() may still act on a KN_SCAN knote: the scan holds
//   its list lock meanwhile, so they cannot overlap.
#include "knote/design.h"
#include "knote/knote.h"

namespace kqsim::kern {
namespace {

const kq_design kDesignFine = {
    .name = "fine",
    .summary = "FreeBSD 5.3+: per-kqueue mutex, object knlist locks, in-flux protocol, markers",
    .kq_mtx = kq_own_mtx,
    .kevent_giant = false,
    .all_giant = false,
    .scan_drops_kq_lock = true,
    .kq_in_kq = true,
    .defer_kq_wakeup = true,
    .kqueue_lock_before_filedesc = false,
    .note_track = true,
};

}  // namespace
KQSIM_REGISTER_DESIGN(kDesignFine);
}  // namespace kqsim::kern
