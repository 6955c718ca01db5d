// kevent_fuzzer.cc - libFuzzer harness (a): bytes -> a sequence of kqueue,
// kevent and descriptor calls on one process, invariants checked after each
// (fuzz/kevent_program.h). A failure prints the decoded program and aborts;
// libFuzzer saves the input, and `build/fuzz/kevent_fuzzer <that file>` runs
// it again and prints the same report.
#include <cstdio>
#include <cstdlib>

#include "fuzz/kevent_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kqsim::fuzz::KeventProgramResult r = kqsim::fuzz::run_kevent_program(data, size);
  if (!r.ok()) {
    std::fprintf(stderr,
                 "kevent_fuzzer: invariant failure under design %s after %zu calls:\n%s\nprogram:\n%s"
                 "replay: build/fuzz/kevent_fuzzer <the input file libFuzzer names below>\n",
                 r.design.c_str(), r.calls, r.failure.c_str(), r.listing.c_str());
    std::abort();
  }
  return 0;
}
