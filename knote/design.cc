#include "knote/design.h"

#include <algorithm>

namespace kqsim::kern {

namespace {
std::vector<const kq_design*>& registry() {
  static std::vector<const kq_design*> r;
  return r;
}
}  // namespace

DesignRegistrar::DesignRegistrar(const kq_design* d) { registry().push_back(d); }

const std::vector<const kq_design*>& all_designs() {
  // Registration order depends on link order; present them in history order,
  // then any others by name.
  static const std::vector<const kq_design*> ordered = [] {
    static constexpr const char* kHistory[] = {"none", "giant", "global", "fine"};
    std::vector<const kq_design*> out;
    for (const char* n : kHistory)
      for (const kq_design* d : registry())
        if (std::string_view(d->name) == n) out.push_back(d);
    std::vector<const kq_design*> rest;
    for (const kq_design* d : registry()) {
      bool known = false;
      for (const char* n : kHistory) known |= std::string_view(d->name) == n;
      if (!known) rest.push_back(d);
    }
    std::sort(rest.begin(), rest.end(),
              [](const kq_design* a, const kq_design* b) { return std::string_view(a->name) < b->name; });
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
  }();
  return ordered;
}

const kq_design* find_design(std::string_view name) {
  for (const kq_design* d : all_designs())
    if (name == d->name) return d;
  return nullptr;
}

std::string design_names() {
  std::string out;
  for (const kq_design* d : all_designs()) {
    if (!out.empty()) out += ", ";
    out += d->name;
  }
  return out;
}

}  // namespace kqsim::kern
