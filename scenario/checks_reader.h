// checks_reader.h: the "datacenters" and "checks" sections of a scenario file, read into
// health::CheckSpec and health::DcSpec with an error at the exact JSON Pointer.
#pragma once

#include "health/health_state.h"
#include "scenario/json_reader.h"

namespace pharos::scenario {

// Defaults a DC passes to its targets (each target may override them).
struct CheckDefaults {
  std::uint64_t interval_ms = 5000;
  std::optional<std::uint64_t> timeout_ms;  // unset: half the interval, at most 2 s
  int required_success = 2;
  int required_failure = 2;
};

// Reads one check object (a user check, or a target inside a DC dimension).
bool read_check(JsonReader& r, const Value& v, const std::string& where, const CheckDefaults& defaults,
                health::CheckSpec& out);

// Reads "datacenters": DC specs into `out.datacenters` and their targets into `out.checks`.
bool read_datacenters(JsonReader& r, const Value& v, const std::string& where, health::HealthConfig& out);

// Reads "checks": user checks keyed by their IDs into `out.checks`.
bool read_checks(JsonReader& r, const Value& v, const std::string& where, health::HealthConfig& out);

}  // namespace pharos::scenario
