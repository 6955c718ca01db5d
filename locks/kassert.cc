#include "locks/kassert.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "model/sim/scheduler.h"

namespace kqsim::locks {

std::string kassert_format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

void panic_at(const std::string& message, SrcLoc site) {
  if (sim::Scheduler* s = sim::Scheduler::current())
    s->assertion_failed("panic: " + message + " @ " + site.str(), site);
  std::fprintf(stderr, "panic: %s @ %s\n", message.c_str(), site.str().c_str());
  std::abort();
}

}  // namespace kqsim::locks
