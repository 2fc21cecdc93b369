// conformance_header_test.cc: CONFORMANCE.md a.1 (rows 1-15), header and opcode: what pharosd drops
// (short datagrams, responses, reflection ports, repeated FORMERR), NOTIMP for opcodes it does not
// serve, and which header flags of a query it copies, clears or ignores.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/conformance_support.h"

namespace pharos::system_test {
namespace {

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

}  // namespace
}  // namespace pharos::system_test
