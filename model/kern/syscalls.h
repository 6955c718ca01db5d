// syscalls.h - the system calls of the model, FreeBSD's semantics.
//
// Contract: each sys_* runs in the calling simulated thread's process (see
// World::attach), returns FreeBSD's result (a descriptor, a count, 0) or -1
// with FreeBSD's errno in curthread()->td_errno (sys_errno()), and runs the
// pending kqueue tasks before returning. The locking design in force decides
// which of them run under Giant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>

#include <kqsim/sys/event.h>

namespace kqsim::kern {

int sys_errno();

int sys_kqueue();
int sys_kevent(int fd, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
               const struct timespec* timeout);
int sys_pipe(int fds[2]);
long sys_read(int fd, void* buf, size_t len);
long sys_write(int fd, const void* buf, size_t len);
int sys_close(int fd);
int sys_dup(int fd);
int sys_getpid();

// Sockets (AF_UNIX stream pairs and AF_INET stream sockets on a simulated
// loopback), see model/kern/socket.h.
int sys_socketpair(int domain, int type, int protocol, int fds[2]);
int sys_socket(int domain, int type, int protocol);
int sys_bind(int fd, uint16_t port);
int sys_listen(int fd, int backlog);
int sys_connect(int fd, uint16_t port);
int sys_accept(int fd);
int sys_shutdown(int fd, int how);
// Makes the next close of `fd` send a reset (SO_LINGER with a zero timeout).
int sys_set_linger_reset(int fd);

// Processes: fork() runs `child_main` in a new simulated thread attached to
// the child process and returns its pid (the model cannot return twice).
int sys_fork(void (*child_main)(void*), void* arg);
void sys_exit(int status);
int sys_kill(int pid, int sig);

}  // namespace kqsim::kern
