// atomic_file.h - writing an output file so that a failure never leaves a
// partial one behind.
//
// Contract: write_file_atomically(path, text) writes `text` to a temporary
// file in the same directory as `path` (".<name>.tmp.<pid>"), flushes it and
// renames it over `path`. Readers see either the old file (or none) or the
// whole new one. On any failure the temporary file is removed, `path` is left
// as it was, and std::runtime_error is thrown with one line:
// "cannot write 'PATH': REASON".
// Every CLI output file (kqsim run --json, --save-path, bench --json, merge
// output) should go through it.
//
// Not every path names a regular file. When `path` exists and is not one
// (a terminal or pipe, /dev/stdout, /dev/null, a FIFO) the text is written to
// it directly: renaming over it would replace the device node or the
// /dev/stdout symlink itself (as root, for every later program). A symlink to
// a regular file stays a symlink: its target is the file replaced.
#pragma once

#include <string>
#include <string_view>

namespace kqsim::fuzz {

void write_file_atomically(const std::string& path, std::string_view text);

}  // namespace kqsim::fuzz
