/*
 * kqsim/pthread.h - POSIX threads as simulated threads, for C programs that
 * run in the kqsim model: include <kqsim/pthread.h> instead of <pthread.h>.
 *
 * The system's <pthread.h> gives the types; these calls are redirected with
 * function-like macros to model/kern/c_api.cc:
 *   pthread_create  spawns a simulated thread (sim::Scheduler::spawn) that
 *                   attaches itself to the creator's process (it shares the
 *                   descriptor table, as a thread does) and runs
 *                   start_routine(arg). attr must be NULL (EINVAL otherwise).
 *                   EAGAIN when the execution is ending or out of threads (a
 *                   kqsim execution has at most 16 simulated threads,
 *                   main and the timer thread included).
 *   pthread_join    waits for it (a happens-before edge) and stores its
 *                   return value; ESRCH for a thread this API did not create,
 *                   EDEADLK for the caller itself.
 *   pthread_self    an id of the calling simulated thread.
 *   pthread_mutex_init/destroy/lock/trylock/unlock
 *                   a model mutex per pthread_mutex_t (PTHREAD_MUTEX_INITIALIZER
 *                   works): a scheduling point, parks the caller while held,
 *                   orders the threads (no false race reports), and a cycle
 *                   of waits is reported as a deadlock. Default type only
 *                   (attr is ignored); unlock by a thread that does not hold
 *                   it is a finding. A real mutex would block the one OS
 *                   thread that runs every simulated thread.
 * Not available: pthread_exit, pthread_detach, pthread_cancel, condition
 * variables, rwlocks, thread attributes, thread-specific data.
 *
 * Every thread a program creates must be joined before the program's main
 * returns: the World (the simulated kernel) ends with it.
 *
 * Valid only inside a simulated execution; outside one pthread_create and
 * pthread_join fail with ENOSYS and the mutex calls are the host's.
 */
#ifndef KQSIM_PTHREAD_H_
#define KQSIM_PTHREAD_H_

#include <pthread.h>

#if !defined(__cplusplus) || defined(KQSIM_C_API)
#ifdef __cplusplus
extern "C" {
#define KQSIM_RESTRICT_ __restrict
#else
#define KQSIM_RESTRICT_ restrict
#endif
int kqsim_pthread_create(pthread_t *KQSIM_RESTRICT_ thread, const pthread_attr_t *KQSIM_RESTRICT_ attr,
                         void *(*start_routine)(void *), void *KQSIM_RESTRICT_ arg);
int kqsim_pthread_join(pthread_t thread, void **retval);
pthread_t kqsim_pthread_self(void);
int kqsim_pthread_mutex_init(pthread_mutex_t *KQSIM_RESTRICT_ mutex,
                             const pthread_mutexattr_t *KQSIM_RESTRICT_ attr);
int kqsim_pthread_mutex_destroy(pthread_mutex_t *mutex);
int kqsim_pthread_mutex_lock(pthread_mutex_t *mutex);
int kqsim_pthread_mutex_trylock(pthread_mutex_t *mutex);
int kqsim_pthread_mutex_unlock(pthread_mutex_t *mutex);
#undef KQSIM_RESTRICT_
#ifdef __cplusplus
}
#endif

#if !defined(KQSIM_C_API_NO_REDIRECT)
#define pthread_create(...) kqsim_pthread_create(__VA_ARGS__)
#define pthread_join(...) kqsim_pthread_join(__VA_ARGS__)
#define pthread_self() kqsim_pthread_self()
#define pthread_mutex_init(...) kqsim_pthread_mutex_init(__VA_ARGS__)
#define pthread_mutex_destroy(...) kqsim_pthread_mutex_destroy(__VA_ARGS__)
#define pthread_mutex_lock(...) kqsim_pthread_mutex_lock(__VA_ARGS__)
#define pthread_mutex_trylock(...) kqsim_pthread_mutex_trylock(__VA_ARGS__)
#define pthread_mutex_unlock(...) kqsim_pthread_mutex_unlock(__VA_ARGS__)
#endif
#endif /* !__cplusplus || KQSIM_C_API */

#endif /* KQSIM_PTHREAD_H_ */
