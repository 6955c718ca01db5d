// design_poll.cc - a measurement design: FreeBSD's fine-grained locking
// ("fine") with the poll-style scan of knote/kqueue_scan_poll.h, the way
// poll(2) and the Linux kqueue module found events: every kevent() asks the
// filter of every registered knote whether it is ready. It exists to measure
// the delivery-cost curve against "fine" (docs/delivery.md, `kqsim bench
// delivery`); no scenario lists it, so `kqsim check` does not run it.
//
// Lock order: as "fine"
//   filedesc -> kqueue order (kq_global) -> knlist lock -> kqueue
//
// Rules per entry point: as "fine" (KNOTE(), kqueue_register, knote_fdclose,
// kqueue_drain, the kqueue task), except
//   kqueue_scan: no marker; the scan walks kq_knlist[] then kq_knhash[] with
//     the kq lock held (from kq_pollnext, where the last full call stopped), and for each attached, enabled knote that is not
//     EV_ONESHOT marks it KN_SCAN and in flux, drops the kq lock, takes the
//     knote's knlist lock (and kq_global for a kqueue knote), calls
//     f_event(kn, 0), and retakes the kq lock before releasing the knlist lock.
//     KNOTE() still queues what it activates: kq_count is what an empty
//     kevent() sleeps on, and KN_QUEUED is the memory of an edge that
//     EV_CLEAR and EV_DISPATCH need.
//
// In-flux protocol: as "fine"; the walk sleeps ("kqflxwt") on a knote in flux
// and then starts its bucket again, skipping the knotes it already visited.
#include "knote/design.h"
#include "knote/knote.h"

namespace kqsim::kern {
namespace {

const kq_design kDesignPoll = {
    .name = "poll",
    .summary = "measurement design: fine's locking, but kevent() asks every registered knote's filter (poll-style)",
    .kq_mtx = kq_own_mtx,
    .kevent_giant = false,
    .all_giant = false,
    .scan_drops_kq_lock = true,
    .kq_in_kq = true,
    .defer_kq_wakeup = true,
    .kqueue_lock_before_filedesc = false,
    .note_track = true,
    .poll_scan = true,
    .measurement_only = true,
};

}  // namespace
KQSIM_REGISTER_DESIGN(kDesignPoll);
}  // namespace kqsim::kern
