#include "model/sim/path.h"

#include <fmt/format.h>
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
  if (j.is_discarded() || !j.is_object()) throw PathError("not a kqsim path file (malformed JSON)");
  if (j.value("format", "") != "kqsim-path") throw PathError("not a kqsim path file (format is not \"kqsim-path\")");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    throw PathError("unsupported kqsim path file version (this kqsim reads version 1)");
  PathFile f;
  auto str = [&](const char* key) -> std::string {
    if (!j.contains(key)) return {};
    if (!j[key].is_string()) throw PathError(fmt::format("path file field \"{}\" must be a string", key));
    return j[key].get<std::string>();
  };
  f.program = str("program");
  f.design = str("design");
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned() && !j["seed"].is_number_integer())
      throw PathError("path file field \"seed\" must be an integer");
    f.seed = j["seed"].get<uint64_t>();
  }
  if (!j.contains("choices") || !j["choices"].is_string()) throw PathError("path file has no \"choices\" string");
  f.choices = decode_choices(j["choices"].get<std::string>());
  return f;
}

size_t count_switches(const Path& p) {
  size_t n = 0;
  for (size_t i = 1; i < p.size(); ++i) n += p[i] != p[i - 1];
  return n;
}

}  // namespace kqsim::sim
