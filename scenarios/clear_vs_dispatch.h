// clear_vs_dispatch.h - the delivery statistics of the clear-vs-dispatch
// scenarios (scenarios/clear_vs_dispatch.cc).
//
// Contract: the scenario watches two busy sockets on one kqueue, one
// registered EV_CLEAR and one EV_DISPATCH. Every execution that reaches its
// final oracle adds each socket's counts to that registration's totals
// (process-wide, relaxed atomics: safe with several runner workers). delivery_stats_reset() zeroes both;
// delivery_stats() reads one. Executions that end early (a finding) add
// nothing. The counts are statistics, not verdicts: the scenario's oracle
// decides what is a bug (see the .cc).
#pragma once

#include <cstdint>

namespace kqsim::scenarios {

struct DeliveryStats {
  uint64_t executions = 0;        // executions that reached the final oracle
  uint64_t wakeups = 0;           // kevent() returns with the socket's event
  uint64_t empty_wakeups = 0;     // ... after which the thread read nothing
  uint64_t overlaps = 0;          // deliveries while another thread still held one
  uint64_t overlap_executions = 0;  // executions with at least one overlap
  uint64_t max_holders = 0;       // most threads holding the event at once
};

// dispatch: false for the EV_CLEAR socket, true for the EV_DISPATCH one.
DeliveryStats delivery_stats(bool dispatch);
void delivery_stats_reset();

}  // namespace kqsim::scenarios
