// responder_test.cc: authoritative semantics and wire decisions, end to end through the
// responder, with ldns parsing every response as an independent check.
#include "dns/responder.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "tests/dns/test_util.h"

namespace pharos::dns {
namespace {

using testing::ask;
using testing::make_query;
using testing::section;

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = testing::table_from_text(testing::example_zone_text());
    ASSERT_NE(table_, nullptr);
  }
  testing::Reply q(const std::string& name, std::uint16_t type, std::uint16_t edns = 0,
                   Transport t = Transport::kUdp) {
    return ask(r_, *table_, make_query(name, type, 1, edns), t);
  }
  std::unique_ptr<AnswerTable> table_;
  Responder r_;
};

TEST_F(ResponderTest, AnswersAddressesAuthoritatively) {
  auto a = q("www.example.com", rrtype::kA);
  ASSERT_TRUE(a.pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_aa(a.pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(a.pkt.get()));
  EXPECT_FALSE(ldns_pkt_ra(a.pkt.get()));
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"www.example.com. 300 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11"}));
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 0);
}

TEST_F(ResponderTest, EchoesQuestionCase) {
  auto a = q("wWw.ExAmPlE.cOm", rrtype::kA);
  ASSERT_TRUE(a.pkt);
  const std::uint8_t want[] = {3, 'w', 'W', 'w', 7, 'E', 'x', 'A', 'm', 'P', 'l', 'E', 3, 'c', 'O', 'm', 0};
  EXPECT_EQ(0, std::memcmp(a.wire.data() + 12, want, sizeof want));
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 2);
}

TEST_F(ResponderTest, NxDomainAndNoDataCarrySoaWithNegativeTtl) {
  auto nx = q("nope.example.com", rrtype::kA);
  ASSERT_TRUE(nx.pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(nx.pkt.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(ldns_pkt_aa(nx.pkt.get()));
  const auto soa = section(nx.pkt.get(), LDNS_SECTION_AUTHORITY);
  ASSERT_EQ(soa.size(), 1u);
  EXPECT_EQ(soa[0].rfind("example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301", 0), 0u) << soa[0];
  auto nodata = q("www.example.com", rrtype::kMx);
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(nodata.pkt.get()), 0);
  EXPECT_EQ(section(nodata.pkt.get(), LDNS_SECTION_AUTHORITY), soa);
}

TEST_F(ResponderTest, EmptyNonTerminalIsNoData) {
  auto a = q("b.c.example.com", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 1);
}

TEST_F(ResponderTest, UnknownTypeIsNoData) {
  auto a = q("www.example.com", 666);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 1);
}

TEST_F(ResponderTest, FollowsCnameChainInsideZone) {
  auto a = q("alias.example.com", rrtype::kA);
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"alias.example.com. 300 IN CNAME web.example.com.",
                                      "web.example.com. 300 IN CNAME www.example.com.",
                                      "www.example.com. 300 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11"}));
  EXPECT_TRUE(ldns_pkt_aa(a.pkt.get()));
}

TEST_F(ResponderTest, CnameQueryReturnsOnlyTheCname) {
  auto a = q("web.example.com", rrtype::kCname);
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"web.example.com. 300 IN CNAME www.example.com."}));
}

TEST_F(ResponderTest, CnameOutOfZoneIsNotFollowed) {
  auto a = q("outside.example.com", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"outside.example.com. 300 IN CNAME www.example.org."}));
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 0);
}

TEST_F(ResponderTest, CnameToMissingNameIsNxDomain) {
  auto a = q("broken.example.com", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 1);
}

TEST_F(ResponderTest, CnameToNodataKeepsSoa) {
  auto a = q("web.example.com", rrtype::kMx);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_nscount(a.pkt.get()), 1);
}

TEST_F(ResponderTest, WildcardSynthesizesOwnerFromQname) {
  auto a = q("Foo.Bar.apps.example.com", rrtype::kA);
  EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"Foo.Bar.apps.example.com. 300 IN A 192.0.2.80"}));
  auto t = q("x.apps.example.com", rrtype::kTxt);
  EXPECT_EQ(section(t.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"x.apps.example.com. 300 IN TXT \"wildcard\""}));
  auto nodata = q("x.apps.example.com", rrtype::kMx);
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(nodata.pkt.get()), 0);
}

TEST_F(ResponderTest, WildcardDoesNotCoverOtherBranches) {
  auto a = q("x.www.example.com", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(ResponderTest, ReferralBelowCutWithGlue) {
  for (const char* name : {"sub.example.com", "host.sub.example.com", "ns.sub.example.com"}) {
    auto a = q(name, rrtype::kA);
    ASSERT_TRUE(a.pkt) << name;
    EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_NOERROR) << name;
    EXPECT_FALSE(ldns_pkt_aa(a.pkt.get())) << name;
    EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 0) << name;
    EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_AUTHORITY),
              (std::vector<std::string>{"sub.example.com. 300 IN NS ns.example.net.",
                                        "sub.example.com. 300 IN NS ns.sub.example.com."}))
        << name;
    EXPECT_EQ(section(a.pkt.get(), LDNS_SECTION_ADDITIONAL),
              (std::vector<std::string>{"ns.sub.example.com. 300 IN A 192.0.2.153",
                                        "ns.sub.example.com. 300 IN AAAA 2001:db8::153"}))
        << name;
  }
}

TEST_F(ResponderTest, AdditionalAddressesForMxNsSrv) {
  auto mx = q("example.com", rrtype::kMx);
  EXPECT_EQ(section(mx.pkt.get(), LDNS_SECTION_ADDITIONAL),
            (std::vector<std::string>{"mail.example.com. 300 IN A 192.0.2.25"}));
  auto ns = q("example.com", rrtype::kNs);
  EXPECT_EQ(section(ns.pkt.get(), LDNS_SECTION_ADDITIONAL),
            (std::vector<std::string>{"ns1.example.com. 300 IN A 192.0.2.53", "ns1.example.com. 300 IN AAAA 2001:db8::53",
                                      "ns2.example.com. 300 IN A 198.51.100.53"}));
  auto srv = q("_sip._udp.example.com", rrtype::kSrv);
  EXPECT_EQ(section(srv.pkt.get(), LDNS_SECTION_ADDITIONAL),
            (std::vector<std::string>{"sip.example.com. 300 IN A 192.0.2.60"}));
}

TEST_F(ResponderTest, RefusesNamesOutsideServedZones) {
  auto a = q("www.example.org", rrtype::kA);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), LDNS_RCODE_REFUSED);
  EXPECT_FALSE(ldns_pkt_aa(a.pkt.get()));
  EXPECT_EQ(ldns_pkt_qdcount(a.pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()) + ldns_pkt_nscount(a.pkt.get()), 0);
}

TEST_F(ResponderTest, AnyOverUdpIsHinfoAndOverTcpIsEverything) {
  auto udp = q("example.com", rrtype::kAny);
  EXPECT_EQ(section(udp.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"example.com. 3600 IN HINFO \"RFC8482\" \"\""}));
  auto tcp = q("example.com", rrtype::kAny, 0, Transport::kTcp);
  EXPECT_EQ(ldns_pkt_ancount(tcp.pkt.get()), 8);  // SOA, 2 NS, 2 MX, TXT, A, AAAA
  auto cname = q("web.example.com", rrtype::kAny);
  EXPECT_EQ(section(cname.pkt.get(), LDNS_SECTION_ANSWER),
            (std::vector<std::string>{"web.example.com. 300 IN CNAME www.example.com."}));
}

TEST_F(ResponderTest, TruncatesWithoutEdnsAndFitsWithIt) {
  auto small = q("big.example.com", rrtype::kTxt);
  ASSERT_TRUE(small.pkt);
  EXPECT_TRUE(ldns_pkt_tc(small.pkt.get()));
  EXPECT_LE(small.wire.size(), 512u);
  EXPECT_EQ(ldns_pkt_ancount(small.pkt.get()), 0);
  auto edns = q("big.example.com", rrtype::kTxt, 1232);
  EXPECT_FALSE(ldns_pkt_tc(edns.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(edns.pkt.get()), 4);
  EXPECT_TRUE(ldns_pkt_edns(edns.pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(edns.pkt.get()), 1232);
  auto tiny = q("big.example.com", rrtype::kTxt, 100);  // < 512 counts as 512
  EXPECT_TRUE(ldns_pkt_tc(tiny.pkt.get()));
  EXPECT_TRUE(ldns_pkt_edns(tiny.pkt.get()));
  auto tcp = q("big.example.com", rrtype::kTxt, 0, Transport::kTcp);
  EXPECT_FALSE(ldns_pkt_tc(tcp.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(tcp.pkt.get()), 4);
}

TEST_F(ResponderTest, ChaosHiddenByDefaultAndConfigurable) {
  auto hidden = ask(r_, *table_, make_query("version.bind", rrtype::kTxt, rrclass::kCh));
  EXPECT_EQ(ldns_pkt_get_rcode(hidden.pkt.get()), LDNS_RCODE_REFUSED);
  TableOptions o;
  o.id_server = "node-a";
  auto t = testing::table_from_text(testing::example_zone_text(), o);
  auto id = ask(r_, *t, make_query("ID.SERVER", rrtype::kTxt, rrclass::kCh));
  EXPECT_EQ(section(id.pkt.get(), LDNS_SECTION_ANSWER), (std::vector<std::string>{"ID.SERVER. 0 CH TXT \"node-a\""}));
  auto version = ask(r_, *t, make_query("version.bind", rrtype::kTxt, rrclass::kCh));
  EXPECT_EQ(ldns_pkt_get_rcode(version.pkt.get()), LDNS_RCODE_REFUSED);
}

TEST_F(ResponderTest, NotImpClearsEveryFlag) {
  auto m = make_query("www.example.com", rrtype::kA);
  m[2] = static_cast<std::uint8_t>((15 << 3) | 0x07);  // opcode 15, AA, TC, RD
  m[3] = 0xF0;                                          // RA, Z, AD, CD
  auto a = ask(r_, *table_, m);
  ASSERT_EQ(a.wire.size(), 12u);
  EXPECT_EQ(a.wire[2], 0x80 | (15 << 3));
  EXPECT_EQ(a.wire[3], 0x04);
  EXPECT_EQ(a.wire[5] + a.wire[7] + a.wire[9] + a.wire[11], 0);
}

TEST_F(ResponderTest, ZeroesZAndIgnoresTc) {
  auto m = make_query("www.example.com", rrtype::kA);
  m[2] |= 0x02;  // TC
  m[3] |= 0x40;  // Z
  auto a = ask(r_, *table_, m);
  EXPECT_EQ(a.wire[2] & 0x02, 0);
  EXPECT_EQ(a.wire[3] & 0x40, 0);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 2);
}

TEST_F(ResponderTest, BadVersHasNoRecords) {
  auto m = make_query("www.example.com", rrtype::kA, 1, 1232);
  m[m.size() - 5] = 1;  // EDNS version
  auto a = ask(r_, *table_, m);
  ASSERT_TRUE(a.pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(a.pkt.get()), 0);  // low bits; the extended part is in OPT
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(a.pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_edns_version(a.pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 0);
  EXPECT_FALSE(ldns_pkt_aa(a.pkt.get()));
}

TEST_F(ResponderTest, RepeatedFormerrFromSameClientIsDropped) {
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(40000);
  from.sin_addr.s_addr = htonl(0x7f000001);
  auto bad = make_query("www.example.com", rrtype::kA);
  bad[5] = 2;  // QDCOUNT 2
  EXPECT_EQ(ask(r_, *table_, bad, Transport::kUdp, reinterpret_cast<sockaddr*>(&from)).wire.size(), 12u);
  EXPECT_TRUE(ask(r_, *table_, bad, Transport::kUdp, reinterpret_cast<sockaddr*>(&from)).wire.empty());
  auto good = ask(r_, *table_, make_query("www.example.com", 1), Transport::kUdp, reinterpret_cast<sockaddr*>(&from));
  EXPECT_EQ(ldns_pkt_ancount(good.pkt.get()), 2);
}

TEST_F(ResponderTest, DropsReflectionPorts) {
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(19);
  EXPECT_TRUE(ask(r_, *table_, make_query("www.example.com", 1), Transport::kUdp, reinterpret_cast<sockaddr*>(&from))
                  .wire.empty());
}

TEST_F(ResponderTest, ZoneTransfersAreNotOffered) {
  EXPECT_EQ(ldns_pkt_get_rcode(q("example.com", rrtype::kAxfr).pkt.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_get_rcode(q("example.com", rrtype::kAxfr, 0, Transport::kTcp).pkt.get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(ldns_pkt_get_rcode(q("example.com", rrtype::kIxfr).pkt.get()), LDNS_RCODE_REFUSED);
}

TEST_F(ResponderTest, EchoesClientSubnetWithScopeZero) {
  auto m = make_query("www.example.com", rrtype::kA);
  m[11] = 1;
  m.insert(m.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100});
  auto a = ask(r_, *table_, m);
  ASSERT_GE(a.wire.size(), 11u);
  const std::vector<std::uint8_t> tail(a.wire.end() - 11, a.wire.end());
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}));
}

TEST_F(ResponderTest, ClassAnyIsAnsweredLikeIn) {
  auto a = ask(r_, *table_, make_query("www.example.com", rrtype::kA, rrclass::kAny));
  EXPECT_TRUE(ldns_pkt_aa(a.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 2);
  auto hs = ask(r_, *table_, make_query("www.example.com", rrtype::kA, rrclass::kHs));
  EXPECT_EQ(ldns_pkt_get_rcode(hs.pkt.get()), LDNS_RCODE_REFUSED);
}

TEST_F(ResponderTest, CompressesNamesAgainstTheQuestion) {
  auto a = q("example.com", rrtype::kNs);
  // Owners are pointers to the question; targets share the zone suffix.
  EXPECT_LT(a.wire.size(), 160u);
  EXPECT_EQ(ldns_pkt_ancount(a.pkt.get()), 2);
}

}  // namespace
}  // namespace pharos::dns
