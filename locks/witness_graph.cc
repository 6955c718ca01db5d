// locks/witness_graph.cc: see witness_graph.h for the contract.

#include "locks/witness_graph.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kqsim::locks {

namespace {

constexpr unsigned kInitialLog2Capacity = 6;  // 64 slots
constexpr std::string_view kFormat = "kqsim-witness";
constexpr int kVersion = 1;

std::string_view file_or_unknown(std::string_view file) {
  return file.empty() ? std::string_view("?") : file;
}

void append_lock_line(std::string& out, std::string_view prefix,
                      const LockAt& lock) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{}{}", prefix, lock.name);
  if (!lock.kind.empty()) fmt::format_to(it, " ({})", lock.kind);
  fmt::format_to(it, " @ {}:{}\n", file_or_unknown(lock.file), lock.line);
}

void append_site_line(std::string& out, std::string_view indent,
                      const LockAt& lock) {
  fmt::format_to(std::back_inserter(out), "{}{} @ {}:{}\n", indent, lock.name,
                 file_or_unknown(lock.file), lock.line);
}

std::string join_path(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i != 0) s += " -> ";
    s += names[i];
  }
  return s;
}

// Escapes a string for a double-quoted DOT ID.
std::string dot_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

// --- Free functions --------------------------------------------------------

std::string_view to_string(AddStatus status) {
  switch (status) {
    case AddStatus::kExisting:
      return "Existing";
    case AddStatus::kAdded:
      return "Added";
    case AddStatus::kReversal:
      return "Reversal";
    case AddStatus::kReversalAlreadyReported:
      return "ReversalAlreadyReported";
    case AddStatus::kSameClass:
      return "SameClass";
  }
  return "?";
}

std::vector<std::string> Reversal::path() const {
  std::vector<std::string> names;
  if (established.empty()) return names;
  names.push_back(established.front().before.name);
  for (const OrderEdge& e : established) names.push_back(e.after.name);
  return names;
}

std::string format_reversal(const Reversal& r) {
  std::string out = "lock order reversal:\n";
  append_lock_line(out, " 1st ", r.first);
  append_lock_line(out, " 2nd ", r.second);
  if (r.established.empty()) {
    fmt::format_to(std::back_inserter(out),
                   "lock order {} -> {} established at: (unknown)\n",
                   r.second.name, r.first.name);
    return out;
  }
  fmt::format_to(std::back_inserter(out), "lock order {} established at:\n",
                 join_path(r.path()));
  if (r.established.size() == 1) {
    append_site_line(out, " ", r.established[0].before);
    append_site_line(out, " ", r.established[0].after);
    return out;
  }
  for (const OrderEdge& e : r.established) {
    fmt::format_to(std::back_inserter(out), " {} -> {}:\n", e.before.name,
                   e.after.name);
    append_site_line(out, "  ", e.before);
    append_site_line(out, "  ", e.after);
  }
  return out;
}

// --- Snapshot: the state as plain values (for merge and JSON) --------------

struct WitnessGraph::Snapshot {
  struct Edge {
    ClassId before;
    ClassId after;
    std::string before_file;
    uint32_t before_line;
    std::string after_file;
    uint32_t after_line;
  };
  std::vector<ClassRec> classes;
  std::vector<Edge> edges;
  std::vector<std::pair<ClassId, ClassId>> reported;
};

WitnessGraph::Snapshot WitnessGraph::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.classes.assign(classes_.begin(), classes_.end());
  s.edges.reserve(edges_.size());
  for (const EdgeRec& e : edges_) {
    s.edges.push_back({e.before, e.after, e.before_site.file,
                       e.before_site.line, e.after_site.file,
                       e.after_site.line});
  }
  s.reported = reported_;
  return s;
}

// --- Construction ----------------------------------------------------------

WitnessGraph::FastTable::FastTable(unsigned log2_capacity)
    : shift(64 - log2_capacity),
      mask((uint64_t{1} << log2_capacity) - 1),
      slots(new std::atomic<uint64_t>[uint64_t{1} << log2_capacity]()) {}

WitnessGraph::WitnessGraph() {
  tables_.push_back(std::make_unique<FastTable>(kInitialLog2Capacity));
  fast_.store(tables_.back().get(), std::memory_order_release);
}

WitnessGraph::~WitnessGraph() = default;

// --- Classes ---------------------------------------------------------------

void WitnessGraph::check_class_locked(ClassId id) const {
  if (id >= classes_.size()) {
    throw std::out_of_range(
        fmt::format("WitnessGraph: class id {} is not a class of this graph "
                    "(it has {} classes)",
                    id, classes_.size()));
  }
}

ClassId WitnessGraph::intern_class_locked(std::string_view name,
                                          std::string_view kind,
                                          bool* created) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    ClassRec& c = classes_[it->second];
    if (c.kind.empty() && !kind.empty()) c.kind = kind;
    if (created != nullptr) *created = false;
    return it->second;
  }
  if (classes_.size() >= kMaxClasses) {
    throw std::length_error(
        fmt::format("WitnessGraph: more than {} lock classes", kMaxClasses));
  }
  const auto id = static_cast<ClassId>(classes_.size());
  classes_.push_back(ClassRec{std::string(name), std::string(kind)});
  by_name_.emplace(classes_.back().name, id);
  out_.emplace_back();
  in_.emplace_back();
  ord_.push_back(id);  // new classes go last in the order
  mark_.push_back(0);
  parent_.push_back(kNoClass);
  if (created != nullptr) *created = true;
  return id;
}

ClassId WitnessGraph::intern_class(std::string_view name,
                                   std::string_view kind) {
  std::lock_guard lock(mu_);
  return intern_class_locked(name, kind, nullptr);
}

std::optional<ClassId> WitnessGraph::find_class(std::string_view name) const {
  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  return std::nullopt;
}

std::string WitnessGraph::class_name(ClassId id) const {
  std::lock_guard lock(mu_);
  check_class_locked(id);
  return classes_[id].name;
}

std::string WitnessGraph::class_kind(ClassId id) const {
  std::lock_guard lock(mu_);
  check_class_locked(id);
  return classes_[id].kind;
}

size_t WitnessGraph::class_count() const {
  std::lock_guard lock(mu_);
  return classes_.size();
}

const char* WitnessGraph::intern_file_locked(const char* file) {
  const std::string_view f = file == nullptr ? std::string_view() : file;
  if (auto it = files_.find(f); it != files_.end()) return it->data();
  file_store_.emplace_back(f);
  files_.insert(file_store_.back());
  return file_store_.back().c_str();
}

// --- The fast table --------------------------------------------------------

void WitnessGraph::fast_insert_locked(uint64_t slot_value) {
  const FastTable* t = tables_.back().get();
  if ((fast_count_ + 1) * 2 > t->mask + 1) {
    // Grow: copy into a table twice the size, then publish it. Readers still
    // probing the old table see a subset, and fall back to the slow path.
    const unsigned log2 = 64 - t->shift + 1;
    auto bigger = std::make_unique<FastTable>(log2);
    for (uint64_t i = 0; i <= t->mask; ++i) {
      const uint64_t s = t->slots[i].load(std::memory_order_relaxed);
      if (s == 0) continue;
      uint64_t j = ((s & ~kReportedBit) * kHashMul) >> bigger->shift;
      while (bigger->slots[j].load(std::memory_order_relaxed) != 0)
        j = (j + 1) & bigger->mask;
      bigger->slots[j].store(s, std::memory_order_relaxed);
    }
    tables_.push_back(std::move(bigger));
    t = tables_.back().get();
    fast_.store(t, std::memory_order_release);
  }
  const uint64_t key = slot_value & ~kReportedBit;
  uint64_t i = (key * kHashMul) >> t->shift;
  while (t->slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & t->mask;
  t->slots[i].store(slot_value, std::memory_order_release);
  ++fast_count_;
}

// --- Pearce-Kelly ----------------------------------------------------------

uint32_t WitnessGraph::next_epoch_locked() {
  if (++epoch_ == 0) {  // wrapped: forget all stamps
    std::fill(mark_.begin(), mark_.end(), 0);
    epoch_ = 1;
  }
  return epoch_;
}

bool WitnessGraph::make_order_locked(ClassId x, ClassId y,
                                     std::vector<ClassId>* cycle) {
  const uint32_t ub = ord_[x];
  const uint32_t lb = ord_[y];
  if (ub < lb) return true;  // the order already agrees with x -> y

  // Forward, breadth first, from y through classes ordered before x.
  const uint32_t fwd = next_epoch_locked();
  forward_.clear();
  forward_.push_back(y);
  mark_[y] = fwd;
  parent_[y] = kNoClass;
  for (size_t head = 0; head < forward_.size(); ++head) {
    const ClassId w = forward_[head];
    for (ClassId z : out_[w]) {
      if (z == x) {  // y reaches x: x -> y would close a cycle
        cycle->clear();
        cycle->push_back(x);
        for (ClassId v = w; v != kNoClass; v = parent_[v]) cycle->push_back(v);
        std::reverse(cycle->begin(), cycle->end());
        return false;
      }
      if (mark_[z] != fwd && ord_[z] < ub) {
        mark_[z] = fwd;
        parent_[z] = w;
        forward_.push_back(z);
      }
    }
  }

  // Backward, depth first, from x through classes ordered after y.
  const uint32_t bwd = next_epoch_locked();
  backward_.clear();
  stack_.clear();
  stack_.push_back(x);
  mark_[x] = bwd;
  while (!stack_.empty()) {
    const ClassId w = stack_.back();
    stack_.pop_back();
    backward_.push_back(w);
    for (ClassId z : in_[w]) {
      if (mark_[z] != bwd && ord_[z] > lb) {
        mark_[z] = bwd;
        stack_.push_back(z);
      }
    }
  }

  // Reassign the same positions: everything that reaches x first, then
  // everything y reaches, each keeping its relative order.
  auto by_ord = [this](ClassId a, ClassId b) { return ord_[a] < ord_[b]; };
  std::sort(backward_.begin(), backward_.end(), by_ord);
  std::sort(forward_.begin(), forward_.end(), by_ord);
  positions_.clear();
  for (ClassId v : backward_) positions_.push_back(ord_[v]);
  for (ClassId v : forward_) positions_.push_back(ord_[v]);
  std::inplace_merge(positions_.begin(),
                     positions_.begin() + static_cast<ptrdiff_t>(backward_.size()),
                     positions_.end());
  size_t i = 0;
  for (ClassId v : backward_) ord_[v] = positions_[i++];
  for (ClassId v : forward_) ord_[v] = positions_[i++];
  return true;
}

// --- Edges -----------------------------------------------------------------

void WitnessGraph::append_edge_locked(ClassId before, ClassId after,
                                      Site before_site, Site after_site) {
  const auto index = static_cast<uint32_t>(edges_.size());
  edges_.push_back(EdgeRec{
      before, after,
      Site{intern_file_locked(before_site.file), before_site.line},
      Site{intern_file_locked(after_site.file), after_site.line}});
  edge_index_.emplace(pack(before, after), index);
  out_[before].push_back(after);
  in_[after].push_back(before);
}

void WitnessGraph::pop_edge_locked() {
  const EdgeRec& e = edges_.back();
  out_[e.before].pop_back();
  in_[e.after].pop_back();
  edge_index_.erase(pack(e.before, e.after));
  edges_.pop_back();
}

LockAt WitnessGraph::lock_at_locked(ClassId id, Site site) const {
  const ClassRec& c = classes_[id];
  return LockAt{id, c.name, c.kind, site.file == nullptr ? "" : site.file,
                site.line};
}

std::vector<OrderEdge> WitnessGraph::path_edges_locked(
    const std::vector<ClassId>& path) const {
  std::vector<OrderEdge> out;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const EdgeRec& e = edges_[edge_index_.at(pack(path[i], path[i + 1]))];
    out.push_back(OrderEdge{lock_at_locked(e.before, e.before_site),
                            lock_at_locked(e.after, e.after_site)});
  }
  return out;
}

AddStatus WitnessGraph::insert_locked(ClassId before, ClassId after,
                                      Site before_site, Site after_site,
                                      std::unique_ptr<Reversal>* reversal) {
  check_class_locked(before);
  check_class_locked(after);
  if (before == after) return AddStatus::kSameClass;
  const uint64_t key = pack(before, after);
  if (edge_index_.contains(key)) return AddStatus::kExisting;
  if (reported_set_.contains(key)) return AddStatus::kReversalAlreadyReported;
  std::vector<ClassId> cycle;
  if (!make_order_locked(before, after, &cycle)) {
    reported_.emplace_back(before, after);
    reported_set_.insert(key);
    fast_insert_locked(key | kReportedBit);
    if (reversal != nullptr) {
      *reversal = std::make_unique<Reversal>(
          Reversal{lock_at_locked(before, before_site),
                   lock_at_locked(after, after_site),
                   path_edges_locked(cycle)});
    }
    return AddStatus::kReversal;
  }
  append_edge_locked(before, after, before_site, after_site);
  fast_insert_locked(key);
  return AddStatus::kAdded;
}

AddResult WitnessGraph::add_edge_slow(ClassId before, ClassId after,
                                      Site before_site, Site after_site) {
  std::lock_guard lock(mu_);
  AddResult result;
  result.status =
      insert_locked(before, after, before_site, after_site, &result.reversal);
  return result;
}

bool WitnessGraph::reaches_locked(ClassId from, ClassId to) {
  if (from == to) return true;
  if (ord_[from] > ord_[to]) return false;  // the order says it cannot
  const uint32_t seen = next_epoch_locked();
  stack_.clear();
  stack_.push_back(from);
  mark_[from] = seen;
  while (!stack_.empty()) {
    const ClassId w = stack_.back();
    stack_.pop_back();
    for (ClassId z : out_[w]) {
      if (z == to) return true;
      // Only classes ordered before `to` can reach it.
      if (mark_[z] != seen && ord_[z] < ord_[to]) {
        mark_[z] = seen;
        stack_.push_back(z);
      }
    }
  }
  return false;
}

std::optional<EdgeInfo> WitnessGraph::edge(ClassId before,
                                           ClassId after) const {
  std::lock_guard lock(mu_);
  if (before >= kMaxClasses || after >= kMaxClasses) return std::nullopt;
  auto it = edge_index_.find(pack(before, after));
  if (it == edge_index_.end()) return std::nullopt;
  const EdgeRec& e = edges_[it->second];
  return EdgeInfo{e.before, e.after, e.before_site, e.after_site};
}

std::vector<EdgeInfo> WitnessGraph::edges() const {
  std::lock_guard lock(mu_);
  std::vector<EdgeInfo> out;
  out.reserve(edges_.size());
  for (const EdgeRec& e : edges_)
    out.push_back(EdgeInfo{e.before, e.after, e.before_site, e.after_site});
  return out;
}

size_t WitnessGraph::edge_count() const {
  std::lock_guard lock(mu_);
  return edges_.size();
}

std::vector<std::pair<ClassId, ClassId>> WitnessGraph::reported_reversals()
    const {
  std::lock_guard lock(mu_);
  return reported_;
}

// --- Static order ----------------------------------------------------------

Status WitnessGraph::declare_order(std::initializer_list<std::string_view> chain,
                                   kqsim::SrcLoc site) {
  return declare_order(std::span<const std::string_view>(chain.begin(),
                                                         chain.size()),
                       site);
}

Status WitnessGraph::declare_order(std::span<const std::string_view> chain,
                                   kqsim::SrcLoc loc) {
  const Site site{loc.file, loc.line};
  std::vector<std::string> names(chain.begin(), chain.end());
  const std::string chain_text = join_path(names);
  for (size_t i = 0; i < chain.size(); ++i) {
    for (size_t j = i + 1; j < chain.size(); ++j) {
      if (chain[i] == chain[j]) {
        return Status{fmt::format(
            "declare_order {}: class \"{}\" appears twice (a cycle)",
            chain_text, chain[i])};
      }
    }
  }

  std::lock_guard lock(mu_);
  std::vector<ClassId> ids;
  ids.reserve(chain.size());
  for (std::string_view name : chain)
    ids.push_back(intern_class_locked(name, {}, nullptr));

  size_t added = 0;
  std::vector<ClassId> cycle;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const ClassId b = ids[i];
    const ClassId a = ids[i + 1];
    if (edge_index_.contains(pack(b, a))) continue;
    if (!make_order_locked(b, a, &cycle)) {
      // Build the message while the rejected pairs are still present (the
      // path may run through them), then take them back out.
      std::string msg = fmt::format(
          "declare_order {}: {} -> {} contradicts the established order ",
          chain_text, classes_[b].name, classes_[a].name);
      std::vector<std::string> path_names;
      for (ClassId c : cycle) path_names.push_back(classes_[c].name);
      msg += join_path(path_names);
      std::string sep = " (";
      for (const OrderEdge& e : path_edges_locked(cycle)) {
        msg += fmt::format("{}{} -> {} first seen at {}:{} / {}:{}", sep,
                           e.before.name, e.after.name,
                           file_or_unknown(e.before.file), e.before.line,
                           file_or_unknown(e.after.file), e.after.line);
        sep = "; ";
      }
      msg += ")";
      for (; added > 0; --added) pop_edge_locked();
      return Status{std::move(msg)};
    }
    append_edge_locked(b, a, site, site);
    ++added;
  }
  // All accepted: publish the new edges to the lock-free table.
  for (size_t k = edges_.size() - added; k < edges_.size(); ++k)
    fast_insert_locked(pack(edges_[k].before, edges_[k].after));
  return Status{};
}

// --- Merge -----------------------------------------------------------------

MergeResult WitnessGraph::merge(const WitnessGraph& other) {
  MergeResult result;
  if (&other == this) return result;
  const Snapshot s = other.snapshot();  // other's lock only, then ours only

  std::lock_guard lock(mu_);
  std::vector<ClassId> map(s.classes.size());
  for (size_t i = 0; i < s.classes.size(); ++i) {
    bool created = false;
    map[i] = intern_class_locked(s.classes[i].name, s.classes[i].kind,
                                 &created);
    if (created) ++result.classes_added;
  }
  for (const Snapshot::Edge& e : s.edges) {
    std::unique_ptr<Reversal> reversal;
    switch (insert_locked(map[e.before], map[e.after],
                          Site{e.before_file.c_str(), e.before_line},
                          Site{e.after_file.c_str(), e.after_line},
                          &reversal)) {
      case AddStatus::kAdded:
        ++result.edges_added;
        break;
      case AddStatus::kExisting:
        ++result.edges_existing;
        break;
      case AddStatus::kReversal:
        result.reversals.push_back(std::move(*reversal));
        break;
      case AddStatus::kReversalAlreadyReported:
        ++result.reversals_already_reported;
        break;
      case AddStatus::kSameClass:  // impossible from a valid graph
        break;
    }
  }
  for (const auto& [b0, a0] : s.reported) {
    const ClassId b = map[b0];
    const ClassId a = map[a0];
    const uint64_t key = pack(b, a);
    if (reported_set_.contains(key) || edge_index_.contains(key)) continue;
    if (!reaches_locked(a, b)) continue;  // not a reversal of our E
    reported_.emplace_back(b, a);
    reported_set_.insert(key);
    fast_insert_locked(key | kReportedBit);
  }
  return result;
}

// --- JSON ------------------------------------------------------------------

std::string WitnessGraph::to_json() const {
  const Snapshot s = snapshot();
  using Json = nlohmann::ordered_json;
  Json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  Json classes = Json::array();
  for (const ClassRec& c : s.classes)
    classes.push_back(Json{{"name", c.name}, {"kind", c.kind}});
  j["classes"] = std::move(classes);
  Json edges = Json::array();
  for (const Snapshot::Edge& e : s.edges) {
    edges.push_back(Json{
        {"before", e.before},
        {"after", e.after},
        {"before_site", Json{{"file", e.before_file}, {"line", e.before_line}}},
        {"after_site", Json{{"file", e.after_file}, {"line", e.after_line}}}});
  }
  j["edges"] = std::move(edges);
  Json reversals = Json::array();
  for (const auto& [b, a] : s.reported)
    reversals.push_back(Json{{"before", b}, {"after", a}});
  j["reversals"] = std::move(reversals);
  // Replace invalid UTF-8 (class names are arbitrary bytes) instead of
  // throwing.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

namespace {

using Json = nlohmann::json;

// Thrown (and caught inside from_json) for a malformed document.
struct LoadError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw LoadError{std::move(message)};
}

const Json& member(const Json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(fmt::format("{}: missing \"{}\"", where, key));
  return *it;
}

uint32_t as_u32(const Json& v, const std::string& where) {
  const bool negative = v.is_number_integer() && !v.is_number_unsigned() &&
                        v.get<int64_t>() < 0;
  if (!v.is_number_integer() || negative) {
    fail(fmt::format("{} must be a non-negative integer, not {}", where,
                     v.dump(-1, ' ', false, Json::error_handler_t::replace)));
  }
  const uint64_t u = v.is_number_unsigned()
                         ? v.get<uint64_t>()
                         : static_cast<uint64_t>(v.get<int64_t>());
  if (u > std::numeric_limits<uint32_t>::max())
    fail(fmt::format("{} = {} is too large", where, u));
  return static_cast<uint32_t>(u);
}

uint32_t as_class_index(const Json& v, const std::string& where,
                        size_t class_count) {
  const uint32_t i = as_u32(v, where);
  if (i >= class_count) {
    fail(fmt::format("{} = {} is not a class index (there are {} classes)",
                     where, i, class_count));
  }
  return i;
}

std::string as_string(const Json& v, const std::string& where) {
  if (!v.is_string()) fail(fmt::format("{} must be a string", where));
  return v.get<std::string>();
}

const Json& as_array(const Json& v, const std::string& where) {
  if (!v.is_array()) fail(fmt::format("{} must be an array", where));
  return v;
}

void read_site(const Json& edge, const char* key, const std::string& where,
               std::string* file, uint32_t* line) {
  auto it = edge.find(key);
  if (it == edge.end()) return;  // sites are optional
  const std::string w = fmt::format("{}.{}", where, key);
  if (!it->is_object()) fail(fmt::format("{} must be an object", w));
  if (auto f = it->find("file"); f != it->end())
    *file = as_string(*f, w + ".file");
  if (auto l = it->find("line"); l != it->end()) *line = as_u32(*l, w + ".line");
}

}  // namespace

LoadResult WitnessGraph::from_json(std::string_view text) {
  constexpr std::string_view kWhat = "witness graph JSON";
  LoadResult result;
  try {
    Json j;
    try {
      j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
      fail(fmt::format("not valid JSON: {}", e.what()));
    }
    if (!j.is_object()) fail("the document must be a JSON object");
    const Json& format = member(j, "format", "document");
    if (!format.is_string() || format.get<std::string>() != kFormat) {
      fail(fmt::format("\"format\" is {}, expected \"{}\"",
                       format.dump(-1, ' ', false,
                                   Json::error_handler_t::replace),
                       kFormat));
    }
    const Json& version = member(j, "version", "document");
    if (!version.is_number_integer() || version.get<int64_t>() != kVersion) {
      fail(fmt::format("\"version\" is {}, this kqsim reads version {}",
                       version.dump(-1, ' ', false,
                                    Json::error_handler_t::replace),
                       kVersion));
    }

    Snapshot s;
    const Json& classes = as_array(member(j, "classes", "document"), "classes");
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < classes.size(); ++i) {
      const std::string where = fmt::format("classes[{}]", i);
      const Json& c = classes[i];
      if (!c.is_object()) fail(fmt::format("{} must be an object", where));
      ClassRec rec;
      rec.name = as_string(member(c, "name", where), where + ".name");
      if (auto k = c.find("kind"); k != c.end())
        rec.kind = as_string(*k, where + ".kind");
      if (!seen.insert(rec.name).second) {
        fail(fmt::format("{}.name \"{}\" names an earlier class again", where,
                         rec.name));
      }
      s.classes.push_back(std::move(rec));
    }
    if (s.classes.size() > kMaxClasses)
      fail(fmt::format("more than {} classes", kMaxClasses));

    if (auto it = j.find("edges"); it != j.end()) {
      const Json& edges = as_array(*it, "edges");
      for (size_t i = 0; i < edges.size(); ++i) {
        const std::string where = fmt::format("edges[{}]", i);
        const Json& e = edges[i];
        if (!e.is_object()) fail(fmt::format("{} must be an object", where));
        Snapshot::Edge edge{};
        edge.before = as_class_index(member(e, "before", where),
                                     where + ".before", s.classes.size());
        edge.after = as_class_index(member(e, "after", where),
                                    where + ".after", s.classes.size());
        if (edge.before == edge.after) {
          fail(fmt::format("{} is a self edge ({} -> {})", where,
                           s.classes[edge.before].name,
                           s.classes[edge.after].name));
        }
        read_site(e, "before_site", where, &edge.before_file,
                  &edge.before_line);
        read_site(e, "after_site", where, &edge.after_file, &edge.after_line);
        s.edges.push_back(std::move(edge));
      }
    }
    if (auto it = j.find("reversals"); it != j.end()) {
      const Json& reversals = as_array(*it, "reversals");
      for (size_t i = 0; i < reversals.size(); ++i) {
        const std::string where = fmt::format("reversals[{}]", i);
        const Json& r = reversals[i];
        if (!r.is_object()) fail(fmt::format("{} must be an object", where));
        s.reported.emplace_back(
            as_class_index(member(r, "before", where), where + ".before",
                           s.classes.size()),
            as_class_index(member(r, "after", where), where + ".after",
                           s.classes.size()));
      }
    }

    // Rebuild, checking the graph-level rules as we go.
    auto g = std::make_unique<WitnessGraph>();
    std::lock_guard lock(g->mu_);
    for (const ClassRec& c : s.classes)
      g->intern_class_locked(c.name, c.kind, nullptr);
    for (size_t i = 0; i < s.edges.size(); ++i) {
      const Snapshot::Edge& e = s.edges[i];
      std::unique_ptr<Reversal> reversal;
      const AddStatus st = g->insert_locked(
          e.before, e.after, Site{e.before_file.c_str(), e.before_line},
          Site{e.after_file.c_str(), e.after_line}, &reversal);
      if (st == AddStatus::kReversal) {
        fail(fmt::format("edges[{}] ({} -> {}) closes a cycle with the "
                         "earlier edges {}",
                         i, s.classes[e.before].name, s.classes[e.after].name,
                         join_path(reversal->path())));
      }
    }
    for (size_t i = 0; i < s.reported.size(); ++i) {
      const auto [b, a] = s.reported[i];
      const uint64_t key = pack(b, a);
      const std::string pair = fmt::format("reversals[{}] ({} -> {})", i,
                                           s.classes[b].name,
                                           s.classes[a].name);
      if (b == a) fail(pair + " is a self edge");
      if (g->edge_index_.contains(key)) fail(pair + " is also an edge");
      if (g->reported_set_.contains(key)) fail(pair + " is listed twice");
      if (!g->reaches_locked(a, b))
        fail(pair + " is not a reversal: the edges do not lead back");
      g->reported_.emplace_back(b, a);
      g->reported_set_.insert(key);
      g->fast_insert_locked(key | kReportedBit);
    }
    result.graph = std::move(g);
  } catch (const LoadError& e) {
    result.graph.reset();
    result.error = fmt::format("{}: {}", kWhat, e.message);
  } catch (const std::exception& e) {  // nlohmann type errors and the like
    result.graph.reset();
    result.error = fmt::format("{}: {}", kWhat, e.what());
  }
  return result;
}

// --- DOT -------------------------------------------------------------------

std::string WitnessGraph::to_dot(const std::vector<Reversal>* highlight) const {
  const Snapshot s = snapshot();
  std::unordered_map<std::string_view, ClassId> by_name;
  for (size_t i = 0; i < s.classes.size(); ++i)
    by_name.emplace(s.classes[i].name, static_cast<ClassId>(i));
  auto id_of = [&](const std::string& name) -> std::optional<ClassId> {
    auto it = by_name.find(name);
    if (it == by_name.end()) return std::nullopt;
    return it->second;
  };

  std::unordered_set<uint64_t> on_path;  // established edges to draw red
  std::vector<std::tuple<ClassId, ClassId, const Reversal*>> reversing;
  if (highlight != nullptr) {
    for (const Reversal& r : *highlight) {
      auto b = id_of(r.first.name);
      auto a = id_of(r.second.name);
      if (b && a) reversing.emplace_back(*b, *a, &r);
      for (const OrderEdge& e : r.established) {
        auto eb = id_of(e.before.name);
        auto ea = id_of(e.after.name);
        if (eb && ea) on_path.insert(pack(*eb, *ea));
      }
    }
  }

  std::string out = "digraph witness {\n  node [shape=box];\n";
  auto it = std::back_inserter(out);
  for (size_t i = 0; i < s.classes.size(); ++i) {
    const ClassRec& c = s.classes[i];
    const std::string label =
        c.kind.empty() ? c.name : fmt::format("{}\n({})", c.name, c.kind);
    fmt::format_to(it, "  n{} [label={}];\n", i, dot_quote(label));
  }
  for (const Snapshot::Edge& e : s.edges) {
    const std::string label = fmt::format(
        "{}:{}\n{}:{}", file_or_unknown(e.before_file), e.before_line,
        file_or_unknown(e.after_file), e.after_line);
    fmt::format_to(it, "  n{} -> n{} [label={}{}];\n", e.before, e.after,
                   dot_quote(label),
                   on_path.contains(pack(e.before, e.after))
                       ? ", color=red, fontcolor=red, penwidth=2"
                       : "");
  }
  for (const auto& [b, a, r] : reversing) {
    // Labelled with the two acquisitions when the report has their sites.
    const std::string label =
        r->first.file.empty() && r->second.file.empty()
            ? std::string("reversal")
            : fmt::format("reversal\n1st {} @ {}:{}\n2nd {} @ {}:{}", r->first.name,
                          file_or_unknown(r->first.file), r->first.line,
                          r->second.name, file_or_unknown(r->second.file),
                          r->second.line);
    fmt::format_to(it,
                   "  n{} -> n{} [label={}, color=red, "
                   "fontcolor=red, style=dashed, constraint=false];\n",
                   b, a, dot_quote(label));
  }
  out += "}\n";
  return out;
}

// --- For tests -------------------------------------------------------------

uint32_t WitnessGraph::topo_position(ClassId id) const {
  std::lock_guard lock(mu_);
  check_class_locked(id);
  return ord_[id];
}

Status WitnessGraph::check_invariants() const {
  std::lock_guard lock(mu_);
  const size_t n = classes_.size();
  if (ord_.size() != n || out_.size() != n || in_.size() != n ||
      mark_.size() != n || parent_.size() != n || by_name_.size() != n) {
    return Status{"per-class arrays disagree in size"};
  }
  std::vector<bool> used(n, false);
  for (ClassId v = 0; v < n; ++v) {
    if (ord_[v] >= n || used[ord_[v]])
      return Status{fmt::format("ord is not a permutation at class {}", v)};
    used[ord_[v]] = true;
    auto it = by_name_.find(classes_[v].name);
    if (it == by_name_.end() || it->second != v)
      return Status{fmt::format("name index wrong for class {}", v)};
  }
  if (edge_index_.size() != edges_.size())
    return Status{"edge index and edge list disagree in size"};
  size_t out_total = 0;
  size_t in_total = 0;
  for (ClassId v = 0; v < n; ++v) {
    out_total += out_[v].size();
    in_total += in_[v].size();
  }
  if (out_total != edges_.size() || in_total != edges_.size())
    return Status{"adjacency lists and edge list disagree in size"};
  for (size_t i = 0; i < edges_.size(); ++i) {
    const EdgeRec& e = edges_[i];
    const uint64_t key = pack(e.before, e.after);
    if (e.before == e.after) return Status{fmt::format("self edge {}", i)};
    if (ord_[e.before] >= ord_[e.after]) {
      return Status{fmt::format("edge {} -> {} breaks the order ({} >= {})",
                                classes_[e.before].name, classes_[e.after].name,
                                ord_[e.before], ord_[e.after])};
    }
    auto it = edge_index_.find(key);
    if (it == edge_index_.end() || it->second != i)
      return Status{fmt::format("edge {} missing from the index", i)};
    if (std::find(out_[e.before].begin(), out_[e.before].end(), e.after) ==
            out_[e.before].end() ||
        std::find(in_[e.after].begin(), in_[e.after].end(), e.before) ==
            in_[e.after].end()) {
      return Status{fmt::format("edge {} missing from adjacency", i)};
    }
    if (fast_find(key) != FastHit::kEdge)
      return Status{fmt::format("edge {} missing from the fast table", i)};
  }
  if (reported_set_.size() != reported_.size())
    return Status{"reported set and list disagree in size"};
  for (const auto& [b, a] : reported_) {
    const uint64_t key = pack(b, a);
    if (edge_index_.contains(key))
      return Status{fmt::format("reported pair {} -> {} is an edge", b, a)};
    if (fast_find(key) != FastHit::kReported)
      return Status{fmt::format("reported pair {} -> {} not in fast table", b,
                                a)};
  }
  // Each reported pair (b, a) must be a reversal: a reaches b.
  for (const auto& [b, a] : reported_) {
    std::vector<bool> seen(n, false);
    std::vector<ClassId> todo{a};
    seen[a] = true;
    while (!todo.empty() && !seen[b]) {
      const ClassId w = todo.back();
      todo.pop_back();
      for (ClassId z : out_[w]) {
        if (!seen[z]) {
          seen[z] = true;
          todo.push_back(z);
        }
      }
    }
    if (!seen[b])
      return Status{fmt::format("reported pair {} -> {} is no reversal", b, a)};
  }
  if (fast_count_ != edges_.size() + reported_.size())
    return Status{"fast table count wrong"};
  return Status{};
}

}  // namespace kqsim::locks
