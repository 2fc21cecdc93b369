// region_table.cc: building the two region tiers (see region_table.h) and looking addresses up.
#include "dns/region_table.h"

#include <algorithm>
#include <cstring>

namespace pharos::dns {
namespace {

__extension__ typedef unsigned __int128 U128;

constexpr U128 kAllOnes = ~static_cast<U128>(0);

std::uint32_t load32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

std::uint64_t load64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(load32(p)) << 32 | load32(p + 4);
}

// An address as a number in a family of `bits` bits (32 or 128).
U128 to_number(const DynamicRegion::Network& n) {
  if (n.family == 4) return load32(n.address);
  return static_cast<U128>(load64(n.address)) << 64 | load64(n.address + 8);
}

// The last address of a block: first | host bits. `host_bits` is 0..128.
U128 host_mask(int host_bits) { return host_bits >= 128 ? kAllOnes : (static_cast<U128>(1) << host_bits) - 1; }

int trailing_zeros(U128 v) {
  const auto lo = static_cast<std::uint64_t>(v);
  const auto hi = static_cast<std::uint64_t>(v >> 64);
  if (lo != 0) return __builtin_ctzll(lo);
  if (hi != 0) return 64 + __builtin_ctzll(hi);
  return 128;
}

// One network on the sweep line.
struct Entry {
  U128 first, last;
  std::uint8_t prefix;
  bool is_explicit;   // cuts a hole in the GeoIP tier
  std::uint16_t region;
};

// Which of two nested networks decides for the addresses of the inner one.
bool beats(const Entry& a, const Entry& b) {
  if (a.is_explicit != b.is_explicit) return a.is_explicit;
  if (a.prefix != b.prefix) return a.prefix > b.prefix;
  return a.region < b.region;  // the same network in two regions: the first region listed
}

struct Range {
  U128 first, last;
  std::uint16_t region;
};

// The GeoIP tier of one family as disjoint, merged ranges: a sweep over the networks in address
// order with a stack of the networks that contain the current position. CIDR blocks either nest
// or are disjoint, so the stack's top always holds the innermost one.
std::vector<Range> flatten(std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.last > b.last;  // the outer network first
  });
  std::vector<Range> out;
  bool finished = false;  // the sweep passed the last address of the family
  auto emit = [&](U128 from, U128 to, const Entry& winner) {
    if (finished || from > to || winner.is_explicit) return;
    if (!out.empty() && out.back().region == winner.region && out.back().last + 1 == from) {
      out.back().last = to;
    } else {
      out.push_back(Range{from, to, winner.region});
    }
  };
  struct Open {
    U128 last;
    const Entry* winner;
  };
  std::vector<Open> stack;
  U128 cursor = 0;
  auto close_top = [&]() {
    emit(cursor, stack.back().last, *stack.back().winner);
    if (stack.back().last == kAllOnes) finished = true;
    cursor = stack.back().last + 1;
    stack.pop_back();
  };
  for (const Entry& e : entries) {
    while (!stack.empty() && stack.back().last < e.first) close_top();
    if (!stack.empty() && e.first > cursor) emit(cursor, e.first - 1, *stack.back().winner);
    if (stack.empty() || e.first > cursor) cursor = e.first;
    const Entry* winner = stack.empty() || beats(e, *stack.back().winner) ? &e : stack.back().winner;
    stack.push_back(Open{e.last, winner});
  }
  while (!stack.empty()) close_top();
  return out;
}

// Each range as the fewest CIDR blocks: at every step the largest aligned block that fits.
template <typename First>
void to_blocks(const std::vector<Range>& ranges, int bits, std::vector<First>& firsts,
               std::vector<std::uint8_t>& prefixes, std::vector<std::uint16_t>& regions, First (*convert)(U128)) {
  for (const Range& r : ranges) {
    U128 a = r.first;
    for (;;) {
      int k = std::min(trailing_zeros(a), bits);
      while (host_mask(k) > r.last - a) --k;
      firsts.push_back(convert(a));
      prefixes.push_back(static_cast<std::uint8_t>(bits - k));
      regions.push_back(r.region);
      const U128 end = a + host_mask(k);
      if (end == r.last) break;
      a = end + 1;
    }
  }
}

}  // namespace

RegionTable RegionTable::build(const std::vector<DynamicRegion>& regions) {
  RegionTable t;
  std::vector<Entry> entries4, entries6;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    const auto region = static_cast<std::uint16_t>(r + 1);
    for (const auto& net : regions[r].networks) {
      RegionNet rn{};
      std::memcpy(rn.address, net.address, 16);
      rn.prefix = net.prefix;
      rn.region = region;
      (net.family == 4 ? t.nets4_ : t.nets6_).push_back(rn);
    }
    for (const bool is_explicit : {true, false}) {
      for (const auto& net : is_explicit ? regions[r].networks : regions[r].geo_networks) {
        const int bits = net.family == 4 ? 32 : 128;
        const U128 first = to_number(net) & ~host_mask(bits - net.prefix);
        (net.family == 4 ? entries4 : entries6)
            .push_back(Entry{first, first | host_mask(bits - net.prefix), net.prefix, is_explicit, region});
      }
    }
  }
  for (auto* nets : {&t.nets4_, &t.nets6_}) {
    // The first region listed wins when two regions hold the same network.
    std::stable_sort(nets->begin(), nets->end(), [](const RegionNet& a, const RegionNet& b) {
      if (a.prefix != b.prefix) return a.prefix > b.prefix;
      return std::memcmp(a.address, b.address, 16) < 0;
    });
    auto& prefixes = nets == &t.nets4_ ? t.prefixes4_ : t.prefixes6_;
    for (const auto& n : *nets)
      if (prefixes.empty() || prefixes.back() != n.prefix) prefixes.push_back(n.prefix);
  }

  std::vector<std::uint8_t> prefixes;
  std::vector<std::uint16_t> owners;
  auto fill = [&](std::vector<Block>& blocks) {
    blocks.reserve(prefixes.size());
    for (std::size_t i = 0; i < prefixes.size(); ++i) blocks.push_back(Block{prefixes[i], owners[i]});
    prefixes.clear();
    owners.clear();
  };
  if (std::any_of(entries4.begin(), entries4.end(), [](const Entry& e) { return !e.is_explicit; })) {
    to_blocks<std::uint32_t>(flatten(entries4), 32, t.geo4_first_, prefixes, owners,
                             [](U128 v) { return static_cast<std::uint32_t>(v); });
    fill(t.geo4_);
  }
  if (std::any_of(entries6.begin(), entries6.end(), [](const Entry& e) { return !e.is_explicit; })) {
    to_blocks<V6>(flatten(entries6), 128, t.geo6_first_, prefixes, owners,
                  [](U128 v) { return V6{static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)}; });
    fill(t.geo6_);
  }
  return t;
}

std::size_t RegionTable::explicit_region(int family, const std::uint8_t* address, std::uint8_t* prefix) const {
  const auto& nets = family == 4 ? nets4_ : nets6_;
  const auto& prefixes = family == 4 ? prefixes4_ : prefixes6_;
  const std::size_t bytes = family == 4 ? 4 : 16;
  for (const std::uint8_t p : prefixes) {
    RegionNet key{};
    const std::size_t full = p / 8u;
    std::memcpy(key.address, address, std::min(full, bytes));
    if (p % 8 != 0 && full < bytes) key.address[full] = static_cast<std::uint8_t>(address[full] & (0xFF00u >> (p % 8)));
    key.prefix = p;
    const auto it = std::lower_bound(nets.begin(), nets.end(), key, [](const RegionNet& a, const RegionNet& b) {
      if (a.prefix != b.prefix) return a.prefix > b.prefix;
      return std::memcmp(a.address, b.address, 16) < 0;
    });
    if (it != nets.end() && it->prefix == p && std::memcmp(it->address, key.address, 16) == 0) {
      *prefix = p;
      return it->region;
    }
  }
  *prefix = 0;
  return 0;
}

std::size_t RegionTable::geo_region4(const std::uint8_t* address, std::uint8_t* prefix) const {
  *prefix = 0;
  const std::uint32_t a = load32(address);
  const auto it = std::upper_bound(geo4_first_.begin(), geo4_first_.end(), a);
  if (it == geo4_first_.begin()) return 0;
  const auto i = static_cast<std::size_t>(it - geo4_first_.begin()) - 1;
  const Block& b = geo4_[i];
  const std::uint32_t mask = b.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - b.prefix);
  if (((a ^ geo4_first_[i]) & mask) != 0) return 0;  // past the end of the block before it
  *prefix = b.prefix;
  return b.region;
}

std::size_t RegionTable::geo_region6(const std::uint8_t* address, std::uint8_t* prefix) const {
  *prefix = 0;
  const V6 a{load64(address), load64(address + 8)};
  const auto it = std::upper_bound(geo6_first_.begin(), geo6_first_.end(), a, [](const V6& x, const V6& y) {
    return x.hi != y.hi ? x.hi < y.hi : x.lo < y.lo;
  });
  if (it == geo6_first_.begin()) return 0;
  const auto i = static_cast<std::size_t>(it - geo6_first_.begin()) - 1;
  const Block& b = geo6_[i];
  const V6& f = geo6_first_[i];
  const std::uint64_t mask_hi = b.prefix == 0 ? 0 : b.prefix >= 64 ? ~std::uint64_t{0} : ~std::uint64_t{0} << (64 - b.prefix);
  const std::uint64_t mask_lo = b.prefix <= 64 ? 0 : ~std::uint64_t{0} << (128 - b.prefix);
  if (((a.hi ^ f.hi) & mask_hi) != 0 || ((a.lo ^ f.lo) & mask_lo) != 0) return 0;
  *prefix = b.prefix;
  return b.region;
}

std::size_t RegionTable::memory_bytes() const {
  return (nets4_.size() + nets6_.size()) * sizeof(RegionNet) + prefixes4_.size() + prefixes6_.size() +
         geo4_first_.size() * sizeof(std::uint32_t) + geo4_.size() * sizeof(Block) +
         geo6_first_.size() * sizeof(V6) + geo6_.size() * sizeof(Block);
}

}  // namespace pharos::dns
