// loader.cc: config -> zones -> answer table, collecting every error on the way.
#include "app/loader.h"

#include <malloc.h>

#include <utility>

#include "dns/zone.h"
#include "scenario/render.h"

namespace pharos::app {

LoadResult load_everything(const std::string& config_path) {
  LoadResult r;
  Result<Config> config = load_config(config_path);
  if (!config) {
    r.errors.push_back(config.error());
    return r;
  }
  std::vector<dns::ZoneData> zones;
  std::vector<std::string> serials;
  for (const ZoneConfig& z : config->zones) {
    Result<dns::ZoneData> data = dns::load_zone(z.name, z.file);
    if (!data) {
      r.errors.push_back(data.error());
      continue;
    }
    for (auto& w : data->warnings) r.warnings.push_back(std::move(w));
    serials.push_back(z.name + "=" + std::to_string(data->soa_serial));
    zones.push_back(std::move(*data));
  }
  Result<scenario::ScenarioConfig> scenarios = scenario::load_scenario_files(config->scenarios);
  if (!scenarios) r.errors.push_back(scenarios.error());
  if (!r.errors.empty()) return r;

  if (config->debounce_ms) scenarios->gtm.debounce = scenario::Millis(*config->debounce_ms);
  Result<std::vector<dns::DynamicRrset>> gtm = scenario::render_records(scenarios->gtm);
  if (!gtm) {
    r.errors.push_back(gtm.error());
    return r;
  }
  const std::size_t zone_count = zones.size();
  Result<std::unique_ptr<dns::AnswerTable>> table = dns::build_table(
      std::move(zones), config->table, std::move(*gtm), scenario::render_regions(scenarios->gtm));
  if (!table) {
    Error e = table.error();
    if (e.file.empty()) e.file = config_path;
    r.errors.push_back(std::move(e));
    return r;
  }
  // Loading a large zone leaves tens of megabytes of freed parse buffers in malloc's free lists
  // (the zone data was consumed by the builder); give them back so RSS reflects the table.
  malloc_trim(0);
  Loaded l;
  l.config = std::move(*config);
  l.name_count = (*table)->node_count();
  l.table = std::move(*table);
  l.zone_count = zone_count;
  l.serials = std::move(serials);
  l.scenarios = std::move(*scenarios);
  r.loaded = std::move(l);
  return r;
}

}  // namespace pharos::app
