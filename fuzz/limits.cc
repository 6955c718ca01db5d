// limits.cc - see limits.h.
#include "fuzz/limits.h"

#include "fuzz/run.h"

namespace kqsim::fuzz {

std::optional<uint64_t> parse_max_memory(std::string_view mib) {
  std::optional<uint64_t> v = parse_u64(mib);
  if (!v || *v < 1 || *v > (uint64_t{1} << 20)) return std::nullopt;
  return *v << 20;
}

}  // namespace kqsim::fuzz
