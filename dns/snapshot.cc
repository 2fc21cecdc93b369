// snapshot.cc: the memory-ordering argument behind lock-free snapshot publication and reclamation.
// Readers are DNS workers (one store and one load per batch); the writer is the control loop.
#include "dns/snapshot.h"

#include <algorithm>
#include <cassert>

namespace pharos::dns {

// Why these orders are enough (and why some must be seq_cst):
//
// Reader (enter):  S1 slot.store(epoch.load())   [seq_cst]
//                  L1 p = table.load()           [seq_cst]
// Writer (publish):W1 old = table.exchange(new)  [seq_cst]
//                  W2 e = ++epoch                [seq_cst]; retire (old, e)
// Reclaim:         R1 s = slot.load()            [seq_cst] for every slot; free old if every
//                                                s is idle or >= e
//
// The hazard is a reader that took `old` while reclaim decides it may free it. The reader's
// store S1 must not be reordered after its load L1: that is a store->load pair, which only
// seq_cst (not acquire/release) forbids. With every operation above in the single total order S:
//  - If R1 saw the reader's slot at a value >= e, the reader loaded the epoch after W2, so after
//    W1 in S, and L1 (after it in program order) returns `new` or later: it cannot hold `old`.
//  - If R1 saw the slot idle, S1 is after R1 in S (a seq_cst load returns the latest store before
//    it in S); R1 is after W1 (same thread, program order), so L1 again returns `new` or later.
//    The slot may then show a stale epoch < e; that only delays a later reclaim, never frees early.
//  - If R1 saw a value < e, we keep `old`.
// leave() only needs release: every read of the table happens-before the idle store, and the
// reclaimer's seq_cst (hence acquire) load that sees it synchronizes with it before freeing.

const AnswerTable* SnapshotReader::enter() {
  active_epoch_.store(epoch_->load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  return table_->load(std::memory_order_seq_cst);
}

void SnapshotReader::leave() { active_epoch_.store(kIdle, std::memory_order_release); }

SnapshotPublisher::SnapshotPublisher(std::size_t readers)
    : n_readers_(readers), readers_(std::make_unique<SnapshotReader[]>(readers)) {
  for (std::size_t i = 0; i < n_readers_; ++i) {
    readers_[i].table_ = &table_;
    readers_[i].epoch_ = &epoch_;
    readers_[i].index_ = i;
  }
}

SnapshotPublisher::~SnapshotPublisher() {
  for (std::size_t i = 0; i < n_readers_; ++i) {
    assert(readers_[i].active_epoch_.load() == SnapshotReader::kIdle && "reader still active");
  }
  delete table_.exchange(nullptr);
}

void SnapshotPublisher::publish(std::unique_ptr<const AnswerTable>&& table) {
  const AnswerTable* old = table_.exchange(table.release(), std::memory_order_seq_cst);
  const std::uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (old != nullptr) retired_.push_back(Retired{std::unique_ptr<const AnswerTable>(old), nullptr, e});
}

// The same argument as for tables: the swap and the epoch bump are seq_cst, and readers load the
// choices (seq_cst) only inside a read section entered at some epoch.
void SnapshotPublisher::publish_choices(std::unique_ptr<const DynamicChoices>&& choices) {
  const AnswerTable* t = table_.load(std::memory_order_seq_cst);
  if (t == nullptr) return;
  const DynamicChoices* old = t->exchange_choices(choices.release());
  const std::uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (old != nullptr) retired_.push_back(Retired{nullptr, std::unique_ptr<const DynamicChoices>(old), e});
}

std::size_t SnapshotPublisher::reclaim() {
  if (retired_.empty()) return 0;
  // The oldest epoch any active reader may be using; readers at or after a table's retire epoch
  // cannot hold it.
  std::uint64_t oldest_active = UINT64_MAX;
  for (std::size_t i = 0; i < n_readers_; ++i) {
    const std::uint64_t s = readers_[i].active_epoch_.load(std::memory_order_seq_cst);
    if (s != SnapshotReader::kIdle) oldest_active = std::min(oldest_active, s);
  }
  const auto before = retired_.size();
  std::erase_if(retired_, [&](const Retired& r) { return oldest_active >= r.epoch; });
  return before - retired_.size();
}

}  // namespace pharos::dns
