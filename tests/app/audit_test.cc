// audit_test.cc: the audit journal: JSON lines that read back, rotation at the size limit, a torn
// last line after a crash, the in-memory window, and a journal that cannot be opened.
#include "app/audit.h"

#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace pharos::app
