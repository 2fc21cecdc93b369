// geoip.h: GeoIP2 country and continent regions, turned into plain networks at load time so that
// the query path keeps its one table lookup and never calls libmaxminddb.
//
//   Result<GeoIpExpansion> g = expand_geoip("GeoLite2-Country.mmdb", gtm.regions);
//   if (!g) log(g.error().to_string());  // "GeoLite2-Country.mmdb: database type ... holds no countries"
//   auto regions = render_regions(gtm, &*g);  // g->networks[i] joins gtm.regions[i]
//
// The database's search tree is walked once: every leaf is a network, its data record is read
// once per distinct record (a Country database has a few hundred), and the network goes to the
// region that lists its country, else to the one that lists its continent. In an IPv6 database the
// IPv4 networks sit under ::/96 and become family-4 networks; the aliases that point back into that
// subtree (::ffff:0:0/96, 2002::/16, sometimes 2001::/32) are not walked again. Adjacent networks of
// one region merge as they are found (the region table merges further).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "scenario/model.h"

namespace pharos::scenario {

// ISO 3166-1 alpha-2 (the codes officially assigned, plus XK, which GeoIP2 uses for Kosovo).
bool is_country_code(std::string_view code);
// GeoIP2 continent codes: AF AN AS EU NA OC SA.
bool is_continent_code(std::string_view code);

struct GeoIpStats {
  std::string database_type;         // metadata "database_type", e.g. "GeoLite2-Country"
  std::uint64_t build_epoch = 0;     // metadata "build_epoch"
  std::uint32_t ip_version = 0;
  std::size_t nodes = 0;             // search-tree nodes visited
  std::size_t leaves = 0;            // networks with data in the database
  std::size_t records = 0;           // distinct data records read
  std::size_t aliases = 0;           // alias records not walked twice
  std::size_t networks4 = 0;         // networks given to regions, after merging
  std::size_t networks6 = 0;
  std::chrono::microseconds elapsed{0};
  std::vector<std::string> empty_regions;  // regions naming countries/continents that matched nothing
};

struct GeoIpExpansion {
  std::vector<std::vector<Cidr>> networks;  // per region, in the order of the regions given
  GeoIpStats stats;
};

// Opens `database`, checks that it holds countries (a GeoIP2/GeoLite2 Country or City database, or
// one of the same layout), and walks it for the regions' countries and continents. Errors name
// the database file and say what is wrong; nothing is kept open afterwards.
Result<GeoIpExpansion> expand_geoip(const std::string& database, const std::vector<RegionSpec>& regions);

}  // namespace pharos::scenario
