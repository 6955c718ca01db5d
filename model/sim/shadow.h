// shadow.h - per-variable state of the happens-before race detector.
//
// Contract: every instrumented variable (sim::Cell) carries one Shadow. It
// follows FastTrack (Flanagan & Freund, PLDI 2009): the last write is kept as
// an epoch (thread, clock); reads are kept as one epoch while they are totally
// ordered, and as a per-thread ReadSet once two reads are concurrent. Each
// epoch remembers its source site for the report. `gen` ties the shadow to one
// execution: a shadow whose gen differs from the running execution's is empty
// (so a Cell that outlives an execution never reports a stale race, and a
// stale ReadSet pointer is never followed).
#pragma once

#include <cstdint>

#include "model/sim/srcloc.h"
#include "model/sim/vector_clock.h"

namespace kqsim::sim {

struct ReadSet {
  uint32_t clk[kMaxThreads];
  SrcLoc loc[kMaxThreads];
};

struct Shadow {
  uint32_t gen = 0;
  uint32_t w_clk = 0;  // 0: no write yet in this execution
  uint32_t r_clk = 0;  // 0: no read yet (when !r_shared)
  uint8_t w_tid = 0;
  uint8_t r_tid = 0;
  bool r_shared = false;
  SrcLoc w_loc;
  SrcLoc r_loc;
  ReadSet* rs = nullptr;  // valid only when r_shared and gen is current
};

}  // namespace kqsim::sim
