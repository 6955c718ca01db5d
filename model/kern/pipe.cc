#include "model/kern/pipe.h"

#include <algorithm>
#include <cstring>

#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/world.h"

namespace kqsim::kern {

namespace {

using namespace bsd;

constexpr auto kRelaxed = std::memory_order_relaxed;

void PIPE_LOCK(pipe* p, SrcLoc loc = SrcLoc::current()) { locks::mtx_lock(&p->pipe_pair->pp_mtx, loc); }
void PIPE_UNLOCK(pipe* p, SrcLoc loc = SrcLoc::current()) { locks::mtx_unlock(&p->pipe_pair->pp_mtx, loc); }

// pipeselwakeup: notify the knotes on this end.
void pipeselwakeup(pipe* p) { KNOTE_LOCKED(&p->pipe_sel, 0); }

int filt_piperead(knote* kn, long) {
  pipe* rpipe = static_cast<pipe*>(kn->kn_hook);
  pipe* wpipe = rpipe->pipe_peer;
  int64_t cnt = rpipe->pipe_cnt.load(kRelaxed);
  kn->kn_kevent.data.store(cnt);
  unsigned short flags = kn->kn_kevent.flags.load();
  if ((rpipe->pipe_state.load(kRelaxed) & PIPE_EOF) || wpipe == nullptr || !wpipe->pipe_present.load(kRelaxed) ||
      (wpipe->pipe_state.load(kRelaxed) & PIPE_EOF)) {
    kn->kn_kevent.flags.store(flags | EV_EOF);
    return 1;
  }
  if (flags & EV_EOF) kn->kn_kevent.flags.store(flags & ~EV_EOF);
  if (kn->kn_sfflags.load() & NOTE_LOWAT) return cnt >= kn->kn_sdata.load() && cnt > 0;
  return cnt > 0;
}

int filt_pipewrite(knote* kn, long) {
  pipe* wpipe = static_cast<pipe*>(kn->kn_hook);  // the reading end
  if (!wpipe->pipe_present.load(kRelaxed) || (wpipe->pipe_state.load(kRelaxed) & PIPE_EOF)) {
    kn->kn_kevent.data.store(0);
    kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_EOF);
    return 1;
  }
  int64_t space = kPIPE_SIZE - wpipe->pipe_cnt.load(kRelaxed);
  kn->kn_kevent.data.store(space);
  if (kn->kn_sfflags.load() & NOTE_LOWAT) return space >= kn->kn_sdata.load();
  return space >= kPIPE_BUF;
}

void filt_pipedetach(knote* kn) {
  pipe* cpipe = static_cast<pipe*>(kn->kn_hook);
  PIPE_LOCK(cpipe);
  knlist_remove(&cpipe->pipe_sel, kn, 1);
  PIPE_UNLOCK(cpipe);
}

const filterops pipe_rfiltops = {1, nullptr, filt_pipedetach, filt_piperead, nullptr};
const filterops pipe_wfiltops = {1, nullptr, filt_pipedetach, filt_pipewrite, nullptr};

int pipe_kqfilter(file* fp, knote* kn) {
  pipe* cpipe = static_cast<pipe*>(fp->f_data);
  PIPE_LOCK(cpipe);
  switch (kn->kn_filter()) {
    case EVFILT_READ:
      kn->kn_fop = &pipe_rfiltops;
      break;
    case EVFILT_WRITE:
      kn->kn_fop = &pipe_wfiltops;
      if (cpipe->pipe_peer == nullptr || !cpipe->pipe_peer->pipe_present.load(kRelaxed)) {
        // other end of pipe has been closed
        PIPE_UNLOCK(cpipe);
        return kEPIPE;
      }
      cpipe = cpipe->pipe_peer;
      break;
    default:
      PIPE_UNLOCK(cpipe);
      return kEINVAL;
  }
  kn->kn_hook = cpipe;
  knlist_add(&cpipe->pipe_sel, kn, 1);
  PIPE_UNLOCK(cpipe);
  return 0;
}

int pipe_read(file* fp, void* buf, size_t len, size_t* done, thread*) {
  pipe* rpipe = static_cast<pipe*>(fp->f_data);
  *done = 0;
  PIPE_LOCK(rpipe);
  for (;;) {
    int cnt = rpipe->pipe_cnt.load(kRelaxed);
    if (cnt > 0) {
      size_t n = std::min<size_t>(len, static_cast<size_t>(cnt));
      std::memcpy(buf, rpipe->pipe_data.data(), n);
      rpipe->pipe_data.erase(0, n);
      rpipe->pipe_cnt.store(cnt - static_cast<int>(n), kRelaxed);
      *done = n;
      break;
    }
    pipe* wpipe = rpipe->pipe_peer;
    if ((rpipe->pipe_state.load(kRelaxed) & PIPE_EOF) || wpipe == nullptr || !wpipe->pipe_present.load(kRelaxed))
      break;  // EOF
    if (fp->f_flag & kFNONBLOCK) {
      PIPE_UNLOCK(rpipe);
      return kEAGAIN;
    }
    rpipe->pipe_state.store(rpipe->pipe_state.load(kRelaxed) | PIPE_WANTR, kRelaxed);
    locks::msleep(rpipe, &rpipe->pipe_pair->pp_mtx, locks::PSOCK, "piperd", 0);
  }
  if (*done > 0) {
    int st = rpipe->pipe_state.load(kRelaxed);
    if (st & PIPE_WANTW) {
      rpipe->pipe_state.store(st & ~PIPE_WANTW, kRelaxed);
      locks::wakeup(rpipe);
    }
    // Space opened: the writer's knotes (attached to this end) may fire.
    if (kPIPE_SIZE - rpipe->pipe_cnt.load(kRelaxed) >= kPIPE_BUF) pipeselwakeup(rpipe);
  }
  PIPE_UNLOCK(rpipe);
  return 0;
}

int pipe_write(file* fp, const void* buf, size_t len, size_t* done, thread*) {
  pipe* cpipe = static_cast<pipe*>(fp->f_data);
  *done = 0;
  PIPE_LOCK(cpipe);
  pipe* wpipe = cpipe->pipe_peer;
  const char* p = static_cast<const char*>(buf);
  while (*done < len) {
    if (wpipe == nullptr || !wpipe->pipe_present.load(kRelaxed) || (wpipe->pipe_state.load(kRelaxed) & PIPE_EOF)) {
      PIPE_UNLOCK(cpipe);
      return *done > 0 ? 0 : kEPIPE;
    }
    int cnt = wpipe->pipe_cnt.load(kRelaxed);
    int space = kPIPE_SIZE - cnt;
    if (space <= 0) {
      if (fp->f_flag & kFNONBLOCK) {
        PIPE_UNLOCK(cpipe);
        return *done > 0 ? 0 : kEAGAIN;
      }
      wpipe->pipe_state.store(wpipe->pipe_state.load(kRelaxed) | PIPE_WANTW, kRelaxed);
      locks::msleep(wpipe, &cpipe->pipe_pair->pp_mtx, locks::PSOCK, "pipewr", 0);
      continue;
    }
    size_t n = std::min<size_t>(len - *done, static_cast<size_t>(space));
    wpipe->pipe_data.append(p + *done, n);
    wpipe->pipe_cnt.store(cnt + static_cast<int>(n), kRelaxed);
    *done += n;
    int st = wpipe->pipe_state.load(kRelaxed);
    if (st & PIPE_WANTR) {
      wpipe->pipe_state.store(st & ~PIPE_WANTR, kRelaxed);
      locks::wakeup(wpipe);
    }
    // kern/57945: under "none" this KNOTE runs with only the pipe mutex held.
    pipeselwakeup(wpipe);
  }
  PIPE_UNLOCK(cpipe);
  return 0;
}

void pipeclose(pipe* cpipe) {
  PIPE_LOCK(cpipe);
  cpipe->pipe_state.store(cpipe->pipe_state.load(kRelaxed) | PIPE_EOF, kRelaxed);
  locks::wakeup(cpipe);
  pipeselwakeup(cpipe);
  if (pipe* ppipe = cpipe->pipe_peer) {
    ppipe->pipe_state.store(ppipe->pipe_state.load(kRelaxed) | PIPE_EOF, kRelaxed);
    locks::wakeup(ppipe);
    pipeselwakeup(ppipe);
  }
  cpipe->pipe_present.store(0, kRelaxed);
  // Knotes still on this end (write knotes of the peer) become EV_EOF|EV_ONESHOT.
  knlist_clear(&cpipe->pipe_sel, 1);
  PIPE_UNLOCK(cpipe);
}

int pipe_close(file* fp, thread*) {
  pipe* cpipe = static_cast<pipe*>(fp->f_data);
  fp->f_ops = nullptr;
  fp->f_data = nullptr;
  pipeclose(cpipe);
  return 0;
}

const fileops pipeops = {pipe_read, pipe_write, pipe_kqfilter, pipe_close};

}  // namespace

int kern_pipe(thread* td, int fds[2]) {
  World* w = World::current();
  pipepair* pp = w->make<pipepair>();
  pp->pp_mtx.init("pipe mutex", nullptr, locks::MTX_DEF);
  pipe* rpipe = &pp->pp_rpipe;
  pipe* wpipe = &pp->pp_wpipe;
  for (pipe* p : {rpipe, wpipe}) {
    p->pipe_pair = pp;
    p->pipe_present.store(1, kRelaxed);
    knlist_init_mtx(&p->pipe_sel, &pp->pp_mtx);
  }
  rpipe->pipe_peer = wpipe;
  wpipe->pipe_peer = rpipe;
  file* rf;
  file* wf;
  int fd0, fd1;
  int error = falloc(td, &rf, &fd0, DTYPE_PIPE, &pipeops, rpipe, kFREAD | kFWRITE);
  if (error) return error;
  error = falloc(td, &wf, &fd1, DTYPE_PIPE, &pipeops, wpipe, kFREAD | kFWRITE);
  if (error) {
    kern_close(td, fd0);
    return error;
  }
  fds[0] = fd0;
  fds[1] = fd1;
  return 0;
}

}  // namespace kqsim::kern
