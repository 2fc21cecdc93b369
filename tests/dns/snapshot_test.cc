// snapshot_test.cc: epoch-based snapshot publication: readers always see a live table, reclaim
// frees only what no reader can hold, and a hammering writer stays clean under ASan.
#include "dns/snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace pharos::dns {
namespace {

// A table whose max_udp_payload carries a generation number readers can check.
std::unique_ptr<const AnswerTable> table_gen(std::uint16_t gen) {
  TableOptions o;
  o.max_udp_payload = gen;
  auto t = build_table({}, o);
  EXPECT_TRUE(t.ok());
  return std::move(t.value());
}

TEST(Snapshot, ReaderSeesNothingBeforeFirstPublish) {
  SnapshotPublisher pub{1};
  ReadSection s{pub.reader(0)};
  EXPECT_EQ(s.table(), nullptr);
}

TEST(Snapshot, ReaderSeesLatestPublishedTable) {
  SnapshotPublisher pub{2};
  pub.publish(table_gen(1));
  pub.publish(table_gen(2));
  ReadSection s{pub.reader(1)};
  ASSERT_NE(s.table(), nullptr);
  EXPECT_EQ(s.table()->options().max_udp_payload, 2);
  EXPECT_EQ(s.table(), pub.current());
}

TEST(Snapshot, ReclaimKeepsTableWhileReaderHoldsIt) {
  SnapshotPublisher pub{1};
  pub.publish(table_gen(1));
  SnapshotReader& r = pub.reader(0);
  const AnswerTable* held = r.enter();
  pub.publish(table_gen(2));
  EXPECT_EQ(pub.reclaim(), 0u);
  EXPECT_EQ(pub.retired_count(), 1u);
  EXPECT_EQ(held->options().max_udp_payload, 1);  // still valid (ASan would catch a free)
  r.leave();
  EXPECT_EQ(pub.reclaim(), 1u);
  EXPECT_EQ(pub.retired_count(), 0u);
}

TEST(Snapshot, ReaderThatEnteredAfterPublishDoesNotBlockReclaim) {
  SnapshotPublisher pub{1};
  pub.publish(table_gen(1));
  pub.publish(table_gen(2));
  SnapshotReader& r = pub.reader(0);
  const AnswerTable* t = r.enter();
  EXPECT_EQ(t->options().max_udp_payload, 2);
  EXPECT_EQ(pub.reclaim(), 1u);
  r.leave();
}

TEST(Snapshot, IdleReadersDoNotBlockReclaim) {
  SnapshotPublisher pub{4};
  for (std::uint16_t g = 1; g <= 5; ++g) pub.publish(table_gen(g));
  EXPECT_EQ(pub.retired_count(), 4u);
  EXPECT_EQ(pub.reclaim(), 4u);
}

TEST(Snapshot, OldReaderBlocksOnlyTablesRetiredAfterItEntered) {
  SnapshotPublisher pub{2};
  pub.publish(table_gen(1));
  SnapshotReader& slow = pub.reader(0);
  slow.enter();                  // holds generation 1
  pub.publish(table_gen(2));     // retires 1
  pub.publish(table_gen(3));     // retires 2
  EXPECT_EQ(pub.reclaim(), 0u);  // the slow reader's epoch predates both retirements
  slow.leave();
  EXPECT_EQ(pub.reclaim(), 2u);
}

// Readers hammer enter/read/leave while the writer publishes and reclaims as fast as it can.
// Correctness is that every table a reader sees is alive (ASan) and never older than one it saw
// before (generations only grow).
TEST(Snapshot, ConcurrentReadersAndWriterStayConsistent) {
  constexpr std::size_t kReaders = 3;
  constexpr std::uint16_t kPublishes = 1500;
  SnapshotPublisher pub{kReaders};
  pub.publish(table_gen(1));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<int> errors{0};
  std::atomic<std::size_t> started{0};

  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      SnapshotReader& r = pub.reader(i);
      std::uint16_t last = 0;
      std::uint64_t n = 0;
      started.fetch_add(1);
      // Bounded: stops when the writer is done, and never runs more than 50M rounds.
      while (!done.load(std::memory_order_acquire) && n < 50'000'000) {
        ReadSection s{r};
        const AnswerTable* t = s.table();
        const std::uint16_t g = t->options().max_udp_payload;
        if (g < last || t->node_count() != 0) errors.fetch_add(1);
        last = g;
        ++n;
      }
      reads.fetch_add(n);
    });
  }
  // Publish only once every reader runs, so the two sides really overlap (bounded wait).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (started.load() < kReaders && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  for (std::uint16_t g = 2; g <= kPublishes; ++g) {
    pub.publish(table_gen(g));
    pub.reclaim();
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  pub.reclaim();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(pub.retired_count(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(pub.current()->options().max_udp_payload, kPublishes);
}

}  // namespace
}  // namespace pharos::dns
