// lor_svg.h - the lock-order graph as an inline SVG drawing, laid out by our
// own code (no Graphviz at run time), for the HTML report.
//
// Contract
// --------
// lock_order_svg(graph, reversals) returns one <svg> element (UTF-8 text, no
// external references, no script) drawing every class of `graph` as a box
// (name and lock kind) and every order edge as an arrow before -> after,
// whose <title> tooltip gives the first-seen sites. Layout: a layered drawing,
// left to right: a class's column is the length of the longest order path
// that reaches it (the order graph is acyclic), rows in creation order within
// a column. For each reversal in `reversals` (matched by class name) the
// reversing edge first -> second is drawn red and dashed, arching back
// against the order, labelled "reversal" with its two sites, and the edges of
// its established path are drawn red. The drawing has class="lock-graph" and
// the reversing edges class="reversal-edge". With no classes it is a small
// drawing saying so.
//
// Escaping: every name and site is XML-escaped. No locks: a pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "locks/witness_graph.h"

namespace kqsim::fuzz {

std::string lock_order_svg(const locks::WitnessGraph& graph, const std::vector<locks::Reversal>& reversals);

// XML/HTML text escaping (& < > " ').
std::string xml_escape(std::string_view s);

}  // namespace kqsim::fuzz
