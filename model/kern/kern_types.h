// kern_types.h - the simulated kernel's objects around kern_event: threads,
// processes, descriptor tables and open files.
//
// Contract
// --------
// One World exists per execution (built by the scenario's setup, destroyed
// after the execution). It owns every proc, file and kernel object created
// during the execution, so nothing leaks across executions, and memory freed
// by the model ("free(kn)") stays mapped until the World goes: a use after
// free in the model is a model-level event, not a crash of the checker.
//
// Locks (FreeBSD's names):
//   filedesc.fd_sx    sx "filedesc": fd_ofiles, fd_kqlist
//   proc.p_mtx        mtx "process lock": p_klist (knlist of EVFILT_PROC and
//                     EVFILT_SIGNAL knotes), p_flag, p_siglist
//   file.f_count      atomic reference count (fhold/fdrop)
// Each object keeps its own knlists, initialised with its own lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "locks/mutex.h"
#include "locks/sx.h"
#include "model/sim/cell.h"
#include "model/sim/list.h"

namespace kqsim::kern {

struct knote;
struct knlist;
struct kqueue;
struct file;
struct proc;
struct thread;
struct kq_design;
class World;

// File types (sys/file.h DTYPE_*).
inline constexpr short DTYPE_NONE = 0;
inline constexpr short DTYPE_VNODE = 1;
inline constexpr short DTYPE_SOCKET = 2;
inline constexpr short DTYPE_PIPE = 3;
inline constexpr short DTYPE_KQUEUE = 5;

// The per-type operations of an open file (struct fileops).
struct fileops {
  // Each returns 0 or a FreeBSD errno; *done is the byte count.
  int (*fo_read)(file* fp, void* buf, size_t len, size_t* done, thread* td);
  int (*fo_write)(file* fp, const void* buf, size_t len, size_t* done, thread* td);
  int (*fo_kqfilter)(file* fp, knote* kn);
  int (*fo_close)(file* fp, thread* td);
};

struct file {
  short f_type = DTYPE_NONE;
  const fileops* f_ops = nullptr;
  void* f_data = nullptr;      // the pipe, socket or kqueue
  sim::Atomic<int> f_count;    // references: descriptors plus in-flight fget()s
  int f_flag = 0;              // kFREAD/kFWRITE/kFNONBLOCK
  uint32_t f_serial = 0;       // for reports
};

inline constexpr int kFREAD = 0x0001;
inline constexpr int kFWRITE = 0x0002;
inline constexpr int kFNONBLOCK = 0x0004;  // O_NONBLOCK in f_flag (k prefix: <fcntl.h> defines the bare names)

// Descriptors a process's table starts with; fdalloc grows it (FreeBSD's
// fdgrowtable) up to kMaxFilesPerProc (maxfilesperproc), then EMFILE.
inline constexpr int kNoFile = 256;
inline constexpr int kMaxFilesPerProc = 32768;

struct filedesc {
  locks::sx fd_sx;                        // "filedesc"
  std::vector<file*> fd_ofiles = std::vector<file*>(kNoFile);  // fd_sx; grows, never shrinks
  std::vector<kqueue*> fd_kqlist;         // kqueues of this process (TAILQ in FreeBSD); fd_sx
  proc* fd_proc = nullptr;
};

// Process flags.
inline constexpr int P_WEXIT = 0x02000;

struct proc {
  int p_pid = 0;
  proc* p_pptr = nullptr;
  locks::mtx p_mtx;                       // "process lock"
  filedesc* p_fd = nullptr;
  knlist* p_klist = nullptr;              // EVFILT_PROC / EVFILT_SIGNAL knotes; p_mtx
  sim::Cell<int> p_flag;                  // p_mtx
  sim::Cell<int> p_xexit;                 // exit status; p_mtx
  sim::Cell<uint32_t> p_siglist;          // pending signals (bit n-1 = signal n); p_mtx
  std::string p_comm;
};

// A simulated thread's kernel context (struct thread).
struct thread {
  proc* td_proc = nullptr;
  int td_errno = 0;       // the last syscall's FreeBSD errno
  long td_retval = 0;
  sim::Tid td_tid = sim::kNoThread;
};

}  // namespace kqsim::kern
