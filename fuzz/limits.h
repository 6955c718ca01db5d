// limits.h - the checker's own per-execution bounds, as the CLI spells them.
//
// Contract: each bound ends an execution with a named, fatal finding whose
// message says which option raises it:
//   step-bound      SchedulerOptions::max_steps   --max-steps N
//   memory-limit    SchedulerOptions::max_memory  --max-memory MIB
//   stack-overflow  SchedulerOptions::stack_size  (recursion in a simulated
//                   thread: the fiber stack's guard page)
//   limit           kMaxThreads simulated threads (fixed)
// parse_max_memory turns a --max-memory value (MiB, 1..1048576) into bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kqsim::fuzz {

inline constexpr const char* kMaxMemoryHelp =
    "MiB of kernel objects (World::make) per execution before a memory-limit finding (default 256)";

std::optional<uint64_t> parse_max_memory(std::string_view mib);

}  // namespace kqsim::fuzz
