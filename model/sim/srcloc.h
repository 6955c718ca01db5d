// srcloc.h - a source location that works on every compiler we build with.
//
// Contract: SrcLoc::current() used as a default argument captures the caller's
// file and line (GCC and clang both provide __builtin_FILE/__builtin_LINE, while
// clang 14 with libstdc++ lacks std::source_location). file points at a string
// with static storage duration; a SrcLoc is two words and trivially copyable.
#pragma once

#include <cstdint>
#include <string>

namespace kqsim {

struct SrcLoc {
  const char* file = "";
  uint32_t line = 0;

  static constexpr SrcLoc current(const char* file = __builtin_FILE(),
                                  uint32_t line = __builtin_LINE()) {
    return SrcLoc{file, line};
  }
  bool valid() const { return line != 0; }
  // "dir/file.cc:123", with the path shortened to start at a kqsim top folder
  // (model/, knote/, locks/, scenarios/, fuzz/, tests/, tools/, bench/).
  std::string str() const;
  friend bool operator==(const SrcLoc& a, const SrcLoc& b) {
    return a.line == b.line && (a.file == b.file || std::string_view(a.file) == b.file);
  }
};

// Shortens an absolute source path to its project-relative form.
const char* short_path(const char* file);

}  // namespace kqsim
