// path.h - the recorded sequence of scheduling choices of one execution.
//
// Contract: a path is the list of thread ids chosen at each scheduling point
// where more than one thread could run (points with a single runnable thread
// are not choices and are not recorded). Replaying the same program with the
// same path makes the same choices, hence the same execution. Thread ids are
// below kMaxThreads (16), so a path is written as one hex digit per choice.
//
// Path files are JSON:
//   {"format": "kqsim-path", "version": 1, "program": "tailq-race",
//    "design": "none", "seed": 42, "choices": "0110..."}
// Parsing rejects any other format or version, a malformed document, fields
// of the wrong type (a negative or fractional seed included), and choices
// that are not hex digits, with a PathError whose what() is one line.
// load_path_file() also refuses what is not a readable regular file and files
// over kMaxPathFileBytes, before parsing.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kqsim::sim {

using Path = std::vector<uint8_t>;

struct PathError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string encode_choices(const Path& p);
Path decode_choices(std::string_view s);  // throws PathError

struct PathFile {
  std::string program;  // scenario / program name
  std::string design;   // locking design, may be empty
  uint64_t seed = 0;    // the execution seed that produced it (informative)
  Path choices;
};

std::string path_to_json(const PathFile& f);
PathFile path_from_json(std::string_view text);  // throws PathError

// Reads and parses a path file. Errors (PathError, one line) name the file:
// "cannot read path file 'F': No such file or directory", "path file 'F' is
// a directory", "path file 'F' is 123456789 bytes (the limit is 64 MiB)",
// "F: not a kqsim path file (malformed JSON)".
inline constexpr size_t kMaxPathFileBytes = size_t{64} << 20;
PathFile load_path_file(const std::string& filename);

// Preemptions in a path: choices that switch away from a thread that could
// have continued. Needs the runnable sets, so it is counted during replay;
// here only a plain count of context switches between consecutive choices.
size_t count_switches(const Path& p);

}  // namespace kqsim::sim
