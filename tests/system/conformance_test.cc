// conformance_test.cc: one test per row of CONFORMANCE.md, against a real pharosd. Each test
// compares the exact RCODE, flags, counts and records, and every malformed-input test ends with a
// normal query that must still be answered.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/system/checks.h"
#include "tests/system/harness.h"

namespace pharos::system_test {
namespace {

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override {
    srv_ = default_server();
    ASSERT_NE(srv_, nullptr);
  }
  Endpoint udp() const { return srv_->udp(); }
  Endpoint tcp() const { return srv_->tcp(); }
  std::optional<Response> ask(const Bytes& q) const { return udp_exchange(udp(), q); }
  std::optional<Response> ask_tcp(const Bytes& q) const { return tcp_exchange(tcp(), q); }
  // A query for www.example.com A with the given header flags and optional OPT.
  Bytes www(std::uint16_t id, std::uint16_t flags = 0, const std::optional<Opt>& opt = std::nullopt) const {
    return build_query(id, "www.example.com", rrtype::kA, rrclass::kIn, flags, opt);
  }
  Server* srv_ = nullptr;
};

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes txt_rdata(std::string_view s) {
  Bytes b;
  put_u8(b, static_cast<std::uint8_t>(s.size()));
  put_bytes(b, s);
  return b;
}

Bytes soa_rdata(std::uint32_t serial) {
  Bytes b;
  put_name(b, "ns1.example.com");
  put_name(b, "hostmaster.example.com");
  for (std::uint32_t v : {serial, 7200u, 900u, 1209600u, 60u}) put_u32(b, v);
  return b;
}

Bytes ecs(std::uint16_t family, std::uint8_t source, std::uint8_t scope, const Bytes& addr) {
  Bytes b;
  put_u16(b, family);
  put_u8(b, source);
  put_u8(b, scope);
  put_bytes(b, addr);
  return b;
}

Opt opt_with(std::vector<EdnsOption> options, std::uint16_t udp = 1232) {
  Opt o;
  o.udp_size = udp;
  o.options = std::move(options);
  return o;
}

// The OPT every response to an OPT-carrying query must have (row 42).
void expect_opt_v0(const Response& r) {
  EXPECT_TRUE(r.opt().present) << "response lacks OPT";
  EXPECT_EQ(r.opt().count, 1);
  EXPECT_TRUE(r.opt().owner_root);
  EXPECT_EQ(r.opt().version, 0);
  EXPECT_GE(r.opt().udp_size, 512);
}

// A normal NOERROR answer to www.example.com A carrying a plain OPT (no options, no flags).
void expect_www_with_plain_opt(const Response& r, std::uint16_t id) {
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, www_a());
  expect_opt_v0(r);
  EXPECT_EQ(r.opt().ext_rcode, 0);
  EXPECT_EQ(r.opt().flags, 0) << "no EDNS flag may be echoed";
  EXPECT_TRUE(r.opt().options.empty()) << "no option may be echoed";
}

// ---------------------------------------------------------------------------------------------
// a.1 Header and opcode

TEST_F(Conformance, Row01_ShortDatagramDropped) {
  UdpClient c(udp());
  ASSERT_TRUE(c.ok());
  for (std::size_t n = 0; n < 12; ++n) ASSERT_TRUE(c.send(Bytes(n, 0)));
  const Bytes valid = www(next_id());
  for (std::size_t n = 1; n < 12; ++n) ASSERT_TRUE(c.send(Bytes(valid.begin(), valid.begin() + static_cast<long>(n))));
  ASSERT_TRUE(c.send(Bytes(11, 0xFF)));
  // 12 to 16 zero bytes hold a complete header (ID 0, QDCOUNT=0): rows 16 and 4 apply, so the
  // most they may draw is a header-only FORMERR for ID 0. The server must survive them all.
  UdpClient zeros(udp());
  ASSERT_TRUE(zeros.ok());
  for (std::size_t n = 12; n <= 16; ++n) ASSERT_TRUE(zeros.send(Bytes(n, 0)));
  const auto reply = c.recv(kSilenceMs);
  EXPECT_FALSE(reply.has_value()) << "answered a datagram shorter than the header (" << reply->size() << " bytes)";
  while (auto z = zeros.recv(20)) {
    const Response r(std::move(*z));
    SCOPED_TRACE(r.describe());
    expect_formerr_header_only(r, 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row02_ResponseAsQueryDroppedAndTcpClosed) {
  EXPECT_TRUE(udp_silent(udp(), www(next_id(), kQr))) << "answered QR=1";
  EXPECT_TRUE(udp_silent(udp(), www(next_id(), kQr | kAa | kRd))) << "answered QR=1 with flags";
  // A response-looking message that is also malformed (QDCOUNT=0) must not draw a FORMERR either.
  EXPECT_TRUE(udp_silent(udp(), header(next_id(), kQr, 0))) << "sent FORMERR to a response";
  Bytes resp = header(next_id(), kQr | kAa, 1, 1);
  put_question(resp, "www.example.com", rrtype::kA);
  put_bytes(resp, rr("www.example.com", rrtype::kA, rrclass::kIn, 300, {192, 0, 2, 10}));
  EXPECT_TRUE(udp_silent(udp(), resp)) << "answered a full response";

  TcpClient t(tcp());
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.send_framed(www(next_id(), kQr)));
  std::size_t seen = 0;
  // Well inside the 5 s idle timeout of the test config: the close must come from QR=1 itself.
  EXPECT_TRUE(t.wait_closed(1000, &seen)) << "TCP connection not closed after QR=1";
  EXPECT_EQ(seen, 0u) << "answered QR=1 over TCP";
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row03_ReflectionSourcePortsDropped) {
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (std::uint16_t port : {7, 13, 19, 37}) {
    auto c = std::make_unique<UdpClient>(udp(), port);
    if (!c->ok()) {
      if (c->bind_errno() == EACCES || c->bind_errno() == EPERM) GTEST_SKIP() << "binding port < 1024 needs root";
      FAIL() << "cannot bind 127.0.0.1:" << port << ": " << std::strerror(c->bind_errno());
    }
    ASSERT_TRUE(c->send(www(next_id())));
    clients.push_back(std::move(c));
  }
  const std::uint16_t ports[] = {7, 13, 19, 37};
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_FALSE(clients[i]->recv(i == 0 ? kSilenceMs : 20).has_value()) << "answered source port " << ports[i];
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row04_RepeatedFormerrSuppressed) {
  UdpClient c(udp());
  ASSERT_TRUE(c.ok());
  const std::uint16_t id = next_id();
  const Bytes bad = header(id, 0, 0);  // QDCOUNT=0: FORMERR
  ASSERT_TRUE(c.send(bad));
  const auto first = c.recv(kReplyTimeoutMs);
  ASSERT_TRUE(first.has_value()) << "first FORMERR missing";
  const Response r(*first);
  expect_header(r, id, 0, kFormErr, kQr);
  ASSERT_TRUE(c.send(bad));
  EXPECT_FALSE(c.recv(kSilenceMs).has_value()) << "second FORMERR for the same client and ID within 2 s";
  // Only the repeat is suppressed: a new ID from the same client still gets its FORMERR.
  const std::uint16_t other = next_id();
  ASSERT_TRUE(c.send(header(other, 0, 0)));
  const auto third = c.recv(kReplyTimeoutMs);
  ASSERT_TRUE(third.has_value()) << "FORMERR for a different ID suppressed";
  EXPECT_EQ(Response(*third).id(), other);
  // Retransmissions of a good query (same ID) are answered every time: only FORMERR is suppressed.
  const std::uint16_t good = next_id();
  for (int n = 0; n < 2; ++n) {
    ASSERT_TRUE(c.send(www(good)));
    const auto reply = c.recv(kReplyTimeoutMs);
    ASSERT_TRUE(reply.has_value()) << "retransmission " << n + 1 << " not answered";
    const Response r2(*reply);
    expect_header(r2, good, 0, kNoError, kQr | kAa);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row05_UnknownOpcodeNotImpHeaderOnly) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(header(id, opcode_bits(15), 0)));
  expect_header(r, id, 15, kNotImp, kQr);
  expect_counts(r, 0, 0, 0, 0);
  EXPECT_EQ(r.size(), 12u);
  // RFC 8906 §8.1.4 names this exact dig command.
  const ToolAnswer d = run_dig(udp(), "+opcode=15 +header-only +norec");
  EXPECT_EQ(d.status, "NOTIMP") << d.output;
  EXPECT_EQ(d.flags, std::vector<std::string>{"qr"}) << d.output;
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row06_UnknownOpcodeFlagsCleared) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(header(id, opcode_bits(15) | kAa | kTc | kRd | kRa | kZ | kAd | kCd, 0)));
  expect_header(r, id, 15, kNotImp, kQr);  // no TC, no RD, nothing of the query
  expect_counts(r, 0, 0, 0, 0);
  EXPECT_EQ(r.size(), 12u);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row07_UnknownOpcodeWithQuestion) {
  const std::uint16_t id = next_id();
  Bytes q = header(id, opcode_bits(15), 1);
  put_question(q, "www.example.com", rrtype::kA);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 15, kNotImp, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount(), 0);
  EXPECT_EQ(r.nscount(), 0);
  EXPECT_EQ(r.arcount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row08_IqueryAndStatusNotImp) {
  for (int opcode : {1, 2}) {
    SCOPED_TRACE("opcode " + std::to_string(opcode));
    const std::uint16_t id = next_id();
    Bytes q = header(id, opcode_bits(opcode), 1);
    put_question(q, "www.example.com", rrtype::kA);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, opcode, kNotImp, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row09_UpdateNotImp) {
  const std::uint16_t id = next_id();
  Bytes q = header(id, opcode_bits(5), 1, 0, 1, 0);  // ZOCOUNT 1, PRCOUNT 0, UPCOUNT 1
  put_question(q, "example.com", rrtype::kSoa);
  put_bytes(q, rr("new.example.com", rrtype::kA, rrclass::kIn, 300, {192, 0, 2, 77}));
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 5, kNotImp, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  // Nothing was added.
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(n, ask(build_query(id2, "new.example.com", rrtype::kA)));
  expect_header(n, id2, 0, kNxDomain, kQr | kAa);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row10_DsoNotImp) {
  Bytes tlv;
  put_u16(tlv, 1);  // Keepalive TLV
  put_u16(tlv, 8);
  put_u32(tlv, 60000);
  put_u32(tlv, 60000);
  for (bool over_tcp : {false, true}) {
    SCOPED_TRACE(over_tcp ? "TCP" : "UDP");
    const std::uint16_t id = next_id();
    const Bytes q = concat(header(id, opcode_bits(6), 0), tlv);
    ASSERT_REPLY(r, over_tcp ? ask_tcp(q) : ask(q));
    expect_header(r, id, 6, kNotImp, kQr);
    expect_counts(r, 0, 0, 0, 0);
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row11_ZBitClearedInResponse) {
  const std::uint16_t id = next_id();
  const Bytes q = www(id, kZ);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_question_echo(r, q);
  expect_answer_records(r, www_a());
}

TEST_F(Conformance, Row12_TcInQueryIgnored) {
  const std::uint16_t id = next_id();
  const Bytes q = www(id, kTc);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, www_a());
}

TEST_F(Conformance, Row13_RdCopiedRaClear) {
  const std::uint16_t id = next_id();
  const Bytes q = ldns_query(id, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, /*rd=*/true);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa | kRd);
  expect_answer_records(r, www_a());
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(r2, ask(www(id2)));
  expect_header(r2, id2, 0, kNoError, kQr | kAa);
  const std::uint16_t id3 = next_id();
  ASSERT_REPLY(nx, ask(build_query(id3, "absent.example.com", rrtype::kA, rrclass::kIn, kRd)));
  expect_header(nx, id3, 0, kNxDomain, kQr | kAa | kRd);
  const std::uint16_t id4 = next_id();
  ASSERT_REPLY(ref, ask(build_query(id4, "www.example.org", rrtype::kA, rrclass::kIn, kRd)));
  expect_header(ref, id4, 0, kRefused, kQr | kRd);
  // dig asks with RD=1 by default.
  const ToolAnswer d = run_dig(udp(), "www.example.com A");
  EXPECT_EQ(d.status, "NOERROR") << d.output;
  EXPECT_EQ(d.flags, (std::vector<std::string>{"aa", "qr", "rd"})) << d.output;
  EXPECT_EQ(d.answer, www_a()) << d.output;
}

TEST_F(Conformance, Row14_AdCdInQuery) {
  struct Case {
    std::uint16_t flags;
    std::uint16_t may_echo;  // flags the row lets the response carry
  };
  for (const Case& c : {Case{kAd, kAd}, Case{kCd, kCd}, Case{kAd | kCd, kAd | kCd}}) {
    SCOPED_TRACE("query flags 0x" + std::to_string(c.flags));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, c.flags)));
    EXPECT_EQ(r.header_rcode(), kNoError);
    EXPECT_TRUE(r.aa());
    EXPECT_EQ(r.flags() & kAllFlags & ~c.may_echo, kQr | kAa) << "flags beyond QR AA and the allowed echo";
    if (!(c.flags & kAd)) {
      EXPECT_FALSE(r.ad()) << "AD set without AD or DO in the query";
    }
    expect_answer_records(r, www_a());
  }
}

TEST_F(Conformance, Row15_AaRaInQueryIgnored) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(www(id, kAa | kRa)));
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, www_a());
  // AA follows authority: a refused name gets no AA even when the query had it.
  const std::uint16_t id2 = next_id();
  ASSERT_REPLY(o, ask(build_query(id2, "www.example.org", rrtype::kA, rrclass::kIn, kAa | kRa)));
  expect_header(o, id2, 0, kRefused, kQr);
}

// ---------------------------------------------------------------------------------------------
// a.2 Question section

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

// ---------------------------------------------------------------------------------------------
// a.3 Records in the query

TEST_F(Conformance, Row39_CountsLargerThanRecordsFormErr) {
  for (int section : {1, 2, 3}) {
    SCOPED_TRACE("section " + std::to_string(section));
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, section == 1, section == 2, section == 3);
    put_question(q, "www.example.com", rrtype::kA);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row40_RdlengthPastEndFormErr) {
  {
    SCOPED_TRACE("RDLENGTH 10 with 3 bytes of RDATA");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, 0, 0, 1);
    put_question(q, "www.example.com", rrtype::kA);
    put_name(q, "x");
    put_u16(q, rrtype::kTxt);
    put_u16(q, rrclass::kIn);
    put_u32(q, 0);
    put_u16(q, 10);
    put_bytes(q, Bytes{2, 'h', 'i'});
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  {
    SCOPED_TRACE("RDLENGTH field cut in half");
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, 0, 0, 1);
    put_question(q, "www.example.com", rrtype::kA);
    put_name(q, "x");
    put_u16(q, rrtype::kTxt);
    put_u16(q, rrclass::kIn);
    put_u32(q, 0);
    put_u8(q, 0);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount() + r.arcount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row41_AnswerRecordsInQueryFormErrWithQuestion) {
  struct Case {
    const char* what;
    Bytes records;
    std::uint16_t count;
  };
  const Bytes soa = rr("example.com", rrtype::kSoa, rrclass::kIn, 3600, soa_rdata(2026112301));
  const Case cases[] = {{"duplicate SOAs", concat(soa, soa), 2},
                        {"a meta-type (ANY) as an RR", rr("www.example.com", rrtype::kAny, rrclass::kIn, 0, {}), 1},
                        {"an ordinary A", rr("www.example.com", rrtype::kA, rrclass::kIn, 300, {192, 0, 2, 1}), 1}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::uint16_t id = next_id();
    Bytes q = header(id, 0, 1, c.count);
    put_question(q, "www.example.com", rrtype::kA);
    put_bytes(q, c.records);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_question_echo(r, q);
    expect_counts(r, 1, 0, 0, 0);
  }
  expect_still_answers(srv_);
}

// ---------------------------------------------------------------------------------------------
// a.4 EDNS (OPT)

TEST_F(Conformance, Row42_ResponsesCarryOpt) {
  {
    SCOPED_TRACE("NOERROR");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, Opt{})));
    expect_www_with_plain_opt(r, id);
    expect_counts(r, 1, 2, r.nscount(), r.arcount());
  }
  {
    SCOPED_TRACE("NXDOMAIN");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, "absent.example.com", rrtype::kA, rrclass::kIn, 0, Opt{})));
    expect_header(r, id, 0, kNxDomain, kQr | kAa);
    expect_negative(r);
    expect_opt_v0(r);
    expect_counts(r, 1, 0, 1, 1);
  }
  {
    SCOPED_TRACE("REFUSED");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, "www.example.org", rrtype::kA, rrclass::kIn, 0, Opt{})));
    expect_header(r, id, 0, kRefused, kQr);
    expect_opt_v0(r);
    expect_counts(r, 1, 0, 0, 1);
  }
  {
    SCOPED_TRACE("FORMERR");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(concat(header(id, 0, 0, 0, 0, 1), opt_rr(Opt{}))));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_opt_v0(r);
  }
  {
    SCOPED_TRACE("NOTIMP");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(concat(header(id, opcode_bits(15), 0, 0, 0, 1), opt_rr(Opt{}))));
    expect_header(r, id, 15, kNotImp, kQr);
    expect_opt_v0(r);
    expect_counts(r, 0, 0, 0, 1);
  }
  {
    SCOPED_TRACE("truncated");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, "big.example.com", rrtype::kTxt, rrclass::kIn, 0, opt_with({}, 512))));
    expect_header(r, id, 0, kNoError, kQr | kAa | kTc);
    expect_opt_v0(r);
  }
}

TEST_F(Conformance, Row43_TwoOptFormErr) {
  const std::uint16_t id = next_id();
  const Bytes q = concat(concat(header(id, 0, 1, 0, 0, 2), question_of(www(0))), concat(opt_rr(Opt{}), opt_rr(Opt{})));
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kFormErr, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount() + r.nscount(), 0);
  EXPECT_LE(r.opt().count, 1);
  if (r.opt().present) {
    EXPECT_EQ(r.opt().version, 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row44_OptOutsideAdditionalFormErr) {
  for (int section : {1, 2}) {
    SCOPED_TRACE(section == 1 ? "OPT in answer" : "OPT in authority");
    const std::uint16_t id = next_id();
    const Bytes q = concat(concat(header(id, 0, 1, section == 1, section == 2, 0), question_of(www(0))), opt_rr(Opt{}));
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row45_OptOwnerNotRootFormErr) {
  const std::uint16_t id = next_id();
  Bytes opt = opt_rr(Opt{});
  opt.erase(opt.begin());
  opt.insert(opt.begin(), {1, 'a', 0});
  const Bytes q = concat(concat(header(id, 0, 1, 0, 0, 1), question_of(www(0))), opt);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kFormErr, kQr);
  expect_no_or_echoed_question(r, q);
  EXPECT_EQ(r.ancount() + r.nscount(), 0);
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row46_MalformedOptRdataFormErr) {
  auto opt_with_rdata = [](std::uint16_t rdlength, const Bytes& rdata) {
    Bytes b = {0};
    put_u16(b, rrtype::kOpt);
    put_u16(b, 1232);
    put_u32(b, 0);
    put_u16(b, rdlength);
    put_bytes(b, rdata);
    return b;
  };
  struct Case {
    const char* what;
    Bytes opt;
  };
  const Case cases[] = {
      {"RDLENGTH past the end", opt_with_rdata(20, {0, 100, 0, 0})},
      {"option header shorter than 4 bytes", opt_with_rdata(2, {0, 100})},
      {"option length overruns RDATA", opt_with_rdata(6, {0, 100, 0, 10, 'a', 'b'})},
      {"RDLENGTH field cut", Bytes{0, 0, 41, 4, 208, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::uint16_t id = next_id();
    const Bytes q = concat(concat(header(id, 0, 1, 0, 0, 1), question_of(www(0))), c.opt);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row47_OptAnywhereInAdditional) {
  const Bytes other = rr("extra.example", rrtype::kTxt, rrclass::kIn, 0, txt_rdata("x"));
  for (bool opt_first : {true, false}) {
    SCOPED_TRACE(opt_first ? "OPT then another record" : "another record then OPT");
    const std::uint16_t id = next_id();
    Bytes q = concat(header(id, 0, 1, 0, 0, 2), question_of(www(0)));
    q = opt_first ? concat(concat(q, opt_rr(Opt{})), other) : concat(concat(q, other), opt_rr(Opt{}));
    ASSERT_REPLY(r, ask(q));
    expect_www_with_plain_opt(r, id);
  }
  {
    SCOPED_TRACE("OPT after a TSIG: TSIG must be last");
    const std::uint16_t id = next_id();
    const Bytes q = concat(concat(concat(header(id, 0, 1, 0, 0, 2), question_of(www(0))), tsig_rr("key.example", id)),
                           opt_rr(Opt{}));
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row48_EdnsVersion1BadVers) {
  const std::uint16_t id = next_id();
  Opt o;
  o.version = 1;
  const Bytes q = www(id, 0, o);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, 0, kQr);  // header RCODE 0, AA=0
  expect_question_echo(r, q);
  expect_counts(r, 1, 0, 0, 1);
  expect_opt_v0(r);
  EXPECT_EQ(r.opt().ext_rcode, 1);
  EXPECT_EQ(r.rcode(), kBadVers);
  const ToolAnswer d = run_dig(udp(), "www.example.com A +norec +edns=1 +noednsneg");
  EXPECT_EQ(d.status, "BADVERS") << d.output;
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row49_BadVersNoEcho) {
  struct Case {
    const char* what;
    Opt opt;
  };
  Opt with_option;
  with_option.version = 1;
  with_option.options = {{100, {1, 2, 3, 4}}};
  Opt with_flag;
  with_flag.version = 1;
  with_flag.flags = 0x0040;
  Opt with_do;
  with_do.version = 1;
  with_do.flags = pharos::dns::edns::kFlagDo;
  for (const Case& c : {Case{"unknown option", with_option}, Case{"unknown flag", with_flag}, Case{"DO", with_do}}) {
    SCOPED_TRACE(c.what);
    const std::uint16_t id = next_id();
    const Bytes q = www(id, 0, c.opt);
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, 0, kQr);
    expect_question_echo(r, q);
    expect_counts(r, 1, 0, 0, 1);
    expect_opt_v0(r);
    EXPECT_EQ(r.rcode(), kBadVers);
    EXPECT_EQ(r.opt().flags, 0) << "flags echoed (no DNSSEC, so not even DO)";
    EXPECT_TRUE(r.opt().options.empty()) << "option echoed";
  }
}

TEST_F(Conformance, Row50_UnknownOptionNotEchoed) {
  const std::uint16_t id = next_id();
  ASSERT_REPLY(r, ask(www(id, 0, opt_with({{100, {'a', 'b', 'c', 'd'}}}))));
  expect_www_with_plain_opt(r, id);
}

TEST_F(Conformance, Row51_UnknownEdnsFlagNotEchoed) {
  for (std::uint16_t flag : {0x0040, 0x0080, 0x4000}) {
    SCOPED_TRACE("EDNS flag 0x" + std::to_string(flag));
    const std::uint16_t id = next_id();
    Opt o;
    o.flags = flag;
    ASSERT_REPLY(r, ask(www(id, 0, o)));
    expect_www_with_plain_opt(r, id);
  }
}

TEST_F(Conformance, Row52_DoNotEchoedWithoutDnssec) {
  const std::uint16_t id = next_id();
  const Bytes q = ldns_query(id, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false, 1232, /*do=*/true);
  ASSERT_REPLY(r, ask(q));
  expect_www_with_plain_opt(r, id);
  for (const auto& raw : r.raw_rrs()) EXPECT_NE(raw.type, rrtype::kRrsig) << "RRSIG without DNSSEC support";
}

TEST_F(Conformance, Row53_SmallPayloadTreatedAs512) {
  for (std::uint16_t size : {0, 100}) {
    SCOPED_TRACE("payload " + std::to_string(size));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, opt_with({}, size))));
    expect_www_with_plain_opt(r, id);
    const std::uint16_t id2 = next_id();
    const Bytes q = build_query(id2, "big.example.com", rrtype::kTxt, rrclass::kIn, 0, opt_with({}, size));
    ASSERT_REPLY(b, ask(q));
    expect_header(b, id2, 0, kNoError, kQr | kAa | kTc);
    EXPECT_LE(b.size(), 512u);
    expect_question_echo(b, q);
    expect_opt_v0(b);
    // The apex NS answer with its glue is about 140 bytes: it fits in 512, not in 100.
    const std::uint16_t id3 = next_id();
    ASSERT_REPLY(ns, ask(build_query(id3, "example.com", rrtype::kNs, rrclass::kIn, 0, opt_with({}, size))));
    expect_header(ns, id3, 0, kNoError, kQr | kAa);
    expect_answer_records(ns, apex_ns(), ns_glue());
    EXPECT_GT(ns.size(), 100u);
  }
}

TEST_F(Conformance, Row54_TruncationAtPayloadLimit) {
  {
    SCOPED_TRACE("payload 600: TC");
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "big.example.com", rrtype::kTxt, rrclass::kIn, 0, opt_with({}, 600));
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kNoError, kQr | kAa | kTc);
    EXPECT_LE(r.size(), 600u);
    expect_question_echo(r, q);
    expect_opt_v0(r);
  }
  for (std::uint16_t size : {1232, 4096}) {
    SCOPED_TRACE("payload " + std::to_string(size) + ": full answer");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(build_query(id, "big.example.com", rrtype::kTxt, rrclass::kIn, 0, opt_with({}, size))));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, big_txt());
    EXPECT_LE(r.size(), 1232u);
    expect_opt_v0(r);
  }
  {
    SCOPED_TRACE("server max 512 below the client's 4096: TC");
    ServerOptions o;
    o.max_udp_payload = 512;
    const auto small = Server::start(o);
    ASSERT_NE(small, nullptr);
    const std::uint16_t id = next_id();
    const Bytes q = build_query(id, "big.example.com", rrtype::kTxt, rrclass::kIn, 0, opt_with({}, 4096));
    ASSERT_REPLY(r, udp_exchange(small->udp(), q));
    expect_header(r, id, 0, kNoError, kQr | kAa | kTc);
    EXPECT_LE(r.size(), 512u);
    expect_question_echo(r, q);
    expect_opt_v0(r);
  }
  {
    SCOPED_TRACE("TCP: full answer");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask_tcp(build_query(id, "big.example.com", rrtype::kTxt)));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, big_txt());
  }
}

TEST_F(Conformance, Row55_NoEdnsTruncatedAt512) {
  const std::uint16_t id = next_id();
  const Bytes q = build_query(id, "big.example.com", rrtype::kTxt);
  ASSERT_REPLY(r, ask(q));
  expect_header(r, id, 0, kNoError, kQr | kAa | kTc);
  EXPECT_LE(r.size(), 512u);
  expect_question_echo(r, q);
  EXPECT_FALSE(r.opt().present);
}

// ---------------------------------------------------------------------------------------------
// a.5 EDNS options

TEST_F(Conformance, Row56_BadCookieLengthIgnored) {
  // Cookies are not implemented: COOKIE options of any length are ignored and never echoed.
  for (std::size_t len : {5, 8, 41}) {
    SCOPED_TRACE("COOKIE length " + std::to_string(len));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, opt_with({{pharos::dns::edns::kOptCookie, Bytes(len, 0x5A)}}))));
    expect_www_with_plain_opt(r, id);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row57_ClientCookieProcessedNormally) {
  const std::uint16_t cookie = pharos::dns::edns::kOptCookie;
  struct Case {
    const char* what;
    std::vector<EdnsOption> options;
  };
  const Case cases[] = {
      {"client cookie only", {{cookie, Bytes(8, 0x11)}}},
      {"client + invalid server cookie", {{cookie, Bytes(24, 0x22)}}},
      {"two COOKIE options", {{cookie, Bytes(8, 0x33)}, {cookie, Bytes(8, 0x44)}}},
  };
  for (const Case& c : cases) {
    for (bool over_tcp : {false, true}) {
      SCOPED_TRACE(std::string(c.what) + (over_tcp ? " over TCP" : " over UDP"));
      const std::uint16_t id = next_id();
      const Bytes q = www(id, 0, opt_with(c.options));
      ASSERT_REPLY(r, over_tcp ? ask_tcp(q) : ask(q));
      expect_www_with_plain_opt(r, id);
    }
  }
}

TEST_F(Conformance, Row58_ClientSubnet) {
  const std::uint16_t kEcs = pharos::dns::edns::kOptClientSubnet;
  struct Bad {
    const char* what;
    Bytes data;
  };
  const Bad bad[] = {
      {"unknown family", ecs(3, 24, 0, {192, 0, 2})},
      {"SCOPE not 0 in a query", ecs(1, 24, 16, {192, 0, 2})},
      {"address longer than the prefix needs", ecs(1, 24, 0, {192, 0, 2, 1})},
      {"non-zero bits past the prefix", ecs(1, 20, 0, {192, 0, 2})},
      {"IPv4 prefix over 32", ecs(1, 33, 0, {192, 0, 2, 1, 0})},
      {"shorter than family+prefixes", Bytes{0, 1, 24}},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    const std::uint16_t id = next_id();
    const Bytes q = www(id, 0, opt_with({{kEcs, b.data}}));
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount(), 0);
    expect_opt_v0(r);
  }
  struct Good {
    const char* what;
    Bytes data;
  };
  const Good good[] = {
      {"IPv4 /24", ecs(1, 24, 0, {192, 0, 2})},
      {"IPv6 /48", ecs(2, 48, 0, {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01})},
      {"IPv4 /0", ecs(1, 0, 0, {})},
  };
  for (const Good& g : good) {
    SCOPED_TRACE(g.what);
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, opt_with({{kEcs, g.data}}))));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, www_a());
    expect_opt_v0(r);
    const EdnsOption* echoed = r.opt().option(kEcs);
    ASSERT_NE(echoed, nullptr) << "valid ECS not echoed";
    EXPECT_EQ(echoed->data, g.data) << "ECS echoed with family, source prefix, scope 0 and address";
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row59_NsidWithDataTreatedAsRequest) {
  const std::uint16_t kNsid = pharos::dns::edns::kOptNsid;
  {
    SCOPED_TRACE("default server: no NSID configured");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, opt_with({{kNsid, {'a', 'b', 'c'}}}))));
    expect_www_with_plain_opt(r, id);
  }
  Server* ident = identity_server();
  ASSERT_NE(ident, nullptr);
  const Bytes configured(kIdentityNsid, kIdentityNsid + std::strlen(kIdentityNsid));
  for (const Bytes& data : {Bytes{}, Bytes{'a', 'b', 'c'}}) {
    SCOPED_TRACE(data.empty() ? "identity server: empty NSID" : "identity server: NSID with data");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, udp_exchange(ident->udp(), www(id, 0, opt_with({{kNsid, data}}))));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, www_a());
    expect_opt_v0(r);
    const EdnsOption* nsid = r.opt().option(kNsid);
    ASSERT_NE(nsid, nullptr) << "NSID not returned";
    EXPECT_EQ(nsid->data, configured);
  }
  {
    SCOPED_TRACE("identity server: NSID not requested");
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, udp_exchange(ident->udp(), www(id, 0, Opt{})));
    expect_www_with_plain_opt(r, id);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row60_KeepaliveAndPaddingOverUdpIgnored) {
  const std::uint16_t kKeepalive = pharos::dns::edns::kOptKeepalive;
  const std::uint16_t kPadding = pharos::dns::edns::kOptPadding;
  for (const auto& option : {EdnsOption{kKeepalive, {}}, EdnsOption{kPadding, Bytes(16, 0)}}) {
    SCOPED_TRACE("option " + std::to_string(option.code));
    const std::uint16_t id = next_id();
    ASSERT_REPLY(r, ask(www(id, 0, opt_with({option}))));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, www_a());
    expect_opt_v0(r);
    EXPECT_FALSE(r.opt().has_option(kKeepalive)) << "keepalive in a UDP response";
  }
}

// ---------------------------------------------------------------------------------------------
// a.6 TSIG

TEST_F(Conformance, Row61_MisplacedTsigFormErr) {
  const Bytes other = rr("extra.example", rrtype::kTxt, rrclass::kIn, 0, txt_rdata("x"));
  struct Case {
    const char* what;
    std::uint16_t ar;
    std::function<Bytes(std::uint16_t)> additional;
  };
  const Case cases[] = {
      {"TSIG not last", 2, [&](std::uint16_t id) { return concat(tsig_rr("key.example", id), other); }},
      {"two TSIGs", 2,
       [&](std::uint16_t id) { return concat(tsig_rr("key.example", id), tsig_rr("key.example", id)); }},
      {"TSIG class IN", 1, [&](std::uint16_t id) { return tsig_rr("key.example", id, rrclass::kIn); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::uint16_t id = next_id();
    const Bytes q = concat(concat(header(id, 0, 1, 0, 0, c.ar), question_of(www(0))), c.additional(id));
    ASSERT_REPLY(r, ask(q));
    expect_header(r, id, 0, kFormErr, kQr);
    expect_no_or_echoed_question(r, q);
    EXPECT_EQ(r.ancount() + r.nscount(), 0);
  }
  expect_still_answers(srv_);
}

TEST_F(Conformance, Row62_UnknownTsigKeyNotAuthBadKey) {
  const std::uint16_t id = next_id();
  const Bytes q = concat(concat(header(id, 0, 1, 0, 0, 1), question_of(www(0))), tsig_rr("key.example", id));
  ASSERT_REPLY(r, ask(q));
  EXPECT_EQ(r.id(), id);
  EXPECT_EQ(r.opcode(), 0);
  EXPECT_EQ(r.header_rcode(), kNotAuth);
  EXPECT_TRUE(r.qr());
  EXPECT_EQ(r.flags() & (kTc | kRa | kZ | kAd | kCd), 0);
  expect_question_echo(r, q);
  expect_counts(r, 1, 0, 0, 1);
  const auto tsig = r.tsig();
  ASSERT_TRUE(tsig.has_value()) << "no TSIG RR in the NOTAUTH response";
  EXPECT_EQ(tsig->key, "key.example.");
  EXPECT_EQ(tsig->cls, rrclass::kAny);
  EXPECT_EQ(tsig->ttl, 0u);
  EXPECT_EQ(tsig->algorithm, "hmac-sha256.");
  EXPECT_EQ(tsig->error, 17) << "TSIG error must be BADKEY";
  EXPECT_EQ(tsig->mac_size, 0) << "an unknown key cannot sign";
  EXPECT_EQ(tsig->original_id, id);
  EXPECT_EQ(tsig->other_len, 0);
  EXPECT_TRUE(r.section(1).empty());
  expect_still_answers(srv_);
}

// ---------------------------------------------------------------------------------------------
// a.7 TCP

TEST_F(Conformance, Row63_TcpShortLengthCloses) {
  for (const Bytes& bytes : {Bytes{0, 2, 'A', 'B'}, concat(Bytes{0, 11}, Bytes(11, 0)), Bytes{0, 0}}) {
    SCOPED_TRACE("length prefix " + std::to_string(bytes[1]));
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.send_raw(bytes));
    std::size_t seen = 0;
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs, &seen)) << "connection left open";
    EXPECT_EQ(seen, 0u) << "answered a message shorter than a header";
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row64_TcpStalledMessageTimesOut) {
  TcpClient stalled(tcp());
  ASSERT_TRUE(stalled.ok());
  Bytes partial = {0x7D, 0x00};
  partial.insert(partial.end(), 100, 0);
  ASSERT_TRUE(stalled.send_raw(partial));
  // Other clients are served while one connection stalls.
  expect_still_answers(srv_, true);
  // message_timeout is 1 s in the test config; allow generous slack.
  std::size_t seen = 0;
  EXPECT_TRUE(stalled.wait_closed(5000, &seen)) << "stalled connection not closed by the message timeout";
  EXPECT_EQ(seen, 0u);
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row65_TcpReassemblyAndPipelining) {
  {
    SCOPED_TRACE("one query, one byte per segment");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id = next_id();
    Bytes framed;
    const Bytes q = www(id);
    put_u16(framed, static_cast<std::uint16_t>(q.size()));
    put_bytes(framed, q);
    for (std::uint8_t byte : framed) {
      ASSERT_TRUE(t.send_raw({byte}));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto reply = t.recv_framed(kReplyTimeoutMs);
    ASSERT_TRUE(reply.has_value()) << "no answer to a query sent byte by byte";
    const Response r(std::move(*reply));
    SCOPED_TRACE(r.describe());
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, www_a());
  }
  {
    SCOPED_TRACE("five queries in one segment");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    struct Q {
      std::uint16_t id;
      const char* name;
      std::uint16_t type;
      int rcode;
    };
    const Q qs[] = {{next_id(), "www.example.com", rrtype::kA, kNoError},
                    {next_id(), "www.example.com", rrtype::kAaaa, kNoError},
                    {next_id(), "absent.example.com", rrtype::kA, kNxDomain},
                    {next_id(), "big.example.com", rrtype::kTxt, kNoError},
                    {next_id(), "www.example.org", rrtype::kA, kRefused}};
    Bytes all;
    for (const Q& q : qs) {
      const Bytes m = build_query(q.id, q.name, q.type);
      put_u16(all, static_cast<std::uint16_t>(m.size()));
      put_bytes(all, m);
    }
    ASSERT_TRUE(t.send_raw(all));
    std::vector<bool> seen(std::size(qs), false);
    for (std::size_t n = 0; n < std::size(qs); ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "only " << n << " of 5 pipelined answers";
      const Response r(std::move(*reply));
      ASSERT_TRUE(r.parsed()) << r.describe();
      bool matched = false;
      for (std::size_t i = 0; i < std::size(qs); ++i) {
        if (qs[i].id != r.id() || seen[i]) continue;
        seen[i] = matched = true;
        EXPECT_EQ(r.rcode(), qs[i].rcode) << qs[i].name;
        EXPECT_FALSE(r.tc()) << "TCP answers are never truncated";
        if (qs[i].type == rrtype::kTxt) {
          EXPECT_EQ(r.section(1), big_txt());
        }
      }
      EXPECT_TRUE(matched) << "answer with an unknown or repeated ID " << r.id();
    }
  }
  {
    SCOPED_TRACE("a hundred queries in one write");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t first = next_id();
    Bytes all;
    for (int i = 0; i < 100; ++i) {
      const Bytes m = build_query(static_cast<std::uint16_t>(first + i), i % 2 ? "big.example.com" : "www.example.com",
                                  i % 2 ? rrtype::kTxt : rrtype::kA);
      if (i > 0) next_id();
      put_u16(all, static_cast<std::uint16_t>(m.size()));
      put_bytes(all, m);
    }
    ASSERT_TRUE(t.send_raw(all));
    std::vector<bool> seen(100, false);
    for (int n = 0; n < 100; ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "only " << n << " of 100 pipelined answers";
      const Response r(std::move(*reply));
      ASSERT_TRUE(r.parsed()) << r.describe();
      const int i = static_cast<std::uint16_t>(r.id() - first);
      ASSERT_LT(i, 100) << "unknown ID " << r.id();
      EXPECT_FALSE(seen[i]) << "ID answered twice";
      seen[i] = true;
      EXPECT_EQ(r.section(1), i % 2 ? big_txt() : www_a());
    }
  }
  {
    SCOPED_TRACE("length prefix split from its message");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id = next_id();
    const Bytes q = www(id);
    ASSERT_TRUE(t.send_raw({0}));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(t.send_raw(concat({static_cast<std::uint8_t>(q.size())}, Bytes(q.begin(), q.begin() + 5))));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(t.send_raw(Bytes(q.begin() + 5, q.end())));
    auto reply = t.recv_framed(kReplyTimeoutMs);
    ASSERT_TRUE(reply.has_value());
    const Response r(std::move(*reply));
    expect_header(r, id, 0, kNoError, kQr | kAa);
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row66_TcpHalfCloseAnsweredThenClosed) {
  const std::uint16_t port = tcp().port;
  {
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id1 = next_id(), id2 = next_id();
    ASSERT_TRUE(t.send_framed(www(id1)));
    ASSERT_TRUE(t.send_framed(build_query(id2, "mail.example.com", rrtype::kA)));
    t.shutdown_write();
    std::vector<std::uint16_t> ids;
    for (int n = 0; n < 2; ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "answer " << n + 1 << " of 2 missing after half-close";
      const Response r(std::move(*reply));
      EXPECT_EQ(r.header_rcode(), kNoError) << r.describe();
      ids.push_back(r.id());
    }
    std::sort(ids.begin(), ids.end());
    std::vector<std::uint16_t> want = {id1, id2};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids, want);
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs)) << "server did not close after answering a half-closed client";
  }
  {
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    t.shutdown_write();
    std::size_t seen = 0;
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs, &seen)) << "server did not close an idle half-closed connection";
    EXPECT_EQ(seen, 0u);
  }
  // No server socket is left in CLOSE_WAIT.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (close_wait_count(port) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(close_wait_count(port), 0) << "CLOSE_WAIT sockets left on the server port";
  expect_still_answers(srv_, true);
}

}  // namespace
}  // namespace pharos::system_test
