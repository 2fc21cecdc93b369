// geoip_bench.cc: GeoIP2 regions: the load-time expansion of a database of realistic size into
// the region table, and the per-query cost of finding a client's region with and without it.
//
//   python3 tests/tools/mmdb_writer.py --synthetic 400000 /tmp/geo400k.mmdb
//   PHAROS_GEOIP_DB=/tmp/geo400k.mmdb build/release/bench/geoip_bench
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>

#include "dns/region_table.h"
#include "scenario/geoip.h"
#include "scenario/render.h"

namespace {

using pharos::dns::DynamicRegion;
using pharos::dns::RegionTable;
using pharos::scenario::GtmConfig;
using pharos::scenario::RegionSpec;

std::string database() {
  const char* p = std::getenv("PHAROS_GEOIP_DB");
  return p != nullptr ? p : "/tmp/geo400k.mmdb";
}

// One region per continent of the synthetic database, plus two countries of their own.
GtmConfig regions() {
  GtmConfig g;
  const char* continents[] = {"EU", "NA", "AS", "SA", "AF", "OC"};
  for (const char* c : continents) {
    RegionSpec r;
    r.name = std::string("r-") + c;
    r.continents = {c};
    g.regions.push_back(r);
  }
  RegionSpec de, jp;
  de.name = "de";
  de.countries = {"DE"};
  jp.name = "jp";
  jp.countries = {"JP"};
  g.regions.push_back(de);
  g.regions.push_back(jp);
  return g;
}

// An explicit-only table as before GeoIP: networks of three prefix lengths.
RegionTable explicit_table() {
  std::vector<DynamicRegion> rs(3);
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    DynamicRegion::Network n;
    n.family = 4;
    const std::uint8_t prefixes[] = {16, 20, 24};
    n.prefix = prefixes[i % 3];
    const std::uint32_t a = rng() & (~0u << (32 - n.prefix));
    n.address[0] = static_cast<std::uint8_t>(a >> 24);
    n.address[1] = static_cast<std::uint8_t>(a >> 16);
    n.address[2] = static_cast<std::uint8_t>(a >> 8);
    n.address[3] = static_cast<std::uint8_t>(a);
    rs[static_cast<std::size_t>(i % 3)].networks.push_back(n);
  }
  return RegionTable::build(rs);
}

void BM_GeoIpExpandAndBuild(benchmark::State& state) {
  const GtmConfig g = regions();
  std::size_t blocks4 = 0, blocks6 = 0, bytes = 0, networks = 0;
  for (auto _ : state) {
    auto e = pharos::scenario::expand_geoip(database(), g.regions);
    if (!e) {
      state.SkipWithError(e.error().to_string().c_str());
      return;
    }
    const RegionTable t = RegionTable::build(pharos::scenario::render_regions(g, &*e));
    blocks4 = t.geo_blocks(4);
    blocks6 = t.geo_blocks(6);
    bytes = t.memory_bytes();
    networks = e->stats.leaves;
  }
  state.counters["db_networks"] = static_cast<double>(networks);
  state.counters["blocks4"] = static_cast<double>(blocks4);
  state.counters["blocks6"] = static_cast<double>(blocks6);
  state.counters["table_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_GeoIpExpandAndBuild)->Unit(benchmark::kMillisecond)->Iterations(3);

// Random IPv4 client addresses, mostly inside the synthetic database's range.
std::vector<std::uint32_t> clients() {
  std::mt19937 rng(11);
  std::vector<std::uint32_t> out(4096);
  for (auto& a : out) a = htonl(0x01000000u + rng() % 0xD0000000u);
  return out;
}

void lookups(benchmark::State& state, const RegionTable& t) {
  const auto addrs = clients();
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    std::uint8_t prefix = 0;
    found += t.region_of(4, reinterpret_cast<const std::uint8_t*>(&addrs[i++ & 4095]), &prefix) != 0;
    benchmark::DoNotOptimize(prefix);
  }
  state.counters["hit_ratio"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}

// Before GeoIP: 300 explicit networks in three prefix lengths (the only tier).
void BM_RegionOfExplicitOnly(benchmark::State& state) {
  const RegionTable t = explicit_table();
  lookups(state, t);
}
BENCHMARK(BM_RegionOfExplicitOnly);

// The GeoIP tier alone, from the synthetic database.
void BM_RegionOfGeoIp(benchmark::State& state) {
  const GtmConfig g = regions();
  auto e = pharos::scenario::expand_geoip(database(), g.regions);
  if (!e) {
    state.SkipWithError(e.error().to_string().c_str());
    return;
  }
  const RegionTable t = RegionTable::build(pharos::scenario::render_regions(g, &*e));
  lookups(state, t);
}
BENCHMARK(BM_RegionOfGeoIp);

// Both tiers: the explicit networks first, the GeoIP block list when they miss.
void BM_RegionOfExplicitThenGeoIp(benchmark::State& state) {
  GtmConfig g = regions();
  auto e = pharos::scenario::expand_geoip(database(), g.regions);
  if (!e) {
    state.SkipWithError(e.error().to_string().c_str());
    return;
  }
  std::vector<DynamicRegion> rs = pharos::scenario::render_regions(g, &*e);
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    DynamicRegion::Network n;
    n.family = 4;
    const std::uint8_t prefixes[] = {16, 20, 24};
    n.prefix = prefixes[i % 3];
    const std::uint32_t a = rng() & (~0u << (32 - n.prefix));
    for (int b = 0; b < 4; ++b) n.address[b] = static_cast<std::uint8_t>(a >> (24 - 8 * b));
    rs[static_cast<std::size_t>(i % 3)].networks.push_back(n);
  }
  const RegionTable t = RegionTable::build(rs);
  lookups(state, t);
}
BENCHMARK(BM_RegionOfExplicitThenGeoIp);

}  // namespace
