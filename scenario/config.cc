// config.cc: loading scenario files all or nothing (see config.h).
#include "scenario/config.h"

#include <map>

#include "scenario/checks_reader.h"
#include "scenario/json_reader.h"

namespace pharos::scenario {
namespace {

bool read_file(JsonReader& r, const Value& root, ScenarioConfig& out) {
  return r.object(root, "", {
      {"datacenters", [&](const Value& v, const std::string& at) { return read_datacenters(r, v, at, out.health); }},
      {"checks", [&](const Value& v, const std::string& at) { return read_checks(r, v, at, out.health); }},
  });
}

}  // namespace

Result<ScenarioConfig> parse_scenario_text(std::string_view text, const std::string& path) {
  Result<rapidjson::Document> doc = parse_json(text, path);
  if (!doc) return doc.error();
  ScenarioConfig out;
  out.files.push_back(path);
  JsonReader r(path);
  if (!read_file(r, *doc, out)) return *r.err;
  return out;
}

Result<ScenarioConfig> load_scenario_files(const std::vector<std::string>& paths) {
  ScenarioConfig all;
  std::map<std::string, std::string> dc_file, check_file;  // name -> file that defined it
  for (const auto& path : paths) {
    Result<std::string> text = read_text_file(path);
    if (!text) return text.error();
    Result<ScenarioConfig> one = parse_scenario_text(*text, path);
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
    all.files.push_back(path);
  }
  return all;
}

}  // namespace pharos::scenario
