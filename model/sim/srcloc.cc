#include "model/sim/srcloc.h"

#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace kqsim {

const char* short_path(const char* file) {
  static constexpr const char* kTops[] = {"/model/", "/knote/", "/locks/", "/scenarios/", "/fuzz/",
                                          "/tests/", "/tools/", "/bench/", "/examples/", "/include/"};
  // The build maps the source root away (-fmacro-prefix-map), so paths are
  // usually relative already; for absolute ones, cut at the first top folder.
  // A compiler launcher may also have made them relative to the build
  // directory (ccache with base_dir: "../../knote/x.cc"): drop the leading
  // "./" and "../" steps.
  while (file[0] == '.' && (file[1] == '/' || (file[1] == '.' && file[2] == '/'))) file += file[1] == '/' ? 2 : 3;
  if (file[0] != '/') return file;
  const char* best = nullptr;
  for (const char* top : kTops) {
    const char* p = std::strstr(file, top);
    if (p != nullptr && (best == nullptr || p < best)) best = p;
  }
  return best != nullptr ? best + 1 : file;
}

std::string SrcLoc::str() const {
  if (!valid()) return "?";
  return fmt::format("{}:{}", short_path(file), line);
}

}  // namespace kqsim
