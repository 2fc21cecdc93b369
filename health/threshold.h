// threshold.h: the check state machine as a pure function. A check is unknown until its first
// result, then up or down, and changes only after required_success / required_failure consecutive
// results the other way.
//
//   CheckState s;
//   Transition t = next(s, Observation::kFailure, Thresholds{2, 3});
//   if (t.changed) log(t.from, t.to);
//   s = t.state;
#pragma once

#include <cstdint>

#include "health/check.h"

namespace pharos::health {

enum class State : std::uint8_t { kUnknown, kUp, kDown };
const char* to_string(State s);

enum class Observation : std::uint8_t { kSuccess, kFailure };

struct CheckState {
  State state = State::kUnknown;
  std::uint32_t successes = 0;   // consecutive, reset by a failure
  std::uint32_t failures = 0;    // consecutive, reset by a success
  bool operator==(const CheckState&) const = default;
};

struct Transition {
  CheckState state;
  bool changed = false;
  State from = State::kUnknown;
  State to = State::kUnknown;
};

Transition next(const CheckState& current, Observation observation, const Thresholds& thresholds);

}  // namespace pharos::health
