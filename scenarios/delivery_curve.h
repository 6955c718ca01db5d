// delivery_curve.h - the delivery-cost scenario family: N long-lived pipes on
// one kqueue, a few of them active per kevent() call, and what one kevent()
// costs under a design (docs/delivery.md; `kqsim bench delivery`).
//
// Contract
// --------
// measure_delivery(design, o) runs one execution with a fresh World of
// `design`, on one simulated thread (so no interleaving: the figures are the
// model's own cost). The thread creates o.pipes pipes and registers the read
// end of each, EVFILT_READ level-triggered (udata = its index), on one kqueue.
// Then, o.batches times, o.calls times: it writes one byte to o.active pipes
// spread over the set (a different choice each call), calls
//   kevent(kq, NULL, 0, ev, 64, &{0, 0})
// and reads the bytes back. Per call it records the scheduling points the
// kevent() took (Scheduler::steps() before and after: deterministic, the same
// on every machine) and its wall time (steady_clock, race detector and
// witness off).
//
// The result: steps per call (median, min, max over every call), ns per call
// (the median over batches of each batch's median), the setup's steps, and an
// error line when a call did not return exactly the o.active written pipes
// (a delivery bug, never expected). Throws std::invalid_argument for
// o.pipes < o.active, o.active < 1 or > 64, o.calls < 1 or o.batches < 1.
#pragma once

#include <cstdint>
#include <string>

#include "knote/design.h"

namespace kqsim::scenarios {

struct DeliveryOptions {
  int pipes = 100;   // N: registered pipes (2N descriptors)
  int active = 2;    // pipes written before each kevent()
  int calls = 32;    // kevent() calls per batch
  int batches = 5;   // batches (repetitions); ns is the median of their medians
};

struct DeliveryResult {
  double steps_per_call = 0;  // median over every call
  uint64_t steps_min = 0;
  uint64_t steps_max = 0;
  double ns_per_call = 0;     // median over batches of the batch median
  uint64_t setup_steps = 0;   // creating and registering the pipes
  std::string error;          // empty when every call returned exactly the active pipes
};

DeliveryResult measure_delivery(const kern::kq_design& design, const DeliveryOptions& o);

}  // namespace kqsim::scenarios
