// background_writer_test.cc: the low-priority writer thread: jobs run in the order posted, a small
// bound loses nothing, the destructor runs what is queued; log lines and journal lines that go
// through it come out in the same order and with the same bytes as written directly.
#include "app/background_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "app/answers.h"
#include "app/audit.h"
#include "app/log.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::app {
namespace {

std::string text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(BackgroundWriter, RunsJobsInTheOrderPostedAndFlushWaitsForThem) {
  BackgroundWriter w;
  std::vector<int> seen;  // the writer thread's alone until flush() returns
  for (int i = 0; i < 1000; ++i) w.post([&seen, i] { seen.push_back(i); }, 8);
  w.flush();
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(w.queued_bytes(), 0u);
}

// Two producers of big jobs against a bound of two: they wait for room, nothing is dropped, and
// each producer's jobs keep their order. Small jobs in between never wait.
TEST(BackgroundWriter, ASmallBoundLosesNothing) {
  constexpr std::size_t kBig = BackgroundWriter::kSmallJob;
  BackgroundWriter w(2 * kBig);
  std::vector<std::pair<int, int>> seen;
  auto produce = [&](int who) {
    for (int i = 0; i < 500; ++i) w.post([&seen, who, i] { seen.emplace_back(who, i); }, i % 3 ? kBig : 10);
  };
  std::thread a(produce, 0), b(produce, 1);
  a.join();
  b.join();
  w.flush();
  ASSERT_EQ(seen.size(), 1000u);
  int next[2] = {0, 0};
  for (const auto& [who, i] : seen) ASSERT_EQ(i, next[who]++);
}

TEST(BackgroundWriter, TheDestructorRunsWhatIsQueued) {
  int ran = 0;
  {
    BackgroundWriter w;
    for (int i = 0; i < 100; ++i) w.post([&ran] { ++ran; }, 1);
  }
  EXPECT_EQ(ran, 100);
}

// A job bigger than the whole bound still goes (alone), and a job may post a follow-up.
TEST(BackgroundWriter, AnOversizedJobAndAJobThatPosts) {
  constexpr std::size_t kBig = 3 * BackgroundWriter::kSmallJob;
  BackgroundWriter w(BackgroundWriter::kSmallJob);
  std::vector<int> seen;
  w.post([&] { seen.push_back(1); w.post([&] { seen.push_back(2); }, kBig); }, kBig);
  w.flush();  // the first job, which posted the second
  w.flush();
  w.post([&] { seen.push_back(3); }, kBig);
  w.post([&] { seen.push_back(4); }, kBig);  // waits until the third is done
  w.flush();
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
}

std::vector<scenario::AnswerChange> round_of(int n, std::vector<std::string>& names, const char* to) {
  const scenario::SystemTime at = scenario::SystemTime{} + std::chrono::hours(490'000);
  std::vector<scenario::AnswerChange> out;
  for (int i = 0; i < n; ++i) {
    std::string name = "r";
    name += std::to_string(names.size());
    name += ".example.com./A";
    names.push_back(std::move(name));
  }
  for (int i = 0; i < n; ++i)
    out.push_back({names[names.size() - static_cast<std::size_t>(n) + static_cast<std::size_t>(i)], i % 2 ? "eu" : "",
                   "entry 0 (dc1)", to, "a \"quoted\" reason", "health change", at});
  return out;
}

// Through the writer: the same log and journal bytes, in the same order, as written directly,
// with an operator's journal entry and other log lines between the rounds.
TEST(BackgroundWriter, LogAndJournalThroughItKeepTheirOrderAndBytes) {
  test::TempDir dir;
  std::vector<std::string> names;  // the rounds' record names (never reallocated: views into it)
  names.reserve(4000);
  const auto first = round_of(3000, names, "entry 1 (dc2)");
  const auto second = round_of(5, names, "nodata");
  AuditEntry op;
  op.at = scenario::SystemTime{} + std::chrono::hours(490'001);
  op.kind = "maintenance";
  op.subject = "dc1";
  op.to = "on";
  op.by = "operator";

  auto run = [&](const std::string& tag, bool background) {
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    const int fd = ::open(dir.file(tag + ".log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    {
      AuditJournal journal(dir.file(tag + ".jsonl"));
      ASSERT_FALSE(journal.open());
      std::unique_ptr<BackgroundWriter> w;
      if (background) {
        w = std::make_unique<BackgroundWriter>(4096);  // small: the producer waits for room too
        set_log_writer(w.get());
        journal.set_writer(w.get());
      }
      log_info("before");
      record_answer_changes(first, &journal, w.get());
      journal.append(op);
      log_info("between");
      record_answer_changes(second, &journal, w.get());
      log_info("after");
      // The in-memory window is up to date at once, whatever the file's writer has done.
      EXPECT_EQ(journal.recent(1).front().to, "nodata");
      EXPECT_EQ(journal.recent(6).front().kind, "maintenance");
      if (background) {
        set_log_writer(nullptr);
        journal.set_writer(nullptr);
      }
    }
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
  };
  run("direct", false);
  run("background", true);
  const std::string log = text(dir.file("direct.log"));
  EXPECT_EQ(log.find("level=info msg=\"before\""), 0u) << log.substr(0, 200);
  // The first round is two groups of 1,500 (no region, eu): a line each; the second a line per
  // change.
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1 + 2 + 1 + 5 + 1);
  EXPECT_NE(log.find("msg=\"answers changed\" count=1500 records=\"r0.example.com./A r2.example.com./A "), std::string::npos);
  EXPECT_EQ(text(dir.file("background.log")), log);
  const std::string journal = text(dir.file("direct.jsonl"));
  EXPECT_EQ(std::count(journal.begin(), journal.end(), '\n'), 2 + 1 + 5);
  EXPECT_NE(journal.find("\"r2999.example.com./A\"]"), std::string::npos);
  EXPECT_NE(journal.find("\"kind\":\"maintenance\""), std::string::npos);
  EXPECT_EQ(text(dir.file("background.jsonl")), journal);
}

}  // namespace
}  // namespace pharos::app
