// master_file_test.cc: splitting master files into records (RFC 1035 §5.1).
#include "dns/master_file.h"

#include <gtest/gtest.h>

#include <vector>

namespace pharos::dns {
namespace {

using Kind = MasterFileReader::Kind;

std::vector<MasterFileReader::Item> all(std::string_view text, std::vector<std::string>& texts) {
  MasterFileReader r(text);
  std::vector<MasterFileReader::Item> out;
  for (auto it = r.next();; it = r.next()) {
    texts.emplace_back(it.text);
    out.push_back(it);
    if (it.kind == Kind::kEnd || it.kind == Kind::kError) break;
  }
  return out;
}

TEST(MasterFile, JoinsParenthesesAndDropsComments) {
  std::vector<std::string> t;
  auto items = all("; header\n\n@ IN SOA a b ( 1 ; serial\n  2 3\n 4 5 )\nwww IN A 192.0.2.1 ; addr\n", t);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].kind, Kind::kRecord);
  EXPECT_EQ(items[0].line, 3u);
  EXPECT_EQ(t[0], "@ IN SOA a b   1    2 3  4 5  ");
  EXPECT_EQ(items[1].line, 6u);
  EXPECT_EQ(t[1], "www IN A 192.0.2.1 ");
  EXPECT_EQ(items[2].kind, Kind::kEnd);
}

TEST(MasterFile, KeepsQuotedSemicolonsAndParentheses) {
  std::vector<std::string> t;
  auto items = all("txt IN TXT \"a;b (c)\" \"d\\\"e\"\n", t);
  ASSERT_EQ(items[0].kind, Kind::kRecord);
  EXPECT_EQ(t[0], "txt IN TXT \"a;b (c)\" \"d\\\"e\"");
}

TEST(MasterFile, KeepsLeadingBlankForOmittedOwner) {
  std::vector<std::string> t;
  auto items = all("www IN A 192.0.2.1\n    IN AAAA ::1\n", t);
  ASSERT_EQ(items[1].kind, Kind::kRecord);
  EXPECT_EQ(t[1], "    IN AAAA ::1");
}

TEST(MasterFile, RecognisesDirectives) {
  std::vector<std::string> t;
  auto items = all("$TTL 300\n$ORIGIN sub\n", t);
  EXPECT_EQ(items[0].kind, Kind::kDirective);
  EXPECT_EQ(t[1], "$ORIGIN sub");
}

TEST(MasterFile, ReportsUnbalancedParenthesesWithLine) {
  std::vector<std::string> t;
  auto open = all("a IN A 1.2.3.4\nb IN SOA a b ( 1 2\n3 4 5\n", t);
  EXPECT_EQ(open.back().kind, Kind::kError);
  EXPECT_EQ(open.back().line, 2u);
  t.clear();
  auto close = all("a IN A 1.2.3.4 )\n", t);
  EXPECT_EQ(close.back().kind, Kind::kError);
  EXPECT_EQ(close.back().line, 1u);
}

TEST(MasterFile, ReportsUnterminatedQuote) {
  std::vector<std::string> t;
  auto items = all("\n\nt IN TXT \"abc\n", t);
  EXPECT_EQ(items.back().kind, Kind::kError);
  EXPECT_EQ(items.back().line, 3u);
}

}  // namespace
}  // namespace pharos::dns
