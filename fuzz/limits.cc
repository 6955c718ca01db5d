// limits.cc - see limits.h.
#include "fuzz/limits.h"

#include "fuzz/run.h"

namespace kqsim::fuzz {

std::optional<uint64_t> parse_max_memory(std::string_view mib) {
  std::optional<uint64_t> v = parse_u64(mib);
  if (!v || *v < 1 || *v > (uint64_t{1} << 20)) return std::nullopt;
  return *v << 20;
}

std::optional<size_t> parse_stack_kib(std::string_view kib) {
  std::optional<uint64_t> v = parse_u64(kib);
  if (!v || *v < 16 || *v > (uint64_t{1} << 20)) return std::nullopt;
  return static_cast<size_t>(*v) << 10;
}

}  // namespace kqsim::fuzz
