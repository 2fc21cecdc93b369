// zone_loader_test.cc: zone files are read with ldns and checked; errors name file and line.
#include "dns/zone.h"

#include <gtest/gtest.h>

#include "tests/dns/test_util.h"

namespace pharos::dns {
namespace {

constexpr const char* kHead =
    "$ORIGIN example.com.\n$TTL 300\n"
    "@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n"
    "@ IN NS ns1\n";

TEST(ZoneLoader, LoadsExampleZone) {
  auto z = load_zone("example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  EXPECT_EQ(z->soa_serial, 2026112301u);
  EXPECT_GT(z->rrs.size(), 30u);
  EXPECT_TRUE(z->warnings.empty());
}

TEST(ZoneLoader, GroupsByOwnerThenType) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "a IN A 192.0.2.1\nb IN A 192.0.2.2\na IN TXT \"x\"\na IN A 192.0.2.3\n", "t");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  for (std::size_t i = 1; i < z->rrs.size(); ++i) {
    if (z->rrs[i].owner == z->rrs[i - 1].owner) {
      EXPECT_LE(z->rrs[i - 1].type, z->rrs[i].type);
    }
  }
  int a_records_of_a = 0;
  for (const auto& rr : z->rrs) a_records_of_a += (z->owners.length(rr.owner) == 15 && rr.type == rrtype::kA);
  EXPECT_EQ(a_records_of_a, 3);  // a and b are both 15 bytes: 2 at a, 1 at b
}

TEST(ZoneLoader, RemovesDuplicatesAndEvensTtls) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "a 100 IN A 192.0.2.1\na 50 IN A 192.0.2.2\na IN A 192.0.2.1\n", "t");
  ASSERT_TRUE(z.ok());
  int n = 0;
  for (const auto& rr : z->rrs) {
    if (rr.type != rrtype::kA) continue;
    ++n;
    EXPECT_EQ(rr.ttl, 50u);
  }
  EXPECT_EQ(n, 2);
  ASSERT_EQ(z->warnings.size(), 1u);
  EXPECT_NE(z->warnings[0].find("t:6: TTL differs"), std::string::npos) << z->warnings[0];
}

TEST(ZoneLoader, ReportsSyntaxErrorWithLine) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "www IN A 192.0.2.1\nbad IN A not-an-address\n", "bad.zone");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().file, "bad.zone");
  EXPECT_EQ(z.error().where, "6");
  EXPECT_NE(z.error().to_string().find("bad.zone:6: "), std::string::npos) << z.error().to_string();
}

TEST(ZoneLoader, RejectsOwnerOutsideZone) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "www.example.org. IN A 192.0.2.1\n", "t");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("outside the zone"), std::string::npos);
  EXPECT_EQ(z.error().where, "5");
}

TEST(ZoneLoader, RejectsCnameWithOtherData) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "w IN CNAME x\nw IN A 192.0.2.1\n", "t");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("CNAME and other data"), std::string::npos) << z.error().to_string();
}

TEST(ZoneLoader, RequiresSoaAndNsAtApex) {
  auto no_soa = load_zone_text("example.com.", "$ORIGIN example.com.\n@ 300 IN NS ns1\n", "t");
  ASSERT_FALSE(no_soa.ok());
  EXPECT_NE(no_soa.error().message.find("no SOA"), std::string::npos);
  auto no_ns = load_zone_text("example.com.", "$ORIGIN example.com.\n@ 300 IN SOA a b 1 2 3 4 5\n", "t");
  ASSERT_FALSE(no_ns.ok());
  EXPECT_NE(no_ns.error().message.find("no NS"), std::string::npos);
}

TEST(ZoneLoader, RejectsSecondSoaAndSoaBelowApex) {
  auto z = load_zone_text("example.com.", std::string(kHead) + "x IN SOA a b 1 2 3 4 5\n", "t");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("SOA outside"), std::string::npos);
}

TEST(ZoneLoader, MissingFileIsAClearError) {
  auto z = load_zone("example.com.", "/nonexistent/zone");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().file, "/nonexistent/zone");
  EXPECT_NE(z.error().message.find("cannot open"), std::string::npos);
}

TEST(ZoneLoader, NameConversionRoundTrips) {
  std::vector<std::uint8_t> w;
  ASSERT_TRUE(name_to_wire("WWW.Example.com", w));
  EXPECT_EQ(wire_to_name(w.data(), w.size()), "www.example.com.");
  EXPECT_FALSE(name_to_wire(std::string(70, 'a') + ".com.", w));
}

}  // namespace
}  // namespace pharos::dns

namespace pharos::dns {
namespace {

TEST(ZoneLoader, HandlesOriginAndTtlDirectives) {
  auto z = load_zone_text("example.com.",
                          "$TTL 1h\n@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\n$ORIGIN sub\nwww IN A 192.0.2.1\n"
                          "$ORIGIN example.com.\n$TTL 60\nlast IN A 192.0.2.2\n",
                          "t");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  bool sub = false, last = false;
  for (const auto& rr : z->rrs) {
    const std::string owner = wire_to_name(z->owners.name(rr.owner), z->owners.length(rr.owner));
    if (owner == "www.sub.example.com.") sub = rr.ttl == 3600;
    if (owner == "last.example.com.") last = rr.ttl == 60;
  }
  EXPECT_TRUE(sub);
  EXPECT_TRUE(last);
}

TEST(ZoneLoader, RegroupsOwnersThatAreNotContiguous) {
  auto z = load_zone_text("example.com.",
                          std::string(kHead) + "a IN A 192.0.2.1\nb IN A 192.0.2.2\na IN AAAA ::1\n", "t");
  ASSERT_TRUE(z.ok());
  for (std::size_t i = 1; i < z->rrs.size(); ++i) {
    if (z->rrs[i].owner != z->rrs[i - 1].owner) {
      for (std::size_t j = i + 1; j < z->rrs.size(); ++j) EXPECT_NE(z->rrs[j].owner, z->rrs[i - 1].owner);
    }
  }
}

TEST(ZoneLoader, RefusesIncludeAndUnknownDirectives) {
  auto inc = load_zone_text("example.com.", "$INCLUDE other.zone\n", "t");
  ASSERT_FALSE(inc.ok());
  EXPECT_EQ(inc.error().to_string(), "t:1: $INCLUDE is not supported");
  auto unknown = load_zone_text("example.com.", std::string(kHead) + "$FOO bar\n", "t");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().where, "5");
}

}  // namespace
}  // namespace pharos::dns
