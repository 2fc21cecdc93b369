// audit_test.cc: the audit journal: JSON lines that read back, rotation at the size limit, a torn
// last line after a crash, the in-memory window, and a journal that cannot be opened.
#include "app/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <gtest/gtest.h>

#include <fstream>

#include "app/answers.h"
#include "app/log.h"
#include "scenario/gtm_engine.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::app {
namespace {

AuditEntry entry(int i) {
  AuditEntry e;
  e.at = scenario::SystemTime{} + std::chrono::hours(490'000) + std::chrono::milliseconds(i);
  e.kind = "answer";
  e.subject = "www.example.com./A";
  e.region = i % 2 ? "eu" : "";
  e.from = "entry 0 (dc1)";
  e.to = "entry 1 (dc2)";
  e.reason = "quote \" and newline \n " + std::to_string(i);
  e.by = "pipeline";
  return e;
}

TEST(AuditJournal, EntriesRoundTripThroughJsonLines) {
  const AuditEntry e = entry(7);
  const std::string line = AuditJournal::to_json(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = AuditJournal::from_json(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at, e.at);
  EXPECT_EQ(back->reason, e.reason);
  EXPECT_EQ(back->region, "eu");
  EXPECT_FALSE(AuditJournal::from_json("{\"at\":\"yesterday\",\"kind\":\"answer\"}"));
  EXPECT_FALSE(AuditJournal::from_json("{\"at\":"));
}

TEST(AuditJournal, ReadsBackAfterRestartAndSkipsATornLine) {
  test::TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  {
    AuditJournal j(path);
    ASSERT_FALSE(j.open());
    for (int i = 0; i < 5; ++i) j.append(entry(i));
  }
  { std::ofstream(path, std::ios::app) << "{\"at\":\"2026-11-23T10:0"; }  // a crash mid-write
  AuditJournal j(path);
  ASSERT_FALSE(j.open());
  const auto r = j.recent(100);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r.front().reason, entry(0).reason);
  EXPECT_EQ(r.back().reason, entry(4).reason);
  EXPECT_EQ(j.recent(2).front().reason, entry(3).reason);
}

TEST(AuditJournal, RotatesAtTheLimitAndKeepsTheWindowInMemory) {
  test::TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  AuditJournal j(path, 1000, 3);
  ASSERT_FALSE(j.open());
  for (int i = 0; i < 20; ++i) j.append(entry(i));
  EXPECT_FALSE(j.write_error());
  EXPECT_LE(std::filesystem::file_size(path), 1000u);
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_EQ(j.size(), 3u);
  EXPECT_EQ(j.recent(10).back().reason, entry(19).reason);
}

TEST(AuditJournal, AnUnopenableFileSaysWhyAndMemoryStillWorks) {
  AuditJournal j("/nonexistent-dir/audit.jsonl");
  auto e = j.open();
  ASSERT_TRUE(e);
  EXPECT_NE(e->to_string().find("/nonexistent-dir/audit.jsonl"), std::string::npos);
  j.append(entry(1));
  EXPECT_EQ(j.recent(5).size(), 1u);
}

// What the log and the journal file must hold for a round, built the slow way: the changes
// grouped by what they say (in order of first appearance, records in order), a log_info() and a
// to_json() per change of a small group, one of each (every record in the journal) per bigger one.
struct Expected {
  std::string log, journal;
  std::vector<AuditEntry> entries;  // the journal's, every record listed
};

Expected expected_of(const std::vector<scenario::AnswerChange>& changes) {
  std::vector<std::vector<const scenario::AnswerChange*>> groups;
  for (const auto& c : changes) {
    auto same = [&c](const std::vector<const scenario::AnswerChange*>& g) {
      const scenario::AnswerChange& o = *g.front();
      return o.region == c.region && o.from == c.from && o.to == c.to && o.reason == c.reason && o.cause == c.cause && o.at == c.at;
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) it = groups.emplace(groups.end());
    it->push_back(&c);
  }
  Expected out;
  for (const auto& g : groups) {
    const scenario::AnswerChange& c = *g.front();
    const std::string region = c.region.empty() ? "-" : std::string(c.region);
    if (g.size() <= kGroupAbove) {
      for (const auto* one : g) {
        out.log += format_log_line(LogLevel::kInfo, "answer changed",
                                   {{"record", std::string(one->record)}, {"region", region}, {"from", std::string(one->from)},
                                    {"to", std::string(one->to)}, {"reason", one->full_reason()}});
        out.entries.push_back(answer_entry(*one));
      }
      continue;
    }
    std::string names;
    for (std::size_t i = 0; i < kLoggedRecords; ++i) names += (i ? " " : "") + std::string(g[i]->record);
    out.log += format_log_line(LogLevel::kInfo, "answers changed",
                               {{"count", std::to_string(g.size())}, {"records", names},
                                {"more", std::to_string(g.size() - kLoggedRecords)}, {"region", region},
                                {"from", std::string(c.from)}, {"to", std::string(c.to)}, {"reason", c.full_reason()}});
    AuditEntry e = answer_entry(c);
    e.subject = std::string(c.record) + " and " + std::to_string(g.size() - 1) + " more";
    e.count = g.size();
    for (const auto* one : g) e.records.emplace_back(one->record);
    out.entries.push_back(std::move(e));
  }
  for (const auto& e : out.entries) out.journal += AuditJournal::to_json(e) + "\n";
  return out;
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// record_answer_changes() with its log (stderr) going to `log_path` for the length of the call.
void record_logged(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal, const std::string& log_path) {
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(log_fd, 0);
  dup2(log_fd, STDERR_FILENO);
  record_answer_changes(changes, journal);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(log_fd);
}

// A few changes that say different things: a line each, the same as a log_info("answer
// changed", ...) of that change, and no summary line.
TEST(AnswerLog, SmallRoundsAreALinePerChange) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  std::vector<scenario::AnswerChange> changes = {
      {"www.example.com./A", "", "entry 0 (dc1)", "entry 1 (dc2)", "entry 1 (dc2) is the first healthy entry", "health change", at},
      {"api.example.com./AAAA", "eu", "failOpen entry 0 (dc1)", "nodata", "every entry is down: \"x\"", "operator", at},
  };
  std::string expected;
  for (const auto& c : changes) {
    expected += format_log_line(LogLevel::kInfo, "answer changed",
                                {{"record", std::string(c.record)}, {"region", c.region.empty() ? "-" : std::string(c.region)},
                                 {"from", std::string(c.from)}, {"to", std::string(c.to)}, {"reason", c.full_reason()}});
  }
  EXPECT_EQ(format_answer_changes(changes), expected);
  EXPECT_NE(expected.find("reason=\"entry 1 (dc2) is the first healthy entry (health change)\""), std::string::npos) << expected;
  EXPECT_EQ(format_answer_changes(changes).find("answers changed"), std::string::npos);
  EXPECT_TRUE(format_answer_changes({}).empty());

  changes.resize(1);
  const AuditEntry e = answer_entry(changes[0]);
  EXPECT_EQ(e.kind, "answer");
  EXPECT_EQ(e.subject, "www.example.com./A");
  EXPECT_EQ(e.region, "");
  EXPECT_EQ(e.from, "entry 0 (dc1)");
  EXPECT_EQ(e.to, "entry 1 (dc2)");
  EXPECT_EQ(e.reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(e.by, "pipeline");
  EXPECT_EQ(e.at, at);
  EXPECT_EQ(e.count, 0u);
  EXPECT_EQ(AuditJournal::to_json(e).find("records"), std::string::npos);
}

// kGroupAbove records that move alike are still a line each; one more and they are one line
// (count, the first records, how many more) and one journal entry that lists every record.
TEST(AnswerLog, ABigGroupIsOneLineAndOneEntry) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  std::vector<std::string> names;
  for (std::size_t i = 0; i <= kGroupAbove; ++i) names.push_back("g" + std::to_string(i) + ".gtm.test./A");
  std::vector<scenario::AnswerChange> changes;
  for (std::size_t i = 0; i < kGroupAbove; ++i)
    changes.push_back({names[i], "", "entry 0 (dc1)", "entry 1 (dc2)", "entry 1 (dc2) is the first healthy entry", "health change", at});
  std::string small = format_answer_changes(changes);
  EXPECT_EQ(static_cast<std::size_t>(std::count(small.begin(), small.end(), '\n')), kGroupAbove);
  EXPECT_EQ(small.find("answers changed"), std::string::npos);

  changes.push_back({names[kGroupAbove], "", "entry 0 (dc1)", "entry 1 (dc2)", "entry 1 (dc2) is the first healthy entry",
                     "health change", at});
  EXPECT_EQ(format_answer_changes(changes),
            "level=info msg=\"answers changed\" count=17 records=\"g0.gtm.test./A g1.gtm.test./A g2.gtm.test./A "
            "g3.gtm.test./A g4.gtm.test./A g5.gtm.test./A g6.gtm.test./A g7.gtm.test./A\" more=9 region=- "
            "from=\"entry 0 (dc1)\" to=\"entry 1 (dc2)\" reason=\"entry 1 (dc2) is the first healthy entry (health change)\"\n");
  const std::string journal = format_answer_journal(changes);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), '\n'), 1);
  auto e = AuditJournal::from_json(journal.substr(0, journal.size() - 1));
  ASSERT_TRUE(e) << journal;
  EXPECT_EQ(e->subject, "g0.gtm.test./A and 16 more");
  EXPECT_EQ(e->count, 17u);
  EXPECT_EQ(e->records, names);
  EXPECT_EQ(e->from, "entry 0 (dc1)");
  EXPECT_EQ(e->reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(e->by, "pipeline");
  EXPECT_EQ(AuditJournal::to_json(*e) + "\n", journal);
  // Records without a count, a count of one, more records than the count: not an entry.
  EXPECT_FALSE(AuditJournal::from_json(R"({"at":"2026-11-23T10:00:00.000Z","kind":"answer","subject":"x","count":1,"records":["x"]})"));
  EXPECT_FALSE(AuditJournal::from_json(R"({"at":"2026-11-23T10:00:00.000Z","kind":"answer","subject":"x","records":["x","y"]})"));
  EXPECT_FALSE(AuditJournal::from_json(R"({"at":"2026-11-23T10:00:00.000Z","kind":"answer","subject":"x","count":2,"records":[1,2]})"));
  EXPECT_FALSE(AuditJournal::from_json(R"({"at":"2026-11-23T10:00:00.000Z","kind":"answer","subject":"x","count":2,"records":["x","y","z"]})"));
  EXPECT_TRUE(AuditJournal::from_json(R"({"at":"2026-11-23T10:00:00.000Z","kind":"answer","subject":"x","count":2,"records":["x","y"]})"));
}

// A round's log and journal lines are built from the parts its changes share (at most 16 kept at
// a time): whatever the mix of small and big groups, they are the lines expected_of() builds
// with one log_info() and one to_json() each, and the journal reads them back.
TEST(AnswerLog, SharedPartsGiveTheExpectedLines) {
  test::TempDir dir;
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  // Texts that need quoting and escaping, an empty region, 20 distinct combinations (more than
  // are kept) interleaved, two times in one round, a record that JSON must escape; every fourth
  // change in one of two big groups (75 changes: 38 and 37).
  std::vector<std::string> records, reasons;
  for (int i = 0; i < 300; ++i) {
    std::string r = "r";
    r += std::to_string(i);
    r += i == 7 || i == 8 ? "\\\"q\"./A" : ".example.com./A";
    records.push_back(std::move(r));
  }
  for (int k = 0; k < 20; ++k) {
    std::string r = "reason ";
    r += std::to_string(k);
    if (k == 3) r += " tab\t \"q\" \x01";
    reasons.push_back(std::move(r));
  }
  std::vector<scenario::AnswerChange> changes;
  for (int i = 0; i < 300; ++i) {
    const int k = i % 4 == 0 ? 3 : (i * 7) % 20;
    changes.push_back({records[static_cast<std::size_t>(i)], k % 3 == 0 ? "" : "eu", "entry 0 (dc1)", k % 2 ? "nodata" : "entry 1 (dc2)",
                       reasons[static_cast<std::size_t>(k)], i % 4 == 0 ? "big" : "health change",
                       at + std::chrono::milliseconds(i < 150 ? 0 : 5)});
  }
  const Expected expected = expected_of(changes);
  EXPECT_EQ(format_answer_changes(changes), expected.log);
  EXPECT_EQ(std::count(expected.log.begin(), expected.log.end(), '\n'), 225 + 2);

  AuditJournal round(dir.file("round.jsonl"), AuditJournal::kDefaultMaxBytes, 10);
  ASSERT_FALSE(round.open());
  record_logged(changes, &round, dir.file("log.txt"));
  EXPECT_EQ(text_of(dir.file("log.txt")), expected.log);
  EXPECT_EQ(text_of(dir.file("round.jsonl")), expected.journal);
  EXPECT_EQ(format_answer_journal(changes), expected.journal);
  // The window: the newest 10 entries, a big group as one (its first kKeptRecords records).
  ASSERT_EQ(round.size(), 10u);
  const std::vector<AuditEntry> window = round.recent(10);
  for (std::size_t i = 0; i < 10; ++i) {
    AuditEntry e = expected.entries[expected.entries.size() - 10 + i];
    EXPECT_EQ(AuditJournal::to_json(window[i]), AuditJournal::to_json(e)) << i;
  }
  // The journal reads back every entry, the records JSON escapes too.
  AuditJournal again(dir.file("round.jsonl"), AuditJournal::kDefaultMaxBytes, 1000);
  ASSERT_FALSE(again.open());
  ASSERT_EQ(again.size(), expected.entries.size());
  const std::vector<AuditEntry> back = again.recent(1000);
  for (std::size_t i = 0; i < back.size(); ++i)
    EXPECT_EQ(AuditJournal::to_json(back[i]), AuditJournal::to_json(expected.entries[i])) << i;
  EXPECT_EQ(back.front().subject, "r0.example.com./A and 37 more");
  EXPECT_EQ(back.front().records[2], records[8]);
}

// A group of 1,000: the file lists every record; memory (live, and read back) its first
// kKeptRecords, with the count.
TEST(AnswerLog, MemoryKeepsTheFirstRecordsOfAGroupTheFileAll) {
  test::TempDir dir;
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("g" + std::to_string(i) + ".gtm.test./A");
  std::vector<scenario::AnswerChange> changes;
  for (const auto& n : names) changes.push_back({n, "eu", "entry 0 (dc1)", "entry 1 (dc2)", "why", "health change", at});
  AuditJournal journal(dir.file("audit.jsonl"));
  ASSERT_FALSE(journal.open());
  journal.append(entry(1));
  record_logged(changes, &journal, dir.file("log.txt"));
  journal.append(entry(2));
  EXPECT_EQ(text_of(dir.file("log.txt")), expected_of(changes).log);
  auto check = [&](const AuditJournal& j) {
    const std::vector<AuditEntry> r = j.recent(10);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].reason, entry(1).reason);
    EXPECT_EQ(r[1].subject, "g0.gtm.test./A and 999 more");
    EXPECT_EQ(r[1].count, 1000u);
    EXPECT_EQ(r[1].region, "eu");
    ASSERT_EQ(r[1].records.size(), kKeptRecords);
    EXPECT_EQ(r[1].records.back(), names[kKeptRecords - 1]);
    EXPECT_EQ(r[2].reason, entry(2).reason);
  };
  check(journal);
  const std::string file = text_of(dir.file("audit.jsonl"));
  EXPECT_EQ(std::count(file.begin(), file.end(), '\n'), 3);
  EXPECT_NE(file.find("\"g999.gtm.test./A\"]"), std::string::npos);
  AuditJournal again(dir.file("audit.jsonl"));
  ASSERT_FALSE(again.open());
  check(again);
}

// The journal's memory keeps a round's newest entries as references into the round: read back
// they are the entries answer_entry() makes, in order with the entries appended around them,
// and only the newest keep_recent() of all of them stay; only the newest round stays referenced.
TEST(AuditJournal, RoundsInTheWindowReadAsTheirEntriesInOrder) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  // n changes, in one region, or (split) the odd ones in "eu": two groups, evens first.
  auto round_of = [&](int first, int n, bool split = false) {
    std::vector<std::string> names;
    for (int i = first; i < first + n; ++i) names.push_back("r" + std::to_string(i) + ".example.com./A");
    std::vector<scenario::AnswerChange> changes;
    for (int i = 0; i < n; ++i)
      changes.push_back({names[static_cast<std::size_t>(i)], split && i % 2 ? "eu" : "", "entry 0 (dc1)", "entry 1 (dc2)",
                         "entry 1 (dc2) is the first healthy entry", "health change", at});
    return scenario::AnswerRound::copy_of(changes);  // copies the texts: `names` may go
  };
  AuditJournal journal({}, AuditJournal::kDefaultMaxBytes, 5);
  journal.append(entry(1));
  journal.remember_round(round_of(0, 3, true));
  EXPECT_EQ(journal.size(), 4u);
  std::vector<AuditEntry> r = journal.recent(10);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].reason, entry(1).reason);
  EXPECT_EQ(r[1].subject, "r0.example.com./A");
  EXPECT_EQ(r[2].subject, "r2.example.com./A");
  EXPECT_EQ(r[2].region, "");
  EXPECT_EQ(r[3].subject, "r1.example.com./A");
  EXPECT_EQ(r[3].region, "eu");
  EXPECT_EQ(r[3].kind, "answer");
  EXPECT_EQ(r[3].by, "pipeline");
  EXPECT_EQ(r[3].reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(AuditJournal::to_json(r[1]), AuditJournal::to_json(answer_entry((*round_of(0, 1))[0])));

  // A round bigger than the window: only its newest; then an operator entry after it. The
  // journal lets go of the older round (its entries left in the window become entries).
  std::shared_ptr<const scenario::AnswerRound> first = round_of(200, 3);
  const std::weak_ptr<const scenario::AnswerRound> first_held = first;
  journal.remember_round(first);
  first.reset();
  EXPECT_FALSE(first_held.expired());
  journal.remember_round(round_of(300, 1));
  EXPECT_TRUE(first_held.expired());
  EXPECT_EQ(journal.recent(4)[0].subject, "r200.example.com./A");
  EXPECT_EQ(journal.recent(4)[2].subject, "r202.example.com./A");
  EXPECT_EQ(journal.recent(4)[2].reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(journal.recent(4)[3].subject, "r300.example.com./A");
  // Of a round whose newest entries cut into a small group: the group's newest. Evens
  // r100..r106, then odds r101..r107.
  journal.remember_round(round_of(100, 8, true));
  r = journal.recent(10);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].subject, "r106.example.com./A");
  EXPECT_EQ(r[1].subject, "r101.example.com./A");
  EXPECT_EQ(r[4].subject, "r107.example.com./A");
  journal.append(entry(2));
  r = journal.recent(10);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].subject, "r101.example.com./A");
  EXPECT_EQ(r[3].subject, "r107.example.com./A");
  EXPECT_EQ(r[4].reason, entry(2).reason);

  // A big group is one entry in the window, whatever its size; it too becomes an entry (its
  // kept records) when the next round comes.
  std::shared_ptr<const scenario::AnswerRound> big = round_of(1000, 400, true);
  const std::weak_ptr<const scenario::AnswerRound> big_held = big;
  journal.remember_round(big);
  big.reset();
  r = journal.recent(10);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[3].subject, "r1000.example.com./A and 199 more");
  EXPECT_EQ(r[3].count, 200u);
  EXPECT_EQ(r[4].subject, "r1001.example.com./A and 199 more");
  EXPECT_EQ(r[4].region, "eu");
  EXPECT_EQ(r[4].records[1], "r1003.example.com./A");
  journal.remember_round(round_of(2000, 1));
  EXPECT_TRUE(big_held.expired());
  r = journal.recent(3);
  EXPECT_EQ(r[1].subject, "r1001.example.com./A and 199 more");
  EXPECT_EQ(r[1].records.size(), kKeptRecords);
  EXPECT_EQ(r[1].count, 200u);
  EXPECT_EQ(r[2].subject, "r2000.example.com./A");
}

}  // namespace
}  // namespace pharos::app
