// c_api.cc - the C API: the kqsim_* functions behind <kqsim/sys/event.h>,
// <kqsim/unistd.h>, <kqsim/sys/socket.h> and <kqsim/pthread.h>, which let an
// ordinary FreeBSD kqueue program written in C run in a simulated thread with
// only its #include lines changed (examples/, examples/README.md).
//
// Contract
// --------
// Each function has its POSIX signature and behaviour over the model's
// system calls (model/kern/syscalls.h), in the calling simulated thread's
// process:
//   - results are the model's (FreeBSD's); on failure the function returns -1
//     (the pthread calls: the error number) and sets the host's errno to the
//     host's value of the model's FreeBSD errno (host_errno below: FreeBSD's
//     EAGAIN is 35, Linux's 11), so a program comparing errno with
//     <errno.h> constants behaves as on FreeBSD;
//   - kevent() output is translated the same way: an EV_ERROR entry's data,
//     and the socket error an EVFILT_READ/EVFILT_WRITE entry carries in
//     fflags with EV_EOF (ECONNRESET after a reset);
//   - host constants that differ from FreeBSD's are translated on the way in
//     (SOCK_NONBLOCK, SOCK_CLOEXEC, AF_INET6).
// They are valid only inside a simulated execution (a sim::Scheduler running
// on this OS thread) with a World: outside one every call fails with ENOSYS
// (the pthread mutex calls fall back to the host's).
//
// Threads: pthread_create spawns a simulated thread that attaches itself to
// the creator's process and runs start_routine(arg); its return value is kept
// in a per-OS-thread table indexed by Tid and stamped with the execution's
// generation, for pthread_join. A pthread_t made here is the Tid tagged with
// kPthreadTag, so a foreign pthread_t is ESRCH.
//
// Mutexes: a pthread_mutex_t is mapped (by address) to a sim::BasicMutex in a
// per-OS-thread table emptied at each new execution, so PTHREAD_MUTEX_INITIALIZER
// needs no init call. A real mutex would block the OS thread that runs every
// simulated thread.
//
// This file includes the kqsim C headers with KQSIM_C_API (the declarations,
// checked against the definitions) and KQSIM_C_API_NO_REDIRECT (none of the
// read()/close()/kevent() macros, which would rewrite the host's headers and
// our own calls). Both must be defined before the first include of
// <kqsim/sys/event.h>, which the model headers include too.
#define KQSIM_C_API 1
#define KQSIM_C_API_NO_REDIRECT 1

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <kqsim/netinet/in.h>
#include <kqsim/pthread.h>
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include "locks/kassert.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/kern_types.h"
#include "model/kern/socket.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "model/sim/basic_mutex.h"
#include "model/sim/scheduler.h"

namespace kqsim::kern {
namespace {

// The host's errno value for a FreeBSD errno (bsd_errno.h). Values the table
// does not know pass through unchanged; the kernel-internal ERESTART and
// EJUSTRETURN, which no syscall should return, become EINTR.
int host_errno(int e) {
  switch (e) {
    case 0: return 0;
    case bsd::kEPERM: return EPERM;
    case bsd::kENOENT: return ENOENT;
    case bsd::kESRCH: return ESRCH;
    case bsd::kEINTR: return EINTR;
    case bsd::kEIO: return EIO;
    case bsd::kENXIO: return ENXIO;
    case bsd::kEBADF: return EBADF;
    case bsd::kECHILD: return ECHILD;
    case bsd::kEDEADLK: return EDEADLK;
    case bsd::kENOMEM: return ENOMEM;
    case bsd::kEACCES: return EACCES;
    case bsd::kEFAULT: return EFAULT;
    case bsd::kEBUSY: return EBUSY;
    case bsd::kEEXIST: return EEXIST;
    case bsd::kENODEV: return ENODEV;
    case bsd::kEINVAL: return EINVAL;
    case bsd::kENFILE: return ENFILE;
    case bsd::kEMFILE: return EMFILE;
    case bsd::kEFBIG: return EFBIG;
    case bsd::kENOSPC: return ENOSPC;
    case bsd::kESPIPE: return ESPIPE;
    case bsd::kEPIPE: return EPIPE;
    case bsd::kERANGE: return ERANGE;
    case bsd::kEAGAIN: return EAGAIN;  // = EWOULDBLOCK on both
    case bsd::kEINPROGRESS: return EINPROGRESS;
    case bsd::kEALREADY: return EALREADY;
    case bsd::kENOTSOCK: return ENOTSOCK;
    case bsd::kEDESTADDRREQ: return EDESTADDRREQ;
    case bsd::kEMSGSIZE: return EMSGSIZE;
    case bsd::kEPROTOTYPE: return EPROTOTYPE;
    case bsd::kENOPROTOOPT: return ENOPROTOOPT;
    case bsd::kEPROTONOSUPPORT: return EPROTONOSUPPORT;
    case bsd::kEOPNOTSUPP: return EOPNOTSUPP;
    case bsd::kEAFNOSUPPORT: return EAFNOSUPPORT;
    case bsd::kEADDRINUSE: return EADDRINUSE;
    case bsd::kEADDRNOTAVAIL: return EADDRNOTAVAIL;
    case bsd::kENETDOWN: return ENETDOWN;
    case bsd::kECONNABORTED: return ECONNABORTED;
    case bsd::kECONNRESET: return ECONNRESET;
    case bsd::kENOBUFS: return ENOBUFS;
    case bsd::kEISCONN: return EISCONN;
    case bsd::kENOTCONN: return ENOTCONN;
    case bsd::kETIMEDOUT: return ETIMEDOUT;
    case bsd::kECONNREFUSED: return ECONNREFUSED;
    case bsd::kENOSYS: return ENOSYS;
    case bsd::kERESTART: return EINTR;
    case bsd::kEJUSTRETURN: return EINTR;
    default: return e;
  }
}

// True when the model can run a system call here; otherwise errno = ENOSYS.
bool in_model() {
  if (sim::Scheduler::current() != nullptr && World::current() != nullptr) return true;
  errno = ENOSYS;
  return false;
}

// A model result: -1 sets errno from the model's errno.
template <class R>
R ret(R r) {
  if (r == -1) errno = host_errno(sys_errno());
  return r;
}

int fail(int e) {
  errno = e;
  return -1;
}

// ---- sockets: host constants to FreeBSD's ----

inline constexpr int kFreeBSD_AF_INET6 = 28;

int bsd_domain(int domain) {
  switch (domain) {
    case AF_UNIX: return kAF_UNIX;
    case AF_INET: return kAF_INET;
    case AF_INET6: return kFreeBSD_AF_INET6;
    default: return domain;
  }
}

int bsd_type(int type) {
  int t = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (type & SOCK_NONBLOCK) t |= kSOCK_NONBLOCK;
  if (type & SOCK_CLOEXEC) t |= kSOCK_CLOEXEC;
  return t;
}

// The port of an AF_INET address on the one simulated host (INADDR_ANY or
// 127/8), or -1 with errno set (`nonlocal` for another host).
int inet_port(const struct sockaddr* addr, socklen_t len, int nonlocal) {
  if (addr == nullptr) return fail(EFAULT);
  if (len < static_cast<socklen_t>(sizeof(sa_family_t))) return fail(EINVAL);
  if (addr->sa_family != AF_INET) return fail(EAFNOSUPPORT);
  if (len < static_cast<socklen_t>(sizeof(struct sockaddr_in))) return fail(EINVAL);
  struct sockaddr_in sin;
  std::memcpy(&sin, addr, sizeof sin);
  uint32_t a = ntohl(sin.sin_addr.s_addr);
  if (a != INADDR_ANY && (a >> 24) != 127) return fail(nonlocal);
  return ntohs(sin.sin_port);
}

// ---- threads ----

inline constexpr pthread_t kPthreadTag = static_cast<pthread_t>(0x6b71) << 32;  // "kq"

struct ThreadSlot {
  uint32_t gen = 0;  // the execution that filled it; 0 = never
  bool created = false;
  bool done = false;
  void* retval = nullptr;
};
thread_local ThreadSlot tls_threads[sim::kMaxThreads];

struct MutexTable {
  uint32_t gen = 0;
  std::unordered_map<const void*, std::unique_ptr<sim::BasicMutex>> map;
};
thread_local MutexTable tls_mutexes;

sim::BasicMutex* sim_mutex(sim::Scheduler* s, const pthread_mutex_t* m) {
  MutexTable& t = tls_mutexes;
  if (t.gen != s->generation()) {
    t.map.clear();
    t.gen = s->generation();
  }
  std::unique_ptr<sim::BasicMutex>& p = t.map[m];
  if (!p) p = std::make_unique<sim::BasicMutex>("pthread_mutex");
  return p.get();
}

}  // namespace
}  // namespace kqsim::kern

using namespace kqsim;
using namespace kqsim::kern;

extern "C" {

// ---- <kqsim/sys/event.h> ----

int kqsim_kqueue(void) {
  if (!in_model()) return -1;
  return ret(sys_kqueue());
}

int kqsim_kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
                 const struct timespec* timeout) {
  if (!in_model()) return -1;
  int n = ret(sys_kevent(kq, changelist, nchanges, eventlist, nevents, timeout));
  for (int i = 0; i < n; ++i) {
    struct kevent& ev = eventlist[i];
    if (ev.flags & EV_ERROR) {
      ev.data = host_errno(static_cast<int>(ev.data));
    } else if ((ev.flags & EV_EOF) && ev.fflags != 0 && (ev.filter == EVFILT_READ || ev.filter == EVFILT_WRITE)) {
      ev.fflags = static_cast<unsigned int>(host_errno(static_cast<int>(ev.fflags)));
    }
  }
  return n;
}

// ---- <kqsim/unistd.h> ----

int kqsim_pipe(int fds[2]) {
  if (!in_model()) return -1;
  return ret(sys_pipe(fds));
}

ssize_t kqsim_read(int fd, void* buf, size_t nbytes) {
  if (!in_model()) return -1;
  return ret(static_cast<ssize_t>(sys_read(fd, buf, nbytes)));
}

ssize_t kqsim_write(int fd, const void* buf, size_t nbytes) {
  if (!in_model()) return -1;
  return ret(static_cast<ssize_t>(sys_write(fd, buf, nbytes)));
}

int kqsim_close(int fd) {
  if (!in_model()) return -1;
  return ret(sys_close(fd));
}

int kqsim_dup(int fd) {
  if (!in_model()) return -1;
  return ret(sys_dup(fd));
}

pid_t kqsim_getpid(void) {
  if (!in_model()) return -1;
  return static_cast<pid_t>(ret(sys_getpid()));
}

unsigned int kqsim_sleep(unsigned int seconds) {
  if (!in_model()) return seconds;
  sim::Scheduler* s = sim::Scheduler::current();
  s->sleep_until(s->now() + uint64_t{seconds} * 1'000'000'000u);
  return 0;
}

int kqsim_usleep(unsigned int microseconds) {
  if (!in_model()) return -1;
  sim::Scheduler* s = sim::Scheduler::current();
  s->sleep_until(s->now() + uint64_t{microseconds} * 1'000u);
  return 0;
}

// ---- <kqsim/sys/socket.h> ----

int kqsim_socket(int domain, int type, int protocol) {
  if (!in_model()) return -1;
  return ret(sys_socket(bsd_domain(domain), bsd_type(type), protocol));
}

int kqsim_socketpair(int domain, int type, int protocol, int fds[2]) {
  if (!in_model()) return -1;
  return ret(sys_socketpair(bsd_domain(domain), bsd_type(type), protocol, fds));
}

int kqsim_bind(int fd, const struct sockaddr* addr, socklen_t addrlen) {
  if (!in_model()) return -1;
  int port = inet_port(addr, addrlen, EADDRNOTAVAIL);
  if (port < 0) return -1;
  return ret(sys_bind(fd, static_cast<uint16_t>(port)));
}

int kqsim_listen(int fd, int backlog) {
  if (!in_model()) return -1;
  return ret(sys_listen(fd, backlog));
}

int kqsim_accept(int fd, struct sockaddr* addr, socklen_t* addrlen) {
  if (!in_model()) return -1;
  int nfd = ret(sys_accept(fd));
  if (nfd >= 0 && addr != nullptr && addrlen != nullptr) {
    struct sockaddr_in sin;
    std::memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;  // the model does not expose the peer's port
    std::memcpy(addr, &sin, std::min(static_cast<size_t>(*addrlen), sizeof sin));
    *addrlen = sizeof sin;
  }
  return nfd;
}

int kqsim_connect(int fd, const struct sockaddr* addr, socklen_t addrlen) {
  if (!in_model()) return -1;
  int port = inet_port(addr, addrlen, ENETUNREACH);
  if (port < 0) return -1;
  return ret(sys_connect(fd, static_cast<uint16_t>(port)));
}

int kqsim_shutdown(int fd, int how) {
  if (!in_model()) return -1;
  return ret(sys_shutdown(fd, how));  // SHUT_RD/WR/RDWR are 0/1/2 on both
}

int kqsim_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  if (!in_model()) return -1;
  if (level == SOL_SOCKET) {
    switch (optname) {
      case SO_REUSEADDR:
      case SO_REUSEPORT:
      case SO_KEEPALIVE:
        return 0;
      case SO_LINGER: {
        if (optval == nullptr) return fail(EFAULT);
        if (optlen < static_cast<socklen_t>(sizeof(struct linger))) return fail(EINVAL);
        struct linger l;
        std::memcpy(&l, optval, sizeof l);
        if (!l.l_onoff) return 0;
        if (l.l_linger != 0) return fail(ENOPROTOOPT);  // only the reset form is modelled
        return ret(sys_set_linger_reset(fd));
      }
      default:
        return fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP && optname == TCP_NODELAY) return 0;
  return fail(ENOPROTOOPT);
}

ssize_t kqsim_send(int fd, const void* buf, size_t len, int flags) {
  if (!in_model()) return -1;
  if ((flags & ~MSG_NOSIGNAL) != 0) return fail(EOPNOTSUPP);
  return ret(static_cast<ssize_t>(sys_write(fd, buf, len)));
}

ssize_t kqsim_recv(int fd, void* buf, size_t len, int flags) {
  if (!in_model()) return -1;
  if (flags != 0) return fail(EOPNOTSUPP);
  return ret(static_cast<ssize_t>(sys_read(fd, buf, len)));
}

// ---- <kqsim/pthread.h> ----

int kqsim_pthread_create(pthread_t* __restrict thread, const pthread_attr_t* __restrict attr,
                         void* (*start_routine)(void*), void* __restrict arg) {
  if (!in_model()) return ENOSYS;
  if (attr != nullptr) return EINVAL;
  sim::Scheduler* s = sim::Scheduler::current();
  proc* p = curthread()->td_proc;
  uint32_t gen = s->generation();
  sim::Tid t = s->spawn(
      [p, gen, start_routine, arg] {
        sim::Scheduler* cs = sim::Scheduler::current();
        World* w = World::current();
        KASSERT(w != nullptr, ("pthread: a thread started after its World was destroyed: the program "
                               "must join its threads before main returns"));
        w->attach(p);
        // The child owns retval/done, the creator `created` (spawn may run
        // the child before it returns to the creator).
        ThreadSlot& slot = tls_threads[cs->self()];
        slot.gen = gen;
        slot.done = false;
        slot.retval = nullptr;
        void* r = start_routine(arg);
        slot.retval = r;
        slot.done = true;
      },
      "pthread");
  if (t == sim::kNoThread) return EAGAIN;
  tls_threads[t].gen = gen;
  tls_threads[t].created = true;
  *thread = kPthreadTag | static_cast<pthread_t>(t);
  return 0;
}

int kqsim_pthread_join(pthread_t thread, void** retval) {
  if (!in_model()) return ENOSYS;
  sim::Scheduler* s = sim::Scheduler::current();
  if ((thread & ~static_cast<pthread_t>(0xffff)) != kPthreadTag) return ESRCH;
  auto t = static_cast<sim::Tid>(thread & 0xffff);
  if (t >= sim::kMaxThreads) return ESRCH;
  if (t == s->self()) return EDEADLK;
  const ThreadSlot& slot = tls_threads[t];
  if (!slot.created || slot.gen != s->generation()) return ESRCH;
  s->join(t);
  if (retval != nullptr) *retval = tls_threads[t].retval;
  tls_threads[t].created = false;  // joined: a second join is ESRCH
  return 0;
}

pthread_t kqsim_pthread_self(void) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_self();
  return kPthreadTag | static_cast<pthread_t>(s->self());
}

int kqsim_pthread_mutex_init(pthread_mutex_t* __restrict mutex, const pthread_mutexattr_t* __restrict attr) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_mutex_init(mutex, attr);
  tls_mutexes.map.erase(mutex);  // a fresh, unlocked mutex
  sim_mutex(s, mutex);
  return 0;
}

int kqsim_pthread_mutex_destroy(pthread_mutex_t* mutex) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_mutex_destroy(mutex);
  sim::BasicMutex* m = sim_mutex(s, mutex);
  if (m->owner() != sim::kNoThread) return EBUSY;
  tls_mutexes.map.erase(mutex);
  return 0;
}

int kqsim_pthread_mutex_lock(pthread_mutex_t* mutex) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_mutex_lock(mutex);
  sim::BasicMutex* m = sim_mutex(s, mutex);
  if (m->owner() == s->self()) return EDEADLK;  // as an error-checking mutex would
  m->lock();
  return 0;
}

int kqsim_pthread_mutex_trylock(pthread_mutex_t* mutex) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_mutex_trylock(mutex);
  return sim_mutex(s, mutex)->try_lock() ? 0 : EBUSY;
}

int kqsim_pthread_mutex_unlock(pthread_mutex_t* mutex) {
  sim::Scheduler* s = sim::Scheduler::current();
  if (s == nullptr) return pthread_mutex_unlock(mutex);
  sim_mutex(s, mutex)->unlock();
  return 0;
}

}  // extern "C"
