// health_state_test.cc: the verdict table on a fake clock: thresholds per check, forced state,
// DC dimensions with minUp, DC status, reload keeping state, and save/restore across a restart.
#include "health/health_state.h"

#include <gtest/gtest.h>

namespace pharos::health {
namespace {

const SystemTime kT0 = SystemTime{} + std::chrono::hours(1000);

CheckSpec tcp(std::uint16_t port, Thresholds th = {1, 1}) {
  CheckSpec s;
  s.type = CheckType::kTcp;
  s.params = TcpParams{"127.0.0.1", port, "", ""};
  s.thresholds = th;
  return s;
}

ProbeResult up() { return ProbeResult{true, "", {}}; }
ProbeResult down(const char* why = "connection refused") { return ProbeResult{false, why, {}}; }

// dc1: wanAccess with two targets (minUp 1), access with one.
HealthConfig two_wan_targets() {
  HealthConfig c;
  DcSpec dc;
  dc.name = "dc1";
  for (int i = 0; i < 2; ++i) {
    const auto id = target_id("dc1", Dimension::kWanAccess, static_cast<std::size_t>(i));
    dc.dimensions[index(Dimension::kWanAccess)].targets.push_back(id);
    c.checks[id] = tcp(static_cast<std::uint16_t>(8081 + i));
  }
  const auto access = target_id("dc1", Dimension::kAccess, 0);
  dc.dimensions[index(Dimension::kAccess)].targets.push_back(access);
  c.checks[access] = tcp(8083);
  c.datacenters.push_back(dc);
  return c;
}

TEST(HealthState, UnknownUntilResultsThenOk) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kUnknown);
  EXPECT_EQ(s.effective("auto|dc1|wanAccess"), State::kUnknown);
  s.record("auto|dc1|wanAccess|0", up(), kT0);
  EXPECT_EQ(s.effective("auto|dc1|wanAccess"), State::kUp);  // one of two is enough (minUp 1)
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kUnknown);  // access still unknown
  const Changes c = s.record("auto|dc1|access|0", up(), kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  ASSERT_EQ(c.datacenters.size(), 1u);
  EXPECT_EQ(c.datacenters[0].from, DcStatus::kUnknown);
  EXPECT_EQ(c.datacenters[0].to, DcStatus::kOk);
}

TEST(HealthState, WanStaysUpWithOneOfTwoAndGoesNoWanWhenBothFail) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, up(), kT0);
  ASSERT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  Changes c = s.record("auto|dc1|wanAccess|0", down(), kT0 + std::chrono::seconds(1));
  EXPECT_EQ(s.effective("auto|dc1|wanAccess"), State::kUp);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  EXPECT_TRUE(c.datacenters.empty());
  c = s.record("auto|dc1|wanAccess|1", down("timeout after 1000 ms"), kT0 + std::chrono::seconds(2));
  EXPECT_EQ(s.effective("auto|dc1|wanAccess"), State::kDown);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoWan);
  ASSERT_EQ(c.datacenters.size(), 1u);
  EXPECT_NE(c.datacenters[0].reason.find("0 of 2 targets up"), std::string::npos) << c.datacenters[0].reason;
  EXPECT_NE(c.datacenters[0].reason.find("timeout after 1000 ms"), std::string::npos) << c.datacenters[0].reason;
  EXPECT_EQ(s.datacenter("dc1")->since, kT0 + std::chrono::seconds(2));
}

TEST(HealthState, FirstFailingDimensionNamesTheStatus) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, down(), kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoAccess);  // access is checked before wan
}

TEST(HealthState, ThresholdsAppliedPerCheck) {
  HealthConfig c;
  c.checks["web1"] = tcp(80, {2, 3});
  HealthState s;
  s.configure(c, kT0);
  s.record("web1", up(), kT0);
  EXPECT_EQ(s.effective("web1"), State::kUp);
  s.record("web1", down(), kT0);
  s.record("web1", down(), kT0);
  EXPECT_EQ(s.effective("web1"), State::kUp);
  const Changes ch = s.record("web1", down("HTTP 500"), kT0);
  EXPECT_EQ(s.effective("web1"), State::kDown);
  ASSERT_EQ(ch.checks.size(), 1u);
  EXPECT_EQ(ch.checks[0].reason, "3 consecutive failures: HTTP 500");
  EXPECT_EQ(s.check("web1")->probes, 4u);
  EXPECT_EQ(s.check("web1")->failures, 3u);
  EXPECT_EQ(s.check("web1")->recent.back().reason, "HTTP 500");
}

TEST(HealthState, ForcedStateSitsAboveMeasuredAndIsKeptApart) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, up(), kT0);
  auto c = s.force("auto|dc1|access|0", State::kDown, kT0);
  ASSERT_TRUE(c);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoAccess);
  EXPECT_EQ(s.check("auto|dc1|access|0")->measured.state, State::kUp);
  // A real transition under a force is reported as hidden, and changes nothing downstream.
  const Changes hidden = s.record("auto|dc1|access|0", down(), kT0);
  ASSERT_EQ(hidden.checks.size(), 1u);
  EXPECT_TRUE(hidden.checks[0].hidden_by_force);
  EXPECT_TRUE(hidden.datacenters.empty());
  s.record("auto|dc1|access|0", up(), kT0);
  c = s.force("auto|dc1|access|0", std::nullopt, kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  EXPECT_FALSE(s.force("no-such-check", State::kUp, kT0));
}

TEST(HealthState, ForcingAnAutomaticDimensionMovesTheDc) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, up(), kT0);
  s.force("auto|dc1|lanAccess", State::kDown, kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoLan);
}

TEST(HealthState, MaintenanceOverridesHealthAndHasItsOwnCheckId) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, up(), kT0);
  const auto c = s.set_maintenance("dc1", true, kT0);
  ASSERT_TRUE(c);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kMaintenance);
  EXPECT_EQ(s.effective("auto|dc1|maintenanceMode"), State::kUp);
  s.set_maintenance("dc1", false, kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  EXPECT_FALSE(s.set_maintenance("dc9", true, kT0));
}

TEST(HealthState, MaintenanceWithExpiryEndsByItselfAndSaysWhoAndWhy) {
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) s.record(id, up(), kT0);
  const auto until = kT0 + std::chrono::hours(2);
  const auto on = s.set_maintenance("dc1", true, kT0, until, "alice", "kernel upgrade");
  ASSERT_TRUE(on);
  ASSERT_FALSE(on->datacenters.empty());
  EXPECT_EQ(on->datacenters.back().reason, "maintenance mode on by alice (kernel upgrade)");
  EXPECT_EQ(s.datacenter("dc1")->maintenance_by, "alice");
  EXPECT_EQ(s.next_maintenance_expiry(), until);

  EXPECT_TRUE(s.expire_maintenance(until - std::chrono::seconds(1)).empty());
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kMaintenance);

  const Changes off = s.expire_maintenance(until);
  ASSERT_EQ(off.datacenters.size(), 1u);
  EXPECT_EQ(off.datacenters[0].to, DcStatus::kOk);
  EXPECT_EQ(off.datacenters[0].reason, "maintenance mode expired");
  EXPECT_EQ(s.effective("auto|dc1|maintenanceMode"), State::kDown);
  EXPECT_FALSE(s.datacenter("dc1")->maintenance_until);
  EXPECT_EQ(s.datacenter("dc1")->maintenance_by, "");
  EXPECT_FALSE(s.next_maintenance_expiry());
  EXPECT_TRUE(s.expire_maintenance(until + std::chrono::hours(1)).empty());
}

TEST(HealthState, ExpiredOperatorMaintenanceFallsBackToTheFilesSetting) {
  HealthConfig c = two_wan_targets();
  c.datacenters[0].maintenance = true;
  HealthState s;
  s.configure(c, kT0);
  // The operator lifts the file's maintenance for an hour, e.g. to test the DC.
  s.set_maintenance("dc1", false, kT0, kT0 + std::chrono::hours(1), "bob");
  EXPECT_EQ(s.effective("auto|dc1|maintenanceMode"), State::kDown);
  s.expire_maintenance(kT0 + std::chrono::hours(1));
  EXPECT_EQ(s.effective("auto|dc1|maintenanceMode"), State::kUp);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kMaintenance);
}

TEST(HealthState, ReloadKeepsUnchangedChecksAndDropsRemovedOnes) {
  HealthConfig c = two_wan_targets();
  c.checks["web1"] = tcp(80, {2, 2});
  c.checks["web2"] = tcp(81, {2, 2});
  HealthState s;
  s.configure(c, kT0);
  s.record("web1", up(), kT0);
  s.record("web1", down(), kT0);
  s.record("web2", up(), kT0);
  c.checks.erase("web2");
  c.checks["web1"].interval = std::chrono::milliseconds(5000);  // unchanged: same value as default
  s.configure(c, kT0 + std::chrono::seconds(5));
  ASSERT_NE(s.check("web1"), nullptr);
  EXPECT_EQ(s.check("web1")->measured.failures, 1u);
  EXPECT_EQ(s.check("web1")->probes, 2u);
  EXPECT_EQ(s.check("web2"), nullptr);
  // A changed spec starts over.
  c.checks["web1"].timeout = std::chrono::milliseconds(500);
  s.configure(c, kT0 + std::chrono::seconds(6));
  EXPECT_EQ(s.effective("web1"), State::kUnknown);
  EXPECT_EQ(s.check("web1")->probes, 0u);
}

TEST(HealthState, RuntimeMaintenanceSurvivesReloadUnlessTheFileChangesIt) {
  HealthConfig c = two_wan_targets();
  HealthState s;
  s.configure(c, kT0);
  s.set_maintenance("dc1", true, kT0);
  s.configure(c, kT0);
  EXPECT_TRUE(s.datacenter("dc1")->maintenance);
  c.datacenters[0].maintenance = true;
  s.configure(c, kT0);
  c.datacenters[0].maintenance = false;
  s.configure(c, kT0);
  EXPECT_FALSE(s.datacenter("dc1")->maintenance);
}

TEST(HealthState, LateResultOfRemovedCheckIsIgnored) {
  HealthState s;
  s.configure(HealthConfig{}, kT0);
  EXPECT_TRUE(s.record("gone", down(), kT0).empty());
}

// dc1 with access down (two failures of three probes), wanAccess up, web1 forced down.
HealthState saved_scene() {
  HealthConfig c = two_wan_targets();
  c.checks["web1"] = tcp(80);
  HealthState s;
  s.configure(c, kT0);
  s.record("auto|dc1|wanAccess|0", up(), kT0);
  s.record("auto|dc1|wanAccess|1", up(), kT0);
  s.record("auto|dc1|access|0", up(), kT0);
  s.record("auto|dc1|access|0", down(), kT0 + std::chrono::seconds(1));
  s.record("auto|dc1|access|0", down(), kT0 + std::chrono::seconds(2));
  s.record("web1", up(), kT0);
  s.force("web1", State::kDown, kT0 + std::chrono::seconds(3));
  return s;
}

TEST(HealthStateRestore, BringsBackVerdictsCountersAndDcStatus) {
  const HealthState before = saved_scene();
  const SavedHealth saved = before.save();
  HealthConfig c = two_wan_targets();
  c.checks["web1"] = tcp(80);
  HealthState s;
  const SystemTime later = kT0 + std::chrono::minutes(2);
  s.configure(c, later);
  const RestoreOutcome r = s.restore(saved, later);
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(r.checks, saved.checks.size());

  const CheckInfo* access = s.check("auto|dc1|access|0");
  const CheckInfo* was = before.check("auto|dc1|access|0");
  EXPECT_EQ(access->measured, was->measured);
  EXPECT_EQ(access->since, kT0 + std::chrono::seconds(1));
  EXPECT_EQ(access->reason, was->reason);
  EXPECT_EQ(access->probes, 3u);
  EXPECT_EQ(access->failures, 2u);
  EXPECT_EQ(access->transitions, 2u);
  EXPECT_EQ(s.check("web1")->forced, State::kDown);
  EXPECT_EQ(s.check("web1")->measured.state, State::kUp);
  // Automatic checks and the DC are recomputed, and keep their original since when they match.
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoAccess);
  EXPECT_EQ(s.datacenter("dc1")->since, before.datacenter("dc1")->since);
  EXPECT_EQ(s.check("auto|dc1|access")->since, before.check("auto|dc1|access")->since);
  EXPECT_EQ(s.check("auto|dc1|access")->transitions, before.check("auto|dc1|access")->transitions);

  // Every change is reported (the GTM pipeline needs them), marked as restored.
  ASSERT_FALSE(r.changes.checks.empty());
  for (const auto& v : r.changes.checks) EXPECT_TRUE(v.restored) << v.id;
  ASSERT_EQ(r.changes.datacenters.size(), 1u);
  EXPECT_EQ(r.changes.datacenters[0].to, DcStatus::kNoAccess);
  EXPECT_TRUE(r.changes.datacenters[0].restored);
  EXPECT_EQ(s.save(), saved);  // nothing lost on the way
}

TEST(HealthStateRestore, AChangedProbeStartsOverButKeepsItsForce) {
  const SavedHealth saved = saved_scene().save();
  HealthConfig c = two_wan_targets();
  c.checks["auto|dc1|access|0"] = tcp(9999);  // the access target moved
  c.checks["web1"] = tcp(81);
  HealthState s;
  s.configure(c, kT0);
  const RestoreOutcome r = s.restore(saved, kT0);
  EXPECT_EQ(r.skipped, 2u);
  EXPECT_EQ(s.effective("auto|dc1|access|0"), State::kUnknown);
  EXPECT_EQ(s.check("auto|dc1|access|0")->probes, 0u);
  EXPECT_EQ(s.effective("auto|dc1|wanAccess|0"), State::kUp);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kUnknown);
  // As on reload, an operator's force is about the ID, not about the probe.
  EXPECT_EQ(s.check("web1")->forced, State::kDown);
  EXPECT_EQ(s.check("web1")->measured.state, State::kUnknown);
}

TEST(HealthStateRestore, IgnoresChecksNoLongerConfigured) {
  const SavedHealth saved = saved_scene().save();
  HealthState s;
  s.configure(two_wan_targets(), kT0);  // no web1
  const RestoreOutcome r = s.restore(saved, kT0);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(s.check("web1"), nullptr);
}

TEST(HealthStateRestore, RuntimeMaintenanceUnlessTheFileChangedOrItExpired) {
  HealthState a;
  a.configure(two_wan_targets(), kT0);
  a.set_maintenance("dc1", true, kT0);
  SavedHealth saved = a.save();

  HealthState s;
  s.configure(two_wan_targets(), kT0);
  s.restore(saved, kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kMaintenance);
  EXPECT_EQ(s.effective("auto|dc1|maintenanceMode"), State::kUp);

  HealthConfig on_in_file = two_wan_targets();
  on_in_file.datacenters[0].maintenance = true;  // the file changed meanwhile: it wins
  saved.datacenters[0].maintenance = false;
  HealthState f;
  f.configure(on_in_file, kT0);
  f.restore(saved, kT0);
  EXPECT_TRUE(f.datacenter("dc1")->maintenance);

  saved.datacenters[0].maintenance = true;
  saved.datacenters[0].maintenance_until = kT0 + std::chrono::minutes(5);
  HealthState e;
  e.configure(two_wan_targets(), kT0 + std::chrono::minutes(6));
  e.restore(saved, kT0 + std::chrono::minutes(6));
  EXPECT_FALSE(e.datacenter("dc1")->maintenance);  // expired while we were down
  HealthState v;
  v.configure(two_wan_targets(), kT0 + std::chrono::minutes(4));
  v.restore(saved, kT0 + std::chrono::minutes(4));
  EXPECT_TRUE(v.datacenter("dc1")->maintenance);
  EXPECT_EQ(v.datacenter("dc1")->maintenance_until, kT0 + std::chrono::minutes(5));
}

TEST(HealthStateRestore, ForcedAutomaticCheckComesBack) {
  HealthState a;
  a.configure(two_wan_targets(), kT0);
  for (const char* id : {"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", "auto|dc1|access|0"}) a.record(id, up(), kT0);
  a.force("auto|dc1|lanAccess", State::kDown, kT0);
  HealthState s;
  s.configure(two_wan_targets(), kT0);
  s.restore(a.save(), kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoLan);
}

TEST(HealthState, AssumeUpStartsProbedChecksUpWithoutCredit) {
  HealthConfig c = two_wan_targets();
  c.checks["auto|dc1|access|0"] = tcp(8083, {2, 2});
  HealthState s;
  s.configure(c, kT0);
  const Changes changes = s.assume_up(kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kOk);
  ASSERT_EQ(changes.datacenters.size(), 1u);
  EXPECT_FALSE(changes.datacenters[0].restored);
  EXPECT_EQ(s.check("auto|dc1|access|0")->reason, "startup policy assumeUp");
  // No consecutive successes to its credit: two failures (its threshold) take it down.
  EXPECT_TRUE(s.record("auto|dc1|access|0", down(), kT0).empty());
  s.record("auto|dc1|access|0", down(), kT0);
  EXPECT_EQ(s.datacenter("dc1")->status, DcStatus::kNoAccess);
}

TEST(Datacenter, DimensionMinUpAndUnknowns) {
  DimensionSpec d{{"a", "b", "c"}, 2};
  auto states = [](State a, State b, State c) {
    return [=](const std::string& id) { return id == "a" ? a : id == "b" ? b : c; };
  };
  EXPECT_EQ(dimension_state(d, states(State::kUp, State::kUp, State::kDown)), State::kUp);
  EXPECT_EQ(dimension_state(d, states(State::kUp, State::kDown, State::kDown)), State::kDown);
  EXPECT_EQ(dimension_state(d, states(State::kUp, State::kUnknown, State::kDown)), State::kUnknown);
  EXPECT_EQ(dimension_state(DimensionSpec{}, states(State::kDown, State::kDown, State::kDown)), State::kUp);
  DimensionSpec too_many{{"a"}, 5};  // minUp above the target count means all of them
  EXPECT_EQ(dimension_state(too_many, states(State::kUp, State::kDown, State::kDown)), State::kUp);
}

TEST(Datacenter, StatusOrderAndNames) {
  using S = State;
  EXPECT_EQ(dc_status({S::kUp, S::kUp, S::kUp, S::kUp}, false), DcStatus::kOk);
  EXPECT_EQ(dc_status({S::kUp, S::kDown, S::kDown, S::kUp}, false), DcStatus::kNoWan);
  EXPECT_EQ(dc_status({S::kUnknown, S::kUp, S::kUp, S::kDown}, false), DcStatus::kNoInternet);
  EXPECT_EQ(dc_status({S::kUnknown, S::kUp, S::kUp, S::kUp}, false), DcStatus::kUnknown);
  EXPECT_EQ(dc_status({S::kDown, S::kDown, S::kDown, S::kDown}, true), DcStatus::kMaintenance);
  EXPECT_STREQ(to_string(DcStatus::kNoLan), "noLan");
  EXPECT_EQ(auto_id("dc1", Dimension::kWanAccess), "auto|dc1|wanAccess");
  EXPECT_EQ(maintenance_id("dc1"), "auto|dc1|maintenanceMode");
}

}  // namespace
}  // namespace pharos::health
