// status_page_test.cc: the status page renderer on hand-made views and a fixed clock: escaping of
// hostile names, the timeline's geometry and time axis, empty states, row limits, and that the
// page never refers to anything outside itself.
#include "app/status_page.h"

#include <gtest/gtest.h>

#include <regex>

namespace pharos::app {
namespace {

using health::DcStatus;
using std::chrono::hours;
using std::chrono::minutes;

// 2026-11-23T14:30:00Z
const SystemTime kNow = SystemTime{} + std::chrono::seconds(1'795'444'200);

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

StatusView one_of_each(const std::string& name) {
  StatusView v;
  v.version = "1.2.3";
  v.hostname = "gtm1";
  v.config_generation = 7;
  StatusView::Dc d;
  d.name = name;
  d.status = DcStatus::kMaintenance;
  d.since = kNow - minutes(30);
  d.reason = name;
  d.maintenance = true;
  d.by = name;
  d.until = kNow + hours(2);
  d.note = name;
  v.dcs.push_back(d);
  StatusView::Check c;
  c.id = name;
  c.type = "tcp";
  c.state = health::State::kDown;
  c.measured = health::State::kUp;
  c.forced = health::State::kDown;
  c.reason = name;
  c.has_last = true;
  c.last_reason = name;
  c.last_at = kNow - std::chrono::seconds(3);
  v.checks.push_back(c);
  StatusView::Record r;
  r.name = name;
  r.type = "A";
  r.chain = {name};
  r.answers.push_back({name, "chain", name, 0, {name}, name, kNow - minutes(1)});
  v.records.push_back(r);
  v.events.push_back({kNow - minutes(1), name, name, name, name, name, name, name});
  v.timelines.push_back({name, {{kNow - hours(1), DcStatus::kOk, name}}});
  v.last_change = ConfigChangeNote{kNow - minutes(5), name, 7, name};
  return v;
}

TEST(StatusPage, EscapesHostileNamesEverywhere) {
  const std::string evil = "<script>alert(\"x\")</script>&'";
  const std::string page = render_status_page(one_of_each(evil), kNow);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("alert(\"x\")"), std::string::npos);
  const std::string escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
  // DC (name, reason, by, note), check (id, reason, last), record (name, chain, region, dc, rdata,
  // reason), event (8 fields), the timeline (label, title, band title), the last config change (by, summary).
  EXPECT_GE(count(page, escaped), 22u) << page;
}

TEST(StatusPage, HtmlEscapeReplacesBrokenUtf8AndDropsControlCharacters) {
  EXPECT_EQ(html_escape("a\xff" "b"), "a\uFFFD" "b");
  EXPECT_EQ(html_escape("\xe2\x82"), "\uFFFD\uFFFD");       // a sequence cut short
  EXPECT_EQ(html_escape("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // a surrogate
  EXPECT_EQ(html_escape("caf\xc3\xa9 \xe2\x86\x92"), "caf\xc3\xa9 \xe2\x86\x92");
  EXPECT_EQ(html_escape(std::string("a\0b\x1b[31m\x7f", 9)), "ab[31m");
  EXPECT_EQ(html_escape("line\nnext"), "line\nnext");
}

TEST(StatusPage, TimelineBandsFollowTheClock) {
  const SystemTime from = kNow - hours(6);
  const std::vector<HealthHistory::Segment> segments = {
      {kNow - hours(8), DcStatus::kOk, "before the window"},
      {kNow - hours(3), DcStatus::kNoAccess, "target down"},
      {kNow - hours(1) - minutes(30), std::nullopt, "pharosd stopped"},
      {kNow - hours(1), DcStatus::kOk, "back"},
  };
  const auto b = timeline_bands(segments, from, kNow, 100, 600);
  ASSERT_EQ(b.size(), 4u);
  // The first segment is cut at the window's start: [from, -3h) is half of six hours.
  EXPECT_EQ(b[0].status, DcStatus::kOk);
  EXPECT_DOUBLE_EQ(b[0].x, 100);
  EXPECT_DOUBLE_EQ(b[0].width, 300);
  EXPECT_EQ(b[0].from, from);
  EXPECT_EQ(b[1].status, DcStatus::kNoAccess);
  EXPECT_DOUBLE_EQ(b[1].x, 400);
  EXPECT_DOUBLE_EQ(b[1].width, 150);
  EXPECT_FALSE(b[2].status.has_value());
  EXPECT_DOUBLE_EQ(b[2].x, 550);
  EXPECT_DOUBLE_EQ(b[2].width, 50);
  EXPECT_DOUBLE_EQ(b[3].x, 600);
  EXPECT_DOUBLE_EQ(b[3].width, 100);  // until now, the right edge
  EXPECT_EQ(b[3].to, kNow);
}

TEST(StatusPage, AShortOutageStaysVisibleAndInsideTheBand) {
  const std::vector<HealthHistory::Segment> segments = {
      {kNow - hours(2), DcStatus::kOk, ""},
      {kNow - minutes(10), DcStatus::kNoAccess, "blip"},
      {kNow - minutes(10) + std::chrono::seconds(2), DcStatus::kOk, ""},
      {kNow - std::chrono::milliseconds(100), DcStatus::kNoWan, "just now"},
  };
  const auto b = timeline_bands(segments, kNow - hours(6), kNow, 0, 1000);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_DOUBLE_EQ(b[1].width, 1.0);  // 2 s of 6 h would be 0.09 units
  EXPECT_DOUBLE_EQ(b[3].width, 1.0);
  EXPECT_DOUBLE_EQ(b[3].x + b[3].width, 1000.0);
}

TEST(StatusPage, TimelineIgnoresWhatIsOutsideTheWindowAndAClockSteppedBack) {
  const std::vector<HealthHistory::Segment> segments = {
      {kNow - hours(9), DcStatus::kOk, ""},
      {kNow - hours(7), DcStatus::kNoLan, ""},  // ends before the window
      {kNow - hours(6) - minutes(1), DcStatus::kOk, ""},
      {kNow - hours(6) - minutes(30), DcStatus::kNoAccess, "clock stepped back"},
  };
  const auto b = timeline_bands(segments, kNow - hours(6), kNow, 0, 600);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].status, DcStatus::kNoAccess);
  EXPECT_DOUBLE_EQ(b[0].x, 0);
  EXPECT_DOUBLE_EQ(b[0].width, 600);
}

TEST(StatusPage, TheSvgHasABandPerSegmentAndHourlyUtcTicks) {
  StatusView v;
  v.dcs.push_back({"dc1", DcStatus::kOk});
  v.timelines.push_back({"dc1", {{kNow - hours(10), DcStatus::kOk, ""}, {kNow - hours(3), DcStatus::kNoAccess, "x"},
                                 {kNow - hours(2), DcStatus::kOk, ""}}});
  const std::string page = render_status_page(v, kNow);
  ASSERT_NE(page.find("<svg id=\"timeline-svg\""), std::string::npos);
  EXPECT_EQ(count(page, "class=\"band\""), 3u);
  // The noAccess band of dc1: [-3h, -2h) of six hours in 830 units starting at 150.
  const std::regex band("data-status=\"noAccess\" x=\"([0-9.]+)\" y=\"[0-9.]+\" width=\"([0-9.]+)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page, m, band)) << page;
  EXPECT_NEAR(std::stod(m[1]), 150 + 830.0 / 2, 0.01);
  EXPECT_NEAR(std::stod(m[2]), 830.0 / 6, 0.01);
  // 08:30 to 14:30 UTC: ticks at 09:00 ... 14:00, and "now" at the right.
  for (const char* t : {">09:00<", ">10:00<", ">11:00<", ">12:00<", ">13:00<", ">14:00<", ">now<"})
    EXPECT_NE(page.find(t), std::string::npos) << t;
  EXPECT_EQ(page.find(">08:00<"), std::string::npos);
  EXPECT_EQ(page.find(">15:00<"), std::string::npos);
}

TEST(StatusPage, EmptyStatesSayWhatIsMissing) {
  const std::string page = render_status_page(StatusView{}, kNow);
  EXPECT_NE(page.find("No data centers are configured."), std::string::npos);
  EXPECT_NE(page.find("No GTM records are configured."), std::string::npos);
  EXPECT_NE(page.find("No checks are configured."), std::string::npos);
  EXPECT_NE(page.find("Nothing has changed yet."), std::string::npos);
  EXPECT_EQ(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("last reload <b>none</b>"), std::string::npos);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
}

TEST(StatusPage, ShowsMaintenanceWithWhoUntilAndWhy) {
  StatusView v;
  StatusView::Dc d;
  d.name = "dc1";
  d.status = DcStatus::kMaintenance;
  d.maintenance = true;
  d.by = "alice";
  d.until = kNow + hours(2);
  d.note = "kernel upgrade";
  v.dcs.push_back(d);
  StatusView::Dc file;
  file.name = "dc2";
  file.status = DcStatus::kMaintenance;
  file.maintenance = file.configured_maintenance = true;
  v.dcs.push_back(file);
  const std::string page = render_status_page(v, kNow);
  EXPECT_NE(page.find("set by <b>alice</b>"), std::string::npos) << page;
  EXPECT_NE(page.find("datetime=\"2026-11-23T16:30:00.000Z\""), std::string::npos) << page;
  EXPECT_NE(page.find("<span class=\"maint-reason\">kernel upgrade</span>"), std::string::npos);
  EXPECT_NE(page.find("on (scenario file)"), std::string::npos);
}

TEST(StatusPage, AFailedReloadIsShownWithItsError) {
  StatusView v;
  v.last_reload = ReloadOutcome{3, kNow - minutes(2), false, "gtm.json: /datacenters/dc1: must be an object", 4};
  const std::string page = render_status_page(v, kNow);
  EXPECT_NE(page.find("id=\"reload-error\""), std::string::npos);
  EXPECT_NE(page.find("gtm.json: /datacenters/dc1: must be an object"), std::string::npos);
  EXPECT_NE(page.find(">failed</span>"), std::string::npos);
}

TEST(StatusPage, ShowsTheLastConfigChangeWithWhoWhatAndGeneration) {
  StatusView v;
  v.config_generation = 9;
  EXPECT_NE(render_status_page(v, kNow).find("last config change <b>none</b>"), std::string::npos);
  v.last_change = ConfigChangeNote{kNow - minutes(5), "alice", 9, "insert datacenter dc4 and 1 more"};
  const std::string page = render_status_page(v, kNow);
  EXPECT_NE(page.find("last config change <b><time datetime=\"2026-11-23T14:25:00.000Z\""), std::string::npos) << page;
  EXPECT_NE(page.find("5m 0s ago</span> by alice <span class=\"mono\">(insert datacenter dc4 and 1 more, generation 9)"),
            std::string::npos)
      << page;
}

TEST(StatusPage, LongTablesAreCutWithACount) {
  StatusView v;
  for (int i = 0; i < 5; ++i) v.records.push_back({"r" + std::to_string(i) + ".example.", "A", 30, {}, {}});
  PageOptions opt;
  opt.max_rows = 3;
  const std::string page = render_status_page(v, kNow, opt);
  EXPECT_NE(page.find("r2.example."), std::string::npos);
  EXPECT_EQ(page.find("r3.example."), std::string::npos);
  EXPECT_NE(page.find("2 more records are not shown"), std::string::npos);
}

TEST(StatusPage, RefersToNothingOutsideItself) {
  const std::string page = render_status_page(one_of_each("dc1"), kNow);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("href="), std::string::npos);
  EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"10\">"), std::string::npos);
}

}  // namespace
}  // namespace pharos::app
