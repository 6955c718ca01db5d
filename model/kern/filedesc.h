// filedesc.h - descriptor tables and file references (kern_descrip.c).
//
// Contract (FreeBSD's):
//   falloc(td, &fp, &fd, type, ops, data)  a new open file with one reference,
//       installed at the lowest free descriptor; EMFILE when the table is full.
//   fget(td, fd, &fp)   takes a reference on the file at fd; EBADF if none.
//   fhold(fp)           takes another reference.
//   fdrop(fp, td)       drops one; the last drop calls fo_close.
//   kern_close(td, fd)  removes fd from the table (under the filedesc lock,
//       calling knote_fdclose() so no knote survives on a closed descriptor),
//       then drops the table's reference.
//   kern_dup(td, fd, &nfd)  a second descriptor for the same file.
// All return 0 or a FreeBSD errno.
// The filedesc sx (FILEDESC_XLOCK) protects the table and fd_kqlist.
#pragma once

#include "model/kern/kern_types.h"

namespace kqsim::kern {

filedesc* fdinit(proc* p);
int falloc(thread* td, file** fpp, int* fdp, short type, const fileops* ops, void* data, int flag = kFREAD | kFWRITE);
int fget(thread* td, int fd, file** fpp);
void fhold(file* fp);
void fdrop(file* fp, thread* td);
int kern_close(thread* td, int fd);
int kern_dup(thread* td, int fd, int* newfd);
// The file at fd without a reference (the caller holds the filedesc lock), or nullptr.
file* fget_locked(filedesc* fdp, int fd);
// FreeBSD's fget_noref(): the file at `fd` read without the filedesc lock, as
// kqueue_register's "did the fd change under us" re-check does under the kq
// lock only. The slot is read with a relaxed atomic load, and every store to
// a slot is atomic (fd_slot_store), so live mode has no data race on it: the
// re-check is ordered against close() by the kq lock knote_fdclose() takes.
// (The table itself only grows under the exclusive lock; a reader racing with
// a growth is not modelled.)
file* fget_noref(filedesc* fdp, int fd);
void fd_slot_store(filedesc* fdp, int fd, file* fp);

inline void FILEDESC_XLOCK(filedesc* fdp, SrcLoc loc = SrcLoc::current()) { locks::sx_xlock(&fdp->fd_sx, loc); }
inline void FILEDESC_XUNLOCK(filedesc* fdp, SrcLoc loc = SrcLoc::current()) {
  locks::sx_xunlock(&fdp->fd_sx, loc);
}
inline void FILEDESC_XLOCK_ASSERT(filedesc* fdp, SrcLoc loc = SrcLoc::current()) {
  locks::sx_assert(&fdp->fd_sx, locks::SA_XLOCKED, loc);
}

}  // namespace kqsim::kern
