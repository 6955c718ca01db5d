#include "model/sim/path.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace kqsim::sim {

std::string encode_choices(const Path& p) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(p.size());
  for (uint8_t c : p) s.push_back(kHex[c & 15]);
  return s;
}

Path decode_choices(std::string_view s) {
  Path p;
  p.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') p.push_back(static_cast<uint8_t>(c - '0'));
    else if (c >= 'a' && c <= 'f') p.push_back(static_cast<uint8_t>(c - 'a' + 10));
    else if (c >= 'A' && c <= 'F') p.push_back(static_cast<uint8_t>(c - 'A' + 10));
    else throw PathError(fmt::format("bad choice character '{}' at position {} (expected a hex digit)", c, i));
  }
  return p;
}

std::string path_to_json(const PathFile& f) {
  nlohmann::ordered_json j;
  j["format"] = "kqsim-path";
  j["version"] = 1;
  j["program"] = f.program;
  j["design"] = f.design;
  j["seed"] = f.seed;
  j["choices"] = encode_choices(f.choices);
  return j.dump(2) + "\n";
}

PathFile path_from_json(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
      throw PathError("not a kqsim path file (empty)");
    throw PathError("not a kqsim path file (malformed JSON)");
  }
  auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != "kqsim-path")
    throw PathError("not a kqsim path file (format is not \"kqsim-path\")");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 1 ||
      (version->is_number_unsigned() && version->get<uint64_t>() != 1))
    throw PathError(fmt::format("unsupported kqsim path file version {} (this kqsim reads version 1)",
                                version == j.end() ? "(none)" : version->dump()));
  PathFile f;
  auto str = [&](const char* key) -> std::string {
    if (!j.contains(key)) return {};
    if (!j[key].is_string()) throw PathError(fmt::format("path file field \"{}\" must be a string", key));
    return j[key].get<std::string>();
  };
  f.program = str("program");
  f.design = str("design");
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned())
      throw PathError("path file field \"seed\" must be a non-negative integer");
    f.seed = j["seed"].get<uint64_t>();
  }
  if (!j.contains("choices") || !j["choices"].is_string()) throw PathError("path file has no \"choices\" string");
  f.choices = decode_choices(j["choices"].get<std::string>());
  return f;
}

PathFile load_path_file(const std::string& filename) {
  std::error_code ec;
  auto st = std::filesystem::status(filename, ec);
  if (ec || !std::filesystem::exists(st))
    throw PathError(fmt::format("cannot read path file '{}': {}", filename,
                                ec ? ec.message() : std::strerror(ENOENT)));
  if (std::filesystem::is_directory(st)) throw PathError(fmt::format("path file '{}' is a directory", filename));
  std::ifstream is(filename, std::ios::binary);
  if (!is) throw PathError(fmt::format("cannot read path file '{}': {}", filename, std::strerror(errno)));
  if (std::filesystem::is_regular_file(st)) {
    auto size = std::filesystem::file_size(filename, ec);
    if (!ec && size > kMaxPathFileBytes)
      throw PathError(fmt::format("path file '{}' is {} bytes (the limit is {} MiB)", filename, size,
                                  kMaxPathFileBytes >> 20));
  }
  std::string text;
  char buf[65536];
  while (is.read(buf, sizeof buf) || is.gcount() > 0) {
    text.append(buf, static_cast<size_t>(is.gcount()));
    if (text.size() > kMaxPathFileBytes)
      throw PathError(fmt::format("path file '{}' is over {} MiB", filename, kMaxPathFileBytes >> 20));
  }
  if (is.bad()) throw PathError(fmt::format("cannot read path file '{}': read error", filename));
  try {
    return path_from_json(text);
  } catch (const PathError& e) {
    throw PathError(fmt::format("{}: {}", filename, e.what()));
  }
}

size_t count_switches(const Path& p) {
  size_t n = 0;
  for (size_t i = 1; i < p.size(); ++i) n += p[i] != p[i - 1];
  return n;
}

}  // namespace kqsim::sim
