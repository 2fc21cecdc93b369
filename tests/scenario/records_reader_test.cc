// records_reader_test.cc: reading scenarios, regions and GTM records from scenario files: a full
// file field by field, every rule as an error at its exact JSON Pointer (and the schema agreeing),
// clashes between files, and references checked once every file is read.
#include "scenario/records_reader.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scenario/config.h"
#include "tests/scenario/schema_validator.h"

namespace pharos::scenario {
namespace {

constexpr const char* kFull = R"json({
  "datacenters": {
    "dc1": { "access": [ { "type": "tcp", "target": "127.0.0.1:1" } ] },
    "dc2": { "wanAccess": [ { "type": "tcp", "target": "127.0.0.1:2" }, { "type": "tcp", "target": "127.0.0.1:3" } ] },
    "dc3": {}
  },
  "checks": { "web1": { "type": "tcp", "target": "127.0.0.1:4" } },
  "scenarios": {
    "dc1-serving": [ ["auto|dc1|access", "auto|dc1|wanAccess"], ["web1"] ],
    "dr-active": [ ["auto|dc1|access!", "auto|dc2|access!"] ],
    "odd": [ ["auto|dc2|wanAccess|1", "auto|dc3|maintenanceMode!", "auto|dc3|internet", "auto|dc1|lanAccess"] ]
  },
  "regions": { "eu": ["10.1.0.0/16", "2001:db8:1::/48"], "us": ["10.2.0.0/16"], "lab": ["127.0.0.1", "::/0"] },
  "records": [
    { "name": "WWW.Example.com", "type": "a", "ttl": 45,
      "chain": [ { "dc": "dc1", "scenario": "dc1-serving", "rdata": ["192.0.2.10", "192.0.2.11"] },
                 { "dc": "dc2", "rdata": ["198.51.100.10"] },
                 { "dc": "dc3", "scenario": "odd", "rdata": ["198.51.100.30"] } ],
      "backupBehavior": "onlyNew", "staleAfter": "2m",
      "dr": { "rdata": ["203.0.113.10"], "drCond": "dr-active", "drIfNoRecords": true },
      "fallbackRecords": ["203.0.113.99"], "allDown": "servfail",
      "geo": { "us": ["dc2", "dc1", "dc3"], "eu": ["dc1"] } },
    { "geo": {}, "chain": [ { "rdata": ["cdn.example.net."], "dc": "dc2" } ], "type": "CNAME", "name": "cdn.example.com." },
    { "name": "www.example.com.", "type": "MX", "ttl": 0, "allDown": "nodata",
      "chain": [ { "dc": "dc1", "rdata": ["10 mail.example.com.", "20 mail2.example.com."] } ] },
    { "name": "www.example.com.", "type": "TXT", "backupBehavior": "noResponse", "allDown": "refused",
      "chain": [ { "dc": "dc1", "rdata": ["\"v=spf1; -all\"", "two words"] } ],
      "dr": { "rdata": ["\"dr\""], "drIfNoRecords": true } },
    { "name": "_sip._udp.example.com.", "type": "SRV", "allDown": "failOpen",
      "chain": [ { "dc": "dc1", "rdata": ["10 60 5060 sip1.example.com."] }, { "dc": "dc2", "rdata": ["10 60 5060 sip2.example.com."] } ],
      "fallbackRecords": [] },
    { "name": "x.example.com.", "type": "TYPE65000", "chain": [ { "dc": "dc1", "rdata": ["\\# 2 abcd"] } ] }
  ]
})json";

Cidr cidr(int family, const char* address, int prefix) {
  Cidr c;
  c.family = family;
  inet_pton(family == 4 ? AF_INET : AF_INET6, address, c.address);
  c.prefix = static_cast<std::uint8_t>(prefix);
  return c;
}

TEST(RecordsReader, ReadsAFullFileFieldByField) {
  auto c = parse_scenario_text(kFull, "gtm.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  const GtmConfig& g = c->gtm;

  ASSERT_EQ(g.scenarios.size(), 3u);
  const ScenarioSpec& serving = g.scenarios.at("dc1-serving");
  EXPECT_EQ(serving.name, "dc1-serving");
  EXPECT_EQ(serving.groups, (std::vector<std::vector<Term>>{{{"auto|dc1|access", false}, {"auto|dc1|wanAccess", false}},
                                                            {{"web1", false}}}));
  EXPECT_EQ(g.scenarios.at("dr-active").groups,
            (std::vector<std::vector<Term>>{{{"auto|dc1|access", true}, {"auto|dc2|access", true}}}));
  EXPECT_EQ(g.scenarios.at("odd").groups[0][1], (Term{"auto|dc3|maintenanceMode", true}));

  ASSERT_EQ(g.regions.size(), 3u);  // file order
  EXPECT_EQ(g.regions[0].name, "eu");
  EXPECT_EQ(g.regions[0].networks, (std::vector<Cidr>{cidr(4, "10.1.0.0", 16), cidr(6, "2001:db8:1::", 48)}));
  EXPECT_EQ(g.regions[1].name, "us");
  EXPECT_EQ(g.regions[2].name, "lab");
  EXPECT_EQ(g.regions[2].networks, (std::vector<Cidr>{cidr(4, "127.0.0.1", 32), cidr(6, "::", 0)}));

  ASSERT_EQ(g.records.size(), 6u);
  const GtmRecord& www = g.records[0];
  EXPECT_EQ(www.name, "www.example.com.");
  EXPECT_EQ(www.type, 1);
  EXPECT_EQ(www.key(), "www.example.com./A");
  EXPECT_EQ(www.ttl, 45u);
  EXPECT_EQ(www.chain, (std::vector<ChainEntry>{{"dc1", "dc1-serving", {"192.0.2.10", "192.0.2.11"}},
                                                {"dc2", "", {"198.51.100.10"}},
                                                {"dc3", "odd", {"198.51.100.30"}}}));
  EXPECT_EQ(www.backup, BackupBehavior::kOnlyNew);
  EXPECT_EQ(www.stale_after, Millis(120'000));
  ASSERT_TRUE(www.dr.has_value());
  EXPECT_EQ(*www.dr, (DrSpec{{"203.0.113.10"}, "dr-active", true}));
  EXPECT_EQ(www.fallback, std::vector<std::string>{"203.0.113.99"});
  EXPECT_EQ(www.all_down, AllDownPolicy::kServFail);
  EXPECT_EQ(www.geo, (std::map<std::string, std::vector<std::string>>{{"eu", {"dc1"}}, {"us", {"dc2", "dc1", "dc3"}}}));
  EXPECT_EQ(www.file, "gtm.json");
  EXPECT_EQ(www.pointer, "/records/0");

  // Keys in any order, every default.
  const GtmRecord& cdn = g.records[1];
  EXPECT_EQ(cdn.key(), "cdn.example.com./CNAME");
  EXPECT_EQ(cdn.ttl, 30u);
  EXPECT_EQ(cdn.chain, (std::vector<ChainEntry>{{"dc2", "", {"cdn.example.net."}}}));
  EXPECT_EQ(cdn.backup, BackupBehavior::kNoResponse);
  EXPECT_EQ(cdn.stale_after, Millis(300'000));
  EXPECT_FALSE(cdn.dr.has_value());
  EXPECT_TRUE(cdn.fallback.empty());
  EXPECT_EQ(cdn.all_down, AllDownPolicy::kFailOpen);
  EXPECT_TRUE(cdn.geo.empty());
  EXPECT_EQ(cdn.pointer, "/records/1");

  EXPECT_EQ(g.records[2].key(), "www.example.com./MX");
  EXPECT_EQ(g.records[2].ttl, 0u);
  EXPECT_EQ(g.records[2].all_down, AllDownPolicy::kNoData);
  EXPECT_EQ(g.records[2].chain[0].rdata, (std::vector<std::string>{"10 mail.example.com.", "20 mail2.example.com."}));
  const GtmRecord& txt = g.records[3];
  EXPECT_EQ(txt.chain[0].rdata, (std::vector<std::string>{"\"v=spf1; -all\"", "two words"}));  // as written
  EXPECT_EQ(*txt.dr, (DrSpec{{"\"dr\""}, "", true}));
  EXPECT_EQ(txt.all_down, AllDownPolicy::kRefused);
  EXPECT_EQ(g.records[4].type, 33);
  EXPECT_EQ(g.records[4].chain.size(), 2u);
  EXPECT_EQ(g.records[5].key(), "x.example.com./TYPE65000");
  EXPECT_FALSE(g.debounce.has_value());  // pharos.json's, not a scenario file's
}

TEST(RecordsReader, EnumsPrintInTheUsersVocabulary) {
  EXPECT_STREQ(to_string(BackupBehavior::kNoResponse), "noResponse");
  EXPECT_STREQ(to_string(BackupBehavior::kOnlyNew), "onlyNew");
  EXPECT_STREQ(to_string(AllDownPolicy::kFailOpen), "failOpen");
  EXPECT_STREQ(to_string(AllDownPolicy::kNoData), "nodata");
  EXPECT_STREQ(to_string(AllDownPolicy::kServFail), "servfail");
  EXPECT_STREQ(to_string(AllDownPolicy::kRefused), "refused");
}

TEST(RecordsReader, ParsesNetworks) {
  std::string error;
  auto c = parse_cidr("2001:db8:1::/48", error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_EQ(to_string(*c), "2001:db8:1::/48");
  EXPECT_EQ(to_string(*parse_cidr("0.0.0.0/0", error)), "0.0.0.0/0");
  EXPECT_EQ(to_string(*parse_cidr("192.0.2.1", error)), "192.0.2.1/32");
  EXPECT_EQ(to_string(*parse_cidr("10.1.2.128/25", error)), "10.1.2.128/25");
  EXPECT_FALSE(parse_cidr("10.1.2.3/16", error).has_value());
  EXPECT_EQ(error, "\"10.1.2.3/16\" has bits set past /16");
  EXPECT_FALSE(parse_cidr("2001:db8::1/127", error).has_value());
  EXPECT_EQ(error, "\"2001:db8::1/127\" has bits set past /127");
}

// A file with three DCs, a check, a scenario and a region around one record.
std::string with_record(const std::string& record) {
  return R"({"datacenters": {"dc1": {}, "dc2": {}, "dc3": {}}, "checks": {"web": {"type": "tcp", "target": "h:1"}},
             "scenarios": {"s1": [["web"]]}, "regions": {"eu": ["10.1.0.0/16"], "us": ["10.2.0.0/16"]},
             "records": [)" + record + "]}";
}
// ... and one entry of a record of `type` whose rdata list is `rdata`.
std::string with_rdata(const std::string& type, const std::string& rdata) {
  return with_record(R"({"name": "a.example.com.", "type": ")" + type + R"(", "chain": [{"dc": "dc1", "rdata": )" +
                     rdata + "}]}");
}
const std::string kEntry = R"("chain": [{"dc": "dc1", "rdata": ["192.0.2.1"]}, {"dc": "dc2", "rdata": ["192.0.2.2"]}])";
std::string a_record(const std::string& more) {
  return with_record(R"({"name": "a.example.com.", "type": "A", )" + kEntry + (more.empty() ? "" : ", " + more) + "}");
}

struct Bad {
  std::string json;
  const char* where;
  const char* message_part;
  bool schema_rejects;  // false where only pharosd can tell (references, rdata, bits past the prefix, ...)
};

std::vector<Bad> bad_inputs() {
  return {
      // scenarios
      {R"({"scenarios": {"a|b": [["x"]]}})", "/scenarios/a|b", "must be non-empty without", true},
      {R"({"scenarios": {"a b": [["x"]]}})", "/scenarios/a b", "must be non-empty without", true},
      {R"({"scenarios": {"a!": [["x"]]}})", "/scenarios/a!", "must be non-empty without", true},
      {R"({"scenarios": {"s": []}})", "/scenarios/s", "needs at least one group", true},
      {R"({"scenarios": {"s": [["web"], []]}})", "/scenarios/s/1", "a group needs at least one term", true},
      {R"({"scenarios": {"s": ["web"]}})", "/scenarios/s/0", "must be an array", true},
      {R"({"scenarios": {"s": [[1]]}})", "/scenarios/s/0/0", "must be a string", true},
      {R"({"scenarios": {"s": [[""]]}})", "/scenarios/s/0/0", "must not be empty", true},
      {R"({"scenarios": {"s": [["!"]]}})", "/scenarios/s/0/0", "is not a check ID", true},
      {R"({"scenarios": {"s": [["web!!"]]}})", "/scenarios/s/0/0", "is not a check ID", true},
      {R"({"scenarios": {"s": [["we b"]]}})", "/scenarios/s/0/0", "is not a check ID", true},
      {R"({"scenarios": []})", "/scenarios", "must be an object", true},
      // regions
      {R"({"regions": {"eu": ["10.1.2.3/16"]}})", "/regions/eu/0", "\"10.1.2.3/16\" has bits set past /16", false},
      {R"({"regions": {"eu": ["10.1.0.0/16", "2001:db8:1::1/48"]}})", "/regions/eu/1", "has bits set past /48", false},
      {R"({"regions": {"eu": ["10.1.0.0/33"]}})", "/regions/eu/0", "prefix length must be 0..32", true},
      {R"({"regions": {"eu": ["2001:db8::/129"]}})", "/regions/eu/0", "prefix length must be 0..128", true},
      {R"({"regions": {"eu": ["10.1.0.0/016"]}})", "/regions/eu/0", "prefix length", true},
      {R"({"regions": {"eu": ["10.1.0.0/"]}})", "/regions/eu/0", "prefix length", true},
      {R"({"regions": {"eu": ["europe"]}})", "/regions/eu/0", "is not a network", true},
      {R"({"regions": {"eu": ["10.1.0/24"]}})", "/regions/eu/0", "is not a network", true},
      {R"({"regions": {"eu": []}})", "/regions/eu", "needs at least one network", true},
      {R"({"regions": {"e u": ["10.0.0.0/8"]}})", "/regions/e u", "must be non-empty without", true},
      {R"({"regions": {"eu": "10.0.0.0/8"}})", "/regions/eu", "must be an array", true},
      // records: shape
      {R"({"records": {}})", "/records", "must be an array", true},
      {with_record("[]"), "/records/0", "must be an object", true},
      {with_record(R"({"type": "A", )" + kEntry + "}"), "/records/0", "missing \"name\"", true},
      {with_record(R"({"name": "a.example.com.", )" + kEntry + "}"), "/records/0", "missing \"type\"", true},
      {with_record(R"({"name": "a.example.com.", "type": "A"})"), "/records/0", "missing \"chain\"", true},
      {a_record(R"("weight": 1)"), "/records/0/weight", "unknown key \"weight\"", true},
      {with_record(R"({"name": "a..example.com.", "type": "A", )" + kEntry + "}"), "/records/0/name", "is not a domain name", false},
      {with_record(R"({"name": "a b.example.com.", "type": "A", )" + kEntry + "}"), "/records/0/name", "is not a domain name", true},
      {with_record(R"({"name": "", "type": "A", )" + kEntry + "}"), "/records/0/name", "must not be empty", true},
      {with_record(R"({"name": "a\u0000.example.com.", "type": "A", )" + kEntry + "}"), "/records/0/name", "NUL character", false},
      {with_record(R"({"name": "*.example.com.", "type": "A", )" + kEntry + "}"), "/records/0/name", "wildcard names", true},
      // records: type
      {with_record(R"({"name": "a.example.com.", "type": "BOGUS", )" + kEntry + "}"), "/records/0/type", "unknown record type \"BOGUS\"", false},
      {with_record(R"({"name": "a.example.com.", "type": "SOA", )" + kEntry + "}"), "/records/0/type", "cannot be of type SOA", true},
      {with_record(R"({"name": "a.example.com.", "type": "ns", )" + kEntry + "}"), "/records/0/type", "cannot be of type NS", true},
      {with_record(R"({"name": "a.example.com.", "type": "TYPE6", )" + kEntry + "}"), "/records/0/type", "cannot be of type SOA", false},
      {with_record(R"({"name": "a.example.com.", "type": "OPT", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "ANY", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "AXFR", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "IXFR", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "TSIG", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "TKEY", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "MAILA", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      {with_record(R"({"name": "a.example.com.", "type": "MAILB", )" + kEntry + "}"), "/records/0/type", "query or meta type", true},
      // records: ttl
      {a_record(R"("ttl": -1)"), "/records/0/ttl", "out of range 0..2147483647", true},
      {a_record(R"("ttl": 2147483648)"), "/records/0/ttl", "out of range", true},
      {a_record(R"("ttl": "30")"), "/records/0/ttl", "must be an integer", true},
      // records: chain
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": []})"), "/records/0/chain", "needs at least one entry", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": {}})"), "/records/0/chain", "must be an array", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"rdata": ["192.0.2.1"]}]})"), "/records/0/chain/0", "missing \"dc\"", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1"}]})"), "/records/0/chain/0", "missing \"rdata\"", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.1"], "weight": 2}]})"), "/records/0/chain/0/weight", "unknown key", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "scenario": "", "rdata": ["192.0.2.1"]}]})"), "/records/0/chain/0/scenario", "must not be empty", true},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.1"]}, {"dc": "dc1", "rdata": ["192.0.2.2"]}]})"), "/records/0/chain/1/dc", "already entry 0 of the chain", false},
      // records: rdata
      {with_rdata("A", "[]"), "/records/0/chain/0/rdata", "must list at least one rdata", true},
      {with_rdata("A", R"(["::1"])"), "/records/0/chain/0/rdata/0", "\"::1\" is not A rdata: ", false},
      {with_rdata("A", R"(["192.0.2.1", "192.0.2.2 192.0.2.3"])"), "/records/0/chain/0/rdata/1", "superfluous text", false},
      {with_rdata("A", R"([""])"), "/records/0/chain/0/rdata/0", "must not be empty", true},
      {with_rdata("A", R"(["192.0.2.1\u0000 junk"])"), "/records/0/chain/0/rdata/0", "NUL character", false},
      {with_rdata("A", R"(["192.0.2.1", "192.0.2.1"])"), "/records/0/chain/0/rdata/1", "repeats rdata 0", true},
      {with_rdata("AAAA", R"(["2001:db8::1", "2001:DB8:0::1"])"), "/records/0/chain/0/rdata/1", "repeats rdata 0", false},
      {with_rdata("MX", R"(["10"])"), "/records/0/chain/0/rdata/0", "is not MX rdata", false},
      {with_rdata("MX", R"(["10 mail"])"), "/records/0/chain/0/rdata/0", "must be absolute", false},
      {with_rdata("CNAME", R"(["@"])"), "/records/0/chain/0/rdata/0", "must be absolute", false},
      {with_rdata("TXT", R"(["v=DKIM1; k=rsa"])"), "/records/0/chain/0/rdata/0", "';' would start a comment", false},
      {with_rdata("CNAME", R"(["a.example.net.", "b.example.net."])"), "/records/0/chain/0/rdata", "exactly one rdata, not 2", true},
      // records: behaviour and policies
      {a_record(R"("backupBehavior": "sometimes")"), "/records/0/backupBehavior", "is not \"noResponse\" or \"onlyNew\"", true},
      {a_record(R"("staleAfter": "10m")"), "/records/0/staleAfter", "only with \"backupBehavior\": \"onlyNew\"", true},
      {a_record(R"("staleAfter": "10m", "backupBehavior": "noResponse")"), "/records/0/staleAfter", "only with", true},
      {a_record(R"("backupBehavior": "onlyNew", "staleAfter": "soon")"), "/records/0/staleAfter", "is not a duration", true},
      {a_record(R"("backupBehavior": "onlyNew", "staleAfter": 0)"), "/records/0/staleAfter", "greater than zero", true},
      {a_record(R"("allDown": "panic")"), "/records/0/allDown", "is not one of failOpen, nodata, servfail, refused", true},
      {a_record(R"("allDown": "failopen")"), "/records/0/allDown", "is not one of", true},
      // records: dr
      {a_record(R"("dr": {"drIfNoRecords": true})"), "/records/0/dr", "missing \"rdata\"", true},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"]})"), "/records/0/dr", "needs \"drCond\" or \"drIfNoRecords\": true", true},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"], "drIfNoRecords": false})"), "/records/0/dr", "needs \"drCond\"", true},
      {a_record(R"("dr": {"rdata": [], "drIfNoRecords": true})"), "/records/0/dr/rdata", "at least one rdata", true},
      {a_record(R"("dr": {"rdata": ["x"], "drIfNoRecords": true})"), "/records/0/dr/rdata/0", "is not A rdata", false},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"], "drCond": "", "drIfNoRecords": true})"), "/records/0/dr/drCond", "must not be empty", true},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"], "drIfNoRecords": "yes"})"), "/records/0/dr/drIfNoRecords", "must be true or false", true},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"], "drIfNoRecords": true, "when": 1})"), "/records/0/dr/when", "unknown key", true},
      // records: fallback
      {a_record(R"("fallbackRecords": ["192.0.2.9", "192.0.2.300"])"), "/records/0/fallbackRecords/1", "is not A rdata", false},
      {a_record(R"("fallbackRecords": "192.0.2.9")"), "/records/0/fallbackRecords", "must be an array", true},
      {with_record(R"({"name": "c.example.com.", "type": "CNAME", "chain": [{"dc": "dc1", "rdata": ["a.example.net."]}],
                       "fallbackRecords": ["b.example.net.", "c.example.net."]})"), "/records/0/fallbackRecords", "exactly one rdata", true},
      {with_record(R"({"name": "c.example.com.", "type": "CNAME", "chain": [{"dc": "dc1", "rdata": ["a.example.net."]}],
                       "dr": {"rdata": ["b.example.net.", "c.example.net."], "drIfNoRecords": true}})"), "/records/0/dr/rdata", "exactly one rdata", true},
      // records: geo
      {a_record(R"("geo": {"eu": []})"), "/records/0/geo/eu", "at least one data center", true},
      {a_record(R"("geo": {"eu": ["dc1", "dc1"]})"), "/records/0/geo/eu/1", "listed twice", true},
      {a_record(R"("geo": {"eu": "dc1"})"), "/records/0/geo/eu", "must be an array", true},
      {a_record(R"("geo": {"us": ["dc2"], "eu": ["dc1", "dc3"]})"), "/records/0/geo/eu/1", "\"dc3\" is not in this record's chain", false},
      // records: names in one file
      {with_record(R"({"name": "a.example.com.", "type": "A", )" + kEntry + R"(}, {"name": "A.example.com", "type": "a", )" + kEntry + "}"),
       "/records/1", "record \"a.example.com./A\" is also defined at /records/0", false},
      {with_record(R"({"name": "a.example.com.", "type": "A", )" + kEntry + R"(}, {"name": "a.example.com.", "type": "CNAME", "chain": [{"dc": "dc1", "rdata": ["x.example.net."]}]})"),
       "/records/1", "a CNAME record cannot share its name with record \"a.example.com./A\" at /records/0", false},
      {with_record(R"({"name": "a.example.com.", "type": "CNAME", "chain": [{"dc": "dc1", "rdata": ["x.example.net."]}]}, {"name": "a.example.com.", "type": "TXT", "chain": [{"dc": "dc1", "rdata": ["t"]}]})"),
       "/records/1", "cannot share its name with CNAME record \"a.example.com./CNAME\"", false},
      // references, checked after reading
      {R"({"checks": {"web": {"type": "tcp", "target": "h:1"}}, "scenarios": {"s": [["web"], ["web", "wbe!"]]}})", "/scenarios/s/1/1", "unknown check \"wbe\"", false},
      {R"({"datacenters": {"dc1": {}}, "scenarios": {"s": [["auto|dc9|access"]]}})", "/scenarios/s/0/0", "no data center \"dc9\"", false},
      {R"({"datacenters": {"dc1": {}}, "scenarios": {"s": [["auto|dc1|acess"]]}})", "/scenarios/s/0/0", "automatic IDs are auto|dc1|", false},
      {R"({"datacenters": {"dc1": {"access": [{"type": "tcp", "target": "h:1"}]}}, "scenarios": {"s": [["auto|dc1|access|1"]]}})", "/scenarios/s/0/0", "unknown check \"auto|dc1|access|1\"", false},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.1"]}, {"dc": "dc9", "rdata": ["192.0.2.2"]}]})"), "/records/0/chain/1/dc", "unknown data center \"dc9\"", false},
      {with_record(R"({"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "scenario": "s2", "rdata": ["192.0.2.1"]}]})"), "/records/0/chain/0/scenario", "unknown scenario \"s2\"", false},
      {a_record(R"("dr": {"rdata": ["192.0.2.9"], "drCond": "dr-active"})"), "/records/0/dr/drCond", "unknown scenario \"dr-active\"", false},
      {a_record(R"("geo": {"eu": ["dc1"], "asia": ["dc2"]})"), "/records/0/geo/asia", "unknown region \"asia\"", false},
      {R"({"regions": {"eu": ["10.1.0.0/16"], "us": ["10.2.0.0/16", "10.1.0.0/16"]}})", "/regions/us/1", "\"10.1.0.0/16\" is already listed in region \"eu\"", false},
  };
}

TEST(RecordsReader, ErrorsNameTheExactPointer) {
  for (const Bad& b : bad_inputs()) {
    auto c = parse_scenario_text(b.json, "gtm.json");
    ASSERT_FALSE(c.ok()) << b.json;
    EXPECT_EQ(c.error().file, "gtm.json");
    EXPECT_EQ(c.error().where, b.where) << b.json << "\n-> " << c.error().to_string();
    EXPECT_NE(c.error().message.find(b.message_part), std::string::npos) << b.json << "\n-> " << c.error().to_string();
  }
}

// Each bad input is wrong in one way only: with that fixed, the reader accepts the rest.
TEST(RecordsReader, TheFixturesAroundTheBadInputsAreValid) {
  for (const std::string& good : {with_rdata("A", R"(["192.0.2.1"])"), a_record(""), a_record(R"("geo": {"eu": ["dc2", "dc1"]})")}) {
    auto c = parse_scenario_text(good, "gtm.json");
    EXPECT_TRUE(c.ok()) << good << "\n-> " << c.error().to_string();
  }
}

// The schema is documentation; it must agree with the reader wherever a schema can tell.
TEST(RecordsReader, SchemaAgreesWithTheReader) {
  std::vector<std::string> texts = {kFull, with_rdata("A", R"(["192.0.2.1"])"), a_record("")};
  const auto bad = bad_inputs();
  for (const Bad& b : bad) texts.push_back(b.json);
  const auto accepted = testing::schema_accepts(texts);
  if (!accepted) GTEST_SKIP() << "python3 with jsonschema is not installed";
  ASSERT_EQ(accepted->size(), texts.size());
  EXPECT_TRUE((*accepted)[0]) << "the full example";
  EXPECT_TRUE((*accepted)[1]);
  EXPECT_TRUE((*accepted)[2]);
  for (std::size_t i = 0; i < bad.size(); ++i)
    EXPECT_EQ((*accepted)[3 + i], !bad[i].schema_rejects) << bad[i].where << " " << bad[i].message_part << "\n" << bad[i].json;
}

class TwoFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pharos-gtm-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    a_ = (dir_ / "a.json").string();
    b_ = (dir_ / "b.json").string();
    std::ofstream(a_) << R"({"datacenters": {"dc1": {}, "dc2": {}}, "checks": {"web": {"type": "tcp", "target": "h:1"}},
      "scenarios": {"up": [["web"]]}, "regions": {"eu": ["10.1.0.0/16"]},
      "records": [{"name": "a.example.com.", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.1"]}]}]})";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<ScenarioConfig> load_with_b(const std::string& b) {
    std::ofstream(b_) << b;
    return load_scenario_files({a_, b_});
  }

  std::filesystem::path dir_;
  std::string a_, b_;
};

TEST_F(TwoFiles, ReferencesReachIntoOtherFiles) {
  const char* b = R"({"records": [{"name": "b.example.com.", "type": "A", "chain": [
      {"dc": "dc2", "scenario": "up", "rdata": ["192.0.2.2"]}, {"dc": "dc1", "rdata": ["192.0.2.3"]}],
      "dr": {"rdata": ["192.0.2.9"], "drCond": "up"}, "geo": {"eu": ["dc1", "dc2"]}}]})";
  auto c = load_with_b(b);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->gtm.records.size(), 2u);
  EXPECT_EQ(c->gtm.records[1].file, b_);
  EXPECT_EQ(c->gtm.records[1].pointer, "/records/0");
  EXPECT_EQ(c->files, (std::vector<std::string>{a_, b_}));
  // Alone, b.json names things it does not define.
  auto alone = parse_scenario_text(b, b_);
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.error().where, "/records/0/chain/0/dc");
}

TEST_F(TwoFiles, ScenarioNamesAreUnique) {
  auto c = load_with_b(R"({"scenarios": {"up": [["web!"]]}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b_);
  EXPECT_EQ(c.error().where, "/scenarios/up");
  EXPECT_EQ(c.error().message, "scenario \"up\" is also defined in " + a_);
}

TEST_F(TwoFiles, RegionNamesAreUnique) {
  auto c = load_with_b(R"({"regions": {"eu": ["10.9.0.0/16"]}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b_);
  EXPECT_EQ(c.error().where, "/regions/eu");
  EXPECT_EQ(c.error().message, "region \"eu\" is also defined in " + a_);
}

TEST_F(TwoFiles, ANetworkBelongsToOneRegion) {
  auto c = load_with_b(R"({"regions": {"eu2": ["10.1.0.0/16"]}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b_);
  EXPECT_EQ(c.error().where, "/regions/eu2/0");
  EXPECT_EQ(c.error().message, "\"10.1.0.0/16\" is already listed in region \"eu\" in " + a_);
}

TEST_F(TwoFiles, RecordKeysAreUnique) {
  auto c = load_with_b(R"({"records": [{"name": "b.example.com.", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.1"]}]},
                                       {"name": "A.EXAMPLE.COM", "type": "A", "chain": [{"dc": "dc1", "rdata": ["192.0.2.2"]}]}]})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b_);
  EXPECT_EQ(c.error().where, "/records/1");
  EXPECT_EQ(c.error().message, "record \"a.example.com./A\" is also defined in " + a_ + " at /records/0");
}

TEST_F(TwoFiles, ACnameIsAloneAtItsNameAcrossFiles) {
  auto c = load_with_b(R"({"records": [{"name": "a.example.com.", "type": "CNAME", "chain": [{"dc": "dc1", "rdata": ["x.example.net."]}]}]})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b_);
  EXPECT_EQ(c.error().where, "/records/0");
  EXPECT_NE(c.error().message.find("a CNAME record cannot share its name with record \"a.example.com./A\" in " + a_),
            std::string::npos);
}

TEST_F(TwoFiles, AReferenceErrorNamesTheFileThatHasIt) {
  auto c = load_with_b(R"({"scenarios": {"down": [["auto|dc3|access!"]]}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().to_string(), b_ + ": /scenarios/down/0/0: unknown check \"auto|dc3|access\": no data center \"dc3\"");
}

}  // namespace
}  // namespace pharos::scenario
