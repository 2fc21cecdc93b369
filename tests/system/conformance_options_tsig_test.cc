// conformance_options_tsig_test.cc: CONFORMANCE.md a.5 (rows 56-60), EDNS options (cookies, client
// subnet, NSID, keepalive and padding), and a.6 (rows 61-62), TSIG (misplaced TSIG, unknown key).
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/conformance_support.h"

namespace pharos::system_test {
namespace {

// EDNS Client Subnet option data: family, source and scope prefix lengths, then the address bytes.
Bytes ecs(std::uint16_t family, std::uint8_t source, std::uint8_t scope, const Bytes& addr) {
  Bytes b;
  put_u16(b, family);
  put_u8(b, source);
  put_u8(b, scope);
  put_bytes(b, addr);
  return b;
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
      // RFC 8945 §5.2: a TSIG that cannot be interpreted. Its algorithm name has 160 labels
      // (more than 255 octets); the fuzzer found that this was echoed into a NOTAUTH response
      // no client could parse.
      {"TSIG algorithm name over 255 octets", 1,
       [&](std::uint16_t id) {
         Bytes rdata;
         for (int i = 0; i < 160; ++i) rdata.insert(rdata.end(), {1, 'x'});
         rdata.push_back(0);
         rdata.insert(rdata.end(), {0, 0, 0, 0, 0, 1, 1, 44, 0, 0, static_cast<std::uint8_t>(id >> 8),
                                    static_cast<std::uint8_t>(id), 0, 0, 0, 0});
         return rr("key.example", rrtype::kTsig, rrclass::kAny, 0, rdata);
       }},
      {"TSIG MAC past its RDATA", 1,
       [&](std::uint16_t id) {
         Bytes t = tsig_rr("key.example", id);
         t.resize(t.size() - 10);  // cut into the MAC
         const std::size_t rdlen_at = std::string_view("\003key\007example").size() + 1 + 8;
         const std::size_t rdlen = t.size() - rdlen_at - 2;
         t[rdlen_at] = static_cast<std::uint8_t>(rdlen >> 8);
         t[rdlen_at + 1] = static_cast<std::uint8_t>(rdlen);
         return t;
       }},
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

}  // namespace
}  // namespace pharos::system_test
