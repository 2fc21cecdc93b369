// geoip_test.cc: a GeoIP2 database's search tree turned into region networks: IPv4 and IPv6
// databases, every record size, the IPv4 subtree of an IPv6 database and its aliases, merging,
// countries before continents; broken databases refused with the file and the reason; country and
// continent codes checked where they are written.
#include "scenario/geoip.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "scenario/config.h"
#include "scenario/records_reader.h"
#include "tests/tools/mmdb_fixture.h"

namespace pharos::scenario {
namespace {

using testing::country;
using testing::MmdbDir;

RegionSpec region(const std::string& name, std::vector<std::string> countries, std::vector<std::string> continents = {}) {
  RegionSpec r;
  r.name = name;
  r.countries = std::move(countries);
  r.continents = std::move(continents);
  return r;
}

std::vector<std::string> texts(const std::vector<Cidr>& nets) {
  std::vector<std::string> out;
  for (const Cidr& c : nets) out.push_back(to_string(c));
  return out;
}

std::string spec(int ip_version, int record_size, const std::string& networks, bool aliases = false,
                 const std::string& type = "GeoLite2-Country") {
  return "{\"ip_version\": " + std::to_string(ip_version) + ", \"record_size\": " + std::to_string(record_size) +
         ", \"database_type\": \"" + type + "\", \"ipv4_aliases\": " + (aliases ? "true" : "false") +
         ", \"networks\": [" + networks + "]}";
}

const std::string kWorld =
    "[\"81.2.69.0/24\", " + country("GB", "EU") + "], [\"2a02:d8::/32\", " + country("DE", "EU") + "], " +
    "[\"1.0.0.0/8\", " + country("AU", "OC") + "], [\"2001:db8::/32\", " + country("AU", "OC") + "], " +
    "[\"192.0.2.0/24\", " + country("DE", "EU") + "], [\"203.0.113.0/24\", " + country("US", "NA") + "]";

TEST(GeoIp, IPv6DatabaseMapsItsIPv4SubtreeToFamily4AndSkipsTheAliases) {
  MmdbDir dir;
  const std::string db = dir.write("world.mmdb", spec(6, 28, kWorld, /*aliases=*/true));
  ASSERT_FALSE(db.empty());
  auto g = expand_geoip(db, {region("gb", {"GB"}), region("de", {"DE"}), region("oc", {}, {"OC"})});
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(texts(g->networks[0]), (std::vector<std::string>{"81.2.69.0/24"}));
  EXPECT_EQ(texts(g->networks[1]), (std::vector<std::string>{"192.0.2.0/24", "2a02:d8::/32"}));
  EXPECT_EQ(texts(g->networks[2]), (std::vector<std::string>{"1.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(g->stats.aliases, 2u);  // ::ffff:0:0/96 and 2002::/16, not walked again
  EXPECT_EQ(g->stats.leaves, 6u);
  EXPECT_EQ(g->stats.networks4, 3u);
  EXPECT_EQ(g->stats.networks6, 2u);
  EXPECT_EQ(g->stats.records, 4u);  // one read per distinct data record
  EXPECT_EQ(g->stats.database_type, "GeoLite2-Country");
  EXPECT_TRUE(g->stats.empty_regions.empty());
}

TEST(GeoIp, EveryRecordSizeAndAnIPv4DatabaseGiveTheSameNetworks) {
  MmdbDir dir;
  const std::string v4 = "[\"81.2.69.0/24\", " + country("GB", "EU") + "], [\"1.0.0.0/8\", " + country("AU", "OC") +
                         "], [\"255.255.255.255/32\", " + country("AU", "OC") + "]";
  for (const int version : {4, 6}) {
    for (const int size : {24, 28, 32}) {
      const std::string db = dir.write("v" + std::to_string(version) + "-" + std::to_string(size) + ".mmdb", spec(version, size, v4));
      ASSERT_FALSE(db.empty());
      auto g = expand_geoip(db, {region("gb", {"GB"}), region("oc", {}, {"OC"})});
      ASSERT_TRUE(g.ok()) << g.error().to_string();
      EXPECT_EQ(texts(g->networks[0]), (std::vector<std::string>{"81.2.69.0/24"})) << version << "/" << size;
      EXPECT_EQ(texts(g->networks[1]), (std::vector<std::string>{"1.0.0.0/8", "255.255.255.255/32"})) << version << "/" << size;
      EXPECT_EQ(g->stats.aliases, 0u);
    }
  }
}

TEST(GeoIp, AdjacentNetworksOfOneRegionMerge) {
  MmdbDir dir;
  // Two countries of one region side by side, then a third region's neighbour.
  const std::string nets = "[\"10.0.0.0/25\", " + country("DE", "EU") + "], [\"10.0.0.128/25\", " + country("AT", "EU") +
                           "], [\"10.0.1.0/24\", " + country("FR", "EU") + "], [\"10.0.2.0/24\", " + country("US", "NA") + "]";
  const std::string db = dir.write("merge.mmdb", spec(4, 24, nets));
  ASSERT_FALSE(db.empty());
  auto g = expand_geoip(db, {region("dach", {"DE", "AT"}), region("eu", {}, {"EU"}), region("na", {}, {"NA"})});
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(texts(g->networks[0]), (std::vector<std::string>{"10.0.0.0/24"}));
  EXPECT_EQ(texts(g->networks[1]), (std::vector<std::string>{"10.0.1.0/24"}));
  EXPECT_EQ(texts(g->networks[2]), (std::vector<std::string>{"10.0.2.0/24"}));
  EXPECT_EQ(g->stats.leaves, 4u);
}

TEST(GeoIp, ACountryBeatsItsContinentAndUnlistedPlacesGetNoRegion) {
  MmdbDir dir;
  const std::string db = dir.write("w.mmdb", spec(6, 28, kWorld, true));
  ASSERT_FALSE(db.empty());
  auto g = expand_geoip(db, {region("eu", {}, {"EU"}), region("de", {"DE"}), region("empty", {"FR"})});
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(texts(g->networks[0]), (std::vector<std::string>{"81.2.69.0/24"}));
  EXPECT_EQ(texts(g->networks[1]), (std::vector<std::string>{"192.0.2.0/24", "2a02:d8::/32"}));
  EXPECT_TRUE(g->networks[2].empty());
  EXPECT_EQ(g->stats.empty_regions, (std::vector<std::string>{"empty"}));
}

TEST(GeoIp, RegisteredCountryStandsInWhenCountryIsMissing) {
  MmdbDir dir;
  const std::string nets = R"(["198.51.100.0/24", {"registered_country": {"iso_code": "NL"}}])";
  const std::string db = dir.write("reg.mmdb", spec(4, 24, nets));
  ASSERT_FALSE(db.empty());
  auto g = expand_geoip(db, {region("nl", {"NL"})});
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(texts(g->networks[0]), (std::vector<std::string>{"198.51.100.0/24"}));
}

TEST(GeoIp, BrokenDatabasesAreRefusedWithFileAndReason) {
  MmdbDir dir;
  const std::vector<RegionSpec> regions = {region("gb", {"GB"})};
  auto missing = expand_geoip(dir.path() + "/none.mmdb", regions);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().file, dir.path() + "/none.mmdb");
  EXPECT_NE(missing.error().message.find("cannot read the GeoIP2 database"), std::string::npos) << missing.error().message;
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos) << missing.error().message;

  auto garbage = expand_geoip(dir.raw("garbage.mmdb", std::string(4096, 'x')), regions);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("cannot read the GeoIP2 database"), std::string::npos) << garbage.error().message;

  const std::string asn = dir.write("asn.mmdb", spec(6, 24, "[\"1.0.0.0/8\", {\"autonomous_system_number\": 13335}]", false, "GeoLite2-ASN"));
  ASSERT_FALSE(asn.empty());
  auto not_countries = expand_geoip(asn, regions);
  ASSERT_FALSE(not_countries.ok());
  EXPECT_EQ(not_countries.error().to_string(),
            asn + ": database type \"GeoLite2-ASN\" holds no countries: use a GeoIP2 or GeoLite2 Country or City database");

  // A valid file whose tree points past the data section: corrupt the first record of the root.
  const std::string good = dir.write("good.mmdb", spec(4, 24, kWorld.substr(0, kWorld.find("], [") + 1)));
  ASSERT_FALSE(good.empty());
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[0] = bytes[1] = bytes[2] = '\xFF';  // left record of node 0: far past everything
  auto corrupt = expand_geoip(dir.raw("corrupt.mmdb", bytes), regions);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error().message.find("corrupt GeoIP2 database"), std::string::npos) << corrupt.error().message;

  // The good database still loads.
  auto ok = expand_geoip(good, regions);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(texts(ok->networks[0]), (std::vector<std::string>{"81.2.69.0/24"}));
}

TEST(GeoIp, CodesAreCheckedWhereTheyAreWritten) {
  EXPECT_TRUE(is_country_code("DE"));
  EXPECT_TRUE(is_country_code("XK"));
  EXPECT_FALSE(is_country_code("de"));
  EXPECT_FALSE(is_country_code("ZZ"));
  EXPECT_FALSE(is_country_code("DEU"));
  EXPECT_TRUE(is_continent_code("OC"));
  EXPECT_FALSE(is_continent_code("EA"));

  auto bad_country = parse_scenario_text(R"({"regions": {"de": {"countries": ["DE", "ZZ"]}}})", "g.json");
  ASSERT_FALSE(bad_country.ok());
  EXPECT_EQ(bad_country.error().to_string(),
            "g.json: /regions/de/countries/1: \"ZZ\" is not an ISO 3166-1 alpha-2 country code (two capital letters, such as \"DE\")");
  auto bad_continent = parse_scenario_text(R"({"regions": {"x": {"continents": ["Europe"]}}})", "g.json");
  ASSERT_FALSE(bad_continent.ok());
  EXPECT_EQ(bad_continent.error().to_string(),
            "g.json: /regions/x/continents/0: \"Europe\" is not a continent code (AF, AN, AS, EU, NA, OC or SA)");
  auto twice = parse_scenario_text(R"({"regions": {"a": {"countries": ["DE"]}, "b": {"countries": ["FR", "DE"]}}})", "g.json");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().to_string(), "g.json: /regions/b/countries/1: country \"DE\" is already listed in region \"a\"");
  auto empty = parse_scenario_text(R"({"regions": {"a": {}}})", "g.json");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().to_string(), "g.json: /regions/a: needs at least one network, country or continent");
  auto net_twice = parse_scenario_text(R"({"regions": {"a": ["10.0.0.0/8"], "b": {"networks": ["10.0.0.0/8"]}}})", "g.json");
  ASSERT_FALSE(net_twice.ok());
  EXPECT_EQ(net_twice.error().to_string(), "g.json: /regions/b/networks/0: \"10.0.0.0/8\" is already listed in region \"a\"");

  auto good = parse_scenario_text(
      R"({"regions": {"de": {"networks": ["10.0.0.0/8"], "countries": ["DE", "AT"], "continents": ["EU"]}, "us": ["10.2.0.0/16"]}})",
      "g.json");
  ASSERT_TRUE(good.ok()) << good.error().to_string();
  ASSERT_EQ(good->gtm.regions.size(), 2u);
  EXPECT_EQ(good->gtm.regions[0].countries, (std::vector<std::string>{"DE", "AT"}));
  EXPECT_EQ(good->gtm.regions[0].continents, (std::vector<std::string>{"EU"}));
  EXPECT_EQ(texts(good->gtm.regions[0].networks), (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(good->gtm.regions[0].file, "g.json");
}

}  // namespace
}  // namespace pharos::scenario
