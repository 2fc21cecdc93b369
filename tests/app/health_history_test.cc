// health_history_test.cc: the DC status timelines and check transitions behind the status page:
// what is recorded, the bounds in time and count, sync with the configured DCs, and the file that
// carries them across a restart (with a gap for the time pharosd was stopped). Fixed clock.
#include "app/health_history.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/app/pharosd_harness.h"

namespace pharos::app {
namespace {

using health::DcStatus;
using health::State;
using std::chrono::hours;
using std::chrono::minutes;

const SystemTime kT0 = SystemTime{} + std::chrono::seconds(1'795'000'000);  // 2026-11-18

health::Changes dc_change(const std::string& dc, DcStatus from, DcStatus to, SystemTime at, bool restored = false) {
  health::Changes c;
  c.datacenters.push_back({dc, from, to, at, "because " + std::string(health::to_string(to)), restored});
  return c;
}

health::Changes check_change(const std::string& id, State from, State to, SystemTime at) {
  health::Changes c;
  c.checks.push_back({id, from, to, at, "probe said so", false, false});
  return c;
}

std::map<std::string, health::DcInfo> dcs(std::initializer_list<std::pair<std::string, DcStatus>> list) {
  std::map<std::string, health::DcInfo> out;
  for (const auto& [name, status] : list) {
    health::DcInfo i;
    i.spec.name = name;
    i.status = status;
    i.reason = "now " + std::string(health::to_string(status));
    out.emplace(name, i);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(HealthHistory, RecordsDcStatusChangesAndCheckTransitionsInOrder) {
  HealthHistory h;
  h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0));
  h.record(dc_change("dc1", DcStatus::kOk, DcStatus::kNoAccess, kT0 + minutes(5)));
  h.record(check_change("web1", State::kUp, State::kDown, kT0 + minutes(5)));
  const auto& t = h.timeline("dc1");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].status, DcStatus::kOk);
  EXPECT_EQ(t[1].status, DcStatus::kNoAccess);
  EXPECT_EQ(t[1].at, kT0 + minutes(5));
  EXPECT_EQ(t[1].reason, "because noAccess");
  ASSERT_EQ(h.checks().size(), 1u);
  EXPECT_EQ(h.checks()[0].id, "web1");
  EXPECT_EQ(h.checks()[0].to, State::kDown);
  EXPECT_TRUE(h.timeline("nosuchdc").empty());
}

TEST(HealthHistory, RestoredStateIsNotATransition) {
  HealthHistory h;
  h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0, /*restored=*/true));
  EXPECT_TRUE(h.timeline("dc1").empty());
}

TEST(HealthHistory, ForgetsWhatLeftTheWindowButKeepsWhatHeldAtItsStart) {
  HealthHistory h({}, {hours(1), 100, 100});
  h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0));
  h.record(dc_change("dc1", DcStatus::kOk, DcStatus::kNoWan, kT0 + minutes(10)));
  h.record(check_change("web1", State::kUp, State::kDown, kT0 + minutes(10)));
  h.record(dc_change("dc1", DcStatus::kNoWan, DcStatus::kOk, kT0 + minutes(120)));
  // The window now starts at +60 min: noWan (from +10 min) still held then, ok from the start is gone.
  const auto& t = h.timeline("dc1");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].status, DcStatus::kNoWan);
  EXPECT_EQ(t[1].status, DcStatus::kOk);
  EXPECT_TRUE(h.checks().empty());
}

TEST(HealthHistory, AFlappingDcKeepsOnlyTheNewestChanges) {
  HealthHistory h({}, {hours(24), 5, 3});
  for (int i = 0; i < 40; ++i) {
    h.record(dc_change("dc1", DcStatus::kOk, i % 2 ? DcStatus::kOk : DcStatus::kNoAccess, kT0 + std::chrono::seconds(i)));
    h.record(check_change("web1", State::kUp, i % 2 ? State::kUp : State::kDown, kT0 + std::chrono::seconds(i)));
  }
  ASSERT_EQ(h.timeline("dc1").size(), 5u);
  EXPECT_EQ(h.timeline("dc1").back().at, kT0 + std::chrono::seconds(39));
  ASSERT_EQ(h.checks().size(), 3u);
  EXPECT_EQ(h.checks().back().at, kT0 + std::chrono::seconds(39));
}

TEST(HealthHistory, SyncStartsNewDcsAndForgetsRemovedOnes) {
  HealthHistory h;
  h.record(dc_change("old", DcStatus::kUnknown, DcStatus::kOk, kT0));
  h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0));
  h.sync(dcs({{"dc1", DcStatus::kOk}, {"dc2", DcStatus::kUnknown}}), kT0 + minutes(1));
  EXPECT_TRUE(h.timeline("old").empty());
  EXPECT_EQ(h.timeline("dc1").size(), 1u);  // unchanged: nothing added
  ASSERT_EQ(h.timeline("dc2").size(), 1u);
  EXPECT_EQ(h.timeline("dc2")[0].status, DcStatus::kUnknown);
  EXPECT_EQ(h.timeline("dc2")[0].at, kT0 + minutes(1));
}

TEST(HealthHistory, SurvivesARestartWithAGapForTheTimeItWasStopped) {
  test::TempDir dir;
  const std::string path = dir.file("health_history.jsonl");
  {
    HealthHistory h(path);
    ASSERT_FALSE(h.open(kT0));
    h.sync(dcs({{"dc1", DcStatus::kUnknown}}), kT0);
    h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0 + minutes(1)));
    h.record(dc_change("dc1", DcStatus::kOk, DcStatus::kMaintenance, kT0 + minutes(2)));
    h.record(check_change("web1", State::kUp, State::kDown, kT0 + minutes(2)));
    h.close(kT0 + minutes(3));
  }
  HealthHistory h(path);
  ASSERT_FALSE(h.open(kT0 + minutes(10)));
  const auto& t = h.timeline("dc1");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[2].status, DcStatus::kMaintenance);
  EXPECT_EQ(t[2].reason, "because maintenance");
  EXPECT_FALSE(t[3].status.has_value());  // the gap
  EXPECT_EQ(t[3].at, kT0 + minutes(3));
  ASSERT_EQ(h.checks().size(), 1u);
  EXPECT_EQ(h.checks()[0].reason, "probe said so");
  // Started again: the gap ends with the status the DC has now.
  h.sync(dcs({{"dc1", DcStatus::kMaintenance}}), kT0 + minutes(10));
  ASSERT_EQ(h.timeline("dc1").size(), 5u);
  EXPECT_EQ(h.timeline("dc1").back().status, DcStatus::kMaintenance);
  EXPECT_EQ(h.timeline("dc1").back().at, kT0 + minutes(10));
}

TEST(HealthHistory, OpenDropsWhatIsOlderThanTheWindowAndCompactsTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("h.jsonl");
  {
    HealthHistory h(path, {hours(1), 100, 100});
    ASSERT_FALSE(h.open(kT0));
    for (int i = 0; i < 10; ++i)
      h.record(dc_change("dc1", DcStatus::kOk, i % 2 ? DcStatus::kOk : DcStatus::kNoLan, kT0 + minutes(i)));
  }
  HealthHistory h(path, {hours(1), 100, 100});
  ASSERT_FALSE(h.open(kT0 + hours(5)));
  ASSERT_EQ(h.timeline("dc1").size(), 1u);  // what held when the window starts
  EXPECT_EQ(h.timeline("dc1")[0].at, kT0 + minutes(9));
  const std::string text = read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(HealthHistory, ATornOrForeignLineIsSkipped) {
  test::TempDir dir;
  const std::string path = dir.file("h.jsonl");
  std::ofstream(path) << R"({"at_ms":1795000000000,"dc":"dc1","status":"ok","reason":"fine"})" "\n"
                      << R"({"at_ms":1795000060000,"dc":"dc1","status":"exploded"})" "\n"
                      << R"({"at_ms":"soon","dc":"dc1","status":"ok"})" "\n"
                      << "not json at all\n"
                      << R"({"at_ms":1795000120000,"dc":"dc1","sta)";
  HealthHistory h(path);
  ASSERT_FALSE(h.open(kT0 + minutes(5)));
  ASSERT_EQ(h.timeline("dc1").size(), 1u);
  EXPECT_EQ(h.timeline("dc1")[0].reason, "fine");
  // The file is whole again and still takes new lines.
  h.record(dc_change("dc1", DcStatus::kOk, DcStatus::kNoAccess, kT0 + minutes(6)));
  HealthHistory again(path);
  ASSERT_FALSE(again.open(kT0 + minutes(7)));
  EXPECT_EQ(again.timeline("dc1").size(), 2u);
}

TEST(HealthHistory, TheFileStaysBoundedUnderFlapping) {
  test::TempDir dir;
  const std::string path = dir.file("h.jsonl");
  HealthHistory h(path, {hours(24), 10, 10});
  ASSERT_FALSE(h.open(kT0));
  for (int i = 0; i < 5000; ++i)
    h.record(dc_change("dc1", DcStatus::kOk, i % 2 ? DcStatus::kOk : DcStatus::kNoAccess, kT0 + std::chrono::seconds(i)));
  EXPECT_FALSE(h.write_error()) << *h.write_error();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LT(st.st_size, 200 * 1024);  // 5000 lines would be ~400 KB
  HealthHistory back(path, {hours(24), 10, 10});
  ASSERT_FALSE(back.open(kT0 + std::chrono::seconds(5000)));
  ASSERT_EQ(back.timeline("dc1").size(), 10u);
  EXPECT_EQ(back.timeline("dc1").back().at, kT0 + std::chrono::seconds(4999));
}

TEST(HealthHistory, AnUnwritableFileIsReportedAndMemoryStillWorks) {
  HealthHistory h("/nonexistent-dir/h.jsonl");
  const auto e = h.open(kT0);
  ASSERT_TRUE(e);
  EXPECT_NE(e->to_string().find("/nonexistent-dir/h.jsonl"), std::string::npos) << e->to_string();
  h.record(dc_change("dc1", DcStatus::kUnknown, DcStatus::kOk, kT0));
  EXPECT_EQ(h.timeline("dc1").size(), 1u);
}

}  // namespace
}  // namespace pharos::app
