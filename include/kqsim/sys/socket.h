/*
 * kqsim/sys/socket.h - the socket calls of <sys/socket.h> for C programs that
 * run in the kqsim model: include <kqsim/sys/socket.h> instead of
 * <sys/socket.h> (and <kqsim/netinet/in.h> for struct sockaddr_in).
 *
 * The system's <sys/socket.h> gives the types and constants (struct sockaddr,
 * socklen_t, AF_*, SOCK_*, SHUT_*, SOL_SOCKET, SO_*); the calls below are
 * redirected with function-like macros to the kqsim_* functions of
 * model/kern/c_api.cc, whose signatures are POSIX's. Host constants are
 * translated to FreeBSD's where they differ (SOCK_NONBLOCK, SOCK_CLOEXEC),
 * errno is set to the host's value of the model's FreeBSD errno.
 *
 * What the model has: stream sockets only, AF_INET on one simulated host
 * (an address is a port: bind/connect accept INADDR_ANY and the loopback
 * network 127/8; the port is ntohs(sin_port)), and AF_UNIX only as
 * socketpair(). What the calls do beyond the model:
 *   accept()      fills *addr (when given) with AF_INET, 127.0.0.1, port 0:
 *                 the model does not expose the peer's port.
 *   setsockopt()  SOL_SOCKET SO_LINGER {1, 0} makes the next close a reset;
 *                 SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_LINGER off and
 *                 IPPROTO_TCP TCP_NODELAY succeed and do nothing (without
 *                 checking the descriptor); anything else is ENOPROTOOPT.
 *   send()/recv() write()/read(); flags must be 0 or MSG_NOSIGNAL
 *                 (EOPNOTSUPP otherwise; the model raises no SIGPIPE).
 * Not available: getsockname/getpeername, sendto/recvfrom/sendmsg/recvmsg,
 * accept4, getsockopt, AF_UNIX bind/connect by path, datagrams, AF_INET6.
 *
 * Valid only inside a simulated execution (see examples/README.md).
 */
#ifndef KQSIM_SYS_SOCKET_H_
#define KQSIM_SYS_SOCKET_H_

#include <sys/types.h>
#include <sys/socket.h>

#if !defined(__cplusplus) || defined(KQSIM_C_API)
#ifdef __cplusplus
extern "C" {
#endif
int kqsim_socket(int domain, int type, int protocol);
int kqsim_socketpair(int domain, int type, int protocol, int fds[2]);
int kqsim_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
int kqsim_listen(int fd, int backlog);
int kqsim_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int kqsim_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int kqsim_shutdown(int fd, int how);
int kqsim_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
ssize_t kqsim_send(int fd, const void *buf, size_t len, int flags);
ssize_t kqsim_recv(int fd, void *buf, size_t len, int flags);
#ifdef __cplusplus
}
#endif

#if !defined(KQSIM_C_API_NO_REDIRECT)
#define socket(...) kqsim_socket(__VA_ARGS__)
#define socketpair(...) kqsim_socketpair(__VA_ARGS__)
#define bind(...) kqsim_bind(__VA_ARGS__)
#define listen(...) kqsim_listen(__VA_ARGS__)
#define accept(...) kqsim_accept(__VA_ARGS__)
#define connect(...) kqsim_connect(__VA_ARGS__)
#define shutdown(...) kqsim_shutdown(__VA_ARGS__)
#define setsockopt(...) kqsim_setsockopt(__VA_ARGS__)
#define send(...) kqsim_send(__VA_ARGS__)
#define recv(...) kqsim_recv(__VA_ARGS__)
#endif
#endif /* !__cplusplus || KQSIM_C_API */

#endif /* KQSIM_SYS_SOCKET_H_ */
