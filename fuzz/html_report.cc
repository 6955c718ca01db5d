#include "fuzz/html_report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "fuzz/lor_svg.h"

namespace kqsim::fuzz {

namespace {

constexpr const char* kCss = R"CSS(
body { font-family: sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 20px 0 6px 0; border-bottom: 1px solid #ccc; }
.meta { color: #555; margin: 0 0 8px 0; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; margin: 4px 0; }
.finding { border-left: 4px solid #c00; padding-left: 8px; margin: 8px 0; }
.finding h3 { font-size: 14px; margin: 0; color: #c00; }
.clean { color: #070; }
#controls button { margin-right: 4px; }
#timeline-box { display: flex; border: 1px solid #ccc; }
#lane-labels { flex: none; width: 90px; border-right: 1px solid #ccc; background: #fafafa; }
.lane-label { font: bold 12px monospace; padding-left: 6px; box-sizing: border-box; border-bottom: 1px solid #ddd; }
#timeline-scroll { overflow-x: auto; flex: 1; }
#timeline-svg { display: block; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
table.around { border-collapse: collapse; font: 12px monospace; }
table.around td, table.around th { border: 1px solid #ddd; padding: 1px 6px; text-align: left; vertical-align: top; }
table.around tr.ptr-write td.ev { background: #fde2e2; }
table.around tr.finding-row td { background: #c00; color: #fff; }
table.around td.site { color: #666; }
.note { color: #a60; }
)CSS";

// The timeline renderer. Reads the JSON in #kqsim-data, draws into
// #timeline-svg, and marks <body> with data-rendered / data-error.
constexpr const char* kScript = R"JS(
(function () {
  'use strict';
  var NS = document.getElementById('timeline-svg').namespaceURI;  // the SVG namespace, without a URL here
  var body = document.body;
  window.addEventListener('error', function (e) { body.setAttribute('data-error', String(e.message)); });
  var D = JSON.parse(document.getElementById('kqsim-data').textContent);
  var CLS = D.classes;
  var colW = 8;
  var LABEL_H = 22, EV_H = 18, SPAN_H = 11, PAD = 6;
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function title(parent, text) { var t = el('title', {}, parent); t.textContent = text; }
  function color(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
    return 'hsl(' + h + ',55%,72%)';
  }
  // Lane geometry: lock spans stacked by depth above the event row.
  var depth = D.lanes.map(function () { return 0; });
  D.spans.forEach(function (s) { depth[s[0]] = Math.max(depth[s[0]], s[1] + 1); });
  var laneTop = [], y = LABEL_H;
  var laneH = D.lanes.map(function (_, i) { return PAD + depth[i] * SPAN_H + EV_H + PAD; });
  D.lanes.forEach(function (_, i) { laneTop.push(y); y += laneH[i]; });
  var totalH = y + 4;
  var ncols = D.events.length;
  function x(i) { return (i - D.first) * colW; }
  function draw() {
    var svg = document.getElementById('timeline-svg');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = Math.max(200, (ncols + 1) * colW + 240);
    svg.setAttribute('width', W);
    svg.setAttribute('height', totalH);
    var labels = document.getElementById('lane-labels');
    labels.innerHTML = '';
    var head = document.createElement('div');
    head.className = 'lane-label';
    head.style.height = LABEL_H + 'px';
    head.textContent = 'step';
    labels.appendChild(head);
    // Step axis: a tick every ~80 px.
    var axis = el('g', {'class': 'axis'}, svg);
    var every = Math.max(1, Math.round(80 / colW));
    for (var i = 0; i < ncols; i += every) {
      var t = el('text', {x: x(D.first + i) + 1, y: 14, 'font-size': 10, fill: '#666'}, axis);
      t.textContent = String(D.events[i][0]);
      el('line', {x1: x(D.first + i), x2: x(D.first + i), y1: 16, y2: totalH, stroke: '#eee'}, axis);
    }
    D.lanes.forEach(function (name, li) {
      var g = el('g', {'class': 'lane', 'data-lane': name, transform: 'translate(0,' + laneTop[li] + ')'}, svg);
      el('rect', {x: 0, y: 0, width: W, height: laneH[li], fill: li % 2 ? '#fbfbfb' : '#fff', stroke: '#ddd'}, g);
      var lab = document.createElement('div');
      lab.className = 'lane-label';
      lab.style.height = laneH[li] + 'px';
      lab.style.lineHeight = laneH[li] + 'px';
      lab.textContent = name;
      labels.appendChild(lab);
      g.setAttribute('data-events', '0');
    });
    var lanes = svg.querySelectorAll('g.lane');
    D.spans.forEach(function (s) {
      // [lane, depth, begin, end, name, lock, site, shared, continued, released]
      var g = lanes[s[0]];
      var x1 = x(s[2]), x2 = x(Math.max(s[3], s[2] + 1));
      var r = el('rect', {'class': 'lock-span', x: x1, y: PAD + (depth[s[0]] - 1 - s[1]) * SPAN_H,
                          width: Math.max(2, x2 - x1), height: SPAN_H - 1, fill: color(s[4]),
                          stroke: '#777', 'stroke-width': 0.5}, g);
      title(r, (s[7] ? 'shared ' : '') + s[5] + ' held' + (s[8] ? ' (continued)' : '') + ' from step ' +
            D.events[s[2] - D.first][0] + (s[9] ? ' to step ' + (s[3] - D.first < ncols ? D.events[s[3] - D.first][0] : 'end')
                                                : ', still held at the end') + '; acquired at ' + s[6]);
      if (x2 - x1 > 6 * s[4].length + 4) {
        var t = el('text', {x: x1 + 3, y: PAD + (depth[s[0]] - 1 - s[1]) * SPAN_H + SPAN_H - 2,
                            'font-size': 9, 'pointer-events': 'none'}, g);
        t.textContent = s[4];
      }
    });
    D.blocks.forEach(function (b) {
      var g = lanes[b[0]];
      var x1 = x(b[1]), x2 = x(Math.max(b[2], b[1] + 1));
      var r = el('rect', {'class': 'block-span', x: x1, y: PAD + depth[b[0]] * SPAN_H + 5, width: Math.max(2, x2 - x1),
                          height: EV_H - 10, fill: '#bbb'}, g);
      title(r, 'blocked: ' + b[3]);
    });
    D.events.forEach(function (e, k) {
      // [step, lane, class, op, detail, site, list]
      var g = lanes[e[1]];
      var c = CLS[e[2]];
      var ex = x(D.first + k), ey = PAD + depth[e[1]] * SPAN_H;
      var attrs = {'class': 'ev ev-' + c, x: ex, y: ey + 4, width: Math.max(1, colW - 1), height: EV_H - 8};
      if (c === 'store') {
        attrs.fill = e[6] ? '#d00' : '#e80';
        attrs.y = ey; attrs.height = EV_H;
      } else if (c === 'load') { attrs.fill = e[6] ? '#f99' : '#aaa'; }
      else if (c === 'atomic') { attrs.fill = '#48c'; }
      else if (c === 'knote') { attrs.fill = '#808'; attrs.y = ey; attrs.height = EV_H; }
      else if (c === 'wake') { attrs.fill = '#0a0'; }
      else if (c === 'lock' || c === 'unlock') { attrs.fill = '#333'; attrs.height = 3; attrs.y = ey + EV_H - 3; }
      else if (c === 'finding') { attrs.fill = '#c00'; attrs.y = ey; attrs.height = EV_H; }
      else { attrs.fill = '#666'; }
      var r = el('rect', attrs, g);
      title(r, 'step ' + e[0] + ' ' + D.lanes[e[1]] + ': ' + e[3] + (e[4] ? ' ' + e[4] : '') + (e[5] ? ' @ ' + e[5] : ''));
      g.setAttribute('data-events', String(Number(g.getAttribute('data-events')) + 1));
    });
    D.findings.forEach(function (f, n) {
      if (f.event < D.first) return;
      var fx = x(f.event) + colW / 2;
      var g = el('g', {'class': 'finding-marker', 'data-kind': f.kind, 'data-step': f.step,
                       id: 'marker-' + (n + 1)}, svg);
      el('line', {x1: fx, x2: fx, y1: 0, y2: totalH, stroke: '#c00', 'stroke-width': 2}, g);
      var t = el('text', {x: fx - 4, y: 12 + 12 * n, fill: '#c00', 'font-size': 12, 'font-weight': 'bold',
                          'text-anchor': 'end', stroke: '#fff', 'stroke-width': 4, 'paint-order': 'stroke'}, g);
      t.textContent = 'FINDING ' + f.kind + ' at step ' + f.step;
      title(g, f.headline);
    });
  }
  function showFinding() {
    var box = document.getElementById('timeline-scroll');
    if (!D.findings.length) { box.scrollLeft = box.scrollWidth; return; }
    box.scrollLeft = Math.max(0, x(D.findings[0].event) - box.clientWidth * 0.7);
  }
  document.getElementById('zoom-in').addEventListener('click', function () { colW = Math.min(48, colW * 2); draw(); showFinding(); });
  document.getElementById('zoom-out').addEventListener('click', function () { colW = Math.max(1, colW / 2); draw(); showFinding(); });
  document.getElementById('to-finding').addEventListener('click', showFinding);
  draw();
  showFinding();
  if (!body.hasAttribute('data-error')) body.setAttribute('data-rendered', 'ok');
})();
)JS";

std::string esc(std::string_view s) { return xml_escape(s); }

// JSON text safe inside <script>: no "</" (ends the element) and, with
// ensure_ascii, no raw U+2028/2029.
std::string script_json(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', /*ensure_ascii=*/true);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') out += "\\u003c";
    else out += s[i];
  }
  return out;
}

}  // namespace

std::string html_report(const TraceModel& m, const std::string& replay_cmd, const std::string& lock_svg,
                        const HtmlReportOptions& opts) {
  using json = nlohmann::json;
  const size_t n = m.events.size();
  // The window: max_events events ending at the last finding (or the end).
  size_t last = n;
  if (!m.findings.empty()) last = std::min(n, m.findings.back().event + 1);
  if (last < n) last = std::min(n, last + 20);  // a little context after the finding
  size_t first = last > opts.max_events ? last - opts.max_events : 0;

  json classes = json::array();
  for (int c = 0; c <= static_cast<int>(EventClass::kOther); ++c)
    classes.push_back(event_class_name(static_cast<EventClass>(c)));
  json events = json::array();
  for (size_t i = first; i < last; ++i) {
    const TraceEventView& v = m.events[i];
    events.push_back(json::array({v.step, v.lane, static_cast<int>(v.cls), v.op, v.detail, v.site,
                                  is_list_label(v.detail) ? 1 : 0}));
  }
  json spans = json::array();
  for (const LockSpan& s : m.spans) {
    if (s.end <= first || s.begin >= last) continue;
    const size_t b = std::max(s.begin, first);
    const size_t e = std::min(s.end, last);
    spans.push_back(json::array({s.lane, s.depth, b, e, s.name, s.lock, s.site, s.shared, s.continued || b != s.begin,
                                 s.released && s.end < last}));
  }
  json blocks = json::array();
  for (const BlockSpan& b : m.blocks) {
    if (b.end <= first || b.begin >= last) continue;
    blocks.push_back(json::array({b.lane, std::max(b.begin, first), std::min(b.end, last), b.what}));
  }
  json findings = json::array();
  for (const FindingView& f : m.findings)
    findings.push_back({{"event", f.event}, {"step", f.step}, {"kind", f.kind}, {"headline", f.headline}});
  json data = {{"scenario", m.scenario}, {"design", m.design}, {"lanes", m.lanes}, {"classes", classes},
               {"first", first},         {"events", events},   {"spans", spans},   {"blocks", blocks},
               {"findings", findings}};

  std::string h;
  auto it = std::back_inserter(h);
  const std::string title = fmt::format("kqsim: {} under {}", m.scenario, m.design);
  fmt::format_to(it,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n"
                 "<style>{}</style>\n</head>\n<body>\n",
                 esc(title), kCss);
  fmt::format_to(it, "<h1>{}</h1>\n<p class=\"meta\">{}; {} scheduling steps, {} trace events; threads: {}</p>\n",
                 esc(title), esc(m.how), m.steps, n, esc(fmt::format("{}", fmt::join(m.lanes, ", "))));

  h += "<h2>Findings</h2>\n";
  if (m.findings.empty()) h += "<p class=\"clean\">no findings: this execution is clean</p>\n";
  for (size_t i = 0; i < m.findings.size(); ++i) {
    const FindingView& f = m.findings[i];
    fmt::format_to(it,
                   "<div class=\"finding\" id=\"finding-{}\" data-kind=\"{}\"><h3>{} at step {}{}{}</h3>"
                   "<pre>{}</pre></div>\n",
                   i + 1, esc(f.kind), esc(f.kind), f.step, f.threads.empty() ? "" : "; threads ",
                   esc(fmt::format("{}", fmt::join(f.threads, ", "))), esc(f.message));
  }
  fmt::format_to(it, "<h2>Replay</h2>\n<pre id=\"replay\">{}</pre>\n", esc(replay_cmd));

  h += "<h2>Timeline</h2>\n";
  if (first > 0)
    fmt::format_to(it,
                   "<p class=\"note\">The trace has {} events; the timeline shows the last {} up to the finding "
                   "(from step {}).</p>\n",
                   n, last - first, m.events[first].step);
  h += "<p id=\"controls\"><button id=\"zoom-out\">zoom &#8722;</button><button id=\"zoom-in\">zoom +</button>"
       "<button id=\"to-finding\">go to the finding</button> one column per trace event; hover for details</p>\n"
       "<p class=\"legend\"><span><i style=\"background:#d00\"></i>pointer write of a list operation</span>"
       "<span><i style=\"background:#f99\"></i>pointer read of a list operation</span>"
       "<span><i style=\"background:#e80\"></i>other store</span><span><i style=\"background:#aaa\"></i>load</span>"
       "<span><i style=\"background:#48c\"></i>atomic</span><span><i style=\"background:#808\"></i>KNOTE</span>"
       "<span><i style=\"background:#0a0\"></i>wakeup</span><span><i style=\"background:#bbb\"></i>blocked</span>"
       "<span><i style=\"background:hsl(200,55%,72%)\"></i>lock held (one bar per lock, nested)</span></p>\n"
       "<div id=\"timeline-box\"><div id=\"lane-labels\"></div><div id=\"timeline-scroll\">"
       "<svg id=\"timeline-svg\" font-family=\"monospace\"></svg>"
       "</div></div>\n";

  // The events just before the first finding, one column per thread.
  const size_t focus = m.findings.empty() ? n : m.findings.front().event + 1;
  const size_t from = focus > opts.table_events ? focus - opts.table_events : 0;
  fmt::format_to(it, "<h2>{}</h2>\n",
                 m.findings.empty() ? "The last events" : "The events before the finding");
  h += "<table class=\"around\"><tr><th>step</th>";
  for (const std::string& l : m.lanes) fmt::format_to(it, "<th>{}</th>", esc(l));
  h += "<th>site</th></tr>\n";
  for (size_t i = from; i < focus; ++i) {
    const TraceEventView& v = m.events[i];
    if (v.cls == EventClass::kFinding) {
      fmt::format_to(it, "<tr class=\"finding-row\"><td>{}</td><td colspan=\"{}\">FINDING {}</td></tr>\n", v.step,
                     m.lanes.size() + 1, esc(v.detail));
      continue;
    }
    const bool ptr_write = v.cls == EventClass::kStore && is_list_label(v.detail);
    fmt::format_to(it, "<tr{}><td>{}</td>", ptr_write ? " class=\"ptr-write\"" : "", v.step);
    for (size_t l = 0; l < m.lanes.size(); ++l) {
      if (l == v.lane)
        fmt::format_to(it, "<td class=\"ev\">{}{}{}</td>", esc(v.op), v.detail.empty() ? "" : " ", esc(v.detail));
      else
        h += "<td></td>";
    }
    fmt::format_to(it, "<td class=\"site\">{}</td></tr>\n", esc(v.site));
  }
  h += "</table>\n";

  h += "<h2>Lock-order graph</h2>\n<div id=\"lock-graph\">\n";
  // Inline SVG needs no xmlns in HTML: drop it, so the page names no URL.
  std::string svg = lock_svg;
  for (const std::string_view ns : {" xmlns=\"http://www.w3.org/2000/svg\""}) {
    for (size_t p = svg.find(ns); p != std::string::npos; p = svg.find(ns)) svg.erase(p, ns.size());
  }
  h += svg;
  h += "\n</div>\n";
  fmt::format_to(it, "<script type=\"application/json\" id=\"kqsim-data\">{}</script>\n", script_json(data));
  fmt::format_to(it, "<script>{}</script>\n</body>\n</html>\n", kScript);
  return h;
}

}  // namespace kqsim::fuzz
