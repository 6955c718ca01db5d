#include "model/kern/filedesc.h"

#include <algorithm>

#include "knote/knote.h"
#include "locks/kassert.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/world.h"

namespace kqsim::kern {

filedesc* fdinit(proc* p) {
  filedesc* fdp = World::current()->make<filedesc>();
  fdp->fd_sx.init("filedesc");
  fdp->fd_proc = p;
  p->p_fd = fdp;
  return fdp;
}

namespace {
// The lowest free descriptor, growing the table when it is full (doubling, as
// fdgrowtable does, up to kMaxFilesPerProc); -1 when it cannot grow. fd_sx held.
int fdalloc_locked(filedesc* fdp) {
  const int size = static_cast<int>(fdp->fd_ofiles.size());
  for (int fd = 0; fd < size; ++fd)
    if (fdp->fd_ofiles[fd] == nullptr) return fd;
  if (size >= kMaxFilesPerProc) return -1;
  fdp->fd_ofiles.resize(static_cast<size_t>(std::min(size * 2, kMaxFilesPerProc)), nullptr);
  return size;
}
}  // namespace

file* fget_locked(filedesc* fdp, int fd) {
  if (fd < 0 || fd >= static_cast<int>(fdp->fd_ofiles.size())) return nullptr;
  return __atomic_load_n(&fdp->fd_ofiles[fd], __ATOMIC_RELAXED);
}

file* fget_noref(filedesc* fdp, int fd) { return fget_locked(fdp, fd); }

void fd_slot_store(filedesc* fdp, int fd, file* fp) { __atomic_store_n(&fdp->fd_ofiles[fd], fp, __ATOMIC_RELAXED); }

int falloc(thread* td, file** fpp, int* fdp_out, short type, const fileops* ops, void* data, int flag) {
  filedesc* fdp = td->td_proc->p_fd;
  World* w = World::current();
  file* fp = w->make<file>();
  fp->f_type = type;
  fp->f_ops = ops;
  fp->f_data = data;
  fp->f_flag = flag;
  fp->f_serial = w->next_serial();
  fp->f_count.store(1, std::memory_order_relaxed);
  FILEDESC_XLOCK(fdp);
  int fd = fdalloc_locked(fdp);
  if (fd < 0) {
    FILEDESC_XUNLOCK(fdp);
    return bsd::kEMFILE;
  }
  fd_slot_store(fdp, fd, fp);
  FILEDESC_XUNLOCK(fdp);
  *fpp = fp;
  *fdp_out = fd;
  return 0;
}

int fget(thread* td, int fd, file** fpp) {
  filedesc* fdp = td->td_proc->p_fd;
  FILEDESC_XLOCK(fdp);
  file* fp = fget_locked(fdp, fd);
  if (fp == nullptr) {
    FILEDESC_XUNLOCK(fdp);
    return bsd::kEBADF;
  }
  fhold(fp);
  FILEDESC_XUNLOCK(fdp);
  *fpp = fp;
  return 0;
}

void fhold(file* fp) { fp->f_count.fetch_add(1, std::memory_order_acq_rel); }

void fdrop(file* fp, thread* td) {
  int old = fp->f_count.fetch_sub(1, std::memory_order_acq_rel);
  KASSERT(old > 0, ("fdrop: file %u count %d", fp->f_serial, old));
  if (old == 1 && fp->f_ops != nullptr && fp->f_ops->fo_close != nullptr) fp->f_ops->fo_close(fp, td);
}

int kern_close(thread* td, int fd) {
  filedesc* fdp = td->td_proc->p_fd;
  FILEDESC_XLOCK(fdp);
  file* fp = fget_locked(fdp, fd);
  if (fp == nullptr) {
    FILEDESC_XUNLOCK(fdp);
    return bsd::kEBADF;
  }
  fd_slot_store(fdp, fd, nullptr);
  // No knote may survive on a closed descriptor (FreeBSD's closefp).
  knote_fdclose(td, fd);
  FILEDESC_XUNLOCK(fdp);
  fdrop(fp, td);
  return 0;
}

int kern_dup(thread* td, int fd, int* newfd) {
  filedesc* fdp = td->td_proc->p_fd;
  FILEDESC_XLOCK(fdp);
  file* fp = fget_locked(fdp, fd);
  if (fp == nullptr) {
    FILEDESC_XUNLOCK(fdp);
    return bsd::kEBADF;
  }
  int nfd = fdalloc_locked(fdp);
  if (nfd < 0) {
    FILEDESC_XUNLOCK(fdp);
    return bsd::kEMFILE;
  }
  fhold(fp);
  fd_slot_store(fdp, nfd, fp);
  FILEDESC_XUNLOCK(fdp);
  *newfd = nfd;
  return 0;
}

}  // namespace kqsim::kern
