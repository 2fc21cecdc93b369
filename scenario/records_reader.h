// records_reader.h: the GTM sections of a scenario file ("scenarios", "regions", "records") read
// into GtmConfig (scenario/model.h) with an error at the exact JSON Pointer, and the checks that
// need every file at once: unique record keys and references to checks, DCs, scenarios, regions.
//
//   JsonReader r(path);
//   r.object(doc, "", {{"records", [&](const Value& v, const std::string& at) {
//                         return read_records(r, v, at, gtm); }}});
//   ...merge every file...
//   if (auto e = validate_gtm(gtm, health, sources)) return *e;  // "b.json: /records/0/chain/1/dc: unknown data center \"dc9\""
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "health/health_state.h"
#include "scenario/json_reader.h"
#include "scenario/model.h"

namespace pharos::scenario {

// "scenarios": { "name": [ ["termA", "termB!"], ["termC"] ] }. Terms are checked against the
// checks only in validate_gtm, since a scenario may use checks of another file.
bool read_scenarios(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out);

// "regions": { "eu": ["10.1.0.0/16", "2001:db8:1::/48"],
//              "de": { "networks": [...], "countries": ["DE"], "continents": ["EU"] } },
// appended in file order. Country and continent codes are checked here; whether a GeoIP2
// database is configured for them is the loader's question (app/loader.cc).
bool read_regions(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out);

// "records": [ { "name", "type", "ttl", "chain", ... } ]. Every rdata is parsed by ldns for the
// record's type; (name, type) is unique in the file and a CNAME is alone at its name.
bool read_records(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out);

// "10.1.0.0/16", "2001:db8::/32", or a bare address for one host. Host bits past the prefix are
// an error (`"10.1.2.3/16" has bits set past /16`): they usually mean a mistyped network.
std::optional<Cidr> parse_cidr(std::string_view text, std::string& error);
std::string to_string(const Cidr& c);  // "10.1.0.0/16"

// (name, type) unique and a CNAME alone at its name, over records of one or several files. The
// error is at the later record and names where the earlier one is.
std::optional<Error> check_record_names(const std::vector<GtmRecord>& records);

// Which file defined each scenario and region (records carry their own file and pointer).
struct GtmSources {
  std::map<std::string, std::string> scenario_file;
  std::map<std::string, std::string> region_file;
};

// After every file is read: each scenario term names a check (a user check, a DC target
// "auto|<dc>|<dimension>|<n>", or "auto|<dc>|<dimension>" / "auto|<dc>|maintenanceMode" of a
// defined DC); chain DCs, chain scenarios, drCond and geo regions exist; no network, country or
// continent is listed twice.
std::optional<Error> validate_gtm(const GtmConfig& gtm, const health::HealthConfig& health,
                                  const GtmSources& sources);

}  // namespace pharos::scenario
