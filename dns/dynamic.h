// dynamic.h: answers that change without rebuilding the table (GTM records). The builder
// precomputes every alternative a dynamic RRset can answer (each chain entry, DR, fail-safe);
// which one is live, per record and per client region, is a small array of indexes published on
// its own. A health change therefore costs one array swap, not a table build.
//
//   std::vector<DynamicRrset> gtm = ...;                 // one per GTM record
//   auto table = build_table(std::move(zones), options, std::move(gtm), regions);
//   auto choices = std::make_unique<DynamicChoices>((*table)->dynamic_slots(), (*table)->region_count());
//   choices->set(slot, region, 1);                        // serve alternative 1 there
//   server.publish_choices(std::move(choices));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pharos::dns {

using Bytes = std::vector<std::uint8_t>;

// What an alternative stands for, as metrics show it: source "chain" with the entry's index and
// DC, or "dr", or "fallback" (entry and dc empty).
struct AlternativeInfo {
  std::string source;
  std::string entry;
  std::string dc;
  bool operator==(const AlternativeInfo&) const = default;
};

// One GTM record as the table needs it.
struct DynamicRrset {
  Bytes owner;                              // lowercased wire name
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::vector<std::vector<Bytes>> alternatives;  // [alternative][record] uncompressed wire rdata
  bool geo = false;                          // answers differ by region: send the ECS scope
  std::string label;                         // "www.example.com./A" for messages
  std::string key;                           // "www.example.com./A": the record's ID, for metrics
  std::vector<AlternativeInfo> info;         // per alternative, for metrics (may be empty)
};

// Client networks of one region. Region 0 is "no region"; configured regions are 1..n.
// `networks` are the operator's own list; `geo_networks` come from a GeoIP2 database (countries,
// continents) and rank below every explicit network, whatever the prefix lengths (region_table.h).
struct DynamicRegion {
  std::string name;
  struct Network {
    int family = 4;                          // 4 or 6
    std::uint8_t address[16] = {};
    std::uint8_t prefix = 0;
  };
  std::vector<Network> networks;
  std::vector<Network> geo_networks;         // disjoint from other regions' geo networks
};

// What a dynamic RRset answers now: an alternative index, or one of these.
inline constexpr std::uint32_t kChoiceNoData = 0xFFFFFFFFu;
inline constexpr std::uint32_t kChoiceServFail = 0xFFFFFFFEu;
inline constexpr std::uint32_t kChoiceRefused = 0xFFFFFFFDu;

// The live choice per (slot, region). Immutable once published.
class DynamicChoices {
 public:
  DynamicChoices(std::size_t slots, std::size_t regions)
      : regions_(regions), choice_(slots * regions, 0) {}
  // From choices laid out as this class keeps them: [slot * regions + region].
  DynamicChoices(std::size_t regions, const std::vector<std::uint32_t>& choice)
      : regions_(regions), choice_(choice) {}
  void set(std::size_t slot, std::size_t region, std::uint32_t choice) { choice_[slot * regions_ + region] = choice; }
  std::uint32_t get(std::size_t slot, std::size_t region) const { return choice_[slot * regions_ + region]; }
  std::size_t slots() const { return regions_ == 0 ? 0 : choice_.size() / regions_; }
  std::size_t regions() const { return regions_; }

 private:
  std::size_t regions_;
  std::vector<std::uint32_t> choice_;
};

}  // namespace pharos::dns
