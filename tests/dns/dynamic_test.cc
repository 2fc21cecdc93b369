// dynamic_test.cc: GTM answers in the table: every alternative precomputed, the live one chosen
// per slot and region without a rebuild, names that exist only through GTM records, clashes with
// zone data refused, and regions matched from Client Subnet or the source address.
#include "dns/dynamic.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "tests/dns/test_util.h"

namespace pharos::dns {
namespace {

using testing::ask;
using testing::make_query;
using testing::section;

Bytes a_rdata(const char* ip) {
  Bytes b(4);
  inet_pton(AF_INET, ip, b.data());
  return b;
}

Bytes name_rdata(const char* name) {
  std::vector<std::uint8_t> w;
  name_to_wire(name, w);
  return w;
}

DynamicRrset gtm_a(const char* name, std::vector<const char*> alternatives, bool geo = false) {
  DynamicRrset d;
  name_to_wire(name, d.owner);
  d.type = rrtype::kA;
  d.ttl = 30;
  d.geo = geo;
  d.label = std::string(name) + "/A";
  for (const char* ip : alternatives) d.alternatives.push_back({a_rdata(ip)});
  return d;
}

Result<std::unique_ptr<AnswerTable>> build(std::vector<DynamicRrset> dyn, std::vector<DynamicRegion> regions = {},
                                           const std::string& extra = "") {
  auto zone = load_zone_text("example.com.", testing::example_zone_text() + extra, "example.zone");
  EXPECT_TRUE(zone.ok());
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  return build_table(std::move(zones), TableOptions{}, std::move(dyn), regions);
}

void choose(const AnswerTable& t, std::size_t slot, std::size_t region, std::uint32_t choice) {
  auto c = std::make_unique<DynamicChoices>(t.dynamic_slots(), t.region_count());
  if (const DynamicChoices* old = t.choices())
    for (std::size_t s = 0; s < old->slots(); ++s)
      for (std::size_t r = 0; r < old->regions(); ++r) c->set(s, r, old->get(s, r));
  c->set(slot, region, choice);
  delete t.exchange_choices(c.release());  // no readers in these tests
}

TEST(Dynamic, ServesTheChosenAlternative) {
  auto t = build({gtm_a("gtm.example.com.", {"192.0.2.1", "198.51.100.1"})});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  Responder r;
  auto first = ask(r, **t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(section(first.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"gtm.example.com. 30 IN A 192.0.2.1"}));
  EXPECT_TRUE(ldns_pkt_aa(first.pkt.get()));
  choose(**t, 0, 0, 1);
  auto second = ask(r, **t, make_query("GTM.example.com", rrtype::kA));
  EXPECT_EQ(section(second.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"GTM.example.com. 30 IN A 198.51.100.1"}));
}

TEST(Dynamic, PolicyChoicesNoDataServFailRefused) {
  auto t = build({gtm_a("gtm.example.com.", {"192.0.2.1"})});
  ASSERT_TRUE(t.ok());
  Responder r;
  choose(**t, 0, 0, kChoiceNoData);
  auto nodata = ask(r, **t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(nodata.pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(nodata.pkt.get()), 1);
  choose(**t, 0, 0, kChoiceServFail);
  auto servfail = ask(r, **t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(ldns_pkt_get_rcode(servfail.pkt.get()), LDNS_RCODE_SERVFAIL);
  EXPECT_FALSE(ldns_pkt_aa(servfail.pkt.get()));
  choose(**t, 0, 0, kChoiceRefused);
  EXPECT_EQ(ldns_pkt_get_rcode(ask(r, **t, make_query("gtm.example.com", rrtype::kA)).pkt.get()), LDNS_RCODE_REFUSED);
}

TEST(Dynamic, GtmNamesExistForOtherTypesAndTheirParents) {
  auto t = build({gtm_a("a.b.gtm.example.com.", {"192.0.2.1"})});
  ASSERT_TRUE(t.ok());
  Responder r;
  auto aaaa = ask(r, **t, make_query("a.b.gtm.example.com", rrtype::kAaaa));
  EXPECT_EQ(ldns_pkt_get_rcode(aaaa.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_nscount(aaaa.pkt.get()), 1);
  auto ent = ask(r, **t, make_query("b.gtm.example.com", rrtype::kA));
  EXPECT_EQ(ldns_pkt_get_rcode(ent.pkt.get()), LDNS_RCODE_NOERROR);
  auto nx = ask(r, **t, make_query("c.gtm.example.com", rrtype::kA));
  EXPECT_EQ(ldns_pkt_get_rcode(nx.pkt.get()), LDNS_RCODE_NXDOMAIN);
}

TEST(Dynamic, LivesNextToOtherTypesOfTheZone) {
  // www has A and AAAA in the zone; a GTM TXT there keeps both.
  DynamicRrset txt;
  name_to_wire("www.example.com.", txt.owner);
  txt.type = rrtype::kTxt;
  txt.ttl = 10;
  txt.label = "www.example.com./TXT";
  txt.alternatives = {{Bytes{2, 'o', 'k'}}};
  auto t = build({txt});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  Responder r;
  EXPECT_EQ(section(ask(r, **t, make_query("www.example.com", rrtype::kTxt)).pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"www.example.com. 10 IN TXT \"ok\""}));
  EXPECT_EQ(ldns_pkt_ancount(ask(r, **t, make_query("www.example.com", rrtype::kA)).pkt.get()), 2);
}

TEST(Dynamic, ClashesWithZoneDataAreErrors) {
  struct Case { DynamicRrset d; const char* message; };
  DynamicRrset cname_next_to_data;
  name_to_wire("mail.example.com.", cname_next_to_data.owner);
  cname_next_to_data.type = rrtype::kCname;
  cname_next_to_data.label = "mail.example.com./CNAME";
  cname_next_to_data.alternatives = {{name_rdata("www.example.com.")}};
  const Case cases[] = {
      {gtm_a("www.example.com.", {"192.0.2.9"}), "also in the zone file"},
      {gtm_a("x.sub.example.com.", {"192.0.2.9"}), "zone cut"},
      {gtm_a("www.example.org.", {"192.0.2.9"}), "not inside a served zone"},
      {gtm_a("web.example.com.", {"192.0.2.9"}), "has a CNAME"},
      {gtm_a("*.x.example.com.", {"192.0.2.9"}), "wildcard"},
      {cname_next_to_data, "cannot sit next to"},
  };
  for (const Case& c : cases) {
    auto t = build({c.d});
    ASSERT_FALSE(t.ok()) << c.d.label;
    EXPECT_NE(t.error().message.find(c.message), std::string::npos) << t.error().to_string();
    EXPECT_NE(t.error().message.find(c.d.label), std::string::npos) << t.error().to_string();
  }
}

TEST(Dynamic, GtmCnameAnswersEveryType) {
  DynamicRrset d;
  name_to_wire("cdn.example.com.", d.owner);
  d.type = rrtype::kCname;
  d.ttl = 60;
  d.label = "cdn.example.com./CNAME";
  d.alternatives = {{name_rdata("edge1.cdn.example.net.")}, {name_rdata("edge2.cdn.example.net.")}};
  auto t = build({d});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  Responder r;
  choose(**t, 0, 0, 1);
  for (std::uint16_t type : {rrtype::kA, rrtype::kAaaa, rrtype::kCname}) {
    EXPECT_EQ(section(ask(r, **t, make_query("cdn.example.com", type)).pkt.get(), LDNS_SECTION_ANSWER),
              (std::vector<std::string>{"cdn.example.com. 60 IN CNAME edge2.cdn.example.net."}))
        << type;
  }
}

TEST(Dynamic, StaticCnameToAGtmNameIsLeftForTheResolver) {
  auto t = build({gtm_a("gtm.example.com.", {"192.0.2.1"})}, {}, "to-gtm IN CNAME gtm\n");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  Responder r;
  auto a = ask(r, **t, make_query("to-gtm.example.com", rrtype::kA));
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"to-gtm.example.com. 300 IN CNAME gtm.example.com."}));
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 0);  // not a NODATA: the target's answer changes at run time
}

DynamicRegion region(const char* name, std::vector<std::pair<const char*, int>> nets) {
  DynamicRegion r;
  r.name = name;
  for (auto [cidr, prefix] : nets) {
    DynamicRegion::Network n;
    n.family = std::string(cidr).find(':') == std::string::npos ? 4 : 6;
    inet_pton(n.family == 4 ? AF_INET : AF_INET6, cidr, n.address);
    n.prefix = static_cast<std::uint8_t>(prefix);
    r.networks.push_back(n);
  }
  return r;
}

std::vector<std::uint8_t> with_ecs(const char* name, std::uint8_t family, std::uint8_t prefix,
                                   std::vector<std::uint8_t> addr) {
  auto q = make_query(name, rrtype::kA);
  q[11] = 1;
  const auto len = static_cast<std::uint8_t>(4 + 4 + addr.size());
  q.insert(q.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, len, 0, 8, 0, static_cast<std::uint8_t>(4 + addr.size()), 0,
                     family, prefix, 0});
  q.insert(q.end(), addr.begin(), addr.end());
  return q;
}


TEST(Dynamic, GeoChoosesByClientSubnetAndSendsTheScope) {
  auto t = build({gtm_a("geo.example.com.", {"192.0.2.1", "198.51.100.1"}, true)},
                 {region("eu", {{"10.1.0.0", 16}, {"2001:db8:1::", 48}}), region("us", {{"10.2.0.0", 16}, {"10.2.3.0", 24}})});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ((*t)->region_count(), 3u);
  choose(**t, 0, 2, 1);  // us -> alternative 1
  Responder r;
  auto us = ask(r, **t, with_ecs("geo.example.com", 1, 24, {10, 2, 3}));
  EXPECT_EQ(section(us.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"geo.example.com. 30 IN A 198.51.100.1"}));
  // ECS option at the end: family(2) source(1) scope(1) address(3): the longest match, /24.
  EXPECT_EQ(us.wire[us.wire.size() - 4], 24);
  auto us16 = ask(r, **t, with_ecs("geo.example.com", 1, 24, {10, 2, 9}));
  EXPECT_EQ(us16.wire[us16.wire.size() - 4], 16);
  auto eu = ask(r, **t, with_ecs("geo.example.com", 1, 24, {10, 1, 9}));
  EXPECT_EQ(section(eu.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"geo.example.com. 30 IN A 192.0.2.1"}));
  auto none = ask(r, **t, with_ecs("geo.example.com", 1, 24, {192, 0, 2}));
  EXPECT_EQ(none.wire[none.wire.size() - 4], 24);  // no region: valid for the client's subnet only
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(40000);
  inet_pton(AF_INET, "10.2.200.7", &from.sin_addr);
  auto by_source = ask(r, **t, make_query("geo.example.com", rrtype::kA), Transport::kUdp,
                       reinterpret_cast<sockaddr*>(&from));
  EXPECT_EQ(section(by_source.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"geo.example.com. 30 IN A 198.51.100.1"}));
  std::uint8_t prefix = 0;
  std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 5};
  EXPECT_EQ((*t)->region_of(6, v6, &prefix), 1u);
  EXPECT_EQ(prefix, 48);
}

TEST(Dynamic, NonGeoAnswersCarryScopeZero) {
  auto t = build({gtm_a("gtm.example.com.", {"192.0.2.1"})}, {region("eu", {{"10.1.0.0", 16}})});
  ASSERT_TRUE(t.ok());
  Responder r;
  auto a = ask(r, **t, with_ecs("gtm.example.com", 1, 24, {10, 1, 2}));
  EXPECT_EQ(a.wire[a.wire.size() - 4], 0);
}

}  // namespace
}  // namespace pharos::dns
