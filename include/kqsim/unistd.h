/*
 * kqsim/unistd.h - the descriptor calls of <unistd.h> for C programs that run
 * in the kqsim model: include <kqsim/unistd.h> instead of <unistd.h>.
 *
 * The system's <unistd.h> is included first (types, constants, and every
 * call the model does not redirect); then pipe(), read(), write(), close(),
 * dup(), getpid(), sleep() and usleep() become function-like macros for the
 * kqsim_* functions of model/kern/c_api.cc, whose signatures are POSIX's.
 * They run the model's system calls in the calling simulated thread's
 * process and set the host's errno from the model's FreeBSD errno, translated
 * to the host's value (a FreeBSD EAGAIN, 35, becomes the host's EAGAIN), so
 * comparisons with <errno.h> constants behave as on FreeBSD.
 *
 * sleep() and usleep() wait on the model's virtual clock (the thread parks;
 * virtual time jumps when every thread is idle): they take no real time.
 *
 * Valid only inside a simulated execution with a live World (see
 * examples/README.md); outside one every call fails with ENOSYS.
 *
 * C gets the API always; C++ only when it defines KQSIM_C_API before
 * including (KQSIM_C_API_NO_REDIRECT: declarations without the macros).
 */
#ifndef KQSIM_UNISTD_H_
#define KQSIM_UNISTD_H_

#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#if !defined(__cplusplus) || defined(KQSIM_C_API)
#ifdef __cplusplus
extern "C" {
#endif
int kqsim_pipe(int fds[2]);
ssize_t kqsim_read(int fd, void *buf, size_t nbytes);
ssize_t kqsim_write(int fd, const void *buf, size_t nbytes);
int kqsim_close(int fd);
int kqsim_dup(int fd);
pid_t kqsim_getpid(void);
unsigned int kqsim_sleep(unsigned int seconds);
/* useconds_t is unsigned int on every platform kqsim builds on; spelled out
 * because <unistd.h> declares useconds_t only with _DEFAULT_SOURCE/XSI. */
int kqsim_usleep(unsigned int microseconds);
#ifdef __cplusplus
}
#endif

#if !defined(KQSIM_C_API_NO_REDIRECT)
#define pipe(...) kqsim_pipe(__VA_ARGS__)
#define read(...) kqsim_read(__VA_ARGS__)
#define write(...) kqsim_write(__VA_ARGS__)
#define close(...) kqsim_close(__VA_ARGS__)
#define dup(...) kqsim_dup(__VA_ARGS__)
#define getpid() kqsim_getpid()
#define sleep(...) kqsim_sleep(__VA_ARGS__)
#define usleep(...) kqsim_usleep(__VA_ARGS__)
#endif
#endif /* !__cplusplus || KQSIM_C_API */

#endif /* KQSIM_UNISTD_H_ */
