// fuzz_input.h - reading a fuzzer's byte string as a stream of small choices,
// and the kqueue invariants both libFuzzer harnesses check.
//
// Contract: ByteReader never fails: past the end every read returns 0, so any
// byte string (empty included) decodes to some program. The invariant check
// reads the model's state without instrumentation (raw()), so it may run at a
// quiescent point of an execution (no other simulated thread mid-syscall) and
// adds no scheduling points or happens-before edges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kqsim::kern {
struct proc;
}

namespace kqsim::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  bool done() const { return pos_ >= size_; }
  size_t pos() const { return pos_; }
  const uint8_t* rest() const { return data_ + pos_; }
  size_t rest_size() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The kqueue invariants of process p's kqueues, "" when they hold; else one
// line per violation:
//  - kq_count equals the length of kq_head, and every knote on it is
//    KN_QUEUED and not freed (kqueue_check);
//  - no knote on kq_knlist[fd] for a closed descriptor, and each such knote's
//    file is the file at fd;
//  - no freed knote on kq_knlist or kq_knhash;
//  - every kqueue on fd_kqlist is open on some descriptor.
std::string check_kqueue_invariants(kern::proc* p);

// Brings the calling simulated thread to a quiescent point as far as the
// World's softclock is concerned: while the softclock is running a timer's
// expiry (World::softclock_idle), sleeps 1 ns of virtual time and looks
// again, at most 10 000 times. The softclock, runnable, then runs until it
// parks. Returns false if it never went idle (a softclock stuck on a lock:
// the execution's own deadlock report will say more). Adds scheduling
// points only when the softclock is busy.
bool wait_for_softclock_idle();

// Whether e is a FreeBSD errno the model may return (listed in bsd_errno.h, > 0).
bool is_bsd_errno(long e);

}  // namespace kqsim::fuzz
