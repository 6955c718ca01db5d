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
  // Only `gen` is initialised by the constructor: every other field is
  // written by reset() when an execution first touches the shadow, and read
  // only after that (constructing the thousands of Cells of a scenario's
  // state costs one store each).
  uint32_t gen = 0;
  uint32_t w_clk;  // 0: no write yet in this execution
  uint32_t r_clk;  // 0: no read yet (when !r_shared)
  uint8_t w_tid;
  uint8_t r_tid;
  bool r_shared;
  uint32_t w_line;
  uint32_t r_line;
  const char* w_file;
  const char* r_file;
  ReadSet* rs;  // valid only when r_shared and gen is current

  Shadow() {}  // NOLINT: deliberately leaves all but gen uninitialised
  void reset(uint32_t g) {
    gen = g;
    w_clk = r_clk = 0;
    w_tid = r_tid = 0;
    r_shared = false;
    w_line = r_line = 0;
    w_file = r_file = "";
    rs = nullptr;
  }
  // reset() followed by the first access of the execution (which cannot
  // race: nothing came before it), in one pass.
  void reset_read(uint32_t g, uint8_t tid, uint32_t clk, SrcLoc l) {
    gen = g;
    w_clk = 0;
    w_tid = 0;
    r_tid = tid;
    r_clk = clk;
    r_shared = false;
    w_line = 0;
    w_file = "";
    r_line = l.line;
    r_file = l.file;
    rs = nullptr;
  }
  void reset_write(uint32_t g, uint8_t tid, uint32_t clk, SrcLoc l) {
    gen = g;
    w_clk = clk;
    w_tid = tid;
    r_tid = 0;
    r_clk = 0;
    r_shared = false;
    w_line = l.line;
    w_file = l.file;
    r_line = 0;
    r_file = "";
    rs = nullptr;
  }
  SrcLoc w_loc() const { return SrcLoc{w_file, w_line}; }
  SrcLoc r_loc() const { return SrcLoc{r_file, r_line}; }
  void set_w_loc(SrcLoc l) {
    w_file = l.file;
    w_line = l.line;
  }
  void set_r_loc(SrcLoc l) {
    r_file = l.file;
    r_line = l.line;
  }
};

}  // namespace kqsim::sim
