// svg_plot.h - a tiny SVG line-plot writer (no dependency), for the plots in
// docs/ (`kqsim bench delivery` writes docs/delivery.svg with it).
//
// Contract: svg_plot(title, panels) returns a complete, self-contained SVG
// document: the title on top, then the panels side by side, each with its
// axes (base-10 logarithmic when log_x / log_y, else linear from 0), tick
// labels, axis labels, a legend, and one <polyline> per series that has at
// least one plottable point (on a log axis, values <= 0 are not plottable
// and are left out: a missing measurement is a gap, not a zero). Every point
// is also marked with a <circle>. Text is XML-escaped. Deterministic: the
// same input gives the same bytes. Header-only, so that kqsim and its tests
// share it.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "fuzz/lor_svg.h"

namespace kqsim::cli {

struct SvgSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
  std::string color = "#1f77b4";
  bool dashed = false;
};

struct SvgPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = true;
  bool log_y = true;
  std::vector<SvgSeries> series;
};

namespace svg_detail {

using fuzz::xml_escape;  // fuzz/lor_svg.h: the one XML text/attribute escaper

// A short label for a tick value: 100, 2.5k, 10k, 1M, 0.5.
inline std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

struct Axis {
  bool log = true;
  double lo = 1, hi = 10;  // in data units
  double map(double v, double p0, double p1) const {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return p0 + t * (p1 - p0);
  }
  bool plottable(double v) const { return std::isfinite(v) && (!log || v > 0); }
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      for (double d = std::pow(10.0, std::floor(std::log10(lo))); d <= hi * 1.0001; d *= 10)
        if (d >= lo * 0.9999) t.push_back(d);
    } else {
      const double raw = (hi - lo) / 5;
      const double mag = std::pow(10.0, std::floor(std::log10(raw)));
      const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
      for (double v = lo; v <= hi * 1.0001; v += step) t.push_back(v);
    }
    return t;
  }
};

// The axis range covering `values` (decades on a log axis, 0..nice on linear).
inline Axis make_axis(bool log, const std::vector<double>& values) {
  Axis a;
  a.log = log;
  std::vector<double> v;
  for (double x : values)
    if (a.plottable(x)) v.push_back(x);
  if (v.empty()) {
    a.lo = log ? 1 : 0;
    a.hi = log ? 10 : 1;
    return a;
  }
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  if (log) {
    a.lo = std::pow(10.0, std::floor(std::log10(*mn)));
    a.hi = std::pow(10.0, std::ceil(std::log10(*mx)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
  } else {
    a.lo = 0;
    a.hi = *mx > 0 ? *mx * 1.05 : 1;
  }
  return a;
}

}  // namespace svg_detail

inline std::string svg_plot(const std::string& title, const std::vector<SvgPanel>& panels) {
  using namespace svg_detail;
  constexpr double kPanelW = 520, kPanelH = 400, kTop = 40;
  constexpr double kLeft = 70, kRight = 20, kPlotTop = 40, kBottom = 55;
  const double width = kPanelW * static_cast<double>(std::max<size_t>(panels.size(), 1));
  const double height = kTop + kPanelH;
  std::string o = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"{0:.0f}\" height=\"{1:.0f}\" fill=\"white\"/>\n"
      "<text x=\"{2:.1f}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{3}</text>\n",
      width, height, width / 2, xml_escape(title));
  for (size_t pi = 0; pi < panels.size(); ++pi) {
    const SvgPanel& p = panels[pi];
    std::vector<double> xs, ys;
    for (const SvgSeries& s : p.series)
      for (const auto& [x, y] : s.points) {
        xs.push_back(x);
        ys.push_back(y);
      }
    const Axis ax = make_axis(p.log_x, xs), ay = make_axis(p.log_y, ys);
    const double ox = kPanelW * static_cast<double>(pi);
    const double x0 = ox + kLeft, x1 = ox + kPanelW - kRight;
    const double y0 = kTop + kPanelH - kBottom, y1 = kTop + kPlotTop;  // y0 is the bottom
    o += fmt::format("<g>\n<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
                     (x0 + x1) / 2, kTop + 20, xml_escape(p.title));
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"black\"/>\n",
                     x0, y1, x1 - x0, y0 - y1);
    for (double t : ax.ticks()) {
      const double x = ax.map(t, x0, x1);
      o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#dddddd\"/>\n", x, y0, y1);
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, y0 + 16,
                       xml_escape(tick_label(t)));
    }
    for (double t : ay.ticks()) {
      const double y = ay.map(t, y0, y1);
      o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#dddddd\"/>\n", x0, y, x1);
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", x0 - 6, y + 4,
                       xml_escape(tick_label(t)));
    }
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", (x0 + x1) / 2, y0 + 36,
                     xml_escape(p.x_label));
    o += fmt::format(
        "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
        ox + 16, (y0 + y1) / 2, xml_escape(p.y_label));
    double ly = y1 + 16;
    for (const SvgSeries& s : p.series) {
      std::string pts, marks;
      for (const auto& [x, y] : s.points) {
        if (!ax.plottable(x) || !ay.plottable(y)) continue;
        const double px = ax.map(x, x0, x1), py = ay.map(y, y0, y1);
        pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ", px, py);
        marks += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px, py, xml_escape(s.color));
      }
      if (pts.empty()) continue;
      const std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
      o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", xml_escape(s.color),
                       dash, pts);
      o += marks;
      o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>\n",
                       x0 + 10, ly, x0 + 34, xml_escape(s.color), dash);
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x0 + 40, ly + 4, xml_escape(s.name));
      ly += 16;
    }
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace kqsim::cli
