// socket_syscalls.cc - socketpair(), socket(), bind(), listen(), connect(),
// accept(), shutdown() and SO_LINGER-0 (uipc_syscalls.c), over socket.cc.
// Each is a SyscallScope around the socket layer; FreeBSD's errno values.
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/socket.h"
#include "model/kern/syscall_scope.h"
#include "model/kern/syscalls.h"

namespace kqsim::kern {

namespace {

// fget + ENOTSOCK, then `op` on the socket, then fdrop.
template <class Op>
int with_socket(thread* td, int fd, Op op) {
  file* fp;
  socket* so;
  int error = getsock(td, fd, &fp, &so);
  if (error != 0) return error;
  error = op(so);
  fdrop(fp, td);
  return error;
}

}  // namespace

int sys_socketpair(int domain, int type, int protocol, int fds[2]) {
  SyscallScope sc;
  int error = kern_socketpair(sc.td(), domain, type, protocol, fds);
  return static_cast<int>(sc.ret(error, 0));
}

int sys_socket(int domain, int type, int protocol) {
  SyscallScope sc;
  int fd = -1;
  int error = kern_socket(sc.td(), domain, type, protocol, &fd);
  return static_cast<int>(sc.ret(error, fd));
}

int sys_bind(int fd, uint16_t port) {
  SyscallScope sc;
  int error = with_socket(sc.td(), fd, [&](socket* so) { return sobind(so, port); });
  return static_cast<int>(sc.ret(error, 0));
}

int sys_listen(int fd, int backlog) {
  SyscallScope sc;
  int error = with_socket(sc.td(), fd, [&](socket* so) { return solisten(so, backlog); });
  return static_cast<int>(sc.ret(error, 0));
}

int sys_connect(int fd, uint16_t port) {
  SyscallScope sc;
  int error = with_socket(sc.td(), fd, [&](socket* so) { return soconnect(so, port); });
  return static_cast<int>(sc.ret(error, 0));
}

int sys_accept(int fd) {
  SyscallScope sc;
  int nfd = -1;
  int error = kern_accept(sc.td(), fd, &nfd);
  return static_cast<int>(sc.ret(error, nfd));
}

int sys_shutdown(int fd, int how) {
  SyscallScope sc;
  int error = with_socket(sc.td(), fd, [&](socket* so) { return soshutdown(so, how); });
  return static_cast<int>(sc.ret(error, 0));
}

int sys_set_linger_reset(int fd) {
  SyscallScope sc;
  int error = with_socket(sc.td(), fd, [&](socket* so) { return sosetlinger_reset(so); });
  return static_cast<int>(sc.ret(error, 0));
}

}  // namespace kqsim::kern
