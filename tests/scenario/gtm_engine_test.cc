// gtm_engine_test.cc: the pipeline from health changes to published choices, on a real libuv
// loop with a fake wall clock: failover, debounce coalescing, DR, maintenance, geo order,
// onlyNew with an operator resume, startup before any result, and a restart from saved state.
#include "scenario/gtm_engine.h"

#include <set>

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

// two_dcs() plus user checks u1 and u2 (one recorded probe result moves each), for scenarios s1, s2.
health::HealthConfig two_dcs_and_user_checks() {
  health::HealthConfig c = two_dcs();
  health::CheckSpec user;
  user.params = health::TcpParams{"127.0.0.1", 1, "", ""};
  user.thresholds = {1, 1};
  c.checks["u1"] = user;
  c.checks["u2"] = user;
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
    engine_->on_audit([this](const std::shared_ptr<const AnswerRound>& round) {
      ++rounds_;
      for (const AnswerChange& c : *round) audit_.push_back(std::string(c.region) + ":" + std::string(c.from) + "->" + std::string(c.to));
    });
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
  // A restart: a new verdict table and engine that start from what the old ones saved.
  void restart(bool with_state, std::size_t regions = 1) {
    const health::SavedHealth h = health_.save();
    SavedGtm g = engine_->save();
    now_ += seconds(30);
    health_ = health::HealthState{};
    health_.configure(two_dcs(), now_);
    engine_ = std::make_unique<GtmEngine>(
        &loop_, [this](std::unique_ptr<const dns::DynamicChoices>&& c) { published_.push_back(std::move(c)); },
        [this] { return now_; });
    engine_->on_audit([this](const std::shared_ptr<const AnswerRound>& round) {
      ++rounds_;
      for (const AnswerChange& c : *round) audit_.push_back(std::string(c.region) + ":" + std::string(c.from) + "->" + std::string(c.to));
    });
    if (with_state) {
      health_.restore(h, now_);
      engine_->restore(std::move(g));
    }
    published_.clear();
    audit_.clear();
    initial_ = engine_->apply(config_, regions, health_);
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
  int rounds_ = 0;  // audit callbacks: one per selection round with changes
};

TEST_F(GtmEngineTest, StartsOnThePreferredEntryBeforeAnyResult) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  EXPECT_EQ(initial_->get(0, 0), 0u);
  EXPECT_EQ(e.view()[0].regions[0].selection.reason, "waiting for the first health results of dc1");
}

TEST_F(GtmEngineTest, ExplainNamesTheServingEntryAndTheFailedCheckWithItsTime) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  const SystemTime failed_at = now_;
  auto x = e.explain("www.example.com./A", 0, health_);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->selection.source, Source::kChain);
  EXPECT_EQ(x->selection.entry, 1);
  EXPECT_EQ(x->dc, "dc2");
  EXPECT_EQ(x->since, failed_at);
  ASSERT_EQ(x->entries.size(), 2u);
  EXPECT_FALSE(x->entries[0].healthy);
  EXPECT_FALSE(x->entries[0].serving);
  EXPECT_EQ(x->entries[0].why.rfind("DC dc1 is noAccess", 0), 0u) << x->entries[0].why;
  // The failed target check, with its cause and time.
  const std::string target = health::target_id("dc1", Dimension::kAccess, 0);
  auto failed = std::find_if(x->entries[0].checks.begin(), x->entries[0].checks.end(),
                             [&](const CheckWhy& w) { return w.id == target; });
  ASSERT_NE(failed, x->entries[0].checks.end());
  EXPECT_EQ(failed->state, health::State::kDown);
  EXPECT_EQ(failed->since, failed_at);
  EXPECT_NE(failed->reason.find("refused"), std::string::npos) << failed->reason;
  EXPECT_TRUE(x->entries[1].serving);
  EXPECT_TRUE(x->entries[1].checks.empty());

  EXPECT_FALSE(e.explain("nope.example.com./A", 0, health_));
  EXPECT_FALSE(e.explain("www.example.com./A", 5, health_));
}

TEST_F(GtmEngineTest, ExplainShowsMaintenanceWithWhoAndUntil) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  auto m = health_.set_maintenance("dc1", true, now_, now_ + std::chrono::hours(2), "alice", "kernel upgrade");
  e.on_health(*m, health_);
  auto x = e.explain("www.example.com./A", 0, health_);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->dc, "dc2");
  EXPECT_EQ(x->entries[0].why, "DC dc1 is in maintenance (set by alice) until " + rfc3339(now_ + std::chrono::hours(2)) +
                                   ": kernel upgrade");
}

TEST_F(GtmEngineTest, ExplainShowsTheUnmetScenarioTermAndAnOnlyNewHold) {
  GtmConfig c;
  ScenarioSpec s{"dc1-web", {{Term{health::target_id("dc1", Dimension::kAccess, 0), false}}}};
  c.scenarios[s.name] = s;
  GtmRecord r = www(BackupBehavior::kOnlyNew);
  r.stale_after = Millis(10'000);
  r.chain[0].scenario = "dc1-web";
  c.records = {r};
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  auto x = e.explain("www.example.com./A", 0, health_);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->entries[0].why.rfind("scenario dc1-web is false: " + health::target_id("dc1", Dimension::kAccess, 0) +
                                        " is down since ",
                                    0),
            0u)
      << x->entries[0].why;
  now_ += seconds(60);  // a long outage
  set("dc1", true);
  x = e.explain("www.example.com./A", 0, health_);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->dc, "dc2");
  EXPECT_TRUE(x->entries[0].held);
  EXPECT_TRUE(x->entries[0].healthy);
  EXPECT_EQ(x->entries[0].why.rfind("held after an outage longer than staleAfter", 0), 0u) << x->entries[0].why;
}

TEST(RecordRto, IsTheSlowestDetectionPlusDebouncePlusTtl) {
  health::HealthConfig hc = two_dcs();
  // dc2's target is slower to declare down: 10 s × 3 + 2 s.
  auto& slow = hc.checks[health::target_id("dc2", Dimension::kAccess, 0)];
  slow.interval = Millis(10'000);
  slow.timeout = Millis(2'000);
  slow.thresholds = {2, 3};
  health::HealthState h;
  h.configure(hc, SystemTime{});
  GtmRecord r = www();
  r.ttl = 30;
  const Rto rto = record_rto(r, h, {}, Millis(3'000));
  EXPECT_EQ(rto.detection, Millis(32'000));
  EXPECT_EQ(rto.slowest_check, health::target_id("dc2", Dimension::kAccess, 0));
  EXPECT_EQ(rto.total(), Millis(32'000 + 3'000 + 30'000));

  // A scenario entry counts the checks of its terms, an unknown ID nothing.
  std::map<std::string, ScenarioSpec> scenarios;
  scenarios["s"] = ScenarioSpec{"s", {{Term{"nope", false}}}};
  GtmRecord only_scenario = www();
  only_scenario.chain.resize(1);
  only_scenario.chain[0].scenario = "s";
  EXPECT_EQ(record_rto(only_scenario, h, scenarios, Millis(0)).detection, Millis(0));
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

TEST_F(GtmEngineTest, RestartKeepsTheOnlyNewHold) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.records[0].stale_after = seconds(300);
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  ASSERT_EQ(last(), 1u);  // dc1 held, dc2 serving

  restart(/*with_state=*/true);
  EXPECT_EQ(engine_->restored_records(), 1u);
  EXPECT_EQ(initial_->get(0, 0), 1u);  // still dc2: no flap back to the held dc1
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(last(), 1u);
  EXPECT_TRUE(audit_.empty());
  EXPECT_TRUE(engine_->resume("www.example.com./A", "dc1"));
  EXPECT_EQ(last(), 0u);
}

TEST_F(GtmEngineTest, RestartWithoutStateForgetsTheHold) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.records[0].stale_after = seconds(300);
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  ASSERT_EQ(last(), 1u);
  restart(/*with_state=*/false);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(last(), 0u);  // what state persistence is for: this is the flap it prevents
}

TEST_F(GtmEngineTest, RestoredHoldIsReleasedWhenTheServerFails) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.records[0].stale_after = seconds(300);
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  restart(/*with_state=*/true);
  set("dc2", false);
  EXPECT_EQ(last(), 0u);
}

TEST_F(GtmEngineTest, RestoredScenarioValueIsTheStuckStateStartingPoint) {
  GtmConfig c;
  GtmRecord r = www();
  r.chain[1].scenario = "dc2-serving";
  c.scenarios["dc2-serving"] = ScenarioSpec{"dc2-serving", {{Term{"auto|dc2|access", false}}}};
  c.records = {r};
  c.debounce = Millis(0);
  make(c);
  set("dc1", false);
  set("dc2", true);
  ASSERT_EQ(last(), 1u);
  const SavedGtm saved = engine_->save();
  ASSERT_EQ(saved.scenarios.size(), 1u);
  EXPECT_EQ(saved.scenarios[0].formula, "auto|dc2|access");
  EXPECT_TRUE(saved.scenarios[0].value);

  // Only the GTM side comes back (the checks are unknown): the saved values still decide.
  SavedGtm g = saved;
  health_ = health::HealthState{};
  health_.configure(two_dcs(), now_);
  engine_ = std::make_unique<GtmEngine>(&loop_, [](std::unique_ptr<const dns::DynamicChoices>&&) {}, [this] { return now_; });
  engine_->restore(std::move(g));
  EXPECT_EQ(engine_->apply(config_, 1, health_)->get(0, 0), 1u);

  // A changed formula is about something else: its saved value is dropped.
  config_.scenarios["dc2-serving"].groups[0][0].negated = true;
  g = saved;
  engine_ = std::make_unique<GtmEngine>(&loop_, [](std::unique_ptr<const dns::DynamicChoices>&&) {}, [this] { return now_; });
  engine_->restore(std::move(g));
  const auto choices = engine_->apply(config_, 1, health_);
  EXPECT_EQ(engine_->save().scenarios.size(), 0u);
  // dc1 comes back known down, dc2's scenario has no value any more: selection does not move
  // past dc2 before it reports, and keeps what was serving before the restart.
  EXPECT_EQ(engine_->view()[0].regions[0].selection.source, Source::kChain);
  EXPECT_EQ(engine_->view()[0].regions[0].selection.reason,
            "serving before the restart; waiting for the first health results of dc2");
  EXPECT_EQ(choices->get(0, 0), 1u);
}

TEST_F(GtmEngineTest, RestoreSkipsARecordWhoseChainChanged) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  config_.records[0].chain = {config_.records[0].chain[1], config_.records[0].chain[0]};
  restart(/*with_state=*/true);
  EXPECT_EQ(engine_->restored_records(), 0u);
}

TEST_F(GtmEngineTest, RestoreMatchesRegionsByName) {
  GtmConfig c;
  GtmRecord r = www();
  r.geo["us"] = {"dc2", "dc1"};
  c.regions = {RegionSpec{"us", {}}};
  c.records = {r};
  c.debounce = Millis(0);
  make(c, 2);
  set("dc1", true);
  set("dc2", true);
  ASSERT_EQ(last(0, 1), 1u);
  const SavedGtm saved = engine_->save();
  ASSERT_EQ(saved.records.size(), 1u);
  ASSERT_EQ(saved.records[0].regions.size(), 2u);
  EXPECT_EQ(saved.records[0].regions[1].region, "us");
  EXPECT_EQ(saved.records[0].regions[1].memory.serving, 1);
  restart(/*with_state=*/true, 2);
  EXPECT_EQ(initial_->get(0, 1), 1u);
}

}  // namespace
}  // namespace pharos::scenario

namespace pharos::scenario {
namespace {

TEST_F(GtmEngineTest, RecordsWithoutGeoAreDecidedOnceForEveryRegion) {
  GtmConfig c;
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  c.records = {www()};
  c.debounce = Millis(0);
  make(c, 3);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  for (std::size_t reg = 0; reg < 3; ++reg) EXPECT_EQ(last(0, reg), 1u) << reg;
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 0 (dc1)->entry 1 (dc2)"}));  // one line, not three
}

}  // namespace
}  // namespace pharos::scenario

namespace pharos::scenario {
namespace {

TEST_F(GtmEngineTest, StartupNeverMovesPastAnEntryWithoutAResult) {
  GtmConfig c;
  c.records = {www(BackupBehavior::kOnlyNew)};
  c.records[0].stale_after = seconds(1);
  c.debounce = Millis(0);
  make(c);
  set("dc2", true);            // dc2 reports first: dc1 is still unknown
  EXPECT_EQ(last(), 0u);
  EXPECT_TRUE(audit_.empty());
  now_ += seconds(10);         // longer than staleAfter, but unknown is not an outage
  set("dc1", true);
  EXPECT_EQ(last(), 0u);
  EXPECT_TRUE(audit_.empty());
  EXPECT_EQ(engine_->view()[0].regions[0].selection.reason, "entry 0 (dc1) is the first healthy entry");
}

TEST_F(GtmEngineTest, StartupAnswersTheFirstEntryNotKnownToBeDown) {
  GtmConfig c;
  c.records = {www()};
  c.debounce = Millis(0);
  make(c);
  set("dc1", false);           // dc1 known down, dc2 unknown: answer dc2, not a down dc1
  EXPECT_EQ(last(), 1u);
  set("dc2", false);
  EXPECT_EQ(engine_->view()[0].regions[0].selection.source, Source::kFailOpen);
}

// The dirty set: a verdict re-selects exactly the records that depend on it (through a chain
// entry's scenario, a drCond or a chain DC), in one round, and moves only the answers it must.
TEST_F(GtmEngineTest, AVerdictReselectsExactlyTheRecordsThatDependOnIt) {
  health_.configure(two_dcs_and_user_checks(), now_);
  GtmConfig c;
  c.scenarios["s1"] = ScenarioSpec{"s1", {{Term{"u1", false}}}};
  c.scenarios["s2"] = ScenarioSpec{"s2", {{Term{"u2", false}}}};
  std::size_t first_entry = 0, dr_only = 0;
  for (int i = 0; i < 200; ++i) {
    GtmRecord r = www();
    r.name = "r" + std::to_string(i) + ".example.com.";
    if (i % 3 == 0) {
      r.chain[0].scenario = "s1";  // answer moves with s1
      ++first_entry;
    } else if (i % 5 == 0) {
      r.dr = DrSpec{{"203.0.113.1"}, "s1", false};  // depends on s1, answer does not move
      ++dr_only;
    }
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  now_ += seconds(1);
  e.on_health(health_.record("u1", health::ProbeResult{true, "", {}}, now_), health_);
  now_ += seconds(1);
  e.on_health(health_.record("u2", health::ProbeResult{true, "", {}}, now_), health_);
  for (std::size_t i = 0; i < 200; ++i) ASSERT_EQ(last(i), 0u) << i;

  audit_.clear();
  rounds_ = 0;
  const std::uint64_t before = e.record_selections(), publishes = e.publishes();
  now_ += seconds(1);
  e.on_health(health_.record("u1", health::ProbeResult{false, "refused", {}}, now_), health_);
  EXPECT_EQ(e.record_selections() - before, first_entry + dr_only);
  EXPECT_EQ(e.publishes(), publishes + 1);
  EXPECT_EQ(rounds_, 1);
  EXPECT_EQ(audit_.size(), first_entry);
  for (std::size_t i = 0; i < 200; ++i) EXPECT_EQ(last(i), i % 3 == 0 ? 1u : 0u) << i;
  EXPECT_FALSE(e.pending());

  // s2 is used by no record: nothing is selected, nothing published.
  const std::uint64_t quiet = e.record_selections();
  now_ += seconds(1);
  e.on_health(health_.record("u2", health::ProbeResult{false, "refused", {}}, now_), health_);
  EXPECT_EQ(e.record_selections(), quiet);
  EXPECT_EQ(e.publishes(), publishes + 1);

  // A DC every record uses: every record, once.
  const std::uint64_t dc = e.record_selections();
  set("dc2", false);
  EXPECT_EQ(e.record_selections() - dc, 200u);
}

// Records with a geo order are decided in every region, records without one once for all regions:
// one audit entry (region "") for those, one per region that moved for the others.
TEST_F(GtmEngineTest, GeoRecordsAreDecidedPerRegionOthersOnceForAll) {
  GtmConfig c;
  GtmRecord geo = www();
  geo.name = "geo.example.com.";
  geo.geo["eu"] = {"dc1", "dc2"};
  geo.geo["us"] = {"dc2", "dc1"};
  GtmRecord plain = www();
  plain.name = "plain.example.com.";
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  c.records = {geo, plain};
  c.debounce = Millis(0);
  GtmEngine& e = make(c, 3);
  set("dc1", true);
  set("dc2", true);
  audit_.clear();
  set("dc1", false);
  // Grouped: the two records in no region, then the geo record in eu.
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 0 (dc1)->entry 1 (dc2)", ":entry 0 (dc1)->entry 1 (dc2)",
                                              "eu:entry 0 (dc1)->entry 1 (dc2)"}));
  for (std::size_t region = 0; region < 3; ++region) {
    EXPECT_EQ(last(0, region), 1u) << region;
    EXPECT_EQ(last(1, region), 1u) << region;
  }
  const auto x = e.explain("plain.example.com./A", 2, health_);
  ASSERT_TRUE(x);
  EXPECT_EQ(x->region, "us");
  EXPECT_EQ(x->selection.reason, "entry 1 (dc2) is the first healthy entry");
  set("dc1", true);
  EXPECT_EQ(last(0, 2), 1u);  // us still prefers dc2
  EXPECT_EQ(last(1, 2), 0u);
}

// The audit texts are cached per DC and entry; they must be the same as the selection's own.
TEST_F(GtmEngineTest, AuditTextsEqualTheSelectionsTexts) {
  GtmConfig c;
  c.records = {www(), www()};
  c.records[1].name = "other.example.com.";
  c.records[1].all_down = AllDownPolicy::kServFail;
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  std::vector<std::string> reasons;
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) {
    for (const AnswerChange& ch : *round) {
      reasons.push_back(std::string(ch.record) + " " + std::string(ch.from) + " -> " + std::string(ch.to) + ": " +
                        ch.full_reason());
    }
  });
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  set("dc2", false);
  set("dc1", true);
  EXPECT_EQ(reasons, (std::vector<std::string>{
                         "www.example.com./A entry 0 (dc1) -> entry 1 (dc2): entry 1 (dc2) is the first healthy entry (health change)",
                         "other.example.com./A entry 0 (dc1) -> entry 1 (dc2): entry 1 (dc2) is the first healthy entry (health change)",
                         "www.example.com./A entry 1 (dc2) -> failOpen entry 0 (dc1): every entry is down: failOpen serves entry 0 (dc1) (health change)",
                         "other.example.com./A entry 1 (dc2) -> servfail: every entry is down: servfail (health change)",
                         "other.example.com./A servfail -> entry 0 (dc1): entry 0 (dc1) is the first healthy entry (health change)",
                     }));
  // www stayed on alternative 0 (failOpen entry 0, then entry 0): no change to report.
  EXPECT_EQ(e.view()[0].regions[0].selection.reason, "entry 0 (dc1) is the first healthy entry");
}


// A round the audit callback keeps (as the log writer and the journal do) stays as it was while
// later rounds run and after a reload renames everything; a round nobody keeps is reused.
TEST_F(GtmEngineTest, AKeptAuditRoundOutlivesLaterRoundsAndAReload) {
  GtmConfig c;
  GtmRecord r = www();
  r.geo["us"] = {"dc2", "dc1"};
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  c.records = {r, www()};
  c.records[1].name = "other.example.com.";
  c.debounce = Millis(0);
  GtmEngine& e = make(c, 3);
  set("dc1", true);
  set("dc2", true);
  auto texts = [](const AnswerRound& round) {
    std::vector<std::string> out;
    for (const AnswerChange& ch : round)
      out.push_back(std::string(ch.record) + "@" + std::string(ch.region) + " " + std::string(ch.from) + " -> " +
                    std::string(ch.to) + ": " + ch.full_reason());
    return out;
  };
  std::vector<std::shared_ptr<const AnswerRound>> kept;
  std::vector<std::vector<std::string>> seen;  // each kept round's texts when it was handed over
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) {
    kept.push_back(round);
    seen.push_back(texts(*round));
  });
  set("dc1", false);
  set("dc1", true);
  set("dc2", false);
  ASSERT_EQ(kept.size(), 3u);
  // In groups: the two records that moved alike in no region, then www in eu.
  EXPECT_EQ(seen[0], (std::vector<std::string>{
                         "www.example.com./A@ entry 0 (dc1) -> entry 1 (dc2): entry 1 (dc2) is the first healthy entry (health change)",
                         "other.example.com./A@ entry 0 (dc1) -> entry 1 (dc2): entry 1 (dc2) is the first healthy entry (health change)",
                         "www.example.com./A@eu entry 0 (dc1) -> entry 1 (dc2): entry 1 (dc2) is the first healthy entry (health change)",
                     }));
  ASSERT_EQ(kept[0]->groups().size(), 2u);
  EXPECT_EQ(kept[0]->groups()[0].begin, 0u);
  EXPECT_EQ(kept[0]->groups()[0].end, 2u);
  EXPECT_EQ(kept[0]->groups()[1].end, 3u);
  EXPECT_EQ(seen[2], (std::vector<std::string>{
                         "www.example.com./A@us entry 1 (dc2) -> entry 0 (dc1): entry 0 (dc1) is the first healthy entry (health change)",
                     }));
  // A reload with other names: the kept rounds still name the old records.
  GtmConfig renamed = c;
  renamed.records[0].name = "new.example.com.";
  renamed.records[1].name = "new2.example.com.";
  e.apply(renamed, 3, health_);
  set("dc2", true);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(texts(*kept[i]), seen[i]) << i;
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(texts(*kept[3]).front().substr(0, 20), "new.example.com./A@u");

  // Rounds nobody holds any more are reused (their memory with them).
  std::vector<const AnswerRound*> addresses;
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) { addresses.push_back(round.get()); });
  kept.clear();
  for (int i = 0; i < 6; ++i) set("dc1", i % 2 == 1);
  ASSERT_EQ(addresses.size(), 6u);
  EXPECT_EQ(std::set<const AnswerRound*>(addresses.begin(), addresses.end()).size(), 1u);
}

// 30 records in 3 regions (us orders the chain dc2, dc1): dc1 fails and 60 answers move, record
// by record and region by region, but the round hands them over in two groups (no region, eu),
// each in record order; us did not move. Then a round with one group, in a reused round.
TEST_F(GtmEngineTest, ARoundsChangesComeInGroupsInRecordOrder) {
  GtmConfig c;
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  for (int i = 0; i < 30; ++i) {
    GtmRecord r = www();
    r.name = "r" + std::to_string(i) + ".example.com.";
    r.geo["us"] = {"dc2", "dc1"};
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  GtmEngine& e = make(c, 3);
  set("dc1", true);
  set("dc2", true);
  std::vector<std::shared_ptr<const AnswerRound>> rounds;
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) { rounds.push_back(round); });
  set("dc1", false);
  ASSERT_EQ(rounds.size(), 1u);
  const AnswerRound& round = *rounds[0];
  ASSERT_EQ(round.size(), 60u);
  ASSERT_EQ(round.groups().size(), 2u);
  for (std::size_t g = 0; g < 2; ++g) {
    const AnswerRound::Group group = round.groups()[g];
    ASSERT_EQ(group.begin, g * 30);
    ASSERT_EQ(group.size(), 30u);
    for (std::uint32_t i = group.begin; i < group.end; ++i) {
      const AnswerChange ch = round[i];
      EXPECT_EQ(ch.record, "r" + std::to_string(i - group.begin) + ".example.com./A") << i;
      EXPECT_EQ(ch.region, g == 0 ? "" : "eu") << i;
      EXPECT_EQ(ch.to, "entry 1 (dc2)") << i;
    }
  }
  rounds.clear();  // released: the next round reuses it
  const AnswerRound* reused = &round;
  set("dc2", false);  // us moves now, from dc2 to dc1 (none healthy: failOpen keeps the first)
  set("dc1", true);
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].get(), reused);
  for (const auto& r : rounds) {
    std::size_t covered = 0;
    for (const AnswerRound::Group& group : r->groups()) {
      EXPECT_EQ(group.begin, covered);
      covered = group.end;
      for (std::uint32_t i = group.begin + 1; i < group.end; ++i) {
        EXPECT_EQ((*r)[i].region, (*r)[group.begin].region);
        EXPECT_EQ((*r)[i].to, (*r)[group.begin].to);
        EXPECT_LT((*r)[i - 1].record.size() * 1000 + std::stoi(std::string((*r)[i - 1].record.substr(1))),
                  (*r)[i].record.size() * 1000 + std::stoi(std::string((*r)[i].record.substr(1))));
      }
    }
    EXPECT_EQ(covered, r->size());
  }
}

// Records of two shapes (the second half has fallback records) decide in two units, but moving
// between the same DCs for the same reason they say the same: one group of all 40, in record order.
TEST_F(GtmEngineTest, UnitsThatSayTheSameShareAGroup) {
  GtmConfig c;
  for (int i = 0; i < 40; ++i) {
    GtmRecord r = www();
    r.name = "r" + std::to_string(i) + ".example.com.";
    if (i >= 20) r.fallback = {"203.0.113.9"};
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(e.units(), 2u);
  std::vector<std::shared_ptr<const AnswerRound>> rounds;
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) { rounds.push_back(round); });
  set("dc1", false);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]->groups().size(), 1u);
  ASSERT_EQ(rounds[0]->groups()[0].size(), 40u);
  EXPECT_EQ((*rounds[0])[20].record, "r20.example.com./A");
  EXPECT_EQ((*rounds[0])[39].reason, (*rounds[0])[0].reason);
  // dc2 fails too: the first half has nothing left but failOpen, the second its fallback records.
  set("dc2", false);
  ASSERT_EQ(rounds.size(), 2u);
  ASSERT_EQ(rounds[1]->groups().size(), 2u);
  EXPECT_EQ(rounds[1]->groups()[0].size(), 20u);
  EXPECT_EQ((*rounds[1])[20].to, "fallback");
}

// A copied round groups changes by what they say, wherever they are: 600 changes in 300 regions
// with 300 reasons (more texts x regions than a flat table takes) are 300 groups of 2.
TEST(AnswerRound, ACopiedRoundGroupsChangesThatSayTheSameWhereverTheyAre) {
  const SystemTime at = SystemTime{} + std::chrono::hours(490'000);
  std::vector<std::string> records, regions, reasons;
  for (int i = 0; i < 600; ++i) records.push_back("r" + std::to_string(i) + ".example.com./A");
  for (int i = 0; i < 300; ++i) {
    regions.push_back("region" + std::to_string(i));
    reasons.push_back("reason " + std::to_string(i));
  }
  std::vector<AnswerChange> changes;
  for (std::size_t i = 0; i < 600; ++i)
    changes.push_back({records[i], regions[i % 300], "entry 0 (dc1)", "entry 1 (dc2)", reasons[i % 300], "health change", at});
  const auto round = AnswerRound::copy_of(changes);
  ASSERT_EQ(round->size(), 600u);
  ASSERT_EQ(round->groups().size(), 300u);
  for (std::uint32_t g = 0; g < 300; ++g) {
    const AnswerRound::Group group = round->groups()[g];
    ASSERT_EQ(group.begin, 2 * g);
    ASSERT_EQ(group.size(), 2u);
    EXPECT_EQ((*round)[group.begin].record, records[g]);
    EXPECT_EQ((*round)[group.begin + 1].record, records[g + 300]);
    EXPECT_EQ((*round)[group.begin + 1].region, regions[g]);
    EXPECT_EQ((*round)[group.begin + 1].reason, reasons[g]);
  }
  // The same at another time is another group.
  changes[300].at = at + std::chrono::milliseconds(1);
  EXPECT_EQ(AnswerRound::copy_of(changes)->groups().size(), 301u);
}

// Records of one shape decide once per round; a record an operator resumes gets a state of its own
// and answers apart from the others from then on.
TEST_F(GtmEngineTest, RecordsOfOneShapeShareADecisionUntilOneIsResumed) {
  GtmConfig c;
  for (const char* name : {"r0.example.com.", "r1.example.com.", "r2.example.com."}) {
    GtmRecord r = www(BackupBehavior::kOnlyNew);
    r.name = name;
    r.stale_after = seconds(300);
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(e.units(), 1u);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_EQ(last(i), 1u) << i;  // dc1 held everywhere

  audit_.clear();
  ASSERT_TRUE(e.resume("r1.example.com./A", "dc1"));
  EXPECT_EQ(e.units(), 2u);
  EXPECT_EQ(last(0), 1u);
  EXPECT_EQ(last(1), 0u);
  EXPECT_EQ(last(2), 1u);
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 1 (dc2)->entry 0 (dc1)"}));
  EXPECT_EQ(e.explain("r0.example.com./A", 0, health_)->selection.reason,
            "entry 1 (dc2) is serving; entry 0 (dc1) is held (onlyNew) until an operator resumes it");
  EXPECT_EQ(e.explain("r1.example.com./A", 0, health_)->selection.reason, "entry 0 (dc1) is the first healthy entry");
  EXPECT_FALSE(e.resume("r1.example.com./A", "dc1"));  // nothing held any more

  // The server of the held records fails: they take dc1; r1 is there already.
  audit_.clear();
  set("dc2", false);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(last(i), 0u) << i;
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 1 (dc2)->entry 0 (dc1)", ":entry 1 (dc2)->entry 0 (dc1)"}));
  set("dc2", true);
  audit_.clear();
  set("dc1", false);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(last(i), 1u) << i;
  EXPECT_EQ(audit_.size(), 3u);
}

// One group's verdict moves only that group; the audit lists its records in record order.
TEST_F(GtmEngineTest, AChangeInOneGroupLeavesTheOtherGroupsIntact) {
  health_.configure(two_dcs_and_user_checks(), now_);
  GtmConfig c;
  c.scenarios["s1"] = ScenarioSpec{"s1", {{Term{"u1", false}}}};
  c.scenarios["s2"] = ScenarioSpec{"s2", {{Term{"u2", false}}}};
  for (int i = 0; i < 6; ++i) {
    GtmRecord r = www();
    r.name = "r" + std::to_string(i) + ".example.com.";
    r.chain[0].scenario = i % 2 == 0 ? "s1" : "s2";
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  GtmEngine& e = make(c);
  set("dc1", true);
  set("dc2", true);
  std::vector<std::string> records;
  e.on_audit([&](const std::shared_ptr<const AnswerRound>& round) {
    for (const AnswerChange& ch : *round) records.push_back(std::string(ch.record) + " " + std::string(ch.to));
  });
  now_ += seconds(1);
  e.on_health(health_.record("u1", health::ProbeResult{true, "", {}}, now_), health_);
  now_ += seconds(1);
  e.on_health(health_.record("u2", health::ProbeResult{true, "", {}}, now_), health_);
  for (std::size_t i = 0; i < 6; ++i) ASSERT_EQ(last(i), 0u) << i;
  EXPECT_EQ(e.units(), 2u);

  records.clear();
  now_ += seconds(1);
  e.on_health(health_.record("u1", health::ProbeResult{false, "refused", {}}, now_), health_);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(last(i), i % 2 == 0 ? 1u : 0u) << i;
  EXPECT_EQ(records, (std::vector<std::string>{"r0.example.com./A entry 1 (dc2)", "r2.example.com./A entry 1 (dc2)",
                                               "r4.example.com./A entry 1 (dc2)"}));
  records.clear();
  now_ += seconds(1);
  e.on_health(health_.record("u2", health::ProbeResult{false, "refused", {}}, now_), health_);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(last(i), 1u) << i;
  EXPECT_EQ(records.size(), 3u);
  records.clear();
  now_ += seconds(1);
  e.on_health(health_.record("u1", health::ProbeResult{true, "", {}}, now_), health_);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(last(i), i % 2 == 0 ? 0u : 1u) << i;
  EXPECT_EQ(records.size(), 3u);
}

// Regions whose order is the same decide together, across records (one decision for the chain's
// order, one for the reversed order here), and each region's change is still reported apart.
TEST_F(GtmEngineTest, RegionsWithTheSameOrderShareADecision) {
  GtmConfig c;
  for (const char* name : {"g0.example.com.", "g1.example.com."}) {
    GtmRecord geo = www();
    geo.name = name;
    geo.geo["eu"] = {"dc1", "dc2"};
    geo.geo["us"] = {"dc2", "dc1"};
    c.records.push_back(geo);
  }
  GtmRecord plain = www();
  plain.name = "plain.example.com.";
  c.records.push_back(plain);
  c.regions = {RegionSpec{"eu", {}}, RegionSpec{"us", {}}};
  c.debounce = Millis(0);
  GtmEngine& e = make(c, 3);
  set("dc1", true);
  set("dc2", true);
  // The chain's order, the reversed one, and the never-decided regions of the plain record.
  EXPECT_EQ(e.units(), 3u);
  audit_.clear();
  set("dc1", false);
  // Grouped by region: the three records in no region, then the two geo records in eu.
  EXPECT_EQ(audit_, (std::vector<std::string>{":entry 0 (dc1)->entry 1 (dc2)", ":entry 0 (dc1)->entry 1 (dc2)",
                                              ":entry 0 (dc1)->entry 1 (dc2)", "eu:entry 0 (dc1)->entry 1 (dc2)",
                                              "eu:entry 0 (dc1)->entry 1 (dc2)"}));
  set("dc1", true);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(last(i, 0), 0u) << i;
    EXPECT_EQ(last(i, 1), 0u) << i;
    EXPECT_EQ(last(i, 2), i < 2 ? 1u : 0u) << i;
  }
}

// Saved memory differs per record (one was resumed): after a restart each answers from its own.
TEST_F(GtmEngineTest, RestartRestoresEachRecordsOwnState) {
  GtmConfig c;
  for (const char* name : {"r0.example.com.", "r1.example.com."}) {
    GtmRecord r = www(BackupBehavior::kOnlyNew);
    r.name = name;
    r.stale_after = seconds(300);
    c.records.push_back(r);
  }
  c.debounce = Millis(0);
  make(c);
  set("dc1", true);
  set("dc2", true);
  set("dc1", false);
  now_ += seconds(600);
  set("dc1", true);
  ASSERT_TRUE(engine_->resume("r1.example.com./A", "dc1"));
  ASSERT_EQ(last(0), 1u);
  ASSERT_EQ(last(1), 0u);

  restart(/*with_state=*/true);
  EXPECT_EQ(engine_->restored_records(), 2u);
  EXPECT_EQ(engine_->units(), 2u);
  set("dc1", true);
  set("dc2", true);
  EXPECT_EQ(last(0), 1u);  // still held: dc2 keeps serving
  EXPECT_EQ(last(1), 0u);
  EXPECT_TRUE(audit_.empty());
}
}  // namespace
}  // namespace pharos::scenario
