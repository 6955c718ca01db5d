/*
 * kqsim/sys/event.h - FreeBSD's <sys/event.h> for programs that run in the
 * kqsim model. Field order, constants and semantics are FreeBSD's (values
 * from sys/sys/event.h); only the include path differs. A program written
 * for FreeBSD includes <kqsim/sys/event.h> (and <kqsim/unistd.h> for the
 * descriptor calls) instead of <sys/event.h> and runs in a simulated thread.
 *
 * This header is C and C++. In C++ the model's kernel code uses the same
 * struct kevent.
 */
#ifndef KQSIM_SYS_EVENT_H_
#define KQSIM_SYS_EVENT_H_

#include <stdint.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3)
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_PROCDESC (-8)
#define EVFILT_FS (-9)
#define EVFILT_LIO (-10)
#define EVFILT_USER (-11)
#define EVFILT_SENDFILE (-12)
#define EVFILT_EMPTY (-13)
#define EVFILT_SYSCOUNT 13

struct kevent {
  uintptr_t ident;       /* identifier for this event */
  short filter;          /* filter for event */
  unsigned short flags;  /* action flags for kqueue */
  unsigned int fflags;   /* filter flag value */
  int64_t data;          /* filter data value */
  void *udata;           /* opaque user data identifier */
  uint64_t ext[4];       /* extensions */
};

#define EV_SET(kevp_, a, b, c, d, e, f)      \
  do {                                       \
    struct kevent *kqsim_kevp_ = (kevp_);    \
    kqsim_kevp_->ident = (a);                \
    kqsim_kevp_->filter = (b);               \
    kqsim_kevp_->flags = (c);                \
    kqsim_kevp_->fflags = (d);               \
    kqsim_kevp_->data = (e);                 \
    kqsim_kevp_->udata = (f);                \
    kqsim_kevp_->ext[0] = 0;                 \
    kqsim_kevp_->ext[1] = 0;                 \
    kqsim_kevp_->ext[2] = 0;                 \
    kqsim_kevp_->ext[3] = 0;                 \
  } while (0)

/* actions */
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_FORCEONESHOT 0x0100
#define EV_KEEPUDATA 0x0200

/* flags */
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080

#define EV_SYSFLAGS 0xF000
#define EV_DROP 0x1000
#define EV_FLAG1 0x2000
#define EV_FLAG2 0x4000

/* returned values */
#define EV_EOF 0x8000
#define EV_ERROR 0x4000

/* EVFILT_USER */
#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff
#define NOTE_TRIGGER 0x01000000

/* EVFILT_READ / EVFILT_WRITE */
#define NOTE_LOWAT 0x0001
#define NOTE_FILE_POLL 0x0002

/* EVFILT_PROC */
#define NOTE_EXIT 0x80000000
#define NOTE_FORK 0x40000000
#define NOTE_EXEC 0x20000000
#define NOTE_SIGNAL 0x08000000
#define NOTE_PCTRLMASK 0xfc000000
#define NOTE_PDATAMASK 0x000fffff
#define NOTE_TRACK 0x00000001
#define NOTE_TRACKERR 0x00000002
#define NOTE_CHILD 0x00000004

/* EVFILT_TIMER */
#define NOTE_SECONDS 0x00000001
#define NOTE_MSECONDS 0x00000002
#define NOTE_USECONDS 0x00000004
#define NOTE_NSECONDS 0x00000008
#define NOTE_ABSTIME 0x00000010

/*
 * The user-side calls, for C programs that run in a simulated thread of the
 * model (see model/kern/c_api.cc and examples/README.md). C gets them always;
 * C++ only when it defines KQSIM_C_API before the first include of this
 * header, so the model's own C++ code, which uses the same struct kevent,
 * never sees a kevent() macro. KQSIM_C_API_NO_REDIRECT keeps the declarations
 * but not the macros (the implementation uses it).
 *
 * kqueue() and kevent() are function-like macros: `struct kevent` and a
 * variable or field named kevent are untouched; only a call is redirected.
 * They are valid only inside a simulated execution whose World exists.
 */
#if !defined(__cplusplus) || defined(KQSIM_C_API)
#ifdef __cplusplus
extern "C" {
#endif
int kqsim_kqueue(void);
int kqsim_kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist, int nevents,
                 const struct timespec *timeout);
#ifdef __cplusplus
}
#endif
#if !defined(KQSIM_C_API_NO_REDIRECT)
#define kqueue() kqsim_kqueue()
#define kevent(...) kqsim_kevent(__VA_ARGS__)
#endif
#endif /* !__cplusplus || KQSIM_C_API */

#endif /* KQSIM_SYS_EVENT_H_ */
