// model.h: the GTM side of a scenario file: scenarios (boolean formulas over check IDs), GTM
// records with their chains, DR, fail-safe records and all-down policy, and geo regions.
// Plain data, validated when read (scenario/records_reader.cc); DOMAIN.md §3-4 has the semantics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pharos::scenario {

using Millis = std::chrono::milliseconds;

// A term is a check ID (any: a user check, "auto|dc1|access", "auto|dc1|maintenanceMode", ...),
// true while that check is up; `negated` ("id!") makes it true while the check is down.
struct Term {
  std::string check;
  bool negated = false;
  bool operator==(const Term&) const = default;
};

// Terms inside a group are ANDed; groups are ORed.
struct ScenarioSpec {
  std::string name;
  std::vector<std::vector<Term>> groups;
  bool operator==(const ScenarioSpec&) const = default;
};

enum class BackupBehavior : std::uint8_t { kNoResponse, kOnlyNew };
enum class AllDownPolicy : std::uint8_t { kFailOpen, kNoData, kServFail, kRefused };
const char* to_string(BackupBehavior b);   // "noResponse", "onlyNew"
const char* to_string(AllDownPolicy p);    // "failOpen", "nodata", "servfail", "refused"

struct ChainEntry {
  std::string dc;
  std::string scenario;                 // empty: "this DC's status is ok"
  std::vector<std::string> rdata;       // presentation form, validated for the record's type
  bool operator==(const ChainEntry&) const = default;
};

struct DrSpec {
  std::vector<std::string> rdata;
  std::string dr_cond;                  // scenario name; empty = none
  bool dr_if_no_records = false;
  bool operator==(const DrSpec&) const = default;
};

// "A", "AAAA", ...; "TYPE65000" for types ldns does not name.
std::string type_name(std::uint16_t type);

struct GtmRecord {
  std::string name;                     // absolute, lowercase, trailing dot
  std::uint16_t type = 1;
  std::uint32_t ttl = 30;
  std::vector<ChainEntry> chain;        // at least one entry
  BackupBehavior backup = BackupBehavior::kNoResponse;
  Millis stale_after{300'000};
  std::optional<DrSpec> dr;
  std::vector<std::string> fallback;    // fallbackRecords
  AllDownPolicy all_down = AllDownPolicy::kFailOpen;
  // Per-region chain order: region name -> DC names (a reordering of the chain's DCs).
  std::map<std::string, std::vector<std::string>> geo;
  std::string file;                     // where it was defined, for messages
  std::string pointer;                  // its JSON Pointer in that file

  std::string key() const;              // "www.example.com./A": unique per name and type
  bool operator==(const GtmRecord&) const = default;
};

// A client network in CIDR form.
struct Cidr {
  int family = 4;                       // 4 or 6
  std::uint8_t address[16] = {};
  std::uint8_t prefix = 0;
  bool operator==(const Cidr&) const = default;
};

// A region's clients: explicit networks, and countries and continents looked up in the GeoIP2
// database of pharos.json at load time (scenario/geoip.h). Explicit networks beat GeoIP ones.
struct RegionSpec {
  std::string name;
  std::vector<Cidr> networks;
  std::vector<std::string> countries;   // ISO 3166-1 alpha-2, uppercase
  std::vector<std::string> continents;  // AF AN AS EU NA OC SA
  std::string file;                     // where it was defined, for messages
  std::string networks_at;              // JSON Pointer of its network list
  bool operator==(const RegionSpec&) const = default;
};

struct GtmConfig {
  std::map<std::string, ScenarioSpec> scenarios;
  std::vector<GtmRecord> records;
  std::vector<RegionSpec> regions;      // in file order: the first matching region wins ties
  std::optional<Millis> debounce;       // from pharos.json; default 3 s
};

}  // namespace pharos::scenario
