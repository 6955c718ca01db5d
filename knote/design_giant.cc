// design_giant.cc - everything under Giant, callers included: correct and
// serial. The baseline for contention.
//
// Lock order
//   Giant -> filedesc -> object locks (pipe mutex, socket buffers, process lock)
//
// Rules per entry point
//   Every syscall of the model runs under Giant (pipe and socket I/O too), so
//   knote() from an object, the scan and registration never overlap.
//   f_event: called with Giant held (and the object lock from knote()).
//   kqueue in kqueue: allowed; kqueue_wakeup recurses into KNOTE directly.
//
// In-flux protocol
//   Shared code; msleep on the kqueue sleeps on Giant, so flux waits release
//   Giant like every other sleep in a Giant kernel.
#include "knote/design.h"

namespace kqsim::kern {
namespace {

const kq_design kDesignGiant = {
    .name = "giant",
    .summary = "every syscall under Giant, callers included: serial and correct",
    .kq_mtx = kq_no_mtx,
    .kevent_giant = true,
    .all_giant = true,
    .scan_drops_kq_lock = false,
    .kq_in_kq = true,
    .defer_kq_wakeup = false,
    .kqueue_lock_before_filedesc = false,
    .note_track = true,
};

}  // namespace
KQSIM_REGISTER_DESIGN(kDesignGiant);
}  // namespace kqsim::kern
