// fuzz_zone.cc: see fuzz_zone.h.
#include "tests/fuzz/fuzz_zone.h"

#include <cstdio>
#include <cstdlib>

#include "dns/zone.h"

namespace pharos::fuzz {

const dns::AnswerTable& example_table() {
  static std::unique_ptr<dns::AnswerTable> table = [] {
    auto zone = dns::load_zone("example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
    if (!zone) {
      std::fprintf(stderr, "%s\n", zone.error().to_string().c_str());
      std::abort();
    }
    std::vector<dns::ZoneData> zones;
    zones.push_back(std::move(zone.value()));
    dns::TableOptions options;
    options.id_server = "fuzz";
    options.nsid = "fuzz-node";
    auto t = dns::build_table(std::move(zones), options);
    if (!t) std::abort();
    return std::move(t.value());
  }();
  return *table;
}

}  // namespace pharos::fuzz
