// threshold.cc: see threshold.h.
#include "health/threshold.h"

#include <algorithm>

namespace pharos::health {

const char* to_string(State s) {
  switch (s) {
    case State::kUnknown: return "unknown";
    case State::kUp: return "up";
    case State::kDown: return "down";
  }
  return "?";
}

Transition next(const CheckState& current, Observation observation, const Thresholds& thresholds) {
  Transition t;
  t.state = current;
  t.from = current.state;
  const bool success = observation == Observation::kSuccess;
  if (success) {
    t.state.successes = current.successes + 1;
    t.state.failures = 0;
  } else {
    t.state.failures = current.failures + 1;
    t.state.successes = 0;
  }
  const auto need_up = static_cast<std::uint32_t>(std::max(1, thresholds.required_success));
  const auto need_down = static_cast<std::uint32_t>(std::max(1, thresholds.required_failure));
  switch (current.state) {
    case State::kUnknown:
      // The first result decides: there is no known state to protect yet.
      t.state.state = success ? State::kUp : State::kDown;
      break;
    case State::kUp:
      if (!success && t.state.failures >= need_down) t.state.state = State::kDown;
      break;
    case State::kDown:
      if (success && t.state.successes >= need_up) t.state.state = State::kUp;
      break;
  }
  t.to = t.state.state;
  t.changed = t.from != t.to;
  return t;
}

}  // namespace pharos::health
