// socket.cc - the socket layer of the model: socket buffers and their
// wakeups, the loopback port table, listen/connect/accept, shutdown, close
// (FIN or RST), the socket fileops and the kqueue filters.
//
// FreeBSD 11's sys/kern/uipc_socket.c, uipc_socket2.c, uipc_usrreq.c and
// sys_socket.c are the reference; socket.h states the locks and what the
// model simplifies. Functions keep FreeBSD's names where they do FreeBSD's
// job. Lock and Cell accesses pass no SrcLoc explicitly: each one's default
// argument is its line here, which is what reports print.
#include "model/kern/socket.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "locks/kassert.h"
#include "locks/sleepq.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/world.h"

namespace kqsim::kern {

using namespace bsd;

namespace {

constexpr auto rlx = std::memory_order_relaxed;

// ---- per-World globals: a registry keyed by World, emptied by the globals'
// own destructor when the World destroys them (so a new World at the same
// address never finds a stale entry) ----

std::mutex& registry_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::unordered_map<const World*, so_globals*>& registry() {
  static auto* r = new std::unordered_map<const World*, so_globals*>;
  return *r;
}

so_globals* so_globals_get() {
  World* w = World::current();
  KASSERT(w != nullptr, ("sockets need a World"));
  // No scheduling point happens under registry_mutex (construction of
  // so_globals initialises mutexes and Cells only), so a fiber switch can
  // never find it held.
  std::lock_guard<std::mutex> g(registry_mutex());
  auto it = registry().find(w);
  if (it != registry().end()) return it->second;
  so_globals* glob = w->make<so_globals>(w);
  registry()[w] = glob;
  return glob;
}

// ---- small helpers ----

int so_state_load(const socket* so) { return so->so_state.load(rlx); }
void so_state_change(socket* so, int clear, int set) {
  SOCK_LOCK_ASSERT(so);
  so->so_state.store((so->so_state.load(rlx) & ~clear) | set, rlx);
}
void sb_state_set(sockbuf* sb, int bits) {
  SOCKBUF_LOCK_ASSERT(sb);
  sb->sb_state.store(sb->sb_state.load(rlx) | bits, rlx);
}
bool sb_cant(const sockbuf* sb, int bit) { return (sb->sb_state.load(rlx) & bit) != 0; }
bool so_listening(const socket* so) { return (so->so_options.load(rlx) & kSO_ACCEPTCONN) != 0; }

// sb_ccc and the filters' sb_acc move together, under sb_mtx.
void sb_setcc(sockbuf* sb, long cc) {
  SOCKBUF_LOCK_ASSERT(sb);
  sb->sb_ccc.store(cc);
  sb->sb_acc.store(cc, rlx);
}
void sbappend_locked(sockbuf* sb, const char* p, size_t n) {
  long cc = sb->sb_ccc.load();
  sb->sb_mb.append(p, n);
  sb_setcc(sb, cc + static_cast<long>(n));
}
void sbflush_locked(sockbuf* sb) {
  sb->sb_ccc.load();
  sb->sb_mb.clear();
  sb_setcc(sb, 0);
}
long sbspace(const sockbuf* sb) { return sb->sb_hiwat - sb->sb_acc.load(rlx); }

// sowakeup() without its final unlock: wake sleepers, then KNOTE, as FreeBSD's
// sowakeup does (selwakeup; SB_WAIT wakeup; KNOTE_LOCKED).
void sowakeup_keep(sockbuf* sb) {
  SOCKBUF_LOCK_ASSERT(sb);
  int f = sb->sb_flags.load();
  if (f & SB_WAIT) {
    sb->sb_flags.store(f & ~SB_WAIT);
    locks::wakeup(&sb->sb_acc);
  }
  KNOTE_LOCKED(&sb->sb_sel.si_note, 0);
}
void sowakeup(sockbuf* sb) {
  sowakeup_keep(sb);
  SOCKBUF_UNLOCK(sb);
}

// sbwait(): sleep until sowakeup() on this buffer.
int sbwait(sockbuf* sb) {
  SOCKBUF_LOCK_ASSERT(sb);
  sb->sb_flags.store(sb->sb_flags.load() | SB_WAIT);
  return locks::msleep(&sb->sb_acc, &sb->sb_mtx, locks::PSOCK | locks::PCATCH, "sbwait", 0);
}

// ---- the port table (tcbinfo held) ----

so_port_entry* port_lookup(so_globals* g, int domain, int port) {
  size_t n = g->nports.load();
  for (size_t i = 0; i < n; ++i) {
    so_port_entry* e = &g->ports[i];
    if (e->pe_port.load() == port && e->pe_domain.load() == domain) return e;
  }
  return nullptr;
}

int port_claim(so_globals* g, socket* so, int port) {
  locks::mtx_assert(&g->tcbinfo_mtx, locks::MA_OWNED);
  so_port_entry* e = port_lookup(g, so->so_domain, port);
  if (e != nullptr && e->pe_so.load() != nullptr) return kEADDRINUSE;
  if (e == nullptr) {
    size_t n = g->nports.load();
    g->ports.emplace_back();
    g->nports.store(n + 1);
    e = &g->ports.back();
    e->pe_port.store(port);
    e->pe_domain.store(so->so_domain);
  }
  e->pe_so.store(so);
  so->so_port.store(port);
  return 0;
}

// in_pcbbind with port 0: the next free port from kEphemeralFirst.
int port_claim_ephemeral(so_globals* g, socket* so) {
  int first = g->next_ephemeral.load();
  for (int i = 0; i <= 65535 - kEphemeralFirst; ++i) {
    int port = kEphemeralFirst + (first - kEphemeralFirst + i) % (65536 - kEphemeralFirst);
    if (port_claim(g, so, port) == 0) {
      g->next_ephemeral.store(port == 65535 ? kEphemeralFirst : port + 1);
      return 0;
    }
  }
  return kEADDRNOTAVAIL;
}

void port_release(socket* so) {
  so_globals* g = so->so_glob;
  locks::mtx_lock(&g->tcbinfo_mtx);
  int port = so->so_port.load();
  if (port != 0) {
    so_port_entry* e = port_lookup(g, so->so_domain, port);
    if (e != nullptr && e->pe_so.load() == so) e->pe_so.store(nullptr);
    so->so_port.store(0);
  }
  locks::mtx_unlock(&g->tcbinfo_mtx);
}

// ---- allocation ----

socket* soalloc(so_globals* g, int domain) {
  World* w = World::current();
  socket* so = w->make<socket>();
  so->so_domain = domain;
  so->so_type = kSOCK_STREAM;
  so->so_glob = g;
  so->so_serial = w->next_serial();
  locks::mtx_init(&so->so_rcv.sb_mtx, "so_rcv", nullptr, locks::MTX_DEF);
  locks::mtx_init(&so->so_snd.sb_mtx, "so_snd", nullptr, locks::MTX_DEF);
  knlist_init_mtx(&so->so_rcv.sb_sel.si_note, &so->so_rcv.sb_mtx);
  knlist_init_mtx(&so->so_snd.sb_sel.si_note, &so->so_snd.sb_mtx);
  so->so_rcv.sb_lowat = kRcvLowat;
  so->so_snd.sb_lowat = kSndLowat;
  return so;
}

// ---- connection state changes (uipc_socket2.c) ----

void soisconnected(socket* so) {
  SOCK_LOCK(so);
  so_state_change(so, SS_ISCONNECTING | SS_ISDISCONNECTING | SS_ISDISCONNECTED, SS_ISCONNECTED);
  SOCK_UNLOCK(so);
  locks::wakeup(&so->so_timeo);
  sorwakeup(so);
  sowwakeup(so);
}

// soisdisconnected() of the closing end: nothing more arrives or leaves,
// buffered data is gone. Returns the peer it was connected to.
socket* soisdisconnected_self(socket* so) {
  SOCK_LOCK(so);
  SOCKBUF_LOCK(&so->so_snd);
  socket* peer = so->so_peer.load();
  so->so_peer.store(nullptr);
  so_state_change(so, SS_ISCONNECTING | SS_ISCONNECTED | SS_ISDISCONNECTING, SS_ISDISCONNECTED);
  sb_state_set(&so->so_rcv, SBS_CANTRCVMORE);
  sbflush_locked(&so->so_rcv);
  sb_state_set(&so->so_snd, SBS_CANTSENDMORE);
  sbflush_locked(&so->so_snd);
  sowakeup_keep(&so->so_rcv);
  sowakeup(&so->so_snd);
  SOCK_UNLOCK(so);
  locks::wakeup(&so->so_timeo);
  return peer;
}

// The other end went away (unp_disconnect -> soisdisconnected on the
// survivor; tcp_drop -> so_error + soisdisconnected for a reset): what is
// buffered stays readable, then EOF; nothing more can be sent. `error` is 0
// for an orderly close (FIN), ECONNRESET for a reset. Both knlists are
// notified with every state change already made.
void soisdisconnected_peer(socket* so, socket* from, int error) {
  SOCK_LOCK(so);
  if (so->so_peer.load() != from) {  // already disconnected from `from`
    SOCK_UNLOCK(so);
    return;
  }
  SOCKBUF_LOCK(&so->so_snd);
  so->so_peer.store(nullptr);
  if (error != 0) so->so_error.store(error, rlx);
  so_state_change(so, SS_ISCONNECTING | SS_ISCONNECTED | SS_ISDISCONNECTING, SS_ISDISCONNECTED);
  sb_state_set(&so->so_rcv, SBS_CANTRCVMORE);
  sb_state_set(&so->so_snd, SBS_CANTSENDMORE);
  sbflush_locked(&so->so_snd);  // the mirror of the peer's buffer
  sowakeup_keep(&so->so_rcv);
  sowakeup(&so->so_snd);
  SOCK_UNLOCK(so);
  locks::wakeup(&so->so_timeo);
}

// Tears `so` down and tells its peer: FIN, or RST when `reset`.
void sodisconnect_and_notify(socket* so, bool reset) {
  socket* peer = soisdisconnected_self(so);
  if (peer != nullptr) soisdisconnected_peer(peer, so, reset ? kECONNRESET : 0);
}

// soabort(): an unaccepted connection dropped (listener closed, or accept
// could not give it a descriptor). The client sees a reset, as tcp_usr_abort
// sends one.
void soabort(socket* so) {
  sodisconnect_and_notify(so, /*reset=*/true);
  knlist_clear(&so->so_rcv.sb_sel.si_note, 0);
  knlist_clear(&so->so_snd.sb_sel.si_note, 0);
}

// sonewconn(head, SS_ISCONNECTED) plus the pairing the protocol does: a new
// connected socket on head's completed queue, its peer `client`. nullptr when
// head is no longer listening or its queue is over 3/2 of the backlog.
socket* sonewconn(socket* head, socket* client) {
  ACCEPT_LOCK(head);
  int qlimit = head->so_qlimit.load();
  if (!so_listening(head) || head->so_qlen.load(rlx) > 3 * qlimit / 2) {
    ACCEPT_UNLOCK(head);
    return nullptr;
  }
  socket* so = soalloc(head->so_glob, head->so_domain);
  SOCK_LOCK(head);
  int options = head->so_options.load(rlx) & ~kSO_ACCEPTCONN;
  int linger = head->so_linger.load();
  SOCK_UNLOCK(head);
  // `so` is not published yet (only the queue insertion below does that,
  // under ACCEPT_LOCK), so its fields are set without its lock.
  so->so_options.store(options, rlx);
  so->so_linger.store(linger);
  so->so_state.store(SS_ISCONNECTED, rlx);
  so->so_peer.store(client);
  SOCK_LOCK(client);
  client->so_peer.store(so);
  SOCK_UNLOCK(client);
  head->so_comp.insert_tail(so);
  so->so_head.store(head);
  head->so_qlen.store(head->so_qlen.load(rlx) + 1, rlx);
  ACCEPT_UNLOCK(head);
  sorwakeup(head);
  locks::wakeup_one(&head->so_timeo);
  return so;
}

// ---- the kqueue filters (uipc_socket.c) ----

void filt_sordetach(knote* kn);
void filt_sowdetach(knote* kn);
int filt_soread(knote* kn, long hint);
int filt_sowrite(knote* kn, long hint);
int filt_solisten(knote* kn, long hint);

const filterops solisten_filtops = {1, nullptr, filt_sordetach, filt_solisten, nullptr};
const filterops soread_filtops = {1, nullptr, filt_sordetach, filt_soread, nullptr};
const filterops sowrite_filtops = {1, nullptr, filt_sowdetach, filt_sowrite, nullptr};

socket* kn_socket(knote* kn) { return static_cast<socket*>(kn->kn_fp->f_data); }

// SOCKBUF_LOCK_ASSERT for a filter: only where the design calls every
// f_event with the knlist lock held (see socket.h).
void filt_assert_sb(sockbuf* sb) {
  if (World::current()->design().scan_drops_kq_lock) SOCKBUF_LOCK_ASSERT(sb);
}

void kn_set_eof(knote* kn, int error) {
  kn->kn_kevent.flags.store(kn->kn_kevent.flags.load() | EV_EOF);
  kn->kn_kevent.fflags.store(static_cast<unsigned int>(error));
}

void filt_sordetach(knote* kn) {
  socket* so = kn_socket(kn);
  SOCKBUF_LOCK(&so->so_rcv);
  knlist_remove(&so->so_rcv.sb_sel.si_note, kn, 1);
  if (knlist_empty(&so->so_rcv.sb_sel.si_note)) so->so_rcv.sb_flags.store(so->so_rcv.sb_flags.load() & ~SB_KNOTE);
  SOCKBUF_UNLOCK(&so->so_rcv);
}

int filt_soread(knote* kn, long /*hint*/) {
  socket* so = kn_socket(kn);
  filt_assert_sb(&so->so_rcv);
  int64_t avail = so->so_rcv.sb_acc.load(rlx);
  kn->kn_kevent.data.store(avail);
  if (so->so_rcv.sb_state.load(rlx) & SBS_CANTRCVMORE) {
    kn_set_eof(kn, so->so_error.load(rlx));
    return 1;
  }
  if (so->so_error.load(rlx) != 0) return 1;
  if (kn->kn_sfflags.load() & NOTE_LOWAT) return avail >= kn->kn_sdata.load();
  return avail >= so->so_rcv.sb_lowat;
}

void filt_sowdetach(knote* kn) {
  socket* so = kn_socket(kn);
  SOCKBUF_LOCK(&so->so_snd);
  knlist_remove(&so->so_snd.sb_sel.si_note, kn, 1);
  if (knlist_empty(&so->so_snd.sb_sel.si_note)) so->so_snd.sb_flags.store(so->so_snd.sb_flags.load() & ~SB_KNOTE);
  SOCKBUF_UNLOCK(&so->so_snd);
}

int filt_sowrite(knote* kn, long /*hint*/) {
  socket* so = kn_socket(kn);
  filt_assert_sb(&so->so_snd);
  int64_t space = sbspace(&so->so_snd);
  kn->kn_kevent.data.store(space);
  if (so->so_snd.sb_state.load(rlx) & SBS_CANTSENDMORE) {
    kn_set_eof(kn, so->so_error.load(rlx));
    return 1;
  }
  if (so->so_error.load(rlx) != 0) return 1;  // temporary udp error
  // Every model socket is connection-oriented (PR_CONNREQUIRED).
  if ((so->so_state.load(rlx) & SS_ISCONNECTED) == 0) return 0;
  if (kn->kn_sfflags.load() & NOTE_LOWAT) return space >= kn->kn_sdata.load();
  return space >= so->so_snd.sb_lowat;
}

int filt_solisten(knote* kn, long /*hint*/) {
  socket* so = kn_socket(kn);
  filt_assert_sb(&so->so_rcv);
  int qlen = so->so_qlen.load(rlx);
  kn->kn_kevent.data.store(qlen);
  return qlen > 0;
}

// ---- fileops (sys_socket.c) ----

socket* fp_socket(file* fp) { return static_cast<socket*>(fp->f_data); }

int soo_read(file* fp, void* buf, size_t len, size_t* done, thread* /*td*/) {
  return soreceive(fp_socket(fp), buf, len, done, (fp->f_flag & kFNONBLOCK) != 0);
}
int soo_write(file* fp, const void* buf, size_t len, size_t* done, thread* /*td*/) {
  return sosend(fp_socket(fp), buf, len, done, (fp->f_flag & kFNONBLOCK) != 0);
}
int soo_kqfilter(file* fp, knote* kn) { return sokqfilter(fp_socket(fp), kn); }
int soo_close(file* fp, thread* /*td*/) { return soclose(fp_socket(fp)); }

}  // namespace

const fileops socketops = {soo_read, soo_write, soo_kqfilter, soo_close};

so_globals::so_globals(World* w) : nports(0), next_ephemeral(kEphemeralFirst), world_(w) {
  locks::mtx_init(&tcbinfo_mtx, "tcbinfo", nullptr, locks::MTX_DEF);
  locks::mtx_init(&accept_mtx, "accept", nullptr, locks::MTX_DEF);
}

so_globals::~so_globals() {
  std::lock_guard<std::mutex> g(registry_mutex());
  auto it = registry().find(world_);
  if (it != registry().end() && it->second == this) registry().erase(it);
}

// ---- wakeups ----

void sorwakeup_locked(socket* so) { sowakeup(&so->so_rcv); }
void sowwakeup_locked(socket* so) { sowakeup(&so->so_snd); }
void sorwakeup(socket* so) {
  SOCKBUF_LOCK(&so->so_rcv);
  sorwakeup_locked(so);
}
void sowwakeup(socket* so) {
  SOCKBUF_LOCK(&so->so_snd);
  sowwakeup_locked(so);
}

// ---- the socket layer ----

int socreate(int domain, int type, int proto, socket** sop) {
  if (domain != kAF_UNIX && domain != kAF_INET) return kEAFNOSUPPORT;
  if (type == kSOCK_DGRAM) return kEPROTONOSUPPORT;  // FreeBSD has them; the model does not
  if (type != kSOCK_STREAM) return kEPROTOTYPE;
  if (proto != 0 && !(domain == kAF_INET && proto == kIPPROTO_TCP)) return kEPROTONOSUPPORT;
  *sop = soalloc(so_globals_get(), domain);
  return 0;
}

int soconnect2(socket* so1, socket* so2) {
  // Neither socket is published yet.
  so1->so_peer.store(so2);
  so2->so_peer.store(so1);
  so1->so_state.store(so1->so_state.load(rlx) | SS_ISCONNECTED, rlx);
  so2->so_state.store(so2->so_state.load(rlx) | SS_ISCONNECTED, rlx);
  return 0;
}

int sobind(socket* so, int port) {
  if (port < 0 || port > 65535) return kEINVAL;
  so_globals* g = so->so_glob;
  locks::mtx_lock(&g->tcbinfo_mtx);
  int error;
  if (so->so_port.load() != 0) error = kEINVAL;  // already bound
  else if (port == 0) error = port_claim_ephemeral(g, so);
  else error = port_claim(g, so, port);
  locks::mtx_unlock(&g->tcbinfo_mtx);
  return error;
}

int solisten(socket* so, int backlog) {
  so_globals* g = so->so_glob;
  locks::mtx_lock(&g->tcbinfo_mtx);
  ACCEPT_LOCK(so);
  SOCK_LOCK(so);
  int error = 0;
  // solisten_proto_check: a connected (or once connected) socket cannot listen.
  if (so_state_load(so) & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING | SS_ISDISCONNECTED)) {
    error = kEINVAL;
  } else if (so->so_port.load() == 0) {
    // AF_UNIX: listen needs a bound address (uipc_listen); TCP binds an
    // ephemeral port (tcp_usr_listen -> in_pcbbind).
    error = so->so_domain == kAF_UNIX ? kEINVAL : port_claim_ephemeral(g, so);
  }
  if (error == 0) {
    // solisten_proto
    if (backlog < 0 || backlog > kSOMAXCONN) backlog = kSOMAXCONN;
    so->so_qlimit.store(backlog);
    so->so_options.store(so->so_options.load(rlx) | kSO_ACCEPTCONN, rlx);
  }
  SOCK_UNLOCK(so);
  ACCEPT_UNLOCK(so);
  locks::mtx_unlock(&g->tcbinfo_mtx);
  return error;
}

int soconnect(socket* so, int port) {
  if (so_listening(so)) return kEOPNOTSUPP;
  if (port <= 0 || port > 65535) return kEADDRNOTAVAIL;
  so_globals* g = so->so_glob;
  locks::mtx_lock(&g->tcbinfo_mtx);
  SOCK_LOCK(so);
  int st = so_state_load(so);
  if (st & (SS_ISCONNECTED | SS_ISCONNECTING)) {
    SOCK_UNLOCK(so);
    locks::mtx_unlock(&g->tcbinfo_mtx);
    return kEISCONN;
  }
  if (st & SS_ISDISCONNECTED) {  // the model does not reuse a socket for a second connection
    SOCK_UNLOCK(so);
    locks::mtx_unlock(&g->tcbinfo_mtx);
    return kEINVAL;
  }
  so->so_error.store(0, rlx);  // "prevent accumulated error from previous connection from biting us"
  so_state_change(so, SS_ISCONNECTED | SS_ISDISCONNECTING, SS_ISCONNECTING);  // soisconnecting
  SOCK_UNLOCK(so);
  // The loopback's answer to the SYN.
  so_port_entry* e = port_lookup(g, so->so_domain, port);
  socket* head = e != nullptr ? e->pe_so.load() : nullptr;
  socket* sp = nullptr;
  if (head != nullptr && head != so && so_listening(head)) sp = sonewconn(head, so);
  locks::mtx_unlock(&g->tcbinfo_mtx);
  if (sp == nullptr) {
    SOCK_LOCK(so);
    so_state_change(so, SS_ISCONNECTING, 0);
    SOCK_UNLOCK(so);
    return kECONNREFUSED;
  }
  soisconnected(so);
  return 0;
}

int soaccept_dequeue(socket* head, bool nonblock, socket** sop) {
  ACCEPT_LOCK(head);
  if (!so_listening(head)) {
    ACCEPT_UNLOCK(head);
    return kEINVAL;
  }
  if (nonblock && head->so_comp.empty()) {
    ACCEPT_UNLOCK(head);
    return kEWOULDBLOCK;
  }
  int error = 0;
  while (head->so_comp.empty() && head->so_error.load(rlx) == 0) {
    if (sb_cant(&head->so_rcv, SBS_CANTRCVMORE)) {
      head->so_error.store(kECONNABORTED, rlx);
      break;
    }
    error = locks::msleep(&head->so_timeo, &head->so_glob->accept_mtx, locks::PSOCK | locks::PCATCH, "accept", 0);
    if (error != 0) {
      ACCEPT_UNLOCK(head);
      return error;
    }
  }
  if (head->so_error.load(rlx) != 0) {
    error = head->so_error.exchange(0, rlx);
    ACCEPT_UNLOCK(head);
    return error;
  }
  socket* so = head->so_comp.first();
  head->so_comp.remove(so);
  head->so_qlen.store(head->so_qlen.load(rlx) - 1, rlx);
  so->so_head.store(nullptr);
  ACCEPT_UNLOCK(head);
  *sop = so;
  return 0;
}

int soshutdown(socket* so, int how) {
  if (how != kSHUT_RD && how != kSHUT_WR && how != kSHUT_RDWR) return kEINVAL;
  if (so_listening(so)) {
    // FreeBSD 12+: wake accept() with ECONNABORTED, answer ENOTCONN.
    if (how != kSHUT_WR) {
      ACCEPT_LOCK(so);
      so->so_error.store(kECONNABORTED, rlx);
      locks::wakeup(&so->so_timeo);
      ACCEPT_UNLOCK(so);
      sorwakeup(so);
    }
    return kENOTCONN;
  }
  SOCK_LOCK(so);
  if ((so_state_load(so) & (SS_ISCONNECTED | SS_ISCONNECTING | SS_ISDISCONNECTING)) == 0) {
    SOCK_UNLOCK(so);
    return kENOTCONN;
  }
  socket* peer = so->so_peer.load();
  if (how != kSHUT_WR) {
    // sorflush: nothing more will be read; what is buffered is discarded and
    // the peer's sender learns it has room again (uipc_rcvd).
    sb_state_set(&so->so_rcv, SBS_CANTRCVMORE);
    sbflush_locked(&so->so_rcv);
    if (peer != nullptr) {
      SOCKBUF_LOCK(&peer->so_snd);
      if (!sb_cant(&peer->so_snd, SBS_CANTSENDMORE)) sb_setcc(&peer->so_snd, 0);
      sowwakeup_locked(peer);
    }
    sorwakeup_locked(so);
  } else {
    SOCK_UNLOCK(so);
  }
  if (how != kSHUT_RD) {
    // socantsendmore here, and the FIN: socantrcvmore on the peer.
    SOCKBUF_LOCK(&so->so_snd);
    sb_state_set(&so->so_snd, SBS_CANTSENDMORE);
    sowwakeup_locked(so);
    if (peer != nullptr) {
      SOCK_LOCK(peer);
      if (peer->so_peer.load() == so) {
        sb_state_set(&peer->so_rcv, SBS_CANTRCVMORE);
        sorwakeup_locked(peer);
      } else {
        SOCK_UNLOCK(peer);
      }
    }
  }
  return 0;
}

int soclose(socket* so) {
  port_release(so);
  // Drop the connections nobody accepted (soclose's so_comp loop).
  if (so_listening(so)) {
    ACCEPT_LOCK(so);
    SOCK_LOCK(so);
    so->so_options.store(so->so_options.load(rlx) & ~kSO_ACCEPTCONN, rlx);
    SOCK_UNLOCK(so);
    socket* sp;
    while ((sp = so->so_comp.first()) != nullptr) {
      so->so_comp.remove(sp);
      so->so_qlen.store(so->so_qlen.load(rlx) - 1, rlx);
      sp->so_head.store(nullptr);
      ACCEPT_UNLOCK(so);
      soabort(sp);
      ACCEPT_LOCK(so);
    }
    ACCEPT_UNLOCK(so);
  }
  SOCK_LOCK(so);
  bool reset = (so->so_options.load(rlx) & kSO_LINGER) != 0 && so->so_linger.load() == 0;
  SOCK_UNLOCK(so);
  sodisconnect_and_notify(so, reset);
  // knote_fdclose removed the knotes of the closed descriptor before the last
  // fdrop; clear anything left (FreeBSD's sofree drains and destroys the
  // knlists) so that no knote keeps pointing at a closed socket.
  knlist_clear(&so->so_rcv.sb_sel.si_note, 0);
  knlist_clear(&so->so_snd.sb_sel.si_note, 0);
  knlist_destroy(&so->so_rcv.sb_sel.si_note);
  knlist_destroy(&so->so_snd.sb_sel.si_note);
  return 0;
}

int sosetlinger_reset(socket* so) {
  SOCK_LOCK(so);
  so->so_options.store(so->so_options.load(rlx) | kSO_LINGER, rlx);
  so->so_linger.store(0);
  SOCK_UNLOCK(so);
  return 0;
}

// soreceive_stream, reduced: data first; then a pending error (once), then
// EOF; otherwise sleep (or EWOULDBLOCK).
int soreceive(socket* so, void* buf, size_t len, size_t* done, bool nonblock) {
  *done = 0;
  sockbuf* sb = &so->so_rcv;
  SOCKBUF_LOCK(sb);
  long cc;
  for (;;) {
    cc = sb->sb_ccc.load();
    if (cc > 0) break;
    if (so->so_error.load(rlx) != 0) {
      int error = so->so_error.exchange(0, rlx);
      SOCKBUF_UNLOCK(sb);
      return error;
    }
    if (sb_cant(sb, SBS_CANTRCVMORE) || len == 0) {
      SOCKBUF_UNLOCK(sb);
      return 0;
    }
    if ((so_state_load(so) & (SS_ISCONNECTED | SS_ISCONNECTING)) == 0) {
      SOCKBUF_UNLOCK(sb);
      return kENOTCONN;
    }
    if (nonblock) {
      SOCKBUF_UNLOCK(sb);
      return kEWOULDBLOCK;
    }
    int error = sbwait(sb);
    if (error != 0) {
      SOCKBUF_UNLOCK(sb);
      return error;
    }
  }
  size_t n = std::min(len, static_cast<size_t>(cc));
  std::memcpy(buf, sb->sb_mb.data(), n);
  sb->sb_mb.erase(0, n);
  sb_setcc(sb, cc - static_cast<long>(n));
  // uipc_rcvd: the peer's sender sees the room we just made.
  if (socket* peer = so->so_peer.load()) {
    SOCKBUF_LOCK(&peer->so_snd);
    if (!sb_cant(&peer->so_snd, SBS_CANTSENDMORE)) sb_setcc(&peer->so_snd, cc - static_cast<long>(n));
    sowwakeup_locked(peer);
  }
  SOCKBUF_UNLOCK(sb);
  *done = n;
  return 0;
}

// sosend_generic + uipc_send, reduced: the bytes go straight into the peer's
// receive buffer; a writer that finds less room than it needs and than the
// low-water mark sleeps on its own so_snd until uipc_rcvd wakes it.
int sosend(socket* so, const void* buf, size_t len, size_t* done, bool nonblock) {
  *done = 0;
  const char* p = static_cast<const char*>(buf);
  size_t resid = len;
  int error = 0;
  for (;;) {
    SOCKBUF_LOCK(&so->so_snd);
    if (sb_cant(&so->so_snd, SBS_CANTSENDMORE)) {
      SOCKBUF_UNLOCK(&so->so_snd);
      error = kEPIPE;
      break;
    }
    if (so->so_error.load(rlx) != 0) {
      error = so->so_error.exchange(0, rlx);
      SOCKBUF_UNLOCK(&so->so_snd);
      if (error != 0) break;
      continue;
    }
    SOCKBUF_UNLOCK(&so->so_snd);
    SOCK_LOCK(so);
    int st = so_state_load(so);
    socket* peer = so->so_peer.load();
    SOCK_UNLOCK(so);
    if ((st & SS_ISCONNECTED) == 0 || peer == nullptr) {
      error = (st & SS_ISDISCONNECTED) ? kEPIPE : kENOTCONN;
      break;
    }
    if (resid == 0) break;
    SOCKBUF_LOCK(&peer->so_rcv);
    if (sb_cant(&peer->so_rcv, SBS_CANTRCVMORE)) {
      // The peer reads no more (shutdown(SHUT_RD), or it is closing): the
      // data is dropped, as tcp_input drops it.
      SOCKBUF_UNLOCK(&peer->so_rcv);
      *done += resid;
      break;
    }
    long space = peer->so_rcv.sb_hiwat - peer->so_rcv.sb_ccc.load();
    if (space < static_cast<long>(resid) && space < so->so_snd.sb_lowat) {
      SOCKBUF_UNLOCK(&peer->so_rcv);
      if (nonblock) {
        if (*done == 0) error = kEWOULDBLOCK;  // a short count otherwise, as dofilewrite makes it
        break;
      }
      SOCKBUF_LOCK(&so->so_snd);
      while (sbspace(&so->so_snd) < static_cast<long>(resid) && sbspace(&so->so_snd) < so->so_snd.sb_lowat &&
             !sb_cant(&so->so_snd, SBS_CANTSENDMORE) && so->so_error.load(rlx) == 0) {
        error = sbwait(&so->so_snd);
        if (error != 0) break;
      }
      SOCKBUF_UNLOCK(&so->so_snd);
      if (error != 0) break;
      continue;
    }
    size_t n = std::min(resid, static_cast<size_t>(space));
    sbappend_locked(&peer->so_rcv, p, n);
    long cc = peer->so_rcv.sb_ccc.load();
    SOCKBUF_LOCK(&so->so_snd);
    if (!sb_cant(&so->so_snd, SBS_CANTSENDMORE)) sb_setcc(&so->so_snd, cc);
    SOCKBUF_UNLOCK(&so->so_snd);
    sorwakeup_locked(peer);
    p += n;
    resid -= n;
    *done += n;
    if (resid == 0) break;
  }
  return error;
}

int sokqfilter(socket* so, knote* kn) {
  sockbuf* sb;
  switch (kn->kn_filter()) {
    case EVFILT_READ:
      // Chosen once, at attach: a socket that listen()s later keeps
      // filt_soread (FreeBSD before 12, where filt_soread looks at
      // SOLISTENING each time).
      kn->kn_fop = so_listening(so) ? &solisten_filtops : &soread_filtops;
      sb = &so->so_rcv;
      break;
    case EVFILT_WRITE:
      kn->kn_fop = &sowrite_filtops;
      sb = &so->so_snd;
      break;
    default:
      return kEINVAL;
  }
  SOCKBUF_LOCK(sb);
  knlist_add(&sb->sb_sel.si_note, kn, 1);
  sb->sb_flags.store(sb->sb_flags.load() | SB_KNOTE);
  SOCKBUF_UNLOCK(sb);
  return 0;
}

int getsock(thread* td, int fd, file** fpp, socket** sop) {
  file* fp;
  int error = fget(td, fd, &fp);
  if (error != 0) return error;
  if (fp->f_type != DTYPE_SOCKET) {
    fdrop(fp, td);
    return kENOTSOCK;
  }
  *fpp = fp;
  *sop = static_cast<socket*>(fp->f_data);
  return 0;
}

// ---- the syscalls' bodies ----

namespace {
int socket_fflag(int type) { return kFREAD | kFWRITE | ((type & kSOCK_NONBLOCK) ? kFNONBLOCK : 0); }
void so_set_nbio(socket* so) {
  SOCK_LOCK(so);
  so_state_change(so, 0, SS_NBIO);
  SOCK_UNLOCK(so);
}
}  // namespace

int kern_socket(thread* td, int domain, int type, int protocol, int* fdp) {
  int flags = type & (kSOCK_CLOEXEC | kSOCK_NONBLOCK);
  socket* so;
  int error = socreate(domain, type & ~flags, protocol, &so);
  if (error != 0) return error;
  if (flags & kSOCK_NONBLOCK) so_set_nbio(so);
  file* fp;
  return falloc(td, &fp, fdp, DTYPE_SOCKET, &socketops, so, socket_fflag(flags));
}

int kern_socketpair(thread* td, int domain, int type, int protocol, int fds[2]) {
  if (fds == nullptr) return kEFAULT;
  if (domain == kAF_INET) return kEOPNOTSUPP;  // pru_connect2_notsupp
  if (domain != kAF_UNIX) return kEAFNOSUPPORT;
  int flags = type & (kSOCK_CLOEXEC | kSOCK_NONBLOCK);
  socket *so1, *so2;
  int error = socreate(domain, type & ~flags, protocol, &so1);
  if (error != 0) return error;
  error = socreate(domain, type & ~flags, protocol, &so2);
  if (error != 0) return error;
  soconnect2(so1, so2);
  if (flags & kSOCK_NONBLOCK) {
    so_set_nbio(so1);
    so_set_nbio(so2);
  }
  file *fp1, *fp2;
  int fd1, fd2;
  error = falloc(td, &fp1, &fd1, DTYPE_SOCKET, &socketops, so1, socket_fflag(flags));
  if (error != 0) return error;
  error = falloc(td, &fp2, &fd2, DTYPE_SOCKET, &socketops, so2, socket_fflag(flags));
  if (error != 0) {
    kern_close(td, fd1);  // closes so1; so2, never published, just sees the FIN
    return error;
  }
  fds[0] = fd1;
  fds[1] = fd2;
  return 0;
}

int kern_accept(thread* td, int fd, int* newfdp) {
  file* headfp;
  socket* head;
  int error = getsock(td, fd, &headfp, &head);
  if (error != 0) return error;
  bool nonblock = (headfp->f_flag & kFNONBLOCK) != 0;
  socket* so = nullptr;
  error = soaccept_dequeue(head, nonblock, &so);
  if (error == 0) {
    // FreeBSD's accept(2) gives the new descriptor the listener's O_NONBLOCK.
    if (nonblock) so_set_nbio(so);
    file* nfp;
    error = falloc(td, &nfp, newfdp, DTYPE_SOCKET, &socketops, so, kFREAD | kFWRITE | (headfp->f_flag & kFNONBLOCK));
    if (error != 0) soabort(so);
  }
  fdrop(headfp, td);
  return error;
}

}  // namespace kqsim::kern
