// config.h: what the scenario files (JSON, listed under "scenarios" in pharos.json) hold, and
// loading them all or nothing. Data centers and checks become the health engine's configuration;
// scenarios, regions and GTM records become the GtmConfig (docs/gtm.md, docs/scenario.schema.json).
//
//   Result<ScenarioConfig> c = load_scenario_files({"zones/gtm.json"});
//   if (!c) log(c.error().to_string());   // "zones/gtm.json: /checks/web1/url: must be a string"
//   engine.apply(c->health);
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "health/health_state.h"
#include "scenario/model.h"

namespace pharos::scenario {

struct ScenarioConfig {
  health::HealthConfig health;      // checks (users' and DC targets) and data centers
  GtmConfig gtm;                    // scenarios, regions and GTM records
  std::vector<std::string> files;   // where it came from
};

// Reads every file; names (DCs, checks, scenarios, regions, record name+type) must be unique
// across them, and references (scenario terms, chain DCs and scenarios, drCond, geo regions) are
// checked once all are read, so a record may use a DC of another file. Any error fails the load.
// `texts` (optional) holds the contents to use instead of reading some of the paths: a config
// change is validated by this same load before its files are written (app/config_change.h).
using FileTexts = std::map<std::string, std::string>;
Result<ScenarioConfig> load_scenario_files(const std::vector<std::string>& paths, const FileTexts* texts = nullptr);

// One file's text (tests, fuzzing), its references checked as if it were the only file.
// Relative paths inside it start at `path`'s directory.
Result<ScenarioConfig> parse_scenario_text(std::string_view text, const std::string& path);

}  // namespace pharos::scenario
