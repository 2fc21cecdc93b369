// conformance_question_test.cc: CONFORMANCE.md a.2 (rows 16-38), the question section: QDCOUNT,
// malformed names and compression pointers, unknown and meta QTYPEs, ANY, zone transfers, classes,
// names outside every zone, CHAOS identity and trailing bytes.
#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/conformance_support.h"

namespace pharos::system_test {
namespace {

TEST_F(Conformance, Row16_NoQuestionFormErr) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(header(id, 0, 0)));
  expect_header(r, id, 0, kFormErr, kQr);
  expect_counts(r, 0, 0, 0, 0);
  EXPECT_EQ(r.size(), 12u);
  // With an OPT that parsed, the FORMERR carries OPT (row 42).
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(e, ask(concat(header(id2, 0, 0, 0, 0, 1), opt_rr(Opt{}))));
  expect_header(e, id2, 0, kFormErr, kQr);
  expect_counts(e, 0, 0, 0, 1);
  expect_opt_v0(e);
  EXPECT_EQ(e.opt().ext_rcode, 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row17_NoQuestionWithCookieFormErr) {
  // Cookies are not implemented: a COOKIE-only query is still a query without a question.
  const std::uint16_t id = next_id();
  const Opt o = opt_with({{pharos::dns::edns::kOptCookie, {1, 2, 3, 4, 5, 6, 7, 8}}});
  ASSERT_REPLY(r, ask(concat(header(id, 0, 0, 0, 0, 1), opt_rr(o))));
  expect_header(r, id, 0, kFormErr, kQr);
  expect_counts(r, 0, 0, 0, 1);
  expect_opt_v0(r);
  EXPECT_EQ(r.opt().ext_rcode, 0);
  EXPECT_FALSE(r.opt().has_option(pharos::dns::edns::kOptCookie)) << "cookies are not implemented";
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row18_TwoQuestionsFormErrHeaderOnly) {
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 2);
  put_question(q, "www.example.com", rrtype::kA);
  put_question(q, "mail.example.com", rrtype::kA);
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row19_QdcountLargerThanQuestionsFormErrHeaderOnly) {
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 2);
  put_question(q, "www.example.com", rrtype::kA);
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row20_TruncatedQuestionFormErrHeaderOnly) {
  const Bytes full = www(0);
  const std::size_t name_end = 12 + 17;  // \3www\7example\3com\0
  struct Cut {
    const char* what;
    std::size_t len;
  };
  for (const Cut& c : {Cut{"inside QNAME", 12 + 8}, Cut{"after the QNAME", name_end},
                       Cut{"inside QTYPE", name_end + 1}, Cut{"after QTYPE", name_end + 2},
                       Cut{"inside QCLASS", name_end + 3}}) {
    SCOPED_TRACE(c.what);
    const std::uint16_t id = next_id();
    Bytes q(full.begin(), full.begin() + static_cast<long>(c.len));
    q[0] = static_cast<std::uint8_t>(id >> 8);
    q[1] = static_cast<std::uint8_t>(id);
    ASSERT_REPLY(r, ask(q));
    expect_formerr_header_only(r, id);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row21_ExtendedLabelTypeFormErr) {
  for (std::uint8_t len : {0x41, 0x40, 0x80, 0xBF}) {
    SCOPED_TRACE("label byte " + std::to_string(len));
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1);
    put_u8(q, len);
    q.insert(q.end(), 16, 'a');
    put_u8(q, 0);
    put_u16(q, rrtype::kA);
    put_u16(q, rrclass::kIn);
    ASSERT_REPLY(r, ask(q));
    expect_formerr_header_only(r, id);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row22_LabelOf64OctetsFormErrHeaderOnly) {
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 1);
  put_question(q, "www." + std::string(64, 'a') + ".example.com", rrtype::kA);
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);
  // 63 octets is fine: a name under example.com that does not exist.
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(ok, ask(build_query(id2, std::string(63, 'a') + ".example.com", rrtype::kA)));
  expect_header(ok, id2, 0, kNxDomain, kQr | kAa);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row23_NameOver255OctetsFormErr) {
  const std::string l63(63, 'a');
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 1);
  put_question(q, l63 + "." + l63 + "." + l63 + "." + l63, rrtype::kA);  // 4*64+1 = 257 octets
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);

  // Exactly 255 octets under example.com is a valid name: NXDOMAIN.
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(ok, ask(build_query(id2, l63 + "." + l63 + "." + l63 + "." + std::string(49, 'b') + ".example.com",
                                   rrtype::kA)));
  expect_header(ok, id2, 0, kNxDomain, kQr | kAa);
  expect_negative(ok);

  // 257 octets only once the pointer is followed: an additional RR owner = 63-octet label + pointer
  // to the 193-octet qname.
  const std::uint16_t id3 = next_id();
  Bytes p = header(id3, 0, 1, 0, 0, 1);
  put_question(p, l63 + "." + l63 + "." + l63, rrtype::kA);
  put_u8(p, 63);
  p.insert(p.end(), 63, 'c');
  put_u16(p, 0xC00C);
  put_u16(p, rrtype::kTxt);
  put_u16(p, rrclass::kIn);
  put_u32(p, 0);
  put_u16(p, 0);
  ASSERT_REPLY(c, ask(p));
  expect_header(c, id3, 0, kFormErr, kQr);
  expect_no_or_echoed_question(c, p);
  EXPECT_EQ(c.ancount() + c.nscount() + c.arcount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row24_PointerInQnameFormErr) {
  // \3www then a pointer to offset 4, whose byte 0x00 would read as the root label.
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 1);
  put_u8(q, 3);
  put_bytes(q, std::string_view("www"));
  put_u16(q, 0xC004);
  put_u16(q, rrtype::kA);
  put_u16(q, rrclass::kIn);
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row25_PointerLoopFormErr) {
  // A self-pointer as the QNAME.
  const std::uint16_t id = next_id();
  Bytes q = header(id, 0, 1);
  put_u16(q, 0xC00C);
  put_u16(q, rrtype::kA);
  put_u16(q, rrclass::kIn);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_REPLY(r, ask(q));
  expect_formerr_header_only(r, id);

  // A -> B -> A between two additional-record owners.
  const std::uint16_t id2 = next_id();
  Bytes p = header(id2, 0, 1, 0, 0, 2);
  put_question(p, "www.example.com", rrtype::kA);
  const std::size_t a = p.size();
  const std::size_t b = a + 4 + 10;  // "\1a" + pointer, then type/class/ttl/rdlength
  for (auto [label, target] : {std::pair<char, std::size_t>{'a', b}, {'b', a}}) {
    put_u8(p, 1);
    put_u8(p, static_cast<std::uint8_t>(label));
    put_u16(p, static_cast<std::uint16_t>(0xC000 | target));
    put_u16(p, rrtype::kTxt);
    put_u16(p, rrclass::kIn);
    put_u32(p, 0);
    put_u16(p, 0);
  }
  ASSERT_REPLY(l, ask(p));
  expect_header(l, id2, 0, kFormErr, kQr);
  expect_no_or_echoed_question(l, p);
  EXPECT_EQ(l.ancount() + l.nscount() + l.arcount(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << "pointer loops took long";
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row26_ForwardPointerFormErr) {
  const std::uint16_t id = next_id();
  Bytes p = header(id, 0, 1, 0, 0, 2);
  put_question(p, "www.example.com", rrtype::kA);
  const std::size_t second = p.size() + 2 + 10;
  put_u16(p, static_cast<std::uint16_t>(0xC000 | second));  // points at the next record's owner
  put_u16(p, rrtype::kTxt);
  put_u16(p, rrclass::kIn);
  put_u32(p, 0);
  put_u16(p, 0);
  put_bytes(p, rr("x", rrtype::kTxt, rrclass::kIn, 0, {}));
  ASSERT_REPLY(r, ask(p));
  expect_header(r, id, 0, kFormErr, kQr);
  expect_no_or_echoed_question(r, p);
  EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row27_PointerOrLabelOffTheEndFormErr) {
  {
    SCOPED_TRACE("QNAME ends in a lone 0xC0");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1);
    put_u8(q, 3);
    put_bytes(q, std::string_view("www"));
    put_u8(q, 0xC0);
    ASSERT_REPLY(r, ask(q));
    expect_formerr_header_only(r, id);
  }
  {
    SCOPED_TRACE("QNAME label longer than the rest of the packet");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1);
    put_u8(q, 10);
    put_bytes(q, std::string_view("www"));
    ASSERT_REPLY(r, ask(q));
    expect_formerr_header_only(r, id);
  }
  {
    SCOPED_TRACE("additional owner is a lone 0xC0 at the end");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, 0, 0, 1);
    put_question(q, "www.example.com", rrtype::kA);
    put_u8(q, 0xC0);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row28_UnknownQtypeNoData) {
  for (std::uint16_t type : {666, 1000}) {
    SCOPED_TRACE("TYPE" + std::to_string(type));
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "www.example.com", type);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_question_echo(r, q);
    expect_negative(r);
    const std::uint16_t id2 = next_id();
    ASSERT_REPLY(n, ask(build_query(id2, "absent.example.com", type)));
    expect_header(n, id2, 0, kNxDomain, kQr | kAa);
    expect_negative(n);
  }
}

TEST_F(Conformance, Row29_MetaQtypeNoData) {
  for (std::uint16_t type : {rrtype::kMailb, rrtype::kMaila, rrtype::kTkey, rrtype::kTsig}) {
    SCOPED_TRACE("qtype " + std::to_string(type));
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "www.example.com", type);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_question_echo(r, q);
    expect_negative(r);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row30_AnyOverUdpMinimalOverTcpFull) {
  {
    SCOPED_TRACE("ANY over UDP: RFC 8482 HINFO");
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "www.example.com", rrtype::kAny);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_question_echo(r, q);
    EXPECT_EQ(r.section_in_order(1), std::vector<std::string>{"www.example.com. 3600 IN HINFO \"RFC8482\" \"\""});
  }
  for (const char* name : {"example.com", "x.apps.example.com"}) {
    SCOPED_TRACE(std::string("ANY over UDP: RFC 8482 HINFO at ") + name);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, name, rrtype::kAny)));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    EXPECT_EQ(r.section_in_order(1), std::vector<std::string>{std::string(name) + ". 3600 IN HINFO \"RFC8482\" \"\""});
  }
  {
    SCOPED_TRACE("ANY over UDP at a CNAME: the CNAME");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, "web.example.com", rrtype::kAny)));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, {"web.example.com. 300 IN CNAME www.example.com."});
  }
  {
    SCOPED_TRACE("ANY over TCP: every RRset");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask_tcp(build_query(id, "www.example.com", rrtype::kAny)));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, {"www.example.com. 300 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11",
                              "www.example.com. 300 IN AAAA 2001:db8::10"});
  }
  {
    SCOPED_TRACE("ANY over TCP at the apex");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask_tcp(build_query(id, "example.com", rrtype::kAny)));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    std::vector<std::string> all = apex_ns();
    for (const char* s : {"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 7200 900 1209600 60",
                          "example.com. 300 IN MX 10 mail.example.com.", "example.com. 300 IN MX 20 mail2.example.net.",
                          "example.com. 300 IN TXT \"v=spf1 mx -all\"", "example.com. 300 IN A 192.0.2.1",
                          "example.com. 300 IN AAAA 2001:db8::1"}) {
      all.push_back(s);
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(r.section(1), all);
  }
  const ToolAnswer k = run_kdig(udp(), "www.example.com ANY +norec");
  EXPECT_EQ(k.status, "NOERROR") << k.output;
  EXPECT_EQ(k.answer, std::vector<std::string>{"www.example.com. 3600 IN HINFO \"RFC8482\" \"\""}) << k.output;
}

TEST_F(Conformance, Row31_AxfrOverUdpNotImp) {
  const std::uint16_t id = next_id();
  const Bytes q = build_query(id, "example.com", rrtype::kAxfr);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNotImp, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row32_TransferOverTcpRefused) {
  {
    SCOPED_TRACE("AXFR");
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "example.com", rrtype::kAxfr);
    ASSERT_REPLY(r, ask_tcp(q));
    expect_header(r, id, 0, kRefused, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  {
    SCOPED_TRACE("IXFR with an SOA in authority");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, 0, 1, 0);
    put_question(q, "example.com", rrtype::kIxfr);
    put_bytes(q, rr("example.com", rrtype::kSoa, rrclass::kIn, 3600, soa_rdata(1)));
    ASSERT_REPLY(r, ask_tcp(q));
    expect_header(r, id, 0, kRefused, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row33_IxfrOverUdpRefused) {
  const std::uint16_t id = next_id();
  const Bytes q = build_query(id, "example.com", rrtype::kIxfr);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kRefused, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row34_UnknownClassRefused) {
  for (std::uint16_t cls : {rrclass::kHs, std::uint16_t{0x1234}}) {
    SCOPED_TRACE("class " + std::to_string(cls));
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "www.example.com", rrtype::kA, cls);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kRefused, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
}

TEST_F(Conformance, Row35_ClassAnyAnsweredLikeIn) {
  const std::uint16_t id = next_id();
  const Bytes q = build_query(id, "www.example.com", rrtype::kA, rrclass::kAny);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_question_echo(r, q);  // class ANY stays ANY in the question
  expect_answer_records(r, www_a());
}

TEST_F(Conformance, Row36_OutOfZoneRefused) {
  struct Case {
    const char* name;
    std::uint16_t type;
  };
  for (const Case& c : {Case{"www.example.org", rrtype::kA}, Case{".", rrtype::kNs}, Case{"com", rrtype::kSoa},
                        Case{"notexample.com", rrtype::kA}, Case{"example.com.org", rrtype::kA}}) {
    SCOPED_TRACE(c.name);
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, c.name, c.type);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kRefused, kQr);
    expect_question_echo(r, q);
    expect_counts(r, 1, 0, 0, 0);  // no upward referral
  }
}

TEST_F(Conformance, Row37_ChaosIdentity) {
  const char* names[] = {"version.bind", "id.server", "hostname.bind"};
  for (const char* name : names) {
    SCOPED_TRACE(std::string("hidden ") + name);
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, name, rrtype::kTxt, rrclass::kCh);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kRefused, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0) << "identity leaked by default";
  }
  Server* ident = identity_server();
  ASSERT_NE(ident, nullptr);
  const char* values[] = {kIdentityVersion, kIdentityIdServer, kIdentityHostname};
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(std::string("configured ") + names[i]);
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, names[i], rrtype::kTxt, rrclass::kCh);
    ASSERT_REPLY(r, udp_exchange(ident->udp(), q));
    EXPECT_EQ(r.id(), id);
    EXPECT_EQ(r.header_rcode(), kNoError);
    EXPECT_EQ(r.flags() & (kTc | kRa | kZ | kAd | kCd), 0);
    expect_question_echo(r, q);
    ASSERT_EQ(r.ancount(), 1);
    const auto rrs = r.section(1);
    ASSERT_EQ(rrs.size(), 1u);
    EXPECT_EQ(rrs[0].substr(0, std::string(names[i]).size() + 1), std::string(names[i]) + ".");
    EXPECT_NE(rrs[0].find(" CH TXT \"" + std::string(values[i]) + "\""), std::string::npos) << rrs[0];
  }
  const ToolAnswer d = run_dig(ident->udp(), "version.bind CH TXT +norec");
  EXPECT_EQ(d.status, "NOERROR") << d.output;
  ASSERT_EQ(d.answer.size(), 1u) << d.output;
  EXPECT_NE(d.answer[0].find(kIdentityVersion), std::string::npos) << d.output;
}

TEST_F(Conformance, Row38_TrailingBytesIgnored) {
  const std::uint16_t id = next_id();
  const Bytes q = concat(www(id), {0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02});
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_question_echo(r, q);
  expect_answer_records(r, www_a());
  EXPECT_FALSE(r.opt().present);
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(e, ask(concat(www(id2, 0, Opt{}), {0x00, 0x00, 0x29})));
  expect_www_with_plain_opt(e, id2);
  expect_still_answers(srv_);
}

}  // namespace
}  // namespace pharos::system_test
