// kqueue_scan_poll.h - the poll-style scan: kevent() asks the filter of every
// registered knote, on every call, whether it is ready.
//
// This is how poll(2) works (each call runs every descriptor's poll method)
// and how the Linux kqueue module of the early 2000s delivered events. FreeBSD
// does the opposite: KNOTE() runs the filter when the object changes and, if
// it reports an event, queues the knote on kq_head (knote_activate ->
// knote_enqueue); kqueue_scan then visits only kq_head. The cost of one
// kevent() is O(active) there and O(registered) here: docs/delivery.md
// measures both. The design "poll" (knote/design_poll.cc) selects this scan
// with kq_design::poll_scan; it is a measurement design.
//
// Contract: the same as kqueue_scan's (same arguments, same result, same
// events, same errno values), with these differences, all of them about cost
// or order, none about which events are delivered:
//   - Events come back in descriptor order (kq_knlist[0..kq_knlistsize), then
//     the kq_knhash buckets), not in activation order; a call whose buffer
//     filled up makes the next call start after where it stopped
//     (kq_pollnext), so a knote that stays ready cannot starve later ones.
//   - Every attached, enabled knote that is not EV_ONESHOT is visited and its
//     f_event(kn, 0) called, as the fine scan calls it: the knote in flux
//     with KN_SCAN, the kq lock dropped, its knlist lock (and kq_global for a
//     kqueue knote) held.
//   - What KNOTE() recorded still decides edge-triggered delivery: a knote
//     with EV_CLEAR or EV_DISPATCH is returned only when it is KN_QUEUED
//     (activated since its last delivery) and its filter says ready; a
//     level-triggered knote is returned whenever its filter says ready (and is
//     queued if it was not, so that the next call does not sleep past it).
//     EV_ONESHOT and EV_DROP knotes are handled as kqueue_scan handles them.
//     kq_count (the number of activated knotes) stays the condition to sleep
//     on, and knote_enqueue's kqueue_wakeup the wakeup, as poll(2) sleeps on
//     every descriptor's wait queue until one of them calls selwakeup.
//
// Locks: called with no lock held (like kqueue_scan); takes KQ_LOCK, drops it
// around each filter call, and sleeps on the kqueue ("kqread", "kqflxwt").
// `drop` is kern_event.cc's knote_drop (static there): the scan drops
// EV_ONESHOT and EV_DROP knotes with it, in flux, with no lock held.
#pragma once

#include <kqsim/sys/event.h>

#include "knote/knote.h"

namespace kqsim::kern {

// The deadline of a kevent() timeout, shared by both scans (kern_event.cc):
// *asbt = kScanForever (0: wait forever; also for tv_sec > INT32_MAX, as
// FreeBSD does), kScanNoWait (a zero timeout), or an absolute deadline on the
// virtual clock (live mode: the real clock). Returns EINVAL for a negative
// tv_sec or a tv_nsec outside [0, 1e9), else 0.
inline constexpr uint64_t kScanForever = 0;
inline constexpr uint64_t kScanNoWait = ~uint64_t{0};
int kqueue_scan_deadline(const struct timespec* tsp, uint64_t* asbt);

int kqueue_scan_poll(kqueue* kq, int maxevents, struct kevent* ulistp, const struct timespec* tsp, thread* td,
                     void (*drop)(knote* kn, thread* td));

}  // namespace kqsim::kern
