// snapshot.h: hands immutable AnswerTable snapshots to DNS workers without locks or per-query
// allocation, and frees replaced tables once no worker can still be reading them (epoch-based,
// quiescent-state reclamation).
//
//   SnapshotPublisher pub{workers};                 // control thread owns it
//   pub.publish(std::move(table));                  // control thread: swap in a new table
//   pub.reclaim();                                  // control thread, from a timer: free old tables
//
//   SnapshotReader& r = pub.reader(i);              // worker i, once
//   { ReadSection s{r}; if (const AnswerTable* t = s.table()) serve_batch(*t); }  // per batch
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dns/answer_table.h"

namespace pharos::dns {

// Each reader (one per worker thread) owns one slot on its own cache line so that entering and
// leaving a batch never contends with another worker.
class SnapshotReader {
 public:
  // Marks this reader active at the current epoch and returns the table to use until leave().
  // May return nullptr before the first publish.
  const AnswerTable* enter();
  // Marks this reader quiescent: it holds no table pointer any more.
  void leave();
  // Its place among the publisher's readers: the thread index for per-thread counters.
  std::size_t index() const { return index_; }

 private:
  friend class SnapshotPublisher;
  static constexpr std::uint64_t kIdle = 0;

  const std::atomic<const AnswerTable*>* table_ = nullptr;
  const std::atomic<std::uint64_t>* epoch_ = nullptr;
  std::size_t index_ = 0;
  // alignas also rounds sizeof up to a multiple of 64, so no other reader's slot shares the line.
  alignas(64) std::atomic<std::uint64_t> active_epoch_{kIdle};
};

// Enters a reader for one batch and leaves it on scope exit.
class ReadSection {
 public:
  explicit ReadSection(SnapshotReader& r) : r_(r), table_(r.enter()) {}
  ~ReadSection() { r_.leave(); }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;
  const AnswerTable* table() const { return table_; }

 private:
  SnapshotReader& r_;
  const AnswerTable* table_;
};

// publish(), reclaim() and current() must all be called from one thread (the control loop);
// readers may run on any number of other threads, one SnapshotReader each.
class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(std::size_t readers);
  // Frees the current and every retired table. Every reader must have stopped first.
  ~SnapshotPublisher();
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Makes `table` the one readers get from their next enter(); the previous one is retired.
  void publish(std::unique_ptr<const AnswerTable>&& table);
  // Makes `choices` the dynamic choices of the current table (GTM answers); the previous ones
  // are retired like a table. Ignored when no table is published.
  void publish_choices(std::unique_ptr<const DynamicChoices>&& choices);
  // Frees every retired table no reader can still hold. Returns how many were freed.
  std::size_t reclaim();

  const AnswerTable* current() const { return table_.load(std::memory_order_acquire); }
  std::size_t retired_count() const { return retired_.size(); }
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }
  std::size_t reader_count() const { return n_readers_; }
  SnapshotReader& reader(std::size_t i) { return readers_[i]; }

 private:
  struct Retired {
    std::unique_ptr<const AnswerTable> table;
    std::unique_ptr<const DynamicChoices> choices;
    std::uint64_t epoch;  // readers at this epoch or later cannot hold `table` or `choices`
  };

  std::atomic<const AnswerTable*> table_{nullptr};
  std::atomic<std::uint64_t> epoch_{1};  // never kIdle
  std::size_t n_readers_;
  std::unique_ptr<SnapshotReader[]> readers_;
  std::vector<Retired> retired_;
};

}  // namespace pharos::dns
