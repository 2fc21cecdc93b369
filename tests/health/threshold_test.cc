// threshold_test.cc: the check state machine, table-driven.
#include "health/threshold.h"

#include <gtest/gtest.h>

#include <string>

namespace pharos::health {
namespace {

// Runs a sequence of results ('+' success, '-' failure) and returns the states after each.
std::string run(const std::string& results, Thresholds th, CheckState start = {}) {
  std::string out;
  CheckState s = start;
  for (char c : results) {
    s = next(s, c == '+' ? Observation::kSuccess : Observation::kFailure, th).state;
    out += s.state == State::kUp ? 'U' : s.state == State::kDown ? 'D' : '?';
  }
  return out;
}

struct Case {
  const char* name;
  const char* results;
  Thresholds thresholds;
  const char* states;
};

TEST(Threshold, TableOfSequences) {
  const Case cases[] = {
      {"first success decides", "+", {3, 3}, "U"},
      {"first failure decides", "-", {3, 3}, "D"},
      {"needs 2 failures to go down", "+--", {2, 2}, "UUD"},
      {"a success resets the failure run", "+-+-", {2, 2}, "UUUU"},
      {"needs 3 successes to come back", "---+++", {3, 2}, "DDDDDU"},
      {"a failure resets the success run", "-++-+++", {3, 1}, "DDDDDDU"},
      {"threshold 1 flips at once", "+-+-", {1, 1}, "UDUD"},
      {"zero thresholds act as 1", "+-", {0, 0}, "UD"},
  };
  for (const Case& c : cases) EXPECT_EQ(run(c.results, c.thresholds), c.states) << c.name;
}

TEST(Threshold, ReportsTransitionsOnlyOnChange) {
  CheckState s;
  Transition t = next(s, Observation::kSuccess, {2, 2});
  EXPECT_TRUE(t.changed);
  EXPECT_EQ(t.from, State::kUnknown);
  EXPECT_EQ(t.to, State::kUp);
  t = next(t.state, Observation::kFailure, {2, 2});
  EXPECT_FALSE(t.changed);
  EXPECT_EQ(t.state.failures, 1u);
  t = next(t.state, Observation::kFailure, {2, 2});
  EXPECT_TRUE(t.changed);
  EXPECT_EQ(t.to, State::kDown);
}

TEST(Threshold, FlappingTargetDoesNotFlipWhenThresholdsForbidIt) {
  // A target failing every other probe (50%) never produces two results in a row either way.
  std::string alternating;
  for (int i = 0; i < 1000; ++i) alternating += (i % 2 == 0) ? '+' : '-';
  const std::string states = run(alternating, {2, 2});
  EXPECT_EQ(states, std::string(1000, 'U'));
  const std::string from_down = run(alternating.substr(1), {2, 2});
  EXPECT_EQ(from_down, std::string(999, 'D'));
}

}  // namespace
}  // namespace pharos::health
