#include "model/sim/list.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "model/sim/finding.h"

namespace kqsim::sim::list_detail {

namespace {

[[gnu::cold]] void corruption(const std::string& what, SrcLoc loc) {
  Scheduler* s = Scheduler::current();
  if (s == nullptr) {
    // Live mode: the kernel would panic (or fault) here.
    std::fprintf(stderr, "panic: list corrupted: %s @ %s\n", what.c_str(), loc.str().c_str());
    std::abort();
  }
  const char* label = s->set_label(nullptr);
  s->set_label(label);
  Finding f;
  f.kind = FindingKind::kListCorruption;
  f.message = fmt::format("list corrupted: {}", what);
  if (label != nullptr) f.message += fmt::format(" during {}", label);
  f.message += fmt::format(" @ {}", loc.str());
  f.sites = {Site::from(loc)};
  f.fatal = true;
  // Does not return unless the execution is already ending; the caller then
  // skips the access it could not make.
  s->report(std::move(f));
}

}  // namespace

void null_link(SrcLoc loc) {
  corruption("NULL link followed (an element that is not on a list, or a list corrupted earlier)", loc);
}

void not_on_list(const char* what, SrcLoc loc) { corruption(what, loc); }

}  // namespace kqsim::sim::list_detail
