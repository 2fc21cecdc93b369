// loader.h: one complete load: the config, every zone and scenario file it names, and the answer
// table built from them. Used at startup, by --check and by reload; never on the query path.
//
//   LoadResult r = load_everything("pharos.json");
//   for (const Error& e : r.errors) log(e.to_string());
//   if (r.loaded) server.publish(std::move(r.loaded->table));
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/config.h"
#include "dns/answer_table.h"
#include "dns/result.h"
#include "scenario/config.h"
#include "scenario/geoip.h"

namespace pharos::app {

struct Loaded {
  Config config;
  std::unique_ptr<dns::AnswerTable> table;
  scenario::ScenarioConfig scenarios;  // data centers and checks for the health engine
  std::size_t zone_count = 0;
  std::size_t name_count = 0;
  std::vector<std::string> serials;  // "example.com.=2026112301", for the log
  std::optional<scenario::GeoIpStats> geoip;  // set when pharos.json names a GeoIP2 database
};

struct LoadResult {
  std::optional<Loaded> loaded;      // set only when there were no errors at all
  std::vector<Error> errors;         // the config error, or every bad zone, or the table error
  std::vector<std::string> warnings; // zone warnings worth logging ("file:line: message")
};

// All or nothing: any error leaves `loaded` empty. Every zone is tried so that one run reports
// every broken file. `scenario_texts` (optional) replaces the contents of some scenario files,
// keyed by their path as resolved in the config: a config change is checked by this very load
// before anything is written.
LoadResult load_everything(const std::string& config_path, const scenario::FileTexts* scenario_texts = nullptr);

}  // namespace pharos::app
