// conformance_records_edns_test.cc: CONFORMANCE.md a.3 (rows 39-41), records in the query, and a.4
// (rows 42-55), EDNS: OPT in every response, malformed or misplaced OPT, BADVERS, no echo of unknown
// options or flags, and truncation at the UDP payload limit.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/conformance_support.h"

namespace pharos::system_test {
namespace {

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

}  // namespace
}  // namespace pharos::system_test
