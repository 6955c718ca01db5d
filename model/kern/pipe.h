// pipe.h - pipes (sys_pipe.c): two ends sharing one mutex, each with a
// buffer and a knlist (pipe_sel.si_note) locked by that mutex.
//
// Contract (FreeBSD's):
//   read  returns what is buffered (blocks while empty unless the writer is
//         gone: then 0 = EOF); waking a blocked writer and KNOTEing the
//         write knotes (pipeselwakeup) when space opens.
//   write appends (blocks while full); EPIPE when the reader is gone; KNOTEs
//         the reader's knotes.
//   close marks both ends EOF, KNOTEs the peer, and clears its own knlist.
//   EVFILT_READ  (filt_piperead): data = bytes buffered; EV_EOF when the
//         writer is gone (data still counts what remains); NOTE_LOWAT in
//         fflags makes data >= kn_sdata the trigger.
//   EVFILT_WRITE (filt_pipewrite): attached to the peer; data = free space;
//         active when space >= kPIPE_BUF (or >= lowat); EV_EOF with data 0
//         when the reader is gone; EPIPE at attach if it is already gone.
// Fields the filters read are sim::Atomic (relaxed): filters take word-sized
// snapshots (see docs/model.md); every writer holds the pipe mutex.
#pragma once

#include "knote/knote.h"
#include "model/kern/kern_types.h"

namespace kqsim::kern {

inline constexpr int kPIPE_SIZE = 16384;
inline constexpr int kPIPE_BUF = 512;

// pipe_state bits.
inline constexpr int PIPE_EOF = 0x008;
inline constexpr int PIPE_WANTR = 0x020;
inline constexpr int PIPE_WANTW = 0x040;

struct pipepair;

struct pipe {
  sim::Atomic<int> pipe_cnt;   // bytes in the buffer (pipe_buffer.cnt)
  std::string pipe_data;       // the bytes themselves; pipe mutex
  sim::Atomic<int> pipe_state; // PIPE_*; pipe mutex for writers
  sim::Atomic<int> pipe_present;  // 1 while this end is open
  knlist pipe_sel;             // pipe_sel.si_note
  pipe* pipe_peer = nullptr;
  pipepair* pipe_pair = nullptr;
};

struct pipepair {
  locks::mtx pp_mtx;  // "pipe mutex"
  pipe pp_rpipe;
  pipe pp_wpipe;
};

int kern_pipe(thread* td, int fds[2]);

}  // namespace kqsim::kern
