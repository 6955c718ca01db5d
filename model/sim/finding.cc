#include "model/sim/finding.h"

#include <array>

#include <fmt/format.h>

namespace kqsim::sim {

namespace {
constexpr std::array<std::string_view, kNumFindingKinds> kNames = {
    "data-race",        "deadlock",   "stack-overflow", "memory-fault",  "step-bound",
    "list-corruption",  "use-after-free", "lock-order-reversal", "lock-misuse", "assertion",
    "lost-event",       "duplicate-event", "oracle",       "limit",
    "memory-limit",
};
}  // namespace

std::string_view kind_name(FindingKind k) { return kNames[static_cast<size_t>(k)]; }

std::optional<FindingKind> kind_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<FindingKind>(i);
  return std::nullopt;
}

std::string Site::str() const {
  if (line == 0) return "?";
  return fmt::format("{}:{}", file, line);
}

Site Site::from(SrcLoc loc) { return Site{loc.valid() ? short_path(loc.file) : "", loc.line}; }

std::string Finding::headline() const {
  auto nl = message.find('\n');
  return fmt::format("{}: {}", kind_name(kind), std::string_view(message).substr(0, nl));
}

std::string Finding::dedup_key() const {
  std::string key(kind_name(kind));
  for (const Site& s : sites) key += "|" + s.str();
  if (sites.empty()) key += "|" + message.substr(0, message.find('\n'));
  return key;
}

}  // namespace kqsim::sim
