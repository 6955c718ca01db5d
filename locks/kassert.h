// kassert.h - KASSERT and panic for the model, as in FreeBSD's sys/systm.h.
//
// Contract: KASSERT(exp, ("format %d", args)) checks `exp`; when it is false
// the model panics with the formatted message. Under a sim::Scheduler a panic
// is a fatal kAssertion finding that ends the execution (the checker goes on
// with the next one); in live mode it prints "panic: ..." with the site and
// aborts the process, as the kernel would.
#pragma once

#include <string>

#include "model/sim/srcloc.h"

namespace kqsim::locks {

[[noreturn]] void panic_at(const std::string& message, SrcLoc site);
std::string kassert_format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kqsim::locks

#define KASSERT(exp, msg)                                                                     \
  do {                                                                                        \
    if (__builtin_expect(!(exp), 0))                                                          \
      ::kqsim::locks::panic_at(::kqsim::locks::kassert_format msg, ::kqsim::SrcLoc::current()); \
  } while (0)
