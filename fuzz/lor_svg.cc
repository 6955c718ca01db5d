#include "fuzz/lor_svg.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

namespace kqsim::fuzz {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr int kCharW = 7;    // px per character at font-size 12 (monospace)
constexpr int kBoxH = 40;
constexpr int kRowGap = 36;
constexpr int kColGap = 150;
constexpr int kMargin = 24;

std::string site_str(const locks::Site& s) {
  std::string_view f = s.file != nullptr && *s.file != '\0' ? s.file : "?";
  while (f.starts_with("../")) f.remove_prefix(3);
  return fmt::format("{}:{}", f, s.line);
}

std::string lock_at_str(const locks::LockAt& l) {
  std::string_view f = l.file.empty() ? std::string_view("?") : std::string_view(l.file);
  while (f.starts_with("../")) f.remove_prefix(3);
  return fmt::format("{}:{}", f, l.line);
}

}  // namespace

std::string lock_order_svg(const locks::WitnessGraph& graph, const std::vector<locks::Reversal>& reversals) {
  const size_t n = graph.class_count();
  if (n == 0)
    return "<svg class=\"lock-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"40\">"
           "<text x=\"10\" y=\"25\" font-family=\"sans-serif\" font-size=\"13\">no locks were taken</text></svg>";
  const std::vector<locks::EdgeInfo> edges = graph.edges();

  // Columns: longest path from a source (E is acyclic: relax in a topological
  // order, which topo_position gives).
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return graph.topo_position(a) < graph.topo_position(b); });
  std::vector<std::vector<uint32_t>> out(n);
  for (const locks::EdgeInfo& e : edges) out[e.before].push_back(e.after);
  std::vector<int> col(n, 0);
  for (uint32_t c : order)
    for (uint32_t s : out[c]) col[s] = std::max(col[s], col[c] + 1);
  const int ncols = *std::max_element(col.begin(), col.end()) + 1;

  std::vector<std::string> name(n), kind(n);
  int boxw = 120;
  for (uint32_t i = 0; i < n; ++i) {
    name[i] = graph.class_name(i);
    kind[i] = graph.class_kind(i);
    boxw = std::max(boxw, static_cast<int>(std::max(name[i].size(), kind[i].size() + 2)) * kCharW + 20);
  }
  std::vector<int> row(n, 0), rows_in_col(static_cast<size_t>(ncols), 0);
  for (uint32_t i = 0; i < n; ++i) row[i] = rows_in_col[static_cast<size_t>(col[i])]++;
  const int nrows = *std::max_element(rows_in_col.begin(), rows_in_col.end());
  auto x_of = [&](uint32_t c) { return kMargin + col[c] * (boxw + kColGap); };
  auto y_of = [&](uint32_t c) { return kMargin + 30 + row[c] * (kBoxH + kRowGap); };
  int width = kMargin * 2 + ncols * boxw + (ncols - 1) * kColGap;
  int height = kMargin * 2 + 60 + nrows * kBoxH + (nrows - 1) * kRowGap + 40;

  // Highlights, by class name.
  std::unordered_map<std::string, uint32_t> by_name;
  for (uint32_t i = 0; i < n; ++i) by_name.emplace(name[i], i);
  std::set<std::pair<uint32_t, uint32_t>> on_path;
  struct Rev {
    uint32_t first, second;
    std::string label;  // tooltip
    std::string line1, line2;
  };
  std::vector<Rev> revs;
  for (const locks::Reversal& r : reversals) {
    auto a = by_name.find(r.first.name);
    auto b = by_name.find(r.second.name);
    if (a == by_name.end() || b == by_name.end()) continue;
    revs.push_back(Rev{a->second, b->second,
                       fmt::format("reversal: 1st {} @ {}, 2nd {} @ {}", r.first.name, lock_at_str(r.first),
                                   r.second.name, lock_at_str(r.second)),
                       fmt::format("reversal: 1st {} @ {}", r.first.name, lock_at_str(r.first)),
                       fmt::format("2nd {} @ {}", r.second.name, lock_at_str(r.second))});
    for (const locks::OrderEdge& e : r.established) {
      auto eb = by_name.find(e.before.name);
      auto ea = by_name.find(e.after.name);
      if (eb != by_name.end() && ea != by_name.end()) on_path.emplace(eb->second, ea->second);
    }
  }

  height += 34 * static_cast<int>(revs.size());
  for (const Rev& r : revs)
    width = std::max(width, std::min(x_of(r.first), x_of(r.second)) +
                                static_cast<int>(std::max(r.line1.size(), r.line2.size() + 10)) * kCharW + kMargin);
  std::string s;
  auto it = std::back_inserter(s);
  fmt::format_to(it,
                 "<svg class=\"lock-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                 "viewBox=\"0 0 {} {}\" font-family=\"monospace\" font-size=\"12\">\n",
                 width, height, width, height);
  s += "<defs><marker id=\"lg-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" "
       "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker>"
       "<marker id=\"lg-arrow-red\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" "
       "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c00\"/></marker>"
       "</defs>\n";
  fmt::format_to(it,
                 "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#555\">lock order: "
                 "an arrow A &#8594; B means B was acquired while A was held</text>\n",
                 kMargin, kMargin);

  // Order edges: from the right side of `before` to the left side of
  // `after`; when both sit in one column (cannot happen for a longest-path
  // layering, kept for safety) a curve on the right.
  for (const locks::EdgeInfo& e : edges) {
    const bool red = on_path.contains({e.before, e.after});
    const int x1 = x_of(e.before) + boxw, y1 = y_of(e.before) + kBoxH / 2;
    const int x2 = x_of(e.after), y2 = y_of(e.after) + kBoxH / 2;
    const std::string title = fmt::format("{} -> {}: {} held (acquired at {}) when {} was acquired at {}",
                                          name[e.before], name[e.after], name[e.before], site_str(e.before_site),
                                          name[e.after], site_str(e.after_site));
    const int mx = (x1 + x2) / 2;
    fmt::format_to(it,
                   "<g class=\"order-edge{}\"><title>{}</title><path d=\"M{},{} C{},{} {},{} {},{}\" fill=\"none\" "
                   "stroke=\"{}\" stroke-width=\"{}\" marker-end=\"url(#{})\"/>",
                   red ? " established" : "", xml_escape(title), x1, y1, mx, y1, mx, y2, x2, y2,
                   red ? "#c00" : "#444", red ? 2 : 1, red ? "lg-arrow-red" : "lg-arrow");
    fmt::format_to(it, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{}\">{}</text></g>\n",
                   mx, (y1 + y2) / 2 - 6, red ? "#c00" : "#666", xml_escape(site_str(e.after_site)));
  }
  // Reversing edges: arching below the boxes, against the order.
  int arch = 0;
  for (const Rev& r : revs) {
    const int x1 = x_of(r.first) + boxw / 2, y1 = y_of(r.first) + kBoxH;
    const int x2 = x_of(r.second) + boxw / 2, y2 = y_of(r.second) + kBoxH;
    const int low = std::max(y1, y2) + 30 + 34 * arch++;
    const int tx = std::min(x1, x2) - boxw / 2;
    fmt::format_to(it,
                   "<g class=\"reversal-edge\"><title>{}</title><path d=\"M{},{} C{},{} {},{} {},{}\" fill=\"none\" "
                   "stroke=\"#c00\" stroke-width=\"2\" stroke-dasharray=\"6,4\" marker-end=\"url(#lg-arrow-red)\"/>"
                   "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#c00\">{}</text>"
                   "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#c00\">{}</text></g>\n",
                   xml_escape(r.label), x1, y1, x1, low, x2, low, x2, y2, tx, low + 4, xml_escape(r.line1),
                   tx + 10 * kCharW, low + 18, xml_escape(r.line2));
  }
  for (uint32_t i = 0; i < n; ++i) {
    const int x = x_of(i), y = y_of(i);
    fmt::format_to(it,
                   "<g class=\"lock-class\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" "
                   "fill=\"#eef3fb\" stroke=\"#335\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                   "font-weight=\"bold\">{}</text>",
                   x, y, boxw, kBoxH, x + boxw / 2, y + 17, xml_escape(name[i]));
    if (!kind[i].empty())
      fmt::format_to(it, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">({})</text>", x + boxw / 2,
                     y + 32, xml_escape(kind[i]));
    s += "</g>\n";
  }
  s += "</svg>";
  return s;
}

}  // namespace kqsim::fuzz
