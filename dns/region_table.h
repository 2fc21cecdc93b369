// region_table.h: client address -> geo region, in two tiers. The operator's explicit networks
// come first (longest prefix wins); networks derived from a GeoIP2 database only answer for
// addresses no explicit network covers. Built off the hot path; a lookup never allocates.
//
//   RegionTable t = RegionTable::build(regions);       // regions[i] is region i + 1
//   std::uint8_t scope = 0;
//   std::size_t region = t.region_of(4, addr, &scope);  // 0: no region
//
// Why two tiers: an explicit list is an override ("our office in Lyon uses the us DCs"), so a
// /8 written by hand must beat a /24 that a country database happens to hold. The explicit tier is
// the hand-written list as it is (a few prefix lengths, one binary search per length). The GeoIP
// tier is flattened when built: the explicit networks are cut out of it, nested networks resolve
// to the longest prefix, adjacent blocks of one region are merged, and what remains is a sorted
// list of disjoint CIDR blocks, found with one binary search. A block is uniform, so its prefix
// length is also the right ECS scope, even next to a hole cut for an explicit network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/dynamic.h"

namespace pharos::dns {

class RegionTable {
 public:
  // regions[i] becomes region i + 1. Within a tier, on the same network, the first region wins.
  static RegionTable build(const std::vector<DynamicRegion>& regions);

  // Region of a client address (family 4 or 6, network byte order) and the matched prefix
  // length; 0 (no region) with *prefix = 0 when nothing matches.
  std::size_t region_of(int family, const std::uint8_t* address, std::uint8_t* prefix) const {
    const std::size_t r = explicit_region(family, address, prefix);
    if (r != 0) return r;
    return family == 4 ? geo_region4(address, prefix) : geo_region6(address, prefix);
  }

  std::size_t explicit_networks() const { return nets4_.size() + nets6_.size(); }
  // Disjoint GeoIP blocks after merging, per family.
  std::size_t geo_blocks(int family) const { return family == 4 ? geo4_.size() : geo6_.size(); }
  std::size_t memory_bytes() const;

 private:
  std::size_t explicit_region(int family, const std::uint8_t* address, std::uint8_t* prefix) const;
  std::size_t geo_region4(const std::uint8_t* address, std::uint8_t* prefix) const;
  std::size_t geo_region6(const std::uint8_t* address, std::uint8_t* prefix) const;

  // Explicit tier: per family, networks sorted by (prefix descending, masked address).
  struct RegionNet {
    std::uint8_t address[16];
    std::uint8_t prefix;
    std::uint16_t region;
  };
  std::vector<RegionNet> nets4_, nets6_;
  std::vector<std::uint8_t> prefixes4_, prefixes6_;  // distinct prefix lengths, descending

  // GeoIP tier: disjoint blocks sorted by first address (host order; IPv6 as two halves).
  struct Block {
    std::uint8_t prefix;
    std::uint16_t region;
  };
  struct V6 {
    std::uint64_t hi, lo;
  };
  std::vector<std::uint32_t> geo4_first_;
  std::vector<Block> geo4_;
  std::vector<V6> geo6_first_;
  std::vector<Block> geo6_;
};

}  // namespace pharos::dns
