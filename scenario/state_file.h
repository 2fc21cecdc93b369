// state_file.h: the state of a running pharosd as a JSON file in state_dir (DOMAIN.md §6): check
// verdicts, forced states, maintenance, settled scenario values and selection memory. Written
// atomically (a kill -9 at any moment leaves the previous file or the new one); read with
// validation, so a damaged file is reported with a reason and never half-applied.
//
//   StateFile s{now, health.save(), gtm.save()};
//   if (auto e = write_state_file(dir, to_json(s))) log(e->to_string());
//   Result<StateFile> back = read_state_file(state_path(dir));   // error: ignore it, start fresh
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "dns/result.h"
#include "health/health_state.h"
#include "scenario/gtm_engine.h"

namespace pharos::scenario {

inline constexpr int kStateVersion = 1;
inline constexpr const char* kStateFileName = "state.json";
inline constexpr const char* kStateTempName = "state.json.tmp";

struct StateFile {
  SystemTime written_at{};
  health::SavedHealth health;
  SavedGtm gtm;
  bool operator==(const StateFile&) const = default;
};

std::string state_path(const std::string& dir);  // <dir>/state.json

// Times are whole unix milliseconds: what survives a round trip is the time to the millisecond.
std::string to_json(const StateFile& state);
// Validates everything before returning anything: wrong version, wrong types, impossible values
// (a serving index outside its chain) are errors with a JSON Pointer.
Result<StateFile> parse_state(std::string_view text, const std::string& path);
Result<StateFile> read_state_file(const std::string& path);

// Creates `dir` and any missing parent (mode 0750). Nothing if it exists.
std::optional<Error> make_state_dir(const std::string& dir);
// Writes <dir>/state.json.tmp, fsyncs it, renames it over <dir>/state.json and fsyncs the
// directory, so that after a crash the directory holds the old file or the new one, whole.
// Blocks on the disk: run it off the control loop.
std::optional<Error> write_state_file(const std::string& dir, std::string_view text);

}  // namespace pharos::scenario
