// limits.h - the checker's own per-execution bounds, as the CLI spells them.
//
// Contract: each bound ends an execution with a named, fatal finding whose
// message says which option raises it:
//   step-bound      SchedulerOptions::max_steps   --max-steps N
//   memory-limit    SchedulerOptions::max_memory  --max-memory MIB
//   stack-overflow  SchedulerOptions::stack_size  --stack-kib KIB (recursion in a
//                   simulated thread runs into the fiber stack's guard page)
//   limit           kMaxThreads simulated threads (fixed)
// parse_max_memory turns a --max-memory value (MiB, 1..1048576) into bytes;
// parse_stack_kib a --stack-kib value (KiB, 16..1048576) into bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kqsim::fuzz {

inline constexpr const char* kMaxMemoryHelp =
    "MiB of kernel objects (World::make) per execution before a memory-limit finding (default 256)";

inline constexpr const char* kStackKibHelp =
    "KiB of stack per simulated thread before a stack-overflow finding (default 256)";

std::optional<uint64_t> parse_max_memory(std::string_view mib);
std::optional<size_t> parse_stack_kib(std::string_view kib);

}  // namespace kqsim::fuzz
