// config.h: what the scenario files (JSON, listed under "scenarios" in pharos.json) hold, and
// loading them all or nothing. Data centers and checks become the health engine's configuration.
//
//   Result<ScenarioConfig> c = load_scenario_files({"zones/gtm.json"});
//   if (!c) log(c.error().to_string());   // "zones/gtm.json: /checks/web1/url: must be a string"
//   engine.apply(c->health);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "health/health_state.h"

namespace pharos::scenario {

struct ScenarioConfig {
  health::HealthConfig health;      // checks (users' and DC targets) and data centers
  std::vector<std::string> files;   // where it came from
};

// Reads every file; names must be unique across them. Any error fails the whole load.
Result<ScenarioConfig> load_scenario_files(const std::vector<std::string>& paths);

// One file's text (tests, fuzzing). Relative paths inside it start at `path`'s directory.
Result<ScenarioConfig> parse_scenario_text(std::string_view text, const std::string& path);

}  // namespace pharos::scenario
