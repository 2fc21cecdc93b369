// region_table_test.cc: the two region tiers: explicit networks beat GeoIP-derived ones whatever
// the prefix lengths, longest prefix inside a tier, holes cut for explicit networks keep the ECS
// scope honest, adjacent GeoIP blocks merge, and a random cross-check against a naive matcher.
#include "dns/region_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pharos::dns {
namespace {

DynamicRegion::Network net(const std::string& cidr) {
  DynamicRegion::Network n;
  const std::size_t slash = cidr.find('/');
  const std::string addr = cidr.substr(0, slash);
  n.family = addr.find(':') == std::string::npos ? 4 : 6;
  EXPECT_EQ(inet_pton(n.family == 4 ? AF_INET : AF_INET6, addr.c_str(), n.address), 1) << cidr;
  n.prefix = static_cast<std::uint8_t>(std::stoi(cidr.substr(slash + 1)));
  return n;
}

DynamicRegion region(const std::string& name, std::vector<std::string> networks, std::vector<std::string> geo = {}) {
  DynamicRegion r;
  r.name = name;
  for (const auto& c : networks) r.networks.push_back(net(c));
  for (const auto& c : geo) r.geo_networks.push_back(net(c));
  return r;
}

struct Match {
  std::size_t region;
  int prefix;
  bool operator==(const Match&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Match& m) { return os << "region " << m.region << " /" << m.prefix; }

Match find(const RegionTable& t, const std::string& address) {
  std::uint8_t a[16] = {};
  const int family = address.find(':') == std::string::npos ? 4 : 6;
  EXPECT_EQ(inet_pton(family == 4 ? AF_INET : AF_INET6, address.c_str(), a), 1) << address;
  std::uint8_t prefix = 99;
  const std::size_t r = t.region_of(family, a, &prefix);
  return {r, prefix};
}

TEST(RegionTable, ExplicitNetworkBeatsALongerGeoNetwork) {
  const auto t = RegionTable::build({region("office", {"10.0.0.0/8"}), region("de", {}, {"10.1.2.0/24"})});
  EXPECT_EQ(find(t, "10.1.2.3"), (Match{1, 8}));
  EXPECT_EQ(t.geo_blocks(4), 0u);  // the whole GeoIP block lies under the explicit network
}

TEST(RegionTable, GeoNetworkAnswersOutsideTheExplicitOnes) {
  const auto t = RegionTable::build({region("office", {"10.1.2.0/24"}), region("de", {}, {"10.0.0.0/8"})});
  EXPECT_EQ(find(t, "10.1.2.3"), (Match{1, 24}));
  // The scope never covers the hole: 10.128.0.0/9 is all "de", 10.0.0.0/8 is not.
  EXPECT_EQ(find(t, "10.200.0.1"), (Match{2, 9}));
  EXPECT_EQ(find(t, "10.1.3.1"), (Match{2, 24}));
  EXPECT_EQ(find(t, "10.1.1.255"), (Match{2, 23}));
  EXPECT_EQ(find(t, "11.0.0.0"), (Match{0, 0}));
  EXPECT_EQ(find(t, "9.255.255.255"), (Match{0, 0}));
}

TEST(RegionTable, LongestPrefixWinsInsideTheGeoTier) {
  const auto t = RegionTable::build({region("eu", {}, {"10.0.0.0/8"}), region("de", {}, {"10.1.0.0/16"})});
  EXPECT_EQ(find(t, "10.1.0.1"), (Match{2, 16}));
  EXPECT_EQ(find(t, "10.0.0.1"), (Match{1, 16}));
  EXPECT_EQ(find(t, "10.255.0.1"), (Match{1, 9}));
}

TEST(RegionTable, SameGeoNetworkInTwoRegionsGoesToTheFirst) {
  const auto t = RegionTable::build({region("a", {}, {"10.0.0.0/8"}), region("b", {}, {"10.0.0.0/8"})});
  EXPECT_EQ(find(t, "10.9.9.9"), (Match{1, 8}));
}

TEST(RegionTable, AdjacentGeoBlocksOfOneRegionMerge) {
  const auto same = RegionTable::build({region("de", {}, {"192.0.2.0/25", "192.0.2.128/25", "198.51.100.0/24"})});
  EXPECT_EQ(same.geo_blocks(4), 2u);
  EXPECT_EQ(find(same, "192.0.2.200"), (Match{1, 24}));
  const auto split = RegionTable::build({region("de", {}, {"192.0.2.0/25"}), region("fr", {}, {"192.0.2.128/25"})});
  EXPECT_EQ(split.geo_blocks(4), 2u);
  EXPECT_EQ(find(split, "192.0.2.1"), (Match{1, 25}));
  EXPECT_EQ(find(split, "192.0.2.129"), (Match{2, 25}));
}

TEST(RegionTable, UnalignedRunsBecomeTheFewestBlocks) {
  // 10.0.1.0 - 10.0.3.255 is 10.0.1.0/24 + 10.0.2.0/23.
  const auto t = RegionTable::build({region("x", {}, {"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"})});
  EXPECT_EQ(t.geo_blocks(4), 2u);
  EXPECT_EQ(find(t, "10.0.1.9"), (Match{1, 24}));
  EXPECT_EQ(find(t, "10.0.3.9"), (Match{1, 23}));
  EXPECT_EQ(find(t, "10.0.4.0"), (Match{0, 0}));
  EXPECT_EQ(find(t, "10.0.0.255"), (Match{0, 0}));
}

TEST(RegionTable, IPv6GeoBlocksAndTheirEdges) {
  const auto t = RegionTable::build({region("us", {"2001:db8:1::/48"}, {"2001:db8::/32", "2a00::/12"})});
  EXPECT_EQ(find(t, "2001:db8:1::5"), (Match{1, 48}));
  EXPECT_EQ(find(t, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), (Match{1, 33}));
  EXPECT_EQ(find(t, "2001:db9::"), (Match{0, 0}));
  EXPECT_EQ(find(t, "2001:db7:ffff::1"), (Match{0, 0}));
  EXPECT_EQ(find(t, "2a0f:1::1"), (Match{1, 12}));
  EXPECT_EQ(find(t, "2a10::"), (Match{0, 0}));
  EXPECT_EQ(find(t, "10.0.0.1"), (Match{0, 0}));  // the other family is another table
}

TEST(RegionTable, WholeAddressSpaces) {
  const auto t = RegionTable::build({region("v4", {}, {"0.0.0.0/0"}), region("v6", {"::1/128"}, {"::/0"})});
  EXPECT_EQ(find(t, "0.0.0.0"), (Match{1, 0}));
  EXPECT_EQ(find(t, "255.255.255.255"), (Match{1, 0}));
  EXPECT_EQ(find(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), (Match{2, 1}));
  EXPECT_EQ(find(t, "::1"), (Match{2, 128}));
  EXPECT_EQ(find(t, "::2"), (Match{2, 127}));
  EXPECT_EQ(find(t, "::"), (Match{2, 128}));
}

TEST(RegionTable, ExplicitTierAloneIsUnchanged) {
  const auto t = RegionTable::build({region("eu", {"10.1.0.0/16"}), region("us", {"10.2.0.0/16", "10.2.3.0/24"})});
  EXPECT_EQ(find(t, "10.2.3.1"), (Match{2, 24}));
  EXPECT_EQ(find(t, "10.2.4.1"), (Match{2, 16}));
  EXPECT_EQ(find(t, "10.1.4.1"), (Match{1, 16}));
  EXPECT_EQ(t.geo_blocks(4) + t.geo_blocks(6), 0u);
}

// Random nested networks in 10.0.0.0/16, both tiers, against a matcher written the obvious way:
// the explicit networks by longest prefix, then the GeoIP ones by longest prefix; the first
// region on a tie. A GeoIP answer's scope block must hold no address of another answer.
TEST(RegionTable, MatchesANaiveMatcher) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    struct Net {
      std::uint32_t first;
      int prefix;
      bool is_explicit;
      std::size_t region;
    };
    std::vector<Net> nets;
    std::vector<DynamicRegion> regions(4);
    for (int i = 0; i < 12; ++i) {
      const int prefix = 16 + static_cast<int>(rng() % 17);
      const std::uint32_t mask = prefix == 32 ? ~0u : ~((1u << (32 - prefix)) - 1);
      const std::uint32_t first = (0x0A000000u | (rng() & 0xFFFFu)) & mask;
      const bool is_explicit = rng() % 4 == 0;
      const std::size_t r = rng() % 4;
      DynamicRegion::Network n;
      n.family = 4;
      n.address[0] = static_cast<std::uint8_t>(first >> 24);
      n.address[1] = static_cast<std::uint8_t>(first >> 16);
      n.address[2] = static_cast<std::uint8_t>(first >> 8);
      n.address[3] = static_cast<std::uint8_t>(first);
      n.prefix = static_cast<std::uint8_t>(prefix);
      bool duplicate = false;  // an explicit network appears once (the reader refuses a copy)
      for (const Net& o : nets) duplicate |= is_explicit && o.is_explicit && o.first == first && o.prefix == prefix;
      if (duplicate) continue;
      (is_explicit ? regions[r].networks : regions[r].geo_networks).push_back(n);
      nets.push_back({first, prefix, is_explicit, r + 1});
    }
    const auto t = RegionTable::build(regions);
    bool explicit_hit = false;
    auto naive = [&](std::uint32_t a) {
      explicit_hit = false;
      for (const bool tier : {true, false}) {
        const Net* best = nullptr;
        for (const Net& n : nets) {
          if (n.is_explicit != tier) continue;
          const std::uint32_t mask = n.prefix == 32 ? ~0u : ~((1u << (32 - n.prefix)) - 1);
          if ((a & mask) != n.first) continue;
          if (best == nullptr || n.prefix > best->prefix || (n.prefix == best->prefix && n.region < best->region)) best = &n;
        }
        if (best != nullptr) {
          explicit_hit = tier;
          return best->region;
        }
      }
      return std::size_t{0};
    };
    auto lookup = [&](std::uint32_t a, std::uint8_t* prefix) {
      const std::uint8_t b[4] = {static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                                 static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
      return t.region_of(4, b, prefix);
    };
    for (std::uint32_t a = 0x0A000000u; a <= 0x0A00FFFFu; a += 1 + rng() % 29) {
      std::uint8_t prefix = 0;
      const std::size_t got = lookup(a, &prefix);
      ASSERT_EQ(got, naive(a)) << "round " << round << " address " << std::hex << a;
      if (got == 0 || explicit_hit || prefix < 16) continue;  // explicit scopes: the matched network
      const std::uint32_t mask = prefix == 32 ? ~0u : ~((1u << (32 - prefix)) - 1);
      const std::uint32_t lo = a & mask, hi = a | ~mask;
      for (std::uint64_t k = 0; k <= 64; ++k) {  // 65 samples from the block's first to its last address
        const auto b = static_cast<std::uint32_t>(lo + (std::uint64_t{hi - lo} * k) / 64);
        ASSERT_EQ(naive(b), got) << "round " << round << ": scope /" << int(prefix) << " of " << std::hex << a
                                 << " covers " << b;
      }
    }
  }
}

}  // namespace
}  // namespace pharos::dns
