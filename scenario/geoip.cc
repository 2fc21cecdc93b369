// geoip.cc: reading a GeoIP2 database's search tree into region networks (see geoip.h).
#include "scenario/geoip.h"

#include <maxminddb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "scenario/json_reader.h"

namespace pharos::scenario {
namespace {

__extension__ typedef unsigned __int128 U128;

// Officially assigned ISO 3166-1 alpha-2 codes, and XK (Kosovo, user-assigned, used by GeoIP2).
constexpr std::string_view kCountries =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
    "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
    "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
    "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";
constexpr std::string_view kContinents = "AF AN AS EU NA OC SA";

bool in_list(std::string_view list, std::string_view code) {
  if (code.size() != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z') return false;
  for (std::size_t i = 0; i + 2 <= list.size(); i += 3)
    if (list.substr(i, 2) == code) return true;
  return false;
}

struct MmdbCloser {
  void operator()(MMDB_s* m) const {
    MMDB_close(m);
    delete m;
  }
};

// A network found in the tree, as a number in its family's width.
struct Found {
  U128 first;
  std::uint8_t prefix;
  std::uint16_t region;  // index + 1
};

class Walker {
 public:
  Walker(MMDB_s* db, const std::string& file, const std::vector<RegionSpec>& regions)
      : db_(db), file_(file), bits_(db->metadata.ip_version == 6 ? 128 : 32) {
    // A country or continent is listed by one region at most (validate_gtm); a country beats its
    // continent, so "de": ["DE"] takes Germany out of "eu": ["EU"].
    for (std::size_t i = 0; i < regions.size(); ++i) {
      for (const auto& c : regions[i].countries) countries_.emplace(c, static_cast<std::uint16_t>(i + 1));
      for (const auto& c : regions[i].continents) continents_.emplace(c, static_cast<std::uint16_t>(i + 1));
    }
    // Real databases hold tens of thousands of distinct records at most (City); a file that makes
    // the walk revisit nodes beyond this is broken, not big.
    budget_ = 2 * static_cast<std::size_t>(db->metadata.node_count) + 1024;
  }

  std::optional<Error> run(GeoIpStats& stats) {
    if (bits_ == 128) find_ipv4_node();
    if (auto e = visit(0, 0, 0)) return e;
    stats.nodes = visits_;
    stats.leaves = leaves_;
    stats.records = cache_.size();
    stats.aliases = aliases_;
    return std::nullopt;
  }

  const std::vector<Found>& found(int family) const { return family == 4 ? found4_ : found6_; }

 private:
  Error fail(const std::string& message) const { return Error{file_, "", message}; }

  // The node for ::/96, where libmaxminddb looks up IPv4 addresses in an IPv6 database.
  void find_ipv4_node() {
    std::uint64_t node = 0;
    for (int depth = 0; depth < 96; ++depth) {
      MMDB_search_node_s n;
      if (MMDB_read_node(db_, static_cast<std::uint32_t>(node), &n) != MMDB_SUCCESS) return;
      if (n.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) return;
      node = n.left_record;
    }
    ipv4_node_ = node;
  }

  std::optional<Error> visit(std::uint64_t node, int depth, U128 path) {
    if (++visits_ > budget_)
      return fail("corrupt GeoIP2 database: the search tree revisits its nodes (shared subtrees or a loop)");
    MMDB_search_node_s n;
    if (const int s = MMDB_read_node(db_, static_cast<std::uint32_t>(node), &n); s != MMDB_SUCCESS)
      return fail(std::string("corrupt GeoIP2 database: search tree node ") + std::to_string(node) + ": " + MMDB_strerror(s));
    for (int side = 0; side < 2; ++side) {
      const int d = depth + 1;
      const U128 child = side == 0 ? path : path | static_cast<U128>(1) << (bits_ - d);
      const std::uint8_t type = side == 0 ? n.left_record_type : n.right_record_type;
      const std::uint64_t record = side == 0 ? n.left_record : n.right_record;
      switch (type) {
        case MMDB_RECORD_TYPE_EMPTY: break;
        case MMDB_RECORD_TYPE_SEARCH_NODE:
          if (ipv4_node_ && record == *ipv4_node_ && !(d == 96 && child == 0)) {
            ++aliases_;  // ::ffff:0:0/96, 2002::/16, ...: the IPv4 subtree again
            break;
          }
          if (d >= bits_) return fail("corrupt GeoIP2 database: the search tree is deeper than " + std::to_string(bits_) + " bits");
          if (auto e = visit(record, d, child)) return e;
          break;
        case MMDB_RECORD_TYPE_DATA:
          if (auto e = leaf(side == 0 ? n.left_record_entry : n.right_record_entry, d, child)) return e;
          break;
        default:
          return fail("corrupt GeoIP2 database: search tree node " + std::to_string(node) + " points past the data section");
      }
    }
    return std::nullopt;
  }

  // A two-letter code at `path` in the record, or "" when the record has none.
  std::optional<Error> code(MMDB_entry_s& entry, const char* const* path, std::string& out) {
    MMDB_entry_data_s data;
    const int s = MMDB_aget_value(&entry, &data, path);
    out.clear();
    if (s == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) return std::nullopt;
    if (s != MMDB_SUCCESS)
      return fail("corrupt GeoIP2 database: data record at offset " + std::to_string(entry.offset) + ": " + MMDB_strerror(s));
    if (data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING) out.assign(data.utf8_string, data.data_size);
    return std::nullopt;
  }

  std::optional<Error> region_of(MMDB_entry_s& entry, std::uint16_t& region) {
    if (const auto it = cache_.find(entry.offset); it != cache_.end()) {
      region = it->second;
      return std::nullopt;
    }
    static const char* const kCountry[] = {"country", "iso_code", nullptr};
    static const char* const kRegistered[] = {"registered_country", "iso_code", nullptr};
    static const char* const kContinent[] = {"continent", "code", nullptr};
    std::string country, continent;
    if (auto e = code(entry, kCountry, country)) return e;
    if (country.empty())
      if (auto e = code(entry, kRegistered, country)) return e;
    if (auto e = code(entry, kContinent, continent)) return e;
    region = 0;
    if (const auto c = countries_.find(country); c != countries_.end()) region = c->second;
    else if (const auto k = continents_.find(continent); k != continents_.end()) region = k->second;
    cache_.emplace(entry.offset, region);
    return std::nullopt;
  }

  std::optional<Error> leaf(MMDB_entry_s entry, int depth, U128 path) {
    ++leaves_;
    std::uint16_t region = 0;
    if (auto e = region_of(entry, region)) return e;
    if (region == 0) return std::nullopt;
    if (bits_ == 32) {
      add(found4_, 32, path, depth, region);
    } else if (depth >= 96 && (path >> 32) == 0) {
      add(found4_, 32, path, depth - 96, region);  // ::a.b.c.d is IPv4 a.b.c.d
    } else {
      add(found6_, 128, path, depth, region);
      if (path == 0 && depth <= 96) add(found4_, 32, 0, 0, region);  // covers ::/96: all of IPv4
    }
    return std::nullopt;
  }

  // Appends in address order (the walk goes left first) and merges buddies of one region:
  // 10.0.0.0/25 + 10.0.0.128/25 -> 10.0.0.0/24, then perhaps with 10.0.1.0/24, and so on.
  static void add(std::vector<Found>& out, int bits, U128 first, int prefix, std::uint16_t region) {
    Found f{first, static_cast<std::uint8_t>(prefix), region};
    while (f.prefix > 0 && !out.empty()) {
      const Found& b = out.back();
      const U128 bit = static_cast<U128>(1) << (bits - f.prefix);
      if (b.prefix != f.prefix || b.region != f.region || (b.first ^ f.first) != bit || (f.first & bit) == 0) break;
      f.first = b.first;
      --f.prefix;
      out.pop_back();
    }
    out.push_back(f);
  }

  MMDB_s* db_;
  const std::string& file_;
  int bits_;
  std::optional<std::uint64_t> ipv4_node_;
  std::map<std::string, std::uint16_t> countries_, continents_;
  std::unordered_map<std::uint32_t, std::uint16_t> cache_;  // data offset -> region (0: none)
  std::vector<Found> found4_, found6_;
  std::size_t budget_ = 0, visits_ = 0, leaves_ = 0, aliases_ = 0;
};

Cidr to_cidr(int family, U128 first, std::uint8_t prefix) {
  Cidr c;
  c.family = family;
  c.prefix = prefix;
  const int bytes = family == 4 ? 4 : 16;
  for (int i = 0; i < bytes; ++i) c.address[i] = static_cast<std::uint8_t>(first >> (8 * (bytes - 1 - i)));
  return c;
}

bool holds_countries(std::string_view type) {
  for (std::string_view word : {"Country", "City", "Enterprise"})
    if (type.find(word) != std::string_view::npos) return true;
  return false;
}

}  // namespace

bool is_country_code(std::string_view code) { return in_list(kCountries, code); }
bool is_continent_code(std::string_view code) { return in_list(kContinents, code); }

Result<GeoIpExpansion> expand_geoip(const std::string& database, const std::vector<RegionSpec>& regions) {
  const auto start = std::chrono::steady_clock::now();
  auto db = std::make_unique<MMDB_s>();
  errno = 0;
  if (const int s = MMDB_open(database.c_str(), MMDB_MODE_MMAP, db.get()); s != MMDB_SUCCESS) {
    std::string why = MMDB_strerror(s);
    if ((s == MMDB_FILE_OPEN_ERROR || s == MMDB_IO_ERROR) && errno != 0) why += std::string(": ") + std::strerror(errno);
    return Error{database, "", "cannot read the GeoIP2 database: " + why};
  }
  std::unique_ptr<MMDB_s, MmdbCloser> open{db.release()};
  const MMDB_metadata_s& meta = open->metadata;
  GeoIpExpansion out;
  out.stats.database_type = meta.database_type != nullptr ? meta.database_type : "";
  out.stats.build_epoch = meta.build_epoch;
  out.stats.ip_version = meta.ip_version;
  if (!holds_countries(out.stats.database_type))
    return Error{database, "", "database type " + in_quotes(out.stats.database_type) +
                                   " holds no countries: use a GeoIP2 or GeoLite2 Country or City database"};
  if (meta.ip_version != 4 && meta.ip_version != 6)
    return Error{database, "", "corrupt GeoIP2 database: ip_version " + std::to_string(meta.ip_version)};

  out.networks.resize(regions.size());
  const bool wanted = std::any_of(regions.begin(), regions.end(),
                                  [](const RegionSpec& r) { return !r.countries.empty() || !r.continents.empty(); });
  if (wanted) {
    Walker w(open.get(), database, regions);
    if (auto e = w.run(out.stats)) return *e;
    for (const int family : {4, 6}) {
      for (const Found& f : w.found(family)) out.networks[f.region - 1u].push_back(to_cidr(family, f.first, f.prefix));
      (family == 4 ? out.stats.networks4 : out.stats.networks6) = w.found(family).size();
    }
    for (std::size_t i = 0; i < regions.size(); ++i)
      if ((!regions[i].countries.empty() || !regions[i].continents.empty()) && out.networks[i].empty())
        out.stats.empty_regions.push_back(regions[i].name);
  }
  out.stats.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return out;
}

}  // namespace pharos::scenario
