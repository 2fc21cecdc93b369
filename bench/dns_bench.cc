// dns_bench.cc: the hot path in pieces (parse, lookup, respond) and the table build, on the
// example zone and on a generated zone of many names.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "dns/answer_table.h"
#include "dns/responder.h"
#include "dns/zone.h"

namespace pharos::dns {
namespace {

std::vector<std::uint8_t> query(const std::string& name, std::uint16_t type, bool edns) {
  std::vector<std::uint8_t> q = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(edns)};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
  if (edns) q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
  return q;
}

std::unique_ptr<AnswerTable> example_table() {
  auto zone = load_zone("example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  return std::move(build_table(std::move(zones), {}).value());
}

std::string generated_zone(int names) {
  std::string text = "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 host 1 7200 900 1209600 60\n@ IN NS ns1\n"
                     "ns1 IN A 10.0.0.1\n";
  char line[96];
  for (int i = 0; i < names; ++i) {
    std::snprintf(line, sizeof line, "host%07d IN A 10.%d.%d.%d\n", i, (i >> 16) & 255, (i >> 8) & 255, i & 255);
    text += line;
  }
  return text;
}

void BM_ParseQuery(benchmark::State& state) {
  const auto q = query("www.example.com", 1, true);
  ParsedQuery p;
  for (auto _ : state) {
    parse_query(q.data(), q.size(), p);
    benchmark::DoNotOptimize(p.qname_hash);
  }
}
BENCHMARK(BM_ParseQuery);

void BM_Lookup(benchmark::State& state) {
  const auto table = example_table();
  const char* names[] = {"www.example.com", "nope.example.com", "x.apps.example.com", "host.sub.example.com"};
  const auto q = query(names[state.range(0)], 1, false);
  ParsedQuery p;
  parse_query(q.data(), q.size(), p);
  for (auto _ : state) benchmark::DoNotOptimize(table->lookup(p, Transport::kUdp));
}
BENCHMARK(BM_Lookup)->ArgName("exact0_nx1_wild2_refer3")->DenseRange(0, 3);

void BM_Respond(benchmark::State& state) {
  const auto table = example_table();
  const char* names[] = {"www.example.com", "nope.example.com", "x.apps.example.com", "alias.example.com"};
  const auto q = query(names[state.range(0)], 1, true);
  Responder r;
  std::uint8_t out[4096];
  const ClientInfo client{Transport::kUdp};
  for (auto _ : state) benchmark::DoNotOptimize(r.respond(*table, q.data(), q.size(), out, sizeof out, client, 0));
}
BENCHMARK(BM_Respond)->ArgName("exact0_nx1_wild2_cname3")->DenseRange(0, 3);

// Respond on a large table: cache misses instead of a table that fits in L1.
void BM_RespondLargeTable(benchmark::State& state) {
  auto zone = load_zone_text("big.test.", generated_zone(static_cast<int>(state.range(0))), "generated");
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  const auto table = std::move(build_table(std::move(zones), {}).value());
  std::vector<std::vector<std::uint8_t>> queries;
  char name[64];
  for (int i = 0; i < 4096; ++i) {
    std::snprintf(name, sizeof name, "host%07d.big.test", (i * 7919) % static_cast<int>(state.range(0)));
    queries.push_back(query(name, 1, true));
  }
  Responder r;
  std::uint8_t out[4096];
  const ClientInfo client{Transport::kUdp};
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& q = queries[i++ & 4095];
    benchmark::DoNotOptimize(r.respond(*table, q.data(), q.size(), out, sizeof out, client, 0));
  }
}
BENCHMARK(BM_RespondLargeTable)->Arg(100000);

void BM_LoadAndBuild(benchmark::State& state) {
  const std::string text = generated_zone(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto zone = load_zone_text("big.test.", text, "generated");
    std::vector<ZoneData> zones;
    zones.push_back(std::move(zone.value()));
    benchmark::DoNotOptimize(build_table(std::move(zones), {}));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LoadAndBuild)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pharos::dns
