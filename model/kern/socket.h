// socket.h - stream sockets in the model: AF_UNIX socketpairs and stream
// sockets on a simulated loopback (listen queue, connect, accept, FIN, RST),
// with FreeBSD's kqueue filters filt_soread, filt_sowrite and filt_solisten.
//
// Read it beside FreeBSD 11's sys/kern/uipc_socket.c (soalloc, sonewconn,
// soclose, sokqfilter, filt_so*), uipc_socket2.c (sowakeup, socantrcvmore,
// soisconnected, soisdisconnected), uipc_usrreq.c (uipc_send/uipc_rcvd, the
// stream-pair protocol) and sys_socket.c (soo_read/soo_write/soo_close).
// What the model keeps from FreeBSD, and what it simplifies, is in
// docs/sockets.md; the short version:
//   - every socket is a connection-oriented stream (PR_CONNREQUIRED);
//   - an "address" is a port number; each domain (AF_UNIX, AF_INET) has its
//     own port namespace on one simulated host; a connect() to a listening
//     port completes at once (sonewconn + soisconnected in the caller), to any
//     other port it is refused (ECONNREFUSED);
//   - data written on one socket goes straight into its peer's receive buffer,
//     as uipc_send does for AF_UNIX streams; the sender's so_snd carries no
//     bytes but mirrors how full the peer's so_rcv is (sb_acc), which is what
//     filt_sowrite and a blocked writer look at (uipc_send/uipc_rcvd's
//     SB_STOP bookkeeping, made exact);
//   - close() of one end disconnects both (soisdisconnected on the peer, as
//     unp_disconnect does): the survivor reads what is buffered, then EOF;
//     writes fail with EPIPE. With SO_LINGER and a zero timeout
//     (sys_set_linger_reset) the close is a reset: the survivor also gets
//     so_error = ECONNRESET, which filters report in fflags and the next read
//     returns once, after buffered data.
//
// Locks (FreeBSD 11's; WITNESS classes in quotes):
//   so_globals.tcbinfo_mtx  "tcbinfo"  the port table (the inpcb hash lock)
//   so_globals.accept_mtx   "accept"   every listen queue (ACCEPT_LOCK)
//   socket.so_rcv.sb_mtx    "so_rcv"   the receive buffer, and the socket
//                                      itself: SOCK_LOCK(so) is this mutex
//   socket.so_snd.sb_mtx    "so_snd"   the send buffer
// Order:  Giant -> filedesc -> tcbinfo -> accept -> so_rcv -> so_snd -> kqueue locks
// A thread may hold the so_rcv of one socket and the so_snd of its peer
// (uipc_send's and uipc_rcvd's bookkeeping); it never holds two so_rcv or two
// so_snd mutexes, and never takes so_rcv while holding so_snd.
//
// Each sockbuf's knlist (sb_sel.si_note) is initialised with that sockbuf's
// mutex, so knote() and (in the "fine" design) kqueue_scan call the filter
// with it held. In the designs that call f_event with only the kq lock held
// ("none", "giant", "global") the filters run without it: every field a filter
// reads is therefore a sim::Atomic, written under its lock and loaded relaxed
// by the filter, a word-sized snapshot as FreeBSD's filters take with plain
// loads. Everything else is a sim::Cell (or only touched with a Cell of the
// same critical section), so an access outside its lock is a data race.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include <kqsim/sys/event.h>

#include "knote/knote.h"
#include "locks/mutex.h"
#include "model/kern/kern_types.h"
#include "model/sim/cell.h"
#include "model/sim/list.h"

namespace kqsim::kern {

// ---- userland constants (FreeBSD's values; the k prefix because <sys/socket.h>
// defines the bare names as macros) ----
inline constexpr int kAF_UNIX = 1;
inline constexpr int kAF_INET = 2;
inline constexpr int kSOCK_STREAM = 1;
inline constexpr int kSOCK_DGRAM = 2;
inline constexpr int kSOCK_CLOEXEC = 0x10000000;   // accepted, ignored (no exec in the model)
inline constexpr int kSOCK_NONBLOCK = 0x20000000;  // the descriptor gets kFNONBLOCK
inline constexpr int kIPPROTO_TCP = 6;
inline constexpr int kSHUT_RD = 0;
inline constexpr int kSHUT_WR = 1;
inline constexpr int kSHUT_RDWR = 2;
inline constexpr int kSOMAXCONN = 128;

// so_options (sys/socket.h SO_*).
inline constexpr int kSO_ACCEPTCONN = 0x0002;  // socket has had listen()
inline constexpr int kSO_LINGER = 0x0080;      // linger on close (so_linger seconds; 0 = reset)

// so_state (sys/socketvar.h).
inline constexpr int SS_NOFDREF = 0x0001;         // no file table ref any more
inline constexpr int SS_ISCONNECTED = 0x0002;     // socket connected to a peer
inline constexpr int SS_ISCONNECTING = 0x0004;    // in process of connecting to peer
inline constexpr int SS_ISDISCONNECTING = 0x0008; // in process of disconnecting
inline constexpr int SS_NBIO = 0x0100;            // non-blocking ops
inline constexpr int SS_ISDISCONNECTED = 0x2000;  // socket disconnected from peer

// sb_state (sys/sockbuf.h SBS_*): FreeBSD 5+ keeps "can't send/receive more"
// per buffer, under the buffer's lock (they were SS_CANT* in so_state before).
inline constexpr int SBS_CANTSENDMORE = 0x0010;  // can't send more data to peer
inline constexpr int SBS_CANTRCVMORE = 0x0020;   // can't receive more data from peer

// sb_flags (sys/sockbuf.h SB_*).
inline constexpr int SB_WAIT = 0x04;    // someone is waiting for data/space
inline constexpr int SB_KNOTE = 0x100;  // kernel note attached

// Buffer sizes: both buffers hold kSockBufSize bytes (PIPSIZ, FreeBSD's
// net.local.stream.sendspace); the send low-water mark is MCLBYTES, the
// receive low-water mark 1 (soreserve's defaults).
inline constexpr long kSockBufSize = 8192;
inline constexpr long kSndLowat = 2048;
inline constexpr long kRcvLowat = 1;
// First port given to a listen() or bind(0) without a port (IPPORT_EPHEMERALFIRST).
inline constexpr int kEphemeralFirst = 49152;

struct socket;
struct so_globals;

// struct selinfo, reduced to what kqueue uses.
struct selinfo {
  knlist si_note;  // the knotes of this buffer; initialised with sb_mtx
};

struct sockbuf {
  locks::mtx sb_mtx;           // "so_rcv" / "so_snd"
  selinfo sb_sel;              // knlist locked by sb_mtx
  sim::Atomic<int> sb_state;   // SBS_*; written under sb_mtx; filters read it
  sim::Atomic<long> sb_acc;    // bytes available (sbavail()); written under sb_mtx; filters read it.
                               // For so_snd: the bytes waiting in the peer's so_rcv (see above).
  sim::Cell<long> sb_ccc;      // bytes held, as the I/O paths see them; sb_mtx
  sim::Cell<int> sb_flags;     // SB_WAIT, SB_KNOTE; sb_mtx
  long sb_hiwat = kSockBufSize;  // constant
  long sb_lowat = kRcvLowat;     // constant
  std::string sb_mb;           // the bytes (so_rcv only); sb_mtx, always with sb_ccc
};

struct socket {
  // Constant after creation.
  int so_domain = 0;           // kAF_UNIX / kAF_INET
  short so_type = 0;           // kSOCK_STREAM
  so_globals* so_glob = nullptr;  // this World's port table and accept lock
  uint32_t so_serial = 0;      // for reports

  sim::Atomic<int> so_options;  // SO_*; SOCK_LOCK (kSO_ACCEPTCONN also ACCEPT_LOCK)
  sim::Cell<int> so_linger;     // seconds; SOCK_LOCK
  sim::Atomic<int> so_state;    // SS_*; SOCK_LOCK; filt_sowrite reads it
  sim::Atomic<int> so_error;    // pending error; set under SOCK_LOCK, consumed by
                                // soreceive (so_rcv) or sosend (so_snd); filters read it
  sim::Cell<socket*> so_peer;   // the other end (unp_conn / the TCP peer); SOCK_LOCK
  sim::Cell<int> so_port;       // bound port, 0 if none; tcbinfo

  // Listen state (FreeBSD 11's so_comp/so_qlen/so_qlimit/so_head; no so_incomp:
  // loopback connections are complete as soon as they exist).
  sim::TailqEntry so_list;      // on the head's so_comp; ACCEPT_LOCK
  sim::TailqHead<socket, &socket::so_list> so_comp;  // completed, unaccepted connections; ACCEPT_LOCK
  sim::Atomic<int> so_qlen;     // length of so_comp; ACCEPT_LOCK; filt_solisten reads it
  sim::Cell<int> so_qlimit;     // max queued connections (the backlog); ACCEPT_LOCK
  sim::Cell<socket*> so_head;   // the listener whose so_comp we are on; ACCEPT_LOCK
  char so_timeo = 0;            // wait channel: accept() sleeps on &so_timeo

  sockbuf so_rcv;               // receive buffer; its mutex is SOCK_LOCK
  sockbuf so_snd;               // send buffer
};

// Per-World socket state: the loopback port table and the accept lock.
// Created by the first socket of a World and owned by it.
struct so_port_entry {
  sim::Cell<int> pe_port;
  sim::Cell<int> pe_domain;
  sim::Cell<socket*> pe_so;     // nullptr once released
};
struct so_globals {
  locks::mtx tcbinfo_mtx;       // "tcbinfo"
  locks::mtx accept_mtx;        // "accept"
  std::deque<so_port_entry> ports;  // grows only; tcbinfo, always with nports
  sim::Cell<size_t> nports;     // tcbinfo
  sim::Cell<int> next_ephemeral;  // tcbinfo

  explicit so_globals(World* w);
  ~so_globals();
  so_globals(const so_globals&) = delete;
  so_globals& operator=(const so_globals&) = delete;

 private:
  World* world_;
};

// ---- locking (FreeBSD's macros, with the caller's site) ----
inline void SOCKBUF_LOCK(sockbuf* sb, SrcLoc loc = SrcLoc::current()) { locks::mtx_lock(&sb->sb_mtx, loc); }
inline void SOCKBUF_UNLOCK(sockbuf* sb, SrcLoc loc = SrcLoc::current()) { locks::mtx_unlock(&sb->sb_mtx, loc); }
inline void SOCKBUF_LOCK_ASSERT(sockbuf* sb, SrcLoc loc = SrcLoc::current()) {
  locks::mtx_assert(&sb->sb_mtx, locks::MA_OWNED, loc);
}
inline void SOCK_LOCK(socket* so, SrcLoc loc = SrcLoc::current()) { SOCKBUF_LOCK(&so->so_rcv, loc); }
inline void SOCK_UNLOCK(socket* so, SrcLoc loc = SrcLoc::current()) { SOCKBUF_UNLOCK(&so->so_rcv, loc); }
inline void SOCK_LOCK_ASSERT(socket* so, SrcLoc loc = SrcLoc::current()) { SOCKBUF_LOCK_ASSERT(&so->so_rcv, loc); }
inline void ACCEPT_LOCK(socket* so, SrcLoc loc = SrcLoc::current()) {
  locks::mtx_lock(&so->so_glob->accept_mtx, loc);
}
inline void ACCEPT_UNLOCK(socket* so, SrcLoc loc = SrcLoc::current()) {
  locks::mtx_unlock(&so->so_glob->accept_mtx, loc);
}

// ---- the socket layer (uipc_socket.c names; each returns 0 or a FreeBSD errno) ----

// The socket fileops (soo_read, soo_write, soo_kqfilter, soo_close).
extern const fileops socketops;

// A new unconnected stream socket of `domain` (socreate).
int socreate(int domain, int type, int proto, socket** sop);
// Connects two fresh sockets to each other (socketpair's soconnect2).
int soconnect2(socket* so1, socket* so2);
int sobind(socket* so, int port);
int solisten(socket* so, int backlog);
// Connects to the listener on `port` of the socket's domain; the connection is
// complete when it returns 0.
int soconnect(socket* so, int port);
// Takes the first completed connection off `head`'s queue; sleeps for one
// unless `nonblock` (EWOULDBLOCK).
int soaccept_dequeue(socket* head, bool nonblock, socket** sop);
int soshutdown(socket* so, int how);
// The last close (soo_close): disconnects (FIN, or RST with SO_LINGER 0) and
// clears the knlists.
int soclose(socket* so);
int soreceive(socket* so, void* buf, size_t len, size_t* done, bool nonblock);
int sosend(socket* so, const void* buf, size_t len, size_t* done, bool nonblock);
int sokqfilter(socket* so, knote* kn);
// SO_LINGER with l_linger = 0.
int sosetlinger_reset(socket* so);

// Wakeups (uipc_socket2.c): KNOTE the buffer's knlist and wake sleepers. The
// _locked forms are entered with the buffer's lock held and drop it, as
// FreeBSD's do.
void sorwakeup_locked(socket* so);
void sowwakeup_locked(socket* so);
void sorwakeup(socket* so);
void sowwakeup(socket* so);

// The socket behind a descriptor: a reference on its file (release with
// fdrop) or EBADF / ENOTSOCK.
int getsock(thread* td, int fd, file** fpp, socket** sop);

// The syscalls' bodies (socket_syscalls.cc wraps them in a SyscallScope).
int kern_socket(thread* td, int domain, int type, int protocol, int* fdp);
int kern_socketpair(thread* td, int domain, int type, int protocol, int fds[2]);
int kern_accept(thread* td, int fd, int* newfdp);

}  // namespace kqsim::kern
