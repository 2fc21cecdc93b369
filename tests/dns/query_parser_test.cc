// query_parser_test.cc: the parser's verdicts on well-formed and malformed messages, as hex.
#include "dns/query.h"

#include <gtest/gtest.h>

#include "tests/dns/test_util.h"

namespace pharos::dns {
namespace {

using testing::hex;
using testing::make_query;

ParsedQuery parse(const std::vector<std::uint8_t>& m) {
  ParsedQuery q;
  parse_query(m.data(), m.size(), q);
  return q;
}

TEST(QueryParser, ParsesQuestionLowercased) {
  const auto q = parse(make_query("WwW.Example.COM", rrtype::kAaaa));
  EXPECT_EQ(q.outcome, ParseOutcome::kQuery);
  ASSERT_TRUE(q.question_ok);
  const std::uint8_t want[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  ASSERT_EQ(q.qname_len, sizeof want);
  EXPECT_EQ(0, std::memcmp(q.qname, want, sizeof want));
  EXPECT_EQ(q.label_count, 3);
  EXPECT_EQ(q.label_offsets[1], 4);
  EXPECT_EQ(q.qtype, rrtype::kAaaa);
  EXPECT_EQ(q.qclass, rrclass::kIn);
  EXPECT_EQ(q.qname_hash, hash_name(want, sizeof want));
}

TEST(QueryParser, DropsShortHeaderAndResponses) {
  EXPECT_EQ(parse(hex("1234 0100 0001 0000 0000")).outcome, ParseOutcome::kDrop);
  auto m = make_query("www.example.com", 1);
  m[2] |= 0x80;  // QR
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kDrop);
}

TEST(QueryParser, UnknownOpcodeIsNotImp) {
  auto m = make_query("www.example.com", 1, 1, 1232);
  m[2] = static_cast<std::uint8_t>((m[2] & 0x87) | (15 << 3));
  const auto q = parse(m);
  EXPECT_EQ(q.outcome, ParseOutcome::kNotImp);
  EXPECT_TRUE(q.edns.present);
}

TEST(QueryParser, RejectsCompressionInQname) {
  EXPECT_EQ(parse(hex("1234 0000 0001 0000 0000 0000 03777777 c00c 0001 0001")).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsExtendedLabelTypes) {
  const auto q = parse(hex("1234 0000 0001 0000 0000 0000 41 00 0001 0001"));
  EXPECT_EQ(q.outcome, ParseOutcome::kFormErr);
  EXPECT_FALSE(q.question_ok);
}

TEST(QueryParser, RejectsNameOver255Octets) {
  std::vector<std::uint8_t> m = hex("1234 0000 0001 0000 0000 0000");
  for (int i = 0; i < 4; ++i) {
    m.push_back(63);
    m.insert(m.end(), 63, 'a');
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsTwoQuestionsAndNone) {
  auto m = make_query("a.example.com", 1);
  m[5] = 2;
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
  EXPECT_EQ(parse(hex("1234 0000 0000 0000 0000 0000")).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsTruncatedQuestion) {
  auto m = make_query("www.example.com", 1);
  m.resize(m.size() - 3);
  const auto q = parse(m);
  EXPECT_EQ(q.outcome, ParseOutcome::kFormErr);
  EXPECT_FALSE(q.question_ok);
}

TEST(QueryParser, RejectsPointerLoopInAdditional) {
  // An additional RR whose owner points at itself.
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  const auto self = static_cast<std::uint8_t>(m.size());
  m.insert(m.end(), {0xC0, self, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, AcceptsBackwardPointerInAdditional) {
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  m.insert(m.end(), {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kQuery);
}

TEST(QueryParser, RejectsForwardPointer) {
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  const auto ahead = static_cast<std::uint8_t>(m.size() + 2);
  m.insert(m.end(), {0xC0, ahead, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsCountsLargerThanRecords) {
  auto m = make_query("a.example.com", 1);
  m[11] = 2;
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, IgnoresTrailingBytes) {
  auto m = make_query("a.example.com", 1);
  m.insert(m.end(), {1, 2, 3});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kQuery);
}

TEST(QueryParser, ReadsEdns) {
  auto m = make_query("a.example.com", 1, 1, 4096);
  m[m.size() - 4] = 0x80;  // DO
  const auto q = parse(m);
  ASSERT_EQ(q.outcome, ParseOutcome::kQuery);
  EXPECT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 4096);
  EXPECT_TRUE(q.edns.do_bit);
}

TEST(QueryParser, RejectsTwoOptRecordsAndNonRootOwner) {
  auto m = make_query("a.example.com", 1, 1, 1232);
  m[11] = 2;
  m.insert(m.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
  auto n = make_query("a.example.com", 1);
  n[11] = 1;
  n.insert(n.end(), {1, 'x', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(n).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsOptOutsideAdditional) {
  auto m = make_query("a.example.com", 1);
  m[9] = 1;  // NSCOUNT
  m.insert(m.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, RejectsOptionOverrunningRdata) {
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  m.insert(m.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 6, 0, 3, 0, 9, 1, 2});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

TEST(QueryParser, BadVersionWins) {
  auto m = make_query("a.example.com", 1, 1, 1232);
  m[m.size() - 5] = 1;  // version
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kBadVers);
}

std::vector<std::uint8_t> with_ecs(std::vector<std::uint8_t> ecs_option_data) {
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  const auto len = static_cast<std::uint8_t>(4 + ecs_option_data.size());
  m.insert(m.end(), {0, 0, 41, 4, 0, 0, 0, 0, 0, 0, len, 0, 8, 0, static_cast<std::uint8_t>(ecs_option_data.size())});
  m.insert(m.end(), ecs_option_data.begin(), ecs_option_data.end());
  return m;
}

TEST(QueryParser, AcceptsValidClientSubnet) {
  const auto q = parse(with_ecs({0, 1, 24, 0, 198, 51, 100}));
  ASSERT_EQ(q.outcome, ParseOutcome::kQuery);
  EXPECT_TRUE(q.edns.ecs);
  EXPECT_EQ(q.edns.ecs_family, 1);
  EXPECT_EQ(q.edns.ecs_source_prefix, 24);
  EXPECT_EQ(q.edns.ecs_address[2], 100);
}

TEST(QueryParser, RejectsMalformedClientSubnet) {
  EXPECT_EQ(parse(with_ecs({0, 3, 24, 0, 1, 2, 3})).outcome, ParseOutcome::kFormErr);        // family
  EXPECT_EQ(parse(with_ecs({0, 1, 24, 8, 1, 2, 3})).outcome, ParseOutcome::kFormErr);        // scope != 0
  EXPECT_EQ(parse(with_ecs({0, 1, 16, 0, 1, 2, 3})).outcome, ParseOutcome::kFormErr);        // too many octets
  EXPECT_EQ(parse(with_ecs({0, 1, 23, 0, 1, 2, 3})).outcome, ParseOutcome::kFormErr);        // bits past prefix
  EXPECT_EQ(parse(with_ecs({0, 1, 33, 0, 1, 2, 3, 4, 5})).outcome, ParseOutcome::kFormErr);  // prefix > 32
}

TEST(QueryParser, TsigMustBeLastWithClassAny) {
  auto m = make_query("a.example.com", 1);
  m[11] = 1;
  // key "k", TSIG, class ANY, ttl 0, rdata: alg "a", time(6) fudge(2) macsize 0, id, error, otherlen
  m.insert(m.end(), {1, 'k', 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 19, 1, 'a', 0, 0, 0, 0, 0, 0, 1, 1, 44, 0, 0,
                     0x12, 0x34, 0, 0, 0, 0});
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kTsig);
  m[m.size() - 26] = 1;  // class IN
  EXPECT_EQ(parse(m).outcome, ParseOutcome::kFormErr);
}

// A TSIG whose RDATA cannot be interpreted is FORMERR (RFC 8945 §5.2), not NOTAUTH with a TSIG
// built from it: found by the query_response fuzzer, whose TSIG had a 450-octet algorithm name.
TEST(QueryParser, TsigWithUninterpretableRdataIsFormErr) {
  // The RR after the question: key "k", TSIG, ANY, ttl 0, then `rdata` with its length.
  auto with_tsig = [](const std::vector<std::uint8_t>& rdata) {
    auto m = make_query("a.example.com", 1);
    m[11] = 1;
    m.insert(m.end(), {1, 'k', 0, 0, 250, 0, 255, 0, 0, 0, 0, static_cast<std::uint8_t>(rdata.size() >> 8),
                       static_cast<std::uint8_t>(rdata.size())});
    m.insert(m.end(), rdata.begin(), rdata.end());
    return m;
  };
  // alg "a", time(6), fudge(2), MAC size 2 and MAC, id, error, other length 1 and other data.
  const std::vector<std::uint8_t> good = {1, 'a', 0, 0, 0, 0, 0, 0, 1, 1, 44, 0, 2, 7, 7, 0x12, 0x34, 0, 0, 0, 1, 9};
  EXPECT_EQ(parse(with_tsig(good)).outcome, ParseOutcome::kTsig);

  std::vector<std::uint8_t> long_alg;  // 128 labels of one octet: 257 octets with the root
  for (int i = 0; i < 128; ++i) long_alg.insert(long_alg.end(), {1, 'x'});
  long_alg.push_back(0);
  long_alg.insert(long_alg.end(), good.begin() + 3, good.end());
  std::vector<std::uint8_t> max_alg(long_alg.begin() + 2, long_alg.end());  // 255 octets: fine
  EXPECT_EQ(parse(with_tsig(max_alg)).outcome, ParseOutcome::kTsig);
  EXPECT_EQ(parse(with_tsig(long_alg)).outcome, ParseOutcome::kFormErr);

  auto changed = [&](std::size_t at, std::uint8_t v) {
    auto r = good;
    r[at] = v;
    return r;
  };
  EXPECT_EQ(parse(with_tsig(changed(0, 0xC0))).outcome, ParseOutcome::kFormErr);   // compressed algorithm
  EXPECT_EQ(parse(with_tsig(changed(12, 9))).outcome, ParseOutcome::kFormErr);     // MAC past the end
  EXPECT_EQ(parse(with_tsig(changed(20, 2))).outcome, ParseOutcome::kFormErr);     // other data past the end
  EXPECT_EQ(parse(with_tsig(changed(20, 0))).outcome, ParseOutcome::kFormErr);     // bytes left over
  EXPECT_EQ(parse(with_tsig({1, 'a'})).outcome, ParseOutcome::kFormErr);           // name runs off the end
  EXPECT_EQ(parse(with_tsig({1, 'a', 0, 0, 0, 0})).outcome, ParseOutcome::kFormErr);  // fields cut short
  EXPECT_EQ(parse(with_tsig({})).outcome, ParseOutcome::kFormErr);
  // And a normal query after them all.
  EXPECT_EQ(parse(make_query("a.example.com", 1)).outcome, ParseOutcome::kQuery);
}

}  // namespace
}  // namespace pharos::dns
