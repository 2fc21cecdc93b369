// config.cc: loading scenario files all or nothing (see config.h).
#include "scenario/config.h"

#include <map>

#include "scenario/checks_reader.h"
#include "scenario/json_reader.h"
#include "scenario/records_reader.h"

namespace pharos::scenario {
namespace {

bool read_file(JsonReader& r, const Value& root, ScenarioConfig& out) {
  return r.object(root, "", {
      {"datacenters", [&](const Value& v, const std::string& at) { return read_datacenters(r, v, at, out.health); }},
      {"checks", [&](const Value& v, const std::string& at) { return read_checks(r, v, at, out.health); }},
      {"scenarios", [&](const Value& v, const std::string& at) { return read_scenarios(r, v, at, out.gtm); }},
      {"regions", [&](const Value& v, const std::string& at) { return read_regions(r, v, at, out.gtm); }},
      {"records", [&](const Value& v, const std::string& at) { return read_records(r, v, at, out.gtm); }},
  });
}

// One file, without the references that may point into other files.
Result<ScenarioConfig> parse_one(std::string_view text, const std::string& path) {
  Result<rapidjson::Document> doc = parse_json(text, path);
  if (!doc) return doc.error();
  ScenarioConfig out;
  out.files.push_back(path);
  JsonReader r(path);
  if (!read_file(r, *doc, out)) return *r.err;
  return out;
}

Result<std::string> text_of(const std::string& path, const FileTexts* texts) {
  if (texts != nullptr)
    if (auto it = texts->find(path); it != texts->end()) return it->second;
  return read_text_file(path);
}

}  // namespace

Result<ScenarioConfig> parse_scenario_text(std::string_view text, const std::string& path) {
  Result<ScenarioConfig> one = parse_one(text, path);
  if (!one) return one;
  GtmSources sources;
  for (const auto& [name, spec] : one->gtm.scenarios) sources.scenario_file[name] = path;
  for (const auto& region : one->gtm.regions) sources.region_file[region.name] = path;
  if (auto e = validate_gtm(one->gtm, one->health, sources)) return *e;
  return one;
}

Result<ScenarioConfig> load_scenario_files(const std::vector<std::string>& paths, const FileTexts* texts) {
  ScenarioConfig all;
  std::map<std::string, std::string> dc_file, check_file;  // name -> file that defined it
  GtmSources sources;
  for (const auto& path : paths) {
    Result<std::string> text = text_of(path, texts);
    if (!text) return text.error();
    Result<ScenarioConfig> one = parse_one(*text, path);
    if (!one) return one.error();
    for (auto& dc : one->health.datacenters) {
      if (auto [it, fresh] = dc_file.emplace(dc.name, path); !fresh)
        return Error{path, "/datacenters/" + pointer_token(dc.name), "data center " + in_quotes(dc.name) +
                                                                          " is also defined in " + it->second};
      all.health.datacenters.push_back(std::move(dc));
    }
    for (auto& [id, spec] : one->health.checks) {
      if (auto [it, fresh] = check_file.emplace(id, path); !fresh)
        return Error{path, "/checks/" + pointer_token(id), "check " + in_quotes(id) + " is also defined in " + it->second};
      all.health.checks.emplace(id, std::move(spec));
    }
    for (auto& [name, spec] : one->gtm.scenarios) {
      if (auto [it, fresh] = sources.scenario_file.emplace(name, path); !fresh)
        return Error{path, "/scenarios/" + pointer_token(name), "scenario " + in_quotes(name) + " is also defined in " + it->second};
      all.gtm.scenarios.emplace(name, std::move(spec));
    }
    for (auto& region : one->gtm.regions) {
      if (auto [it, fresh] = sources.region_file.emplace(region.name, path); !fresh)
        return Error{path, "/regions/" + pointer_token(region.name), "region " + in_quotes(region.name) +
                                                                         " is also defined in " + it->second};
      all.gtm.regions.push_back(std::move(region));
    }
    for (auto& rec : one->gtm.records) all.gtm.records.push_back(std::move(rec));
    all.files.push_back(path);
  }
  // Each file's records were checked on their own; this finds clashes between files.
  if (auto e = check_record_names(all.gtm.records)) return *e;
  if (auto e = validate_gtm(all.gtm, all.health, sources)) return *e;
  return all;
}

}  // namespace pharos::scenario
