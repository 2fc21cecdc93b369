// gtm_engine_test.cc: the pipeline from health changes to published choices, on a real libuv
// loop with a fake wall clock: failover, debounce coalescing, DR, maintenance, geo order,
// onlyNew with an operator resume, and startup before any result.
#include "scenario/gtm_engine.h"

#include <gtest/gtest.h>

#include "scenario/render.h"

namespace pharos::scenario {
namespace {

using health::Dimension;
using std::chrono::seconds;

health::HealthConfig two_dcs() {
  health::HealthConfig c;
  for (const char* dc : {"dc1", "dc2"}) {
    health::DcSpec d;
    d.name = dc;
    const std::string id = health::target_id(dc, Dimension::kAccess, 0);
    d.dimensions[health::index(Dimension::kAccess)].targets.push_back(id);
    health::CheckSpec s;
    s.params = health::TcpParams{"127.0.0.1", 1, "", ""};
    s.thresholds = {1, 1};
    c.checks[id] = s;
    c.datacenters.push_back(d);
  }
  return c;
}

GtmRecord www(BackupBehavior b = BackupBehavior::kNoResponse) {
  GtmRecord r;
  r.name = "www.example.com.";
  r.type = 1;
  r.backup = b;
  r.chain = {ChainEntry{"dc1", "", {"192.0.2.10"}}, ChainEntry{"dc2", "", {"198.51.100.10"}}};
  return r;
}

class GtmEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    health_.configure(two_dcs(), now_);
  }
  void TearDown() override {
    engine_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  GtmEngine& make(GtmConfig config, std::size_t regions = 1) {
    engine_ = std::make_unique<GtmEngine>(
        &loop_, [this](std::unique_ptr<const dns::DynamicChoices>&& c) { published_.push_back(std::move(c)); },
        [this] { return now_; });
    engine_->on_audit([this](const AnswerChange& c) { audit_.push_back(c.region + ":" + c.from + "->" + c.to); });
    config_ = std::move(config);
    initial_ = engine_->apply(config_, regions, health_);
    return *engine_;
  }
  void set(const char* dc, bool up) {
    now_ += seconds(1);
    const auto changes = health_.record(health::target_id(dc, Dimension::kAccess, 0),
                                        health::ProbeResult{up, up ? "" : "refused", {}}, now_);
    engine_->on_health(changes, health_);
  }
  std::uint32_t last(std::size_t slot = 0, std::size_t region = 0) {
    return published_.empty() ? initial_->get(slot, region) : published_.back()->get(slot, region);
  }

  uv_loop_t loop_;
  SystemTime now_ = SystemTime{} + std::chrono::hours(400000);
  health::HealthState health_;
  GtmConfig config_;
  std::unique_ptr<GtmEngine> engine_;
  std::unique_ptr<dns::DynamicChoices> initial_;
  std::vector<std::unique_ptr<const dns::DynamicChoices>> published_;
  std::vector<std::string> audit_;
};

TEST_F(GtmEngineTest, StartsOnThePreferredEntryBeforeAnyResult) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  EXPECT_EQ(initial_->get(0, 0), 0u);
  EXPECT_EQ(e.view()[0].regions[0].selection.reason, "waiting for the first health results");
}

TEST_F(GtmEngineTest, FailsOverAndBackWithDebounceZero) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  EXPECT_EQ(last(), 1u);
  set("dc1", true);
  EXPECT_EQ(last(), 0u);
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 0 (dc1)->entry 1 (dc2)", ":entry 1 (dc2)->entry 0 (dc1)"}));
}

TEST_F(GtmEngineTest, DebounceCoalescesChangesIntoOnePublish) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(30);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  uv_run(&loop_, UV_RUN_DEFAULT);  // the timer fires once, then the loop has nothing left
  const auto after_start = published_.size();
  set("dc1", false);
  set("dc1", true);
  set("dc1", false);
  EXPECT_TRUE(e.pending());
  EXPECT_EQ(published_.size(), after_start);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(e.pending());
  EXPECT_EQ(published_.size(), after_start + 1);
  EXPECT_EQ(last(), 1u);
}

TEST_F(GtmEngineTest, DrThenFallbackThenPolicy) {
  GtmConfig c;
  GtmRecord r = www();
  r.dr = DrSpec{{"203.0.113.10"}, "", true};
  r.fallback = {"203.0.113.99"};
  c.records = {r};
  c.debounce = Millis(0);
  make(c);
  set("dc1", false);
  set("dc2", false);
  EXPECT_EQ(last(), static_cast<std::uint32_t>(dr_alternative(r)));
  EXPECT_EQ(dr_alternative(r), 2);
  EXPECT_EQ(fallback_alternative(r), 3);
}

TEST_F(GtmEngineTest, NoDataPolicyWhenEverythingIsDown) {
  GtmConfig c;
  GtmRecord r = www();
  r.all_down = AllDownPolicy::kNoData;
  c.records = {r};
  c.debounce = Millis(0);
  make(c);
  set("dc1", false);
  set("dc2", false);
  EXPECT_EQ(last(), dns::kChoiceNoData);
}

TEST_F(GtmEngineTest, MaintenanceMovesTrafficWhileHealthy) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  ASSERT_EQ(last(), 0u);
  auto m = health_.set_maintenance("dc1", true, now_);
  engine_->on_health(*m, health_);
  EXPECT_EQ(last(), 1u);
  m = health_.set_maintenance("dc1", false, now_);
  engine_->on_health(*m, health_);
  EXPECT_EQ(last(), 0u);
}

TEST_F(GtmEngineTest, CustomScenarioAndStuckState) {
  GtmConfig c;
  GtmRecord r = www();
  r.chain[0].scenario = "dc1-serving";
  c.scenarios["dc1-serving"] = ScenarioSpec{"dc1-serving", {{Term{"auto|dc1|access", false}}}};
  c.records = {r};
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(last(), 0u);
  // Reconfiguring dc1's check makes it unknown: the scenario keeps its last value, no flap.
  health::HealthConfig hc = two_dcs();
  hc.checks[health::target_id("dc1", Dimension::kAccess, 0)].timeout = Millis(999);
  const auto changes = health_.configure(hc, now_);
  engine_->on_health(changes, health_);
  EXPECT_EQ(last(), 0u);
}

TEST_F(GtmEngineTest, GeoRegionsFollowTheirOwnOrder) {
  GtmConfig c;
  GtmRecord r = www();
  r.geo["us"] = {"dc2", "dc1"};
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  c.records = {r};
  c.debounce = Millis(0);
  make(c, 3);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(last(0, 0), 0u);
  EXPECT_EQ(last(0, 1), 0u);  // eu has no geo order: the chain's
  EXPECT_EQ(last(0, 2), 1u);  // us prefers dc2
  set("dc2", false);
  EXPECT_EQ(last(0, 2), 0u);  // failover inside the region
}

TEST_F(GtmEngineTest, OnlyNewHoldAndOperatorResume) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.records[0].stale_after = seconds(300);
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  EXPECT_EQ(last(), 1u);  // held
  EXPECT_FALSE(e.resume("www.example.com./A", "dc2"));
  EXPECT_TRUE(e.resume("www.example.com./A", "dc1"));
  EXPECT_EQ(last(), 0u);
}

TEST_F(GtmEngineTest, ReloadKeepsSelectionMemory) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  ASSERT_EQ(last(), 1u);
  auto again = engine_->apply(c, 1, health_);
  EXPECT_EQ(again->get(0, 0), 1u);  // still held after the reload
}

}  // namespace
}  // namespace pharos::scenario
