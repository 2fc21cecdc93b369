// scenario_files_test.cc: the example scenario files in zones/ load with the C++ reader, together
// as pharos.json lists them, and the schema in docs/ accepts them too.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "scenario/config.h"
#include "scenario/json_reader.h"
#include "tests/scenario/schema_validator.h"

namespace pharos::scenario {
namespace {

namespace fs = std::filesystem;

const fs::path kZones = fs::path(PHAROS_SOURCE_DIR) / "zones";

// A main config has "zones"; every other JSON file in zones/ is a scenario file.
bool is_main_config(const rapidjson::Document& doc) { return doc.IsObject() && doc.HasMember("zones"); }

struct ZonesDir {
  std::vector<std::string> scenario_files;           // every scenario file, sorted
  std::vector<std::vector<std::string>> listed;      // per main config, the files it names
};

ZonesDir scan() {
  ZonesDir z;
  for (const auto& entry : fs::directory_iterator(kZones)) {
    if (entry.path().extension() != ".json") continue;
    const std::string path = entry.path().string();
    auto text = read_text_file(path);
    EXPECT_TRUE(text.ok()) << path;
    if (!text) continue;
    auto doc = parse_json(*text, path);
    EXPECT_TRUE(doc.ok()) << doc.error().to_string();
    if (!doc) continue;
    if (doc->IsObject() && doc->HasMember("tokens")) continue;  // the control API's tokens file
    if (!is_main_config(*doc)) {
      z.scenario_files.push_back(path);
      continue;
    }
    std::vector<std::string> names;
    if (doc->HasMember("scenarios"))
      for (const auto& s : (*doc)["scenarios"].GetArray()) names.push_back((kZones / s.GetString()).string());
    z.listed.push_back(names);
  }
  std::sort(z.scenario_files.begin(), z.scenario_files.end());
  return z;
}

TEST(ScenarioFiles, EveryExampleFileLoads) {
  const ZonesDir z = scan();
  ASSERT_FALSE(z.scenario_files.empty());
  for (const auto& path : z.scenario_files) {
    auto text = read_text_file(path);
    ASSERT_TRUE(text.ok()) << path;
    auto c = parse_scenario_text(*text, path);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
  }
}

TEST(ScenarioFiles, EachMainConfigsListLoadsTogether) {
  const ZonesDir z = scan();
  ASSERT_FALSE(z.listed.empty());
  const std::set<std::string> known(z.scenario_files.begin(), z.scenario_files.end());
  for (const auto& files : z.listed) {
    for (const auto& f : files) EXPECT_EQ(known.count(f), 1u) << f << " is listed but is not in zones/";
    auto c = load_scenario_files(files);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
  }
}

// The demo exercises every feature of the file format (docs/gtm.md).
TEST(ScenarioFiles, TheDemoExercisesEveryFeature) {
  auto c = load_scenario_files({(kZones / "gtm.json").string()});
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  const GtmConfig& g = c->gtm;
  bool negated = false, target_term = false, maintenance_term = false, bare_host = false, v6 = false;
  for (const auto& [name, s] : g.scenarios)
    for (const auto& group : s.groups)
      for (const Term& t : group) {
        negated |= t.negated;
        target_term |= std::count(t.check.begin(), t.check.end(), '|') == 3;
        maintenance_term |= t.check.find("|maintenanceMode") != std::string::npos;
      }
  for (const auto& r : g.regions)
    for (const auto& n : r.networks) {
      bare_host |= n.prefix == (n.family == 4 ? 32 : 128);
      v6 |= n.family == 6;
    }
  std::set<std::uint16_t> types;
  std::set<AllDownPolicy> policies;
  bool only_new = false, no_response_explicit = false, dr_cond = false, dr_if_no_records = false, fallback = false,
       geo = false, geo_subset = false, long_chain = false, default_scenario = false;
  for (const auto& r : g.records) {
    types.insert(r.type);
    policies.insert(r.all_down);
    only_new |= r.backup == BackupBehavior::kOnlyNew && r.stale_after != Millis(300'000);
    no_response_explicit |= r.backup == BackupBehavior::kNoResponse;
    dr_cond |= r.dr && !r.dr->dr_cond.empty();
    dr_if_no_records |= r.dr && r.dr->dr_if_no_records;
    fallback |= !r.fallback.empty();
    geo |= !r.geo.empty();
    for (const auto& [region, order] : r.geo) geo_subset |= order.size() < r.chain.size();
    long_chain |= r.chain.size() >= 3;
    for (const auto& e : r.chain) default_scenario |= e.scenario.empty();
  }
  EXPECT_TRUE(negated && target_term && maintenance_term);
  EXPECT_TRUE(bare_host && v6);
  EXPECT_EQ(types, (std::set<std::uint16_t>{1, 28, 5, 15, 16, 33}));  // A AAAA CNAME MX TXT SRV
  EXPECT_EQ(policies.size(), 4u);
  EXPECT_TRUE(only_new && no_response_explicit && dr_cond && dr_if_no_records && fallback);
  EXPECT_TRUE(geo && geo_subset && long_chain && default_scenario);
}

TEST(ScenarioFiles, TheSchemaAcceptsEveryExampleFile) {
  const ZonesDir z = scan();
  std::vector<std::string> texts;
  for (const auto& path : z.scenario_files) texts.push_back(*read_text_file(path));
  const auto accepted = testing::schema_accepts(texts);
  if (!accepted) GTEST_SKIP() << "python3 with jsonschema is not installed";
  ASSERT_EQ(accepted->size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_TRUE((*accepted)[i]) << z.scenario_files[i];
}

}  // namespace
}  // namespace pharos::scenario
