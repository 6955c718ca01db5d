// unregistered_scenario.h - scenarios that only a test runs.
//
// Contract: make_unregistered(def) builds a Scenario from a Definition without
// adding it to the registry (`kqsim list`/`check` never see it) and keeps it
// alive for the rest of the process, so a test can hand it to the runners.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "scenarios/scenario.h"

namespace kqsim::testing {

template <class State>
const scenarios::Scenario& make_unregistered(scenarios::Definition<State>&& d) {
  static std::vector<std::unique_ptr<scenarios::Scenario>> keep;
  keep.push_back(std::make_unique<scenarios::detail::TypedScenario<State>>(std::move(d)));
  return *keep.back();
}

}  // namespace kqsim::testing
