// selection_test.cc: scenario formulas and record selection on fixed times, table-driven where the
// cases are many: chain -> DR -> fallback -> policy, onlyNew short and long outages with an
// operator resume, maintenance, stuck-state protection.
#include "scenario/selection.h"

#include <gtest/gtest.h>

#include <map>

namespace pharos::scenario {
namespace {

using health::State;
using std::chrono::seconds;

const SystemTime kT0 = SystemTime{} + std::chrono::hours(500000);

ScenarioSpec parse(const std::vector<std::vector<std::string>>& groups) {
  ScenarioSpec s;
  s.name = "s";
  for (const auto& g : groups) {
    std::vector<Term> terms;
    for (std::string t : g) {
      const bool neg = !t.empty() && t.back() == '!';
      if (neg) t.pop_back();
      terms.push_back(Term{t, neg});
    }
    s.groups.push_back(terms);
  }
  return s;
}

TEST(Evaluate, AndInsideOrAcrossWithNegation) {
  std::map<std::string, State> st = {{"a", State::kUp}, {"b", State::kDown}, {"c", State::kUnknown}};
  auto of = [&st](const std::string& id) { return st.count(id) ? st.at(id) : State::kUnknown; };
  struct Case { std::vector<std::vector<std::string>> groups; Truth want; };
  const Case cases[] = {
      {{{"a"}}, Truth::kTrue},
      {{{"b"}}, Truth::kFalse},
      {{{"b!"}}, Truth::kTrue},
      {{{"a", "b"}}, Truth::kFalse},
      {{{"a", "b!"}}, Truth::kTrue},
      {{{"b"}, {"a"}}, Truth::kTrue},
      {{{"c"}}, Truth::kUnknown},
      {{{"a", "c"}}, Truth::kUnknown},
      {{{"b", "c"}}, Truth::kFalse},          // one false term decides the group
      {{{"c"}, {"a"}}, Truth::kTrue},         // one true group decides the scenario
      {{{"c"}, {"b"}}, Truth::kUnknown},
      {{{"c!"}}, Truth::kUnknown},
  };
  for (const Case& c : cases) EXPECT_EQ(evaluate(parse(c.groups), of), c.want);
}

TEST(Evaluate, StuckStateKeepsThePreviousResult) {
  EXPECT_TRUE(settle(Truth::kUnknown, true));
  EXPECT_FALSE(settle(Truth::kUnknown, false));
  EXPECT_FALSE(settle(Truth::kFalse, true));
  EXPECT_TRUE(settle(Truth::kTrue, false));
}

GtmRecord record(int entries, BackupBehavior b = BackupBehavior::kNoResponse) {
  GtmRecord r;
  r.name = "www.example.com.";
  r.type = 1;
  r.backup = b;
  r.stale_after = seconds(300);
  for (int i = 0; i < entries; ++i)
    r.chain.push_back(ChainEntry{"dc" + std::to_string(i + 1), "", {"192.0.2." + std::to_string(i + 1)}});
  return r;
}

std::vector<int> in_order(const GtmRecord& r) {
  std::vector<int> o;
  for (std::size_t i = 0; i < r.chain.size(); ++i) o.push_back(static_cast<int>(i));
  return o;
}

// Runs one selection with health given as a string: '1' healthy, '0' not.
Selection pick(const GtmRecord& r, const std::string& health, SelectionMemory& m, SystemTime at,
               bool dr_cond = false, std::vector<int> order = {}) {
  std::vector<bool> h;
  for (char c : health) h.push_back(c == '1');
  if (order.empty()) order = in_order(r);
  return select(r, order, h, dr_cond, m, at);
}

TEST(Select, ChainDrFallbackPolicyInOrder) {
  GtmRecord r = record(3);
  r.dr = DrSpec{{"203.0.113.10"}, "dr-active", false};
  r.fallback = {"203.0.113.99"};
  struct Case { const char* health; bool dr_cond; bool dr_if_no_records; bool fallback; AllDownPolicy policy;
                Source want; int entry; };
  const Case cases[] = {
      {"111", false, false, true, AllDownPolicy::kFailOpen, Source::kChain, 0},
      {"011", false, false, true, AllDownPolicy::kFailOpen, Source::kChain, 1},
      {"001", false, false, true, AllDownPolicy::kFailOpen, Source::kChain, 2},
      {"001", true, false, true, AllDownPolicy::kFailOpen, Source::kChain, 2},  // the chain wins over DR
      {"000", true, false, true, AllDownPolicy::kFailOpen, Source::kDr, -1},
      {"000", false, true, true, AllDownPolicy::kFailOpen, Source::kDr, -1},     // drIfNoRecords
      {"000", false, false, true, AllDownPolicy::kFailOpen, Source::kFallback, -1},
      {"000", false, false, false, AllDownPolicy::kFailOpen, Source::kFailOpen, 0},
      {"000", false, false, false, AllDownPolicy::kNoData, Source::kNoData, -1},
      {"000", false, false, false, AllDownPolicy::kServFail, Source::kServFail, -1},
      {"000", false, false, false, AllDownPolicy::kRefused, Source::kRefused, -1},
  };
  for (const Case& c : cases) {
    GtmRecord rc = r;
    rc.dr->dr_if_no_records = c.dr_if_no_records;
    if (!c.fallback) rc.fallback.clear();
    rc.all_down = c.policy;
    SelectionMemory m;
    const Selection s = pick(rc, c.health, m, kT0, c.dr_cond);
    EXPECT_EQ(s.source, c.want) << c.health << " " << s.reason;
    EXPECT_EQ(s.entry, c.entry) << c.health;
    if (c.want == Source::kDr) {
      EXPECT_EQ(s.rdata, &rc.dr->rdata);
    }
    if (c.want == Source::kNoData || c.want == Source::kServFail || c.want == Source::kRefused) {
      EXPECT_EQ(s.rdata, nullptr);
    }
  }
}

TEST(Select, DrWithoutConditionStaysOut) {
  GtmRecord r = record(1);
  r.dr = DrSpec{{"203.0.113.10"}, "dr-active", false};
  r.all_down = AllDownPolicy::kNoData;
  SelectionMemory m;
  EXPECT_EQ(pick(r, "0", m, kT0, false).source, Source::kNoData);
}

TEST(Select, NoResponseFailsBackAtOnce) {
  const GtmRecord r = record(2);
  SelectionMemory m;
  EXPECT_EQ(pick(r, "11", m, kT0).entry, 0);
  EXPECT_EQ(pick(r, "01", m, kT0 + seconds(10)).entry, 1);
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(4000)).entry, 0);  // however long the outage
}

TEST(Select, OnlyNewShortOutageReturnsByItself) {
  const GtmRecord r = record(2, BackupBehavior::kOnlyNew);
  SelectionMemory m;
  EXPECT_EQ(pick(r, "11", m, kT0).entry, 0);
  EXPECT_EQ(pick(r, "01", m, kT0 + seconds(10)).entry, 1);
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(10 + 299)).entry, 0);
}

TEST(Select, OnlyNewLongOutageIsHeldUntilResume) {
  const GtmRecord r = record(2, BackupBehavior::kOnlyNew);
  SelectionMemory m;
  pick(r, "11", m, kT0);
  pick(r, "01", m, kT0 + seconds(10));
  Selection s = pick(r, "11", m, kT0 + seconds(10 + 300));
  EXPECT_EQ(s.entry, 1);
  EXPECT_TRUE(m.entries[0].held);
  EXPECT_NE(s.reason.find("held (onlyNew)"), std::string::npos) << s.reason;
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(1000)).entry, 1);  // still held later
  EXPECT_FALSE(resume(m, 1));                                 // not held: nothing to resume
  EXPECT_TRUE(resume(m, 0));
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(1001)).entry, 0);
  EXPECT_FALSE(m.entries[0].held);
}

TEST(Select, OnlyNewHeldEntryServesWhenTheServerFails) {
  const GtmRecord r = record(2, BackupBehavior::kOnlyNew);
  SelectionMemory m;
  pick(r, "11", m, kT0);
  pick(r, "01", m, kT0 + seconds(10));
  pick(r, "11", m, kT0 + seconds(400));
  ASSERT_TRUE(m.entries[0].held);
  EXPECT_EQ(pick(r, "10", m, kT0 + seconds(401)).entry, 0);
  EXPECT_FALSE(m.entries[0].held);
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(402)).entry, 0);  // and it stays
}

TEST(Select, OnlyNewEntryDownSinceStartIsHeldWhenItComesBackLate) {
  const GtmRecord r = record(2, BackupBehavior::kOnlyNew);
  SelectionMemory m;
  EXPECT_EQ(pick(r, "01", m, kT0).entry, 1);
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(600)).entry, 1);
  EXPECT_TRUE(m.entries[0].held);
}

TEST(Select, OnlyNewStartupResultsSettleWithoutHolds) {
  const GtmRecord r = record(2, BackupBehavior::kOnlyNew);
  SelectionMemory m;
  EXPECT_EQ(pick(r, "00", m, kT0).source, Source::kFailOpen);  // nothing known yet
  EXPECT_EQ(pick(r, "11", m, kT0 + seconds(3)).entry, 0);
  EXPECT_FALSE(m.entries[0].held);
}

TEST(Select, MaintenancePassedAsUnhealthyMovesToTheNextEntry) {
  // The caller passes an entry whose DC is in maintenance as unhealthy, however healthy it is.
  const GtmRecord r = record(3);
  SelectionMemory m;
  EXPECT_EQ(pick(r, "111", m, kT0).entry, 0);
  EXPECT_EQ(pick(r, "011", m, kT0 + seconds(1)).entry, 1);   // dc1 in maintenance
  EXPECT_EQ(pick(r, "111", m, kT0 + seconds(2)).entry, 0);   // maintenance over
}

TEST(Select, GeoOrderChangesThePreference) {
  const GtmRecord r = record(2);
  SelectionMemory eu, us;
  EXPECT_EQ(pick(r, "11", eu, kT0, false, {0, 1}).entry, 0);
  EXPECT_EQ(pick(r, "11", us, kT0, false, {1, 0}).entry, 1);
  EXPECT_EQ(pick(r, "10", us, kT0 + seconds(1), false, {1, 0}).entry, 0);  // failover inside the region
  EXPECT_EQ(pick(r, "11", us, kT0 + seconds(2), false, {0}).entry, 0);      // a region that omits dc2
}

TEST(Select, ChainOfManyEntriesFailsOverInTurn) {
  const GtmRecord r = record(5);
  SelectionMemory m;
  std::string h = "11111";
  for (int down = 0; down < 5; ++down) {
    EXPECT_EQ(pick(r, h, m, kT0 + seconds(down)).entry, down);
    h[static_cast<std::size_t>(down)] = '0';
  }
  EXPECT_EQ(pick(r, h, m, kT0 + seconds(9)).source, Source::kFailOpen);
}

}  // namespace
}  // namespace pharos::scenario
