// zone_load_fuzz.cc: arbitrary text as a master file for example.com; whatever loads must build
// into a table that answers a query with a well-formed message.
#include <string_view>

#include "dns/answer_table.h"
#include "dns/responder.h"
#include "dns/zone.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos::dns;
  auto zone = load_zone_text("example.com.", std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!zone) return 0;
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  auto table = build_table(std::move(zones), TableOptions{});
  if (!table) return 0;
  // www.example.com A, then ANY over TCP: walk the answer paths.
  static const std::uint8_t query[] = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x',
                                       'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
  static std::uint8_t out[kMaxMessage];
  Responder r;
  r.respond(**table, query, sizeof query, out, 512, ClientInfo{Transport::kUdp}, 0);
  r.respond(**table, query, sizeof query, out, sizeof out, ClientInfo{Transport::kTcp}, 0);
  return 0;
}
