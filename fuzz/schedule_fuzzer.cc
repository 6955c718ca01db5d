// schedule_fuzzer.cc - libFuzzer harness (b): bytes -> a small multi-threaded
// kqueue program plus a schedule, run under the fine design
// (fuzz/schedule_program.h). Any finding is a bug in kqsim or in the design:
// the harness prints the decoded program, the schedule (a path that
// `replay_schedule_program` or a path file replays) and how to run the input
// again, then aborts so libFuzzer saves the input.
#include <cstdio>
#include <cstdlib>

#include "fuzz/schedule_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kqsim::fuzz::ScheduleProgramResult r = kqsim::fuzz::run_schedule_program(data, size);
  if (!r.ok()) {
    std::fprintf(stderr,
                 "schedule_fuzzer: finding under design %s:\n%s\nprogram:\n%sschedule (path, %zu choices): %s\n"
                 "replay: build/fuzz/schedule_fuzzer <the input file libFuzzer names below>\n",
                 r.design.c_str(), r.failure.c_str(), r.listing.c_str(), r.path.size(),
                 kqsim::sim::encode_choices(r.path).c_str());
    std::abort();
  }
  return 0;
}
