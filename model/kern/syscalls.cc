// syscalls.cc - kqueue(), kevent(), pipe(), read(), write(), close(), dup().
#include "model/kern/syscalls.h"

#include "knote/knote.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/pipe.h"
#include "model/kern/syscall_scope.h"

namespace kqsim::kern {

int sys_errno() { return curthread()->td_errno; }

int sys_kqueue() {
  SyscallScope sc(/*kqueue_call=*/true);
  int fd = -1;
  int error = kern_kqueue(sc.td(), &fd);
  return static_cast<int>(sc.ret(error, fd));
}

int sys_kevent(int fd, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
               const struct timespec* timeout) {
  SyscallScope sc(/*kqueue_call=*/true);
  sc.td()->td_retval = 0;
  int error = kern_kevent(sc.td(), fd, changelist, nchanges, eventlist, nevents, timeout);
  return static_cast<int>(sc.ret(error, sc.td()->td_retval));
}

int sys_pipe(int fds[2]) {
  SyscallScope sc;
  return static_cast<int>(sc.ret(kern_pipe(sc.td(), fds), 0));
}

long sys_read(int fd, void* buf, size_t len) {
  SyscallScope sc;
  file* fp;
  int error = fget(sc.td(), fd, &fp);
  if (error) return sc.ret(error);
  size_t done = 0;
  if (!(fp->f_flag & kFREAD)) error = bsd::kEBADF;
  else if (fp->f_ops == nullptr || fp->f_ops->fo_read == nullptr) error = bsd::kEOPNOTSUPP;
  else error = fp->f_ops->fo_read(fp, buf, len, &done, sc.td());
  fdrop(fp, sc.td());
  return sc.ret(error, static_cast<long>(done));
}

long sys_write(int fd, const void* buf, size_t len) {
  SyscallScope sc;
  file* fp;
  int error = fget(sc.td(), fd, &fp);
  if (error) return sc.ret(error);
  size_t done = 0;
  if (!(fp->f_flag & kFWRITE)) error = bsd::kEBADF;
  else if (fp->f_ops == nullptr || fp->f_ops->fo_write == nullptr) error = bsd::kEOPNOTSUPP;
  else error = fp->f_ops->fo_write(fp, buf, len, &done, sc.td());
  fdrop(fp, sc.td());
  return sc.ret(error, static_cast<long>(done));
}

int sys_close(int fd) {
  // close() reaches knote_fdclose: in the Giant designs it runs under Giant.
  SyscallScope sc(/*kqueue_call=*/true);
  return static_cast<int>(sc.ret(kern_close(sc.td(), fd), 0));
}

int sys_dup(int fd) {
  SyscallScope sc;
  int nfd = -1;
  int error = kern_dup(sc.td(), fd, &nfd);
  return static_cast<int>(sc.ret(error, nfd));
}

}  // namespace kqsim::kern
