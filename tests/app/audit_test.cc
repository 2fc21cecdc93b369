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

// One selection round is one write: the same lines, in the same order, as one append() each.
TEST(AuditJournal, ABatchWritesTheSameLinesAsOneAppendEach) {
  test::TempDir dir;
  AuditJournal one(dir.file("one.jsonl")), batch(dir.file("batch.jsonl"));
  ASSERT_FALSE(one.open());
  ASSERT_FALSE(batch.open());
  std::vector<AuditEntry> entries;
  for (int i = 0; i < 50; ++i) {
    one.append(entry(i));
    entries.push_back(entry(i));
  }
  batch.append(std::move(entries));
  EXPECT_FALSE(batch.write_error());
  auto text = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string written = text(dir.file("batch.jsonl"));
  EXPECT_EQ(written, text(dir.file("one.jsonl")));
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 50);
  ASSERT_EQ(batch.recent(100).size(), 50u);
  EXPECT_EQ(batch.recent(100).front().reason, entry(0).reason);
  EXPECT_EQ(batch.recent(100).back().reason, entry(49).reason);

  // The in-memory window keeps the newest of a batch larger than itself.
  AuditJournal small(dir.file("small.jsonl"), AuditJournal::kDefaultMaxBytes, 3);
  ASSERT_FALSE(small.open());
  std::vector<AuditEntry> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(entry(i));
  small.append(std::move(ten));
  ASSERT_EQ(small.size(), 3u);
  EXPECT_EQ(small.recent(3).front().reason, entry(7).reason);
  // And after a restart the file gives all ten back.
  AuditJournal again(dir.file("small.jsonl"));
  ASSERT_FALSE(again.open());
  EXPECT_EQ(again.recent(100).size(), 10u);
}

// The log of one round: a summary line when several answers moved, then one line per change,
// each the same as a log_info("answer changed", ...) of that change.
TEST(AnswerLog, ARoundIsASummaryAndTheSameLinesAsOneLogCallEach) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  std::vector<scenario::AnswerChange> changes = {
      {"www.example.com./A", "", "entry 0 (dc1)", "entry 1 (dc2)", "entry 1 (dc2) is the first healthy entry", "health change", at},
      {"api.example.com./AAAA", "eu", "failOpen entry 0 (dc1)", "nodata", "every entry is down: \"x\"", "operator", at},
  };
  std::string expected = format_log_line(LogLevel::kInfo, "answers changed", {{"count", "2"}});
  for (const auto& c : changes) {
    expected += format_log_line(LogLevel::kInfo, "answer changed",
                                {{"record", std::string(c.record)}, {"region", c.region.empty() ? "-" : std::string(c.region)},
                                 {"from", std::string(c.from)}, {"to", std::string(c.to)}, {"reason", c.full_reason()}});
  }
  EXPECT_EQ(format_answer_changes(changes), expected);
  EXPECT_NE(expected.find("reason=\"entry 1 (dc2) is the first healthy entry (health change)\""), std::string::npos) << expected;

  // One change: no summary line.
  changes.resize(1);
  EXPECT_EQ(format_answer_changes(changes).find("answers changed"), std::string::npos);
  const std::string one = format_answer_changes(changes);
  EXPECT_EQ(std::count(one.begin(), one.end(), '\n'), 1);
  EXPECT_TRUE(format_answer_changes({}).empty());

  const auto entries = answer_audit_entries(changes);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "answer");
  EXPECT_EQ(entries[0].subject, "www.example.com./A");
  EXPECT_EQ(entries[0].region, "");
  EXPECT_EQ(entries[0].from, "entry 0 (dc1)");
  EXPECT_EQ(entries[0].to, "entry 1 (dc2)");
  EXPECT_EQ(entries[0].reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(entries[0].by, "pipeline");
  EXPECT_EQ(entries[0].at, at);
}


// A round's log and journal lines are built from the parts its changes share (at most 16 kept at
// a time): whatever the mix, they are the same lines as one log_info() and one append() each.
TEST(AnswerLog, SharedPartsGiveTheSameLinesAsOneCallEach) {
  test::TempDir dir;
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  // Texts that need quoting and escaping, an empty region, 20 distinct combinations (more than
  // are kept) interleaved, two times in one round, a record that JSON must escape.
  std::vector<std::string> records, reasons;
  for (int i = 0; i < 300; ++i) {
    std::string r = "r";
    r += std::to_string(i);
    r += i == 7 ? "\\\"q\"./A" : ".example.com./A";
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
    const int k = (i * 7) % 20;
    changes.push_back({records[static_cast<std::size_t>(i)], k % 3 == 0 ? "" : "eu", "entry 0 (dc1)", k % 2 ? "nodata" : "entry 1 (dc2)",
                       reasons[static_cast<std::size_t>(k)], "health change", at + std::chrono::milliseconds(i < 150 ? 0 : 5)});
  }
  std::string expected_log = format_log_line(LogLevel::kInfo, "answers changed", {{"count", "300"}});
  for (const auto& c : changes)
    expected_log += format_log_line(LogLevel::kInfo, "answer changed",
                                    {{"record", std::string(c.record)}, {"region", c.region.empty() ? "-" : std::string(c.region)},
                                     {"from", std::string(c.from)}, {"to", std::string(c.to)}, {"reason", c.full_reason()}});
  EXPECT_EQ(format_answer_changes(changes), expected_log);

  AuditJournal one(dir.file("one.jsonl"), AuditJournal::kDefaultMaxBytes, 10);
  AuditJournal round(dir.file("round.jsonl"), AuditJournal::kDefaultMaxBytes, 10);
  ASSERT_FALSE(one.open());
  ASSERT_FALSE(round.open());
  for (const auto& e : answer_audit_entries(changes)) one.append(e);
  // record_answer_changes() logs on stderr: into a file for the length of the call.
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int log_fd = ::open(dir.file("log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(log_fd, 0);
  dup2(log_fd, STDERR_FILENO);
  record_answer_changes(changes, &round);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(log_fd);
  auto text = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(text(dir.file("log.txt")), expected_log);
  EXPECT_EQ(text(dir.file("round.jsonl")), text(dir.file("one.jsonl")));
  ASSERT_EQ(round.size(), 10u);
  EXPECT_EQ(round.recent(1).front().subject, "r299.example.com./A");
  EXPECT_EQ(round.recent(10).front().subject, "r290.example.com./A");
  EXPECT_EQ(round.recent(1).front().reason, one.recent(1).front().reason);
  // The journal reads back the line of the record JSON escapes.
  AuditJournal again(dir.file("round.jsonl"), AuditJournal::kDefaultMaxBytes, 1000);
  ASSERT_FALSE(again.open());
  ASSERT_EQ(again.size(), 300u);
  EXPECT_EQ(again.recent(300)[7].subject, records[7]);
  EXPECT_EQ(again.recent(300)[3 * 20 / 7 + 3].reason, changes[3 * 20 / 7 + 3].full_reason());
}

// The journal's memory keeps a round's newest changes as references into the round: read back
// they are the entries answer_entry() makes, in order with the entries appended around them,
// and only the newest keep_recent() of all of them stay; only the newest round stays referenced.
TEST(AuditJournal, RoundsInTheWindowReadAsTheirEntriesInOrder) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  auto round_of = [&](int first, int n) {
    std::vector<std::string> names;
    for (int i = first; i < first + n; ++i) names.push_back("r" + std::to_string(i) + ".example.com./A");
    std::vector<scenario::AnswerChange> changes;
    for (int i = 0; i < n; ++i)
      changes.push_back({names[static_cast<std::size_t>(i)], i % 2 ? "eu" : "", "entry 0 (dc1)", "entry 1 (dc2)",
                         "entry 1 (dc2) is the first healthy entry", "health change", at});
    return scenario::AnswerRound::copy_of(changes);  // copies the texts: `names` may go
  };
  AuditJournal journal({}, AuditJournal::kDefaultMaxBytes, 5);
  journal.append(entry(1));
  journal.remember_round(round_of(0, 3));
  EXPECT_EQ(journal.size(), 4u);
  std::vector<AuditEntry> r = journal.recent(10);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].reason, entry(1).reason);
  EXPECT_EQ(r[1].subject, "r0.example.com./A");
  EXPECT_EQ(r[2].region, "eu");
  EXPECT_EQ(r[3].kind, "answer");
  EXPECT_EQ(r[3].by, "pipeline");
  EXPECT_EQ(r[3].reason, "entry 1 (dc2) is the first healthy entry (health change)");
  EXPECT_EQ(AuditJournal::to_json(r[3]), AuditJournal::to_json(answer_entry((*round_of(2, 1))[0])));

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
  journal.remember_round(round_of(100, 8));
  journal.append(entry(2));
  r = journal.recent(10);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].subject, "r104.example.com./A");
  EXPECT_EQ(r[3].subject, "r107.example.com./A");
  EXPECT_EQ(r[4].reason, entry(2).reason);
  EXPECT_EQ(journal.recent(2)[0].subject, "r107.example.com./A");
}

}  // namespace
}  // namespace pharos::app
