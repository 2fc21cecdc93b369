// pharosd_geo_test.cc: GeoIP2 regions in the real pharosd: a test database written by our MMDB
// writer, clients in different countries asking with EDNS Client Subnet, each region's chain order
// and failover inside it, an explicit network overriding the database, the ECS scope of a block
// next to that override, a broken database on reload leaving the answers serving, and the
// configuration errors of --check.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "tests/app/pharosd_harness.h"
#include "tests/tools/mmdb_fixture.h"

namespace pharos::test {
namespace {

constexpr std::uint16_t kTypeA = 1;
const std::string kDc1 = "192.0.2.1", kDc2 = "192.0.2.2";

constexpr const char* kZone =
    "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n";

// DE 5.1.0.0/16 and 2a02:d8::/32, US 12.0.0.0/8, FR 2.0.0.0/16 (Europe), AU 1.0.0.0/8 (Oceania);
// an IPv6 database with the IPv4 aliases, as MaxMind ships them.
std::string world() {
  using pharos::testing::country;
  return R"({"ip_version": 6, "record_size": 28, "database_type": "GeoLite2-Country", "ipv4_aliases": true,
    "networks": [ ["5.1.0.0/16", )" + country("DE", "EU") + R"(], ["2a02:d8::/32", )" + country("DE", "EU") +
         R"(], ["12.0.0.0/8", )" + country("US", "NA") + R"(], ["2.0.0.0/16", )" + country("FR", "EU") +
         R"(], ["1.0.0.0/8", )" + country("AU", "OC") + R"(] ] })";
}

// de: dc1 first; us (with an explicit office network inside Germany) and the rest of Europe: dc2
// first. Oceania is in no region: the chain as written.
std::string scenarios(std::uint16_t port1, std::uint16_t port2) {
  auto dc = [](std::uint16_t port) {
    return R"({ "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
      "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(port) + R"(" } ] })";
  };
  return R"({ "datacenters": { "dc1": )" + dc(port1) + R"(, "dc2": )" + dc(port2) + R"( },
  "regions": { "de": { "countries": ["DE"] },
               "us": { "countries": ["US"], "networks": ["5.1.2.0/24"] },
               "eu": { "continents": ["EU"] } },
  "records": [ { "name": "geo.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ],
      "geo": { "de": ["dc1", "dc2"], "us": ["dc2", "dc1"], "eu": ["dc2", "dc1"] } } ] })";
}

std::string config(const std::string& geoip) {
  return R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": 0,
    "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ])" +
         (geoip.empty() ? "" : R"(, "geoip": { "database": ")" + geoip + R"(" })") + " }";
}

// A Client Subnet option for "5.1.9.0/24" or "2a02:d8::/48" added to a query from make_query.
Bytes with_client_subnet(Bytes q, const std::string& subnet) {
  const auto slash = subnet.find('/');
  const int prefix = std::stoi(subnet.substr(slash + 1));
  const bool v6 = subnet.find(':') != std::string::npos;
  std::uint8_t address[16] = {};
  inet_pton(v6 ? AF_INET6 : AF_INET, subnet.substr(0, slash).c_str(), address);
  const auto octets = static_cast<std::uint8_t>((prefix + 7) / 8);
  Bytes option = {0, 8, 0, static_cast<std::uint8_t>(4 + octets), 0, static_cast<std::uint8_t>(v6 ? 2 : 1),
                  static_cast<std::uint8_t>(prefix), 0};
  option.insert(option.end(), address, address + octets);
  q[q.size() - 1] = static_cast<std::uint8_t>(option.size());  // OPT RDLENGTH (< 256 here)
  q.insert(q.end(), option.begin(), option.end());
  return q;
}

struct Reply {
  std::set<std::string> addresses;
  int ecs_scope = -1;
  std::string text() const {
    std::string out = "[";
    for (const auto& a : addresses) out += a + " ";
    return out + "] scope=" + std::to_string(ecs_scope);
  }
};

Reply ask(std::uint16_t port, const std::string& subnet) {
  static std::uint16_t id = 0;
  const sockaddr_in to = loopback(port);
  Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
  const auto wire = udp_exchange(s.fd(), with_client_subnet(make_query(++id, "geo.t.example", kTypeA), subnet));
  Reply r;
  if (!wire) return r;
  r.addresses = parse_response(*wire).addresses;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, wire->data(), wire->size()) != LDNS_STATUS_OK) return r;
  std::unique_ptr<ldns_pkt, PktDeleter> pkt(raw);
  if (const ldns_rdf* opt = ldns_pkt_edns_data(raw)) {
    const std::uint8_t* d = ldns_rdf_data(opt);
    const std::size_t n = ldns_rdf_size(opt);
    for (std::size_t at = 0; at + 4 <= n;) {
      const int code = (d[at] << 8) | d[at + 1];
      const std::size_t len = static_cast<std::size_t>((d[at + 2] << 8) | d[at + 3]);
      if (code == 8 && len >= 4 && at + 4 + len <= n) r.ecs_scope = d[at + 7];
      at += 4 + len;
    }
  }
  return r;
}

// The first reply with `expected` addresses, else the last one after a bounded time.
Reply ask_until(std::uint16_t port, const std::string& subnet, const std::set<std::string>& expected) {
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  Reply r = ask(port, subnet);
  while (r.addresses != expected && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    r = ask(port, subnet);
  }
  return r;
}

TEST(PharosdGeo, CountriesAndContinentsPickTheRegionOrderAndFailOverInsideIt) {
  TempDir dir;
  pharos::testing::MmdbDir mmdb;
  const std::string db = mmdb.write("world.mmdb", world());
  ASSERT_FALSE(db.empty());
  Target t1, t2;
  dir.write("t.zone", kZone);
  dir.write("gtm.json", scenarios(t1.port(), t2.port()));
  dir.write("p.json", config(db));
  Daemon d(dir.file("p.json"));
  ASSERT_TRUE(d.wait_for("dc=dc1 from=unknown to=ok")) << d.log();
  ASSERT_TRUE(d.wait_for("dc=dc2 from=unknown to=ok")) << d.log();
  ASSERT_TRUE(d.wait_for("msg=\"geoip regions\"")) << d.log();
  EXPECT_NE(d.log().find("aliases=2"), std::string::npos) << d.log();
  const std::uint16_t port = d.udp_port();
  ASSERT_NE(port, 0);

  // Germany: dc1 first. The block around 5.1.9.0 stops short of the us override at 5.1.2.0/24.
  Reply de = ask_until(port, "5.1.9.0/24", {kDc1});
  EXPECT_EQ(de.addresses, std::set<std::string>{kDc1}) << de.text();
  EXPECT_EQ(de.ecs_scope, 21) << de.text();
  Reply de6 = ask(port, "2a02:d8:1::/48");
  EXPECT_EQ(de6.addresses, std::set<std::string>{kDc1}) << de6.text();
  EXPECT_EQ(de6.ecs_scope, 32) << de6.text();
  // The explicit network beats the database's longer-lived /16.
  Reply office = ask_until(port, "5.1.2.0/24", {kDc2});
  EXPECT_EQ(office.addresses, std::set<std::string>{kDc2}) << office.text();
  EXPECT_EQ(office.ecs_scope, 24) << office.text();
  // The United States by country, France by continent: dc2 first.
  Reply us = ask_until(port, "12.3.4.0/24", {kDc2});
  EXPECT_EQ(us.addresses, std::set<std::string>{kDc2}) << us.text();
  EXPECT_EQ(us.ecs_scope, 8) << us.text();
  Reply fr = ask_until(port, "2.0.5.0/24", {kDc2});
  EXPECT_EQ(fr.addresses, std::set<std::string>{kDc2}) << fr.text();
  EXPECT_EQ(fr.ecs_scope, 16) << fr.text();
  // Australia is in no region: the chain as written, for the client's own subnet only.
  Reply au = ask(port, "1.2.3.0/24");
  EXPECT_EQ(au.addresses, std::set<std::string>{kDc1}) << au.text();
  EXPECT_EQ(au.ecs_scope, 24) << au.text();

  // dc2 goes down: us and eu fail over to dc1 inside their order; Germany never moved.
  t2.close();
  EXPECT_EQ(ask_until(port, "12.3.4.0/24", {kDc1}).addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(ask_until(port, "2.0.5.0/24", {kDc1}).addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(ask(port, "5.1.9.0/24").addresses, std::set<std::string>{kDc1});
  t2.reopen();
  EXPECT_EQ(ask_until(port, "12.3.4.0/24", {kDc2}).addresses, std::set<std::string>{kDc2});

  // A broken database on reload: the error names it, and the answers keep serving.
  mmdb.raw("world.mmdb", std::string(1000, '\0'));
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for("reload failed, still serving the previous data")) << d.log();
  EXPECT_NE(d.log().find(db + ": cannot read the GeoIP2 database"), std::string::npos) << d.log();
  Reply after = ask(port, "5.1.9.0/24");
  EXPECT_EQ(after.addresses, std::set<std::string>{kDc1}) << after.text();
  EXPECT_EQ(after.ecs_scope, 21) << after.text();
  EXPECT_EQ(ask(port, "12.3.4.0/24").addresses, std::set<std::string>{kDc2});

  // A good database again reloads, and is read again.
  ASSERT_EQ(mmdb.write("world.mmdb", world()), db);
  d.signal(SIGHUP);
  ASSERT_TRUE(d.wait_for("msg=\"geoip regions\"", 2)) << d.log();
  ASSERT_TRUE(d.wait_for("msg=\"reloaded\"")) << d.log();
  EXPECT_EQ(ask(port, "5.1.2.0/24").addresses, std::set<std::string>{kDc2});
}

TEST(PharosdGeo, ConfigurationErrorsNameTheFileAndWhatIsWrong) {
  TempDir dir;
  pharos::testing::MmdbDir mmdb;
  Target t1, t2;
  dir.write("t.zone", kZone);
  dir.write("gtm.json", scenarios(t1.port(), t2.port()));
  auto check = [&](const std::string& geoip) {
    dir.write("p.json", config(geoip));
    return run_pharosd({"--check", "-c", dir.file("p.json")});
  };

  // Countries without a database.
  RunResult none = check("");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find(dir.file("gtm.json") + ": /regions/de/countries: naming countries or continents needs a GeoIP2 database"),
            std::string::npos) << none.err;
  // A database that is missing, not a database, or not a country database.
  RunResult missing = check(mmdb.path() + "/none.mmdb");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(mmdb.path() + "/none.mmdb: cannot read the GeoIP2 database"), std::string::npos) << missing.err;
  RunResult garbage = check(mmdb.raw("garbage.mmdb", "not a database"));
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("garbage.mmdb: cannot read the GeoIP2 database"), std::string::npos) << garbage.err;
  const std::string asn = mmdb.write("asn.mmdb", R"({"ip_version": 6, "database_type": "GeoLite2-ASN",
    "networks": [["1.0.0.0/8", {"autonomous_system_number": 13335}]]})");
  ASSERT_FALSE(asn.empty());
  RunResult wrong = check(asn);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find(asn + ": database type \"GeoLite2-ASN\" holds no countries"), std::string::npos) << wrong.err;
  // A relative path starts at the config file's folder, like zone files; then all is well.
  const std::string db = mmdb.write("world.mmdb", world());
  ASSERT_FALSE(db.empty());
  std::filesystem::copy_file(db, dir.file("GeoLite2-Country.mmdb"));
  RunResult good = check("GeoLite2-Country.mmdb");
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

}  // namespace
}  // namespace pharos::test
