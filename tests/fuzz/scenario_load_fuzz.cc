// scenario_load_fuzz.cc: arbitrary text as a scenario file. Whatever loads must render into
// table alternatives and regions without crashing; errors must name the file.
#include <cstdlib>
#include <string_view>

#include "scenario/config.h"
#include "scenario/render.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<scenario::ScenarioConfig> c = scenario::parse_scenario_text(text, "fuzz.json");
  if (!c) {
    if (c.error().file != "fuzz.json") std::abort();
    return 0;
  }
  auto rendered = scenario::render_records(c->gtm);
  (void)rendered;
  (void)scenario::render_regions(c->gtm);
  return 0;
}
