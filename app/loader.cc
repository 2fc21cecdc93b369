// loader.cc: config -> zones -> answer table, collecting every error on the way.
#include "app/loader.h"

#include <malloc.h>

#include <utility>

#include "app/log.h"
#include "dns/zone.h"
#include "scenario/json_reader.h"
#include "scenario/render.h"

namespace pharos::app {

LoadResult load_everything(const std::string& config_path, const scenario::FileTexts* scenario_texts) {
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
  Result<scenario::ScenarioConfig> scenarios = scenario::load_scenario_files(config->scenarios, scenario_texts);
  if (!scenarios) r.errors.push_back(scenarios.error());
  if (!r.errors.empty()) return r;

  // Countries and continents become networks here, off the query path; a bad database fails the
  // whole load like a bad zone, so a reload keeps the running answers.
  std::optional<scenario::GeoIpExpansion> geo;
  if (config->geoip_database.empty()) {
    for (const scenario::RegionSpec& region : scenarios->gtm.regions) {
      if (region.countries.empty() && region.continents.empty()) continue;
      r.errors.push_back(Error{region.file,
                               "/regions/" + scenario::pointer_token(region.name) +
                                   (region.countries.empty() ? "/continents" : "/countries"),
                               "naming countries or continents needs a GeoIP2 database: add \"geoip\": { \"database\": "
                               "\"GeoLite2-Country.mmdb\" } to " + config_path});
      return r;
    }
  } else {
    Result<scenario::GeoIpExpansion> expanded = scenario::expand_geoip(config->geoip_database, scenarios->gtm.regions);
    if (!expanded) {
      r.errors.push_back(expanded.error());
      return r;
    }
    geo = std::move(*expanded);
  }

  if (config->debounce_ms) scenarios->gtm.debounce = scenario::Millis(*config->debounce_ms);
  Result<std::vector<dns::DynamicRrset>> gtm = scenario::render_records(scenarios->gtm);
  if (!gtm) {
    r.errors.push_back(gtm.error());
    return r;
  }
  const std::size_t zone_count = zones.size();
  Result<std::unique_ptr<dns::AnswerTable>> table = dns::build_table(
      std::move(zones), config->table, std::move(*gtm), scenario::render_regions(scenarios->gtm, geo ? &*geo : nullptr));
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
  if (geo) {
    const scenario::GeoIpStats& g = geo->stats;
    std::string empty;
    for (const auto& name : g.empty_regions) empty += (empty.empty() ? "" : ",") + name;
    const dns::RegionTable& regions = l.table->region_table();
    log_info("geoip regions", {{"database", l.config.geoip_database},
                               {"type", g.database_type},
                               {"build_epoch", std::to_string(g.build_epoch)},
                               {"tree_nodes", std::to_string(g.nodes)},
                               {"leaves", std::to_string(g.leaves)},
                               {"records", std::to_string(g.records)},
                               {"aliases", std::to_string(g.aliases)},
                               {"networks4", std::to_string(g.networks4)},
                               {"networks6", std::to_string(g.networks6)},
                               {"blocks4", std::to_string(regions.geo_blocks(4))},
                               {"blocks6", std::to_string(regions.geo_blocks(6))},
                               {"region_bytes", std::to_string(regions.memory_bytes())},
                               {"walk_ms", std::to_string(g.elapsed.count() / 1000.0)},
                               {"empty_regions", empty.empty() ? "-" : empty}});
    l.geoip = std::move(geo->stats);
  }
  r.loaded = std::move(l);
  return r;
}

}  // namespace pharos::app
