// answer_table.cc: the read side of the answer table: find the precomputed answer for a query.
// Exact names cost one hash probe; names that do not exist walk up to their closest encloser
// (RFC 4592 §3.3.1) for a referral, a wildcard or NXDOMAIN.
#include "dns/answer_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

#include "dns/query_stats.h"

namespace pharos::dns {

namespace {
constexpr std::uint8_t kWildcardLabel[] = {1, '*'};
}

const Answer* AnswerTable::answer_at_node(const Node& n, const ParsedQuery& q, Transport t) const {
  if (n.flags & kDelegated) {
    // The parent side holds DS at a cut; we serve none, so that is NODATA, not a referral.
    if ((n.flags & kCut) && q.qtype == rrtype::kDs && !(n.flags & kHasCname))
      return &answers_[zones_[n.zone].nodata];
    return &answers_[n.default_answer];
  }
  std::uint16_t qtype = q.qtype;
  if (qtype == rrtype::kAny) {
    if (n.flags & kHasCname) {
      qtype = rrtype::kCname;
    } else if (!(n.flags & kHasData)) {
      return &answers_[n.default_answer];
    } else if (t == Transport::kUdp) {
      return &answers_[any_hinfo_];  // RFC 8482: one synthesized HINFO over UDP
    } else if (!(n.flags & kAnyTcp)) {
      return &answers_[n.first_answer];  // a single RRset is the whole of ANY
    }
  }
  const Answer* a = &answers_[n.first_answer];
  for (const Answer* end = a + n.n_answers; a != end; ++a)
    if (a->qtype == qtype) return a;
  return &answers_[n.default_answer];
}

void AnswerTable::NodeIndex::build(NameSet&& names, std::vector<Node>&& nodes) {
  static_assert(std::is_trivially_copyable_v<Node> && sizeof(Node) % kAlign == 0);
  auto padded = [](std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; };
  names.drop_index();
  count_ = names.size();
  std::size_t bytes = 0;
  for (std::uint32_t id = 0; id < count_; ++id) bytes += sizeof(Node) + padded(1 + names.length(id));
  arena_ = std::make_unique<std::byte[]>(bytes);
  arena_size_ = bytes;
  for (std::size_t id = 0, at = 0; id < count_; ++id) {
    new (arena_.get() + at) Node(nodes[id]);
    auto* stored = reinterpret_cast<std::uint8_t*>(arena_.get() + at + sizeof(Node));
    stored[0] = static_cast<std::uint8_t>(names.length(static_cast<std::uint32_t>(id)));
    std::memcpy(stored + 1, names.name(static_cast<std::uint32_t>(id)), stored[0]);
    at += sizeof(Node) + padded(1 + stored[0]);
  }
  names = NameSet{};
  std::vector<Node>().swap(nodes);

  std::size_t cap = 16;
  while (cap < count_ * 2) cap *= 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (std::size_t n = 0, at = 0; n < count_; ++n) {
    const auto* stored = reinterpret_cast<const std::uint8_t*>(arena_.get() + at + sizeof(Node));
    const std::uint64_t hash = hash_name(stored + 1, stored[0]);
    std::uint64_t i = hash & mask_;
    while (slots_[i].entry != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<std::uint32_t>(hash >> 32), static_cast<std::uint32_t>(at / kAlign + 1)};
    at += sizeof(Node) + padded(1 + stored[0]);
  }
}

const Answer* AnswerTable::lookup(const ParsedQuery& q, Transport t) const {
  if (const Node* exact = index_.find(q.qname, q.qname_len, q.qname_hash)) return answer_at_node(*exact, q, t);

  for (std::uint8_t label = 1; label <= q.label_count; ++label) {
    const std::size_t off = label < q.label_count ? q.label_offsets[label] : q.qname_len - 1u;
    const std::uint8_t* suffix = q.qname + off;
    const std::size_t len = q.qname_len - off;
    const Node* ce = index_.find(suffix, len, hash_name(suffix, len));
    if (ce == nullptr) continue;
    const Node& encloser = *ce;
    if (encloser.flags & kDelegated) return &answers_[encloser.default_answer];
    if (encloser.flags & kWildcardChild) {
      std::uint8_t wild[kMaxNameWire + 2];
      std::memcpy(wild, kWildcardLabel, sizeof kWildcardLabel);
      std::memcpy(wild + sizeof kWildcardLabel, suffix, len);
      const std::size_t wlen = len + sizeof kWildcardLabel;
      if (const Node* w = index_.find(wild, wlen, hash_name(wild, wlen))) return answer_at_node(*w, q, t);
    }
    return &answers_[zones_[encloser.zone].nxdomain];
  }
  return nullptr;
}

const Answer* AnswerTable::lookup_chaos(const ParsedQuery& q) const {
  static constexpr std::uint8_t kIdServer[] = {2, 'i', 'd', 6, 's', 'e', 'r', 'v', 'e', 'r', 0};
  static constexpr std::uint8_t kHostnameBind[] = {8, 'h', 'o', 's', 't', 'n', 'a', 'm', 'e', 4, 'b', 'i', 'n', 'd', 0};
  static constexpr std::uint8_t kVersionBind[] = {7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4, 'b', 'i', 'n', 'd', 0};
  const std::uint8_t* names[3] = {kIdServer, kHostnameBind, kVersionBind};
  const std::size_t lens[3] = {sizeof kIdServer, sizeof kHostnameBind, sizeof kVersionBind};
  for (int i = 0; i < 3; ++i) {
    if (q.qname_len != lens[i] || std::memcmp(q.qname, names[i], lens[i]) != 0) continue;
    if (chaos_[i] == 0) return nullptr;
    if (q.qtype == rrtype::kTxt || q.qtype == rrtype::kAny) return &answers_[chaos_[i] - 1];
    return &answers_[empty_];
  }
  return nullptr;
}

AnswerTable::~AnswerTable() { delete choices_.load(std::memory_order_acquire); }

const Answer* AnswerTable::resolve_dynamic(const Answer& a, const ParsedQuery& q, const sockaddr* source,
                                           std::uint8_t* scope) const {
  const DynamicSlot& slot = slots_[a.data];
  std::size_t region = 0;
  *scope = 0;
  if (slot.geo && !region_names_.empty()) {
    std::uint8_t matched = 0;
    if (q.edns.ecs) {
      // RFC 7871 §7.2.1: the scope is the network the answer holds for; a client in no region
      // gets an answer only for its own subnet.
      region = region_of(q.edns.ecs_family == 1 ? 4 : 6, q.edns.ecs_address, &matched);
      *scope = region != 0 ? matched : q.edns.ecs_source_prefix;
    } else if (source != nullptr && source->sa_family == AF_INET) {
      region = region_of(4, reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(source)->sin_addr), &matched);
    } else if (source != nullptr && source->sa_family == AF_INET6) {
      const auto& a6 = reinterpret_cast<const sockaddr_in6*>(source)->sin6_addr;
      region = IN6_IS_ADDR_V4MAPPED(&a6) ? region_of(4, a6.s6_addr + 12, &matched) : region_of(6, a6.s6_addr, &matched);
    }
  }
  const DynamicChoices* c = choices_.load(std::memory_order_seq_cst);
  std::uint32_t choice = 0;
  if (c != nullptr && a.data < c->slots() && region < c->regions()) choice = c->get(a.data, region);
  switch (choice) {
    case kChoiceNoData: return &answers_[zones_[slot.zone].nodata];
    case kChoiceServFail: return &answers_[servfail_];
    case kChoiceRefused: return &answers_[refused_];
    default: break;
  }
  return &answers_[slot.first_alternative + (choice < slot.alternatives ? choice : 0)];
}

void AnswerTable::attach_counters(std::size_t threads) const {
  if (counts_ || threads == 0 || outcomes_ == 0) return;
  constexpr std::size_t kLine = 64 / sizeof(std::uint64_t);
  // Each thread's row starts on its own cache line, so no two threads write the same line.
  count_stride_ = (outcomes_ + kLine - 1) / kLine * kLine;
  counts_ = std::make_unique<std::uint64_t[]>(threads * count_stride_ + kLine);
  auto addr = reinterpret_cast<std::uintptr_t>(counts_.get());
  count_rows_ = counts_.get() + ((64 - addr % 64) % 64) / sizeof(std::uint64_t);
  count_threads_ = threads;
}

void AnswerTable::count_dynamic(std::size_t thread, const Answer& dynamic, const Answer* served) const {
  if (thread >= count_threads_) return;
  const DynamicSlot& slot = slots_[dynamic.data];
  const Answer* first = &answers_[slot.first_alternative];
  std::uint32_t outcome;
  if (served >= first && served < first + slot.alternatives) {
    outcome = static_cast<std::uint32_t>(served - first);
  } else if (served == &answers_[servfail_]) {
    outcome = slot.alternatives + kOutcomeServFail;
  } else if (served == &answers_[refused_]) {
    outcome = slot.alternatives + kOutcomeRefused;
  } else {
    outcome = slot.alternatives + kOutcomeNoData;
  }
  bump(count_rows_[thread * count_stride_ + slot.first_outcome + outcome]);
}

std::uint64_t AnswerTable::dynamic_count(std::size_t slot, std::uint32_t outcome) const {
  if (count_threads_ == 0 || slot >= slots_.size()) return 0;
  if (outcome >= slots_[slot].alternatives + kSpecialOutcomes) return 0;
  const std::size_t column = slots_[slot].first_outcome + outcome;
  std::uint64_t sum = 0;
  for (std::size_t t = 0; t < count_threads_; ++t) sum += peek(count_rows_[t * count_stride_ + column]);
  return sum;
}

std::size_t AnswerTable::memory_bytes() const {
  return index_.memory_bytes() + answers_.size() * sizeof(Answer) +
         bytes_.size() + zones_.size() * sizeof(Zone) + regions_.memory_bytes();
}

}  // namespace pharos::dns
