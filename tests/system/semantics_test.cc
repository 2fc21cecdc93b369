// semantics_test.cc: authoritative answers from a real pharosd serving zones/example.com.zone:
// AA, NXDOMAIN vs NODATA, referrals with glue, CNAME chains, wildcards, additional addresses,
// case echo, REFUSED, compression, IPv6, and agreement with dig and kdig.
#include <algorithm>

#include <gtest/gtest.h>

#include "tests/system/checks.h"
#include "tests/system/harness.h"

namespace pharos::system_test {
namespace {

class Semantics : public ::testing::Test {
 protected:
  void SetUp() override {
    srv_ = default_server();
    ASSERT_NE(srv_, nullptr);
  }
  // Queries through the ldns client (ldns_pkt_query_new, no RD, no EDNS).
  std::optional<Response> ask(std::uint16_t id, const std::string& name, ldns_rr_type type) const {
    return udp_exchange(srv_->udp(), ldns_query(id, name, type));
  }
  Server* srv_ = nullptr;
};

const std::vector<std::string> kSubReferral = {"sub.example.com. 300 IN NS ns.example.net.",
                                               "sub.example.com. 300 IN NS ns.sub.example.com."};
const std::vector<std::string> kSubGlue = {"ns.sub.example.com. 300 IN A 192.0.2.153",
                                           "ns.sub.example.com. 300 IN AAAA 2001:db8::153"};

TEST_F(Semantics, AuthoritativeAnswerHasAa) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "www.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, www_a());
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(v6, ask(id2, "www.example.com.", LDNS_RR_TYPE_AAAA));
  expect_header(v6, id2, 0, kNoError, kQr | kAa);
  expect_answer_records(v6, {"www.example.com. 300 IN AAAA 2001:db8::10"});
}

TEST_F(Semantics, ApexSoaHasZoneTtl) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "example.com.", LDNS_RR_TYPE_SOA));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, {"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 "
                            "7200 900 1209600 60"});
}

TEST_F(Semantics, NxDomainHasSoaWithNegativeTtl) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "nope.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNxDomain, kQr | kAa);
  expect_counts(r, 1, 0, 1, 0);
  expect_negative(r);
}

TEST_F(Semantics, NoDataHasSoaWithNegativeTtl) {
  for (const auto& [name, type] : {std::pair<const char*, ldns_rr_type>{"www.example.com.", LDNS_RR_TYPE_MX},
                                   {"example.com.", LDNS_RR_TYPE_SRV},
                                   {"mail.example.com.", LDNS_RR_TYPE_AAAA}}) {
    SCOPED_TRACE(name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, name, type));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_counts(r, 1, 0, 1, 0);
    expect_negative(r);
  }
}

TEST_F(Semantics, ReferralAtZoneCut) {
  for (ldns_rr_type type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_SOA}) {
    SCOPED_TRACE("sub.example.com type " + std::to_string(type));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, "sub.example.com.", type));
    expect_header(r, id, 0, kNoError, kQr);  // AA=0: the child is authoritative, not us
    EXPECT_EQ(r.ancount(), 0);
    EXPECT_EQ(r.section(2), kSubReferral);
    EXPECT_EQ(r.section(3), kSubGlue);
  }
}

TEST_F(Semantics, ReferralBelowZoneCut) {
  for (const char* name : {"host.sub.example.com.", "deep.er.sub.example.com.", "ns.sub.example.com."}) {
    SCOPED_TRACE(name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, name, LDNS_RR_TYPE_A));
    expect_header(r, id, 0, kNoError, kQr);
    expect_counts(r, 1, 0, 2, 2);
    EXPECT_EQ(r.section(2), kSubReferral);
    EXPECT_EQ(r.section(3), kSubGlue);
  }
}

TEST_F(Semantics, DsAtZoneCutAnsweredByParent) {
  // The parent side of a cut is authoritative for DS (RFC 4035 §3.1.4.1): NODATA, not a referral.
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "sub.example.com.", LDNS_RR_TYPE_DS));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_negative(r);
}

TEST_F(Semantics, CnameFollowedInZone) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "web.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  const auto in_order = r.section_in_order(1);
  ASSERT_EQ(in_order.size(), 3u);
  EXPECT_EQ(to_lower(in_order[0]), "web.example.com. 300 in cname www.example.com.");
  std::vector<std::string> all = www_a();
  all.push_back("web.example.com. 300 IN CNAME www.example.com.");
  expect_answer_records(r, all);
}

TEST_F(Semantics, CnameChainFollowed) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "alias.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  const auto in_order = r.section_in_order(1);
  ASSERT_EQ(in_order.size(), 4u);
  EXPECT_EQ(to_lower(in_order[0]), "alias.example.com. 300 in cname web.example.com.");
  EXPECT_EQ(to_lower(in_order[1]), "web.example.com. 300 in cname www.example.com.");
  std::vector<std::string> all = www_a();
  all.push_back("alias.example.com. 300 IN CNAME web.example.com.");
  all.push_back("web.example.com. 300 IN CNAME www.example.com.");
  expect_answer_records(r, all);
}

TEST_F(Semantics, CnameOutOfZoneNotFollowed) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "outside.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, {"outside.example.com. 300 IN CNAME www.example.org."});
}

TEST_F(Semantics, BrokenCnameGivesNxDomainWithSoa) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "broken.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNxDomain, kQr | kAa);
  EXPECT_EQ(r.section(1), std::vector<std::string>{"broken.example.com. 300 IN CNAME missing.example.com."});
  EXPECT_EQ(r.section(2), std::vector<std::string>{negative_soa()});
  EXPECT_TRUE(r.section(3).empty());
}

TEST_F(Semantics, CnameQueriedDirectly) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "web.example.com.", LDNS_RR_TYPE_CNAME));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, {"web.example.com. 300 IN CNAME www.example.com."});
}

TEST_F(Semantics, WildcardSynthesizesOwnerAsQname) {
  struct Case {
    const char* name;
    ldns_rr_type type;
    std::string record;
  };
  for (const Case& c : {Case{"x.apps.example.com.", LDNS_RR_TYPE_A, "x.apps.example.com. 300 IN A 192.0.2.80"},
                        Case{"x.apps.example.com.", LDNS_RR_TYPE_TXT, "x.apps.example.com. 300 IN TXT \"wildcard\""},
                        Case{"a.b.apps.example.com.", LDNS_RR_TYPE_A, "a.b.apps.example.com. 300 IN A 192.0.2.80"}}) {
    SCOPED_TRACE(std::string(c.name) + " type " + std::to_string(c.type));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, c.name, c.type));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, {c.record});
  }
}

TEST_F(Semantics, WildcardNoDataForMissingType) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "x.apps.example.com.", LDNS_RR_TYPE_AAAA));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_negative(r);
}

TEST_F(Semantics, WildcardDoesNotMatchOutsideItsParent) {
  // www exists and has no wildcard child; *.apps is unrelated.
  for (const char* name : {"x.www.example.com.", "x.b.c.example.com.", "x.mail.example.com."}) {
    SCOPED_TRACE(name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, name, LDNS_RR_TYPE_A));
    expect_header(r, id, 0, kNxDomain, kQr | kAa);
    expect_negative(r);
  }
  // apps itself exists only as the parent of *.apps: an empty non-terminal.
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "apps.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_negative(r);
}

TEST_F(Semantics, EmptyNonTerminalIsNoData) {
  for (const char* name : {"b.c.example.com.", "c.example.com."}) {
    SCOPED_TRACE(name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, name, LDNS_RR_TYPE_A));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_negative(r);
  }
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "a.b.c.example.com.", LDNS_RR_TYPE_A));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, {"a.b.c.example.com. 300 IN A 192.0.2.99"});
}

TEST_F(Semantics, MxTargetAddressInAdditional) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "example.com.", LDNS_RR_TYPE_MX));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  // mail2.example.net is outside the zone: no address for it.
  expect_answer_records(r, {"example.com. 300 IN MX 10 mail.example.com.", "example.com. 300 IN MX 20 mail2.example.net."},
                        {"mail.example.com. 300 IN A 192.0.2.25"});
}

TEST_F(Semantics, NsTargetAddressesInAdditional) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "example.com.", LDNS_RR_TYPE_NS));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, apex_ns(), ns_glue());
}

TEST_F(Semantics, SrvTargetAddressInAdditional) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "_sip._udp.example.com.", LDNS_RR_TYPE_SRV));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, {"_sip._udp.example.com. 300 IN SRV 10 60 5060 sip.example.com."},
                        {"sip.example.com. 300 IN A 192.0.2.60"});
}

TEST_F(Semantics, QuestionEchoedWithClientCase) {
  const std::uint16_t id = next_id();
  const Bytes q = build_query(id, "wWw.ExAmPlE.cOm", rrtype::kA);
  ASSERT_REPLY(r, udp_exchange(srv_->udp(), q));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_question_echo(r, q);
  expect_answer_records(r, www_a());
  // The records still carry the owner name (case-insensitively equal to the qname).
  for (const auto& rec : r.section_in_order(1)) EXPECT_EQ(to_lower(rec.substr(0, 16)), "www.example.com.");
}

TEST_F(Semantics, MixedCaseQnamesEverywhere) {
  // The answer fragments are compressed against the question; with a mixed-case question the
  // echoed name keeps the client's case and every record still decodes to the right name.
  struct Case {
    const char* name;
    std::uint16_t type;
    int rcode;
    std::uint16_t flags;
    std::vector<std::string> answer, authority;
  };
  const Case cases[] = {
      {"NoPe.ExAmPlE.cOm", rrtype::kA, kNxDomain, kQr | kAa, {}, {negative_soa()}},
      {"X.aPpS.example.COM", rrtype::kA, kNoError, kQr | kAa, {"x.apps.example.com. 300 IN A 192.0.2.80"}, {}},
      {"HoSt.SuB.Example.Com", rrtype::kA, kNoError, kQr, {}, kSubReferral},
      {"ALIAS.EXAMPLE.COM", rrtype::kA, kNoError, kQr | kAa,
       {"alias.example.com. 300 IN CNAME web.example.com.", "web.example.com. 300 IN CNAME www.example.com.",
        "www.example.com. 300 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11"}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, c.name, c.type);
    ASSERT_REPLY(r, udp_exchange(srv_->udp(), q));
    expect_header(r, id, 0, c.rcode, c.flags);
    expect_question_echo(r, q);
    std::vector<std::string> lower_answer, lower_auth;
    for (const auto& rec : r.section(1)) lower_answer.push_back(to_lower(rec));
    for (const auto& rec : r.section(2)) lower_auth.push_back(to_lower(rec));
    std::vector<std::string> want_answer, want_auth;
    for (const auto& rec : c.answer) want_answer.push_back(to_lower(rec));
    for (const auto& rec : c.authority) want_auth.push_back(to_lower(rec));
    for (auto* v : {&lower_answer, &lower_auth, &want_answer, &want_auth}) std::sort(v->begin(), v->end());
    EXPECT_EQ(lower_answer, want_answer);
    if (!c.authority.empty() || c.rcode != kNoError) {
      EXPECT_EQ(lower_auth, want_auth);
    }
  }
}

TEST_F(Semantics, LongQnamesCompressCorrectly) {
  // 255-octet names: compression targets inside the qname sit at offsets up to ~260.
  const std::string l63(63, 'q');
  {
    SCOPED_TRACE("wildcard");
    const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(44, 'w') + ".apps.example.com";
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, name, rrtype::kA);
    ASSERT_EQ(q.size(), 12u + 255 + 4);
    ASSERT_REPLY(r, udp_exchange(srv_->udp(), q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_question_echo(r, q);
    expect_answer_records(r, {name + ". 300 IN A 192.0.2.80"});
  }
  {
    SCOPED_TRACE("referral");
    const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(45, 'r') + ".sub.example.com";
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, name, rrtype::kA);
    ASSERT_EQ(q.size(), 12u + 255 + 4);
    ASSERT_REPLY(r, udp_exchange(srv_->udp(), q));
    expect_header(r, id, 0, kNoError, kQr);
    EXPECT_EQ(r.section(2), kSubReferral);
    EXPECT_EQ(r.section(3), kSubGlue);
  }
  {
    SCOPED_TRACE("NXDOMAIN");
    const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(49, 'n') + ".example.com";
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, udp_exchange(srv_->udp(), build_query(id, name, rrtype::kA)));
    expect_header(r, id, 0, kNxDomain, kQr | kAa);
    expect_negative(r);
  }
}

TEST_F(Semantics, NameOutsideServedZonesRefused) {
  for (const char* name : {"www.example.org.", "example.net.", "com."}) {
    SCOPED_TRACE(name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(id, name, LDNS_RR_TYPE_A));
    expect_header(r, id, 0, kRefused, kQr);
    expect_counts(r, 1, 0, 0, 0);
  }
}

TEST_F(Semantics, ResponsesUseNameCompression) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(id, "example.com.", LDNS_RR_TYPE_MX));
  // The same message without compression: header, question, then every RR with full names.
  std::size_t uncompressed = 12 + ldns_rdf_size(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r.pkt()), 0))) + 4;
  for (const ldns_rr_list* list : {ldns_pkt_answer(r.pkt()), ldns_pkt_authority(r.pkt()), ldns_pkt_additional(r.pkt())}) {
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
      const ldns_rr* rec = ldns_rr_list_rr(list, i);
      uncompressed += ldns_rdf_size(ldns_rr_owner(rec)) + 10;
      for (std::size_t f = 0; f < ldns_rr_rd_count(rec); ++f) uncompressed += ldns_rdf_size(ldns_rr_rdf(rec, f));
    }
  }
  EXPECT_LT(r.size(), uncompressed) << "no name compression";
  bool pointer = false;
  for (const auto& raw : r.raw_rrs()) {
    if (raw.section > 0 && (r.wire()[raw.owner_offset] & 0xC0) == 0xC0) pointer = true;
  }
  EXPECT_TRUE(pointer) << "no owner name is a compression pointer";
}

TEST_F(Semantics, TcpGivesSameAnswerAsUdp) {
  const std::uint16_t id = next_id();
  const Bytes q = ldns_query(id, "example.com.", LDNS_RR_TYPE_MX);
  ASSERT_REPLY(u, udp_exchange(srv_->udp(), q));
  ASSERT_REPLY(t, tcp_exchange(srv_->tcp(), q));
  EXPECT_EQ(t.flags(), u.flags());
  EXPECT_EQ(t.section(1), u.section(1));
  EXPECT_EQ(t.section(2), u.section(2));
  EXPECT_EQ(t.section(3), u.section(3));
}

TEST_F(Semantics, Ipv6ListenerAnswers) {
  Server* dual = dual_stack_server();
  ASSERT_NE(dual, nullptr);
  const Endpoint v6 = dual->udp(AF_INET6);
  ASSERT_NE(v6.port, 0) << "no [::1] UDP listener reported; log:\n" << dual->log();
  for (bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "TCP over ::1" : "UDP over ::1");
    const std::uint16_t id = next_id();
    const Bytes q = ldns_query(id, "www.example.com.", LDNS_RR_TYPE_AAAA);
    ASSERT_REPLY(r, tcp ? tcp_exchange(dual->tcp(AF_INET6), q) : udp_exchange(v6, q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, {"www.example.com. 300 IN AAAA 2001:db8::10"});
  }
  // The IPv4 listener of the same server answers too.
  expect_still_answers(dual, true);
}

TEST_F(Semantics, DigAndKdigAgree) {
  const ToolAnswer d = run_dig(srv_->udp(), "www.example.com A +norec");
  const ToolAnswer k = run_kdig(srv_->udp(), "www.example.com A +norec");
  ASSERT_TRUE(d.ran) << d.output;
  ASSERT_TRUE(k.ran) << k.output;
  EXPECT_EQ(d.status, "NOERROR") << d.output;
  EXPECT_EQ(k.status, "NOERROR") << k.output;
  EXPECT_EQ(d.flags, (std::vector<std::string>{"aa", "qr"})) << d.output;
  EXPECT_EQ(k.flags, (std::vector<std::string>{"aa", "qr"})) << k.output;
  EXPECT_EQ(d.answer, www_a()) << d.output;
  EXPECT_EQ(k.answer, www_a()) << k.output;
  // And over TCP.
  const ToolAnswer dt = run_dig(srv_->tcp(), "www.example.com A +norec +tcp");
  const ToolAnswer kt = run_kdig(srv_->tcp(), "www.example.com A +norec +tcp");
  EXPECT_EQ(dt.answer, www_a()) << dt.output;
  EXPECT_EQ(kt.answer, www_a()) << kt.output;
}

}  // namespace
}  // namespace pharos::system_test
