// answer_table.h: immutable (qname, qtype) -> precomputed wire answer; built off the hot path,
// read lock-free by every DNS worker.
//
// Every answer is a ready fragment of RRs (answer, authority and additional sections) whose names
// are compressed against the question at offset 12. Owners equal to the qname are the constant
// pointer 0xC00C; other compression targets depend only on the qname's length and are patched
// per query from a short relocation list, so one fragment serves a name, its wildcard matches and
// every name below a zone cut alike.
//
//   Result<std::unique_ptr<AnswerTable>> t = build_table(std::move(zones), options);
//   const Answer* a = (*t)->lookup(parsed_query, Transport::kUdp);  // nullptr: not our zone
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "dns/dynamic.h"
#include "dns/name_set.h"
#include "dns/query.h"
#include "dns/region_table.h"
#include "dns/result.h"
#include "dns/zone.h"

struct sockaddr;

namespace pharos::dns {

enum class Transport : std::uint8_t { kUdp, kTcp };

// Server-wide answer options; they travel with the table so that a reload swaps them together.
struct TableOptions {
  std::uint16_t max_udp_payload = kDefaultMaxUdpPayload;
  // CHAOS TXT answers; empty = REFUSED (hidden by default).
  std::string id_server;
  std::string hostname_bind;
  std::string version_bind;
  std::string nsid;                 // EDNS NSID payload; empty = not sent
  std::uint32_t any_hinfo_ttl = 3600;  // TTL of the RFC 8482 HINFO answer to ANY over UDP
};

// How a relocation entry patches a 2-byte compression pointer in a copied fragment.
// kind bit 15 = 0: pointer to the qname suffix whose wire length is `value`
// kind bit 15 = 1: pointer to offset `value` inside the fragment itself
struct Relocation {
  std::uint16_t at;      // offset of the pointer inside the fragment
  std::uint16_t target;  // see above
};
inline constexpr std::uint16_t kRelocFragment = 0x8000;

// A precomputed response body (everything after the question).
struct Answer {
  std::uint32_t data = 0;       // offset in AnswerTable::bytes(): relocations, then the fragment
  std::uint16_t len_full = 0;   // fragment bytes with every additional record
  std::uint16_t len_req = 0;    // fragment bytes without the optional additional records
  std::uint16_t an = 0, ns = 0, ar_full = 0, ar_req = 0;
  std::uint16_t qtype = 0;      // key inside a node's answer list
  std::uint8_t rcode = 0;       // low 5 bits: RCODE; kNotAuthoritative: AA=0 (referrals)
  std::uint8_t nreloc = 0;
};
inline constexpr std::uint8_t kNotAuthoritative = 0x80;
inline constexpr std::uint8_t kDynamicAnswer = 0x40;  // `data` is a dynamic slot: see resolve_dynamic
inline constexpr std::uint8_t kRcodeBits = 0x1F;

class AnswerTable {
 public:
  // Finds the answer for a parsed QUERY (class IN or ANY). Returns nullptr when the name is in no
  // served zone (REFUSED).
  const Answer* lookup(const ParsedQuery& q, Transport transport) const;
  // Cache hints for a batch: start loading the hash slot of a parsed qname, then (once that is
  // in) the entry it points at. Exact names then cost no cache miss in lookup().
  void prefetch_slot(const ParsedQuery& q) const { index_.prefetch_slot(q.qname_hash); }
  void prefetch_entry(const ParsedQuery& q) const { index_.prefetch_entry(q.qname_hash); }
  // Then (entry in) the node's answers, and (those in) the bytes of the one the query will take.
  void prefetch_answers(const ParsedQuery& q) const {
    if (const Node* n = index_.find(q.qname, q.qname_len, q.qname_hash)) __builtin_prefetch(&answers_[n->first_answer]);
  }
  void prefetch_fragment(const ParsedQuery& q, Transport t) const {
    const Node* n = index_.find(q.qname, q.qname_len, q.qname_hash);
    if (n == nullptr) return;
    const Answer* a = answer_at_node(*n, q, t);
    if (!(a->rcode & kDynamicAnswer)) __builtin_prefetch(bytes_.data() + a->data);  // dynamic: data is a slot
  }
  // CHAOS TXT for id.server / hostname.bind / version.bind, or nullptr (REFUSED).
  const Answer* lookup_chaos(const ParsedQuery& q) const;

  // The live answer behind a dynamic one (a.rcode & kDynamicAnswer), for this client: its region
  // comes from the query's Client Subnet, else from `source`. `*scope` is set to the ECS scope
  // prefix to send (0 when the answer is the same for everyone).
  const Answer* resolve_dynamic(const Answer& a, const ParsedQuery& q, const sockaddr* source,
                                std::uint8_t* scope) const;

  // Dynamic RRsets (GTM records), in the order given to build_table.
  struct DynamicSlot {
    std::uint32_t first_alternative = 0;  // answers_ index of alternative 0
    std::uint32_t alternatives = 0;
    std::uint32_t first_outcome = 0;      // its first answer-counter column (count_dynamic)
    std::uint16_t zone = 0;
    bool geo = false;
  };
  std::size_t dynamic_slots() const { return slots_.size(); }
  const DynamicSlot& dynamic_slot(std::size_t i) const { return slots_[i]; }
  std::size_t region_count() const { return region_names_.size() + 1; }  // region 0: no region
  const std::vector<std::string>& region_names() const { return region_names_; }  // regions 1..n
  // Region of a client address (family 4 or 6, network order), with the matched prefix length.
  std::size_t region_of(int family, const std::uint8_t* address, std::uint8_t* prefix) const {
    return regions_.region_of(family, address, prefix);
  }
  const RegionTable& region_table() const { return regions_; }

  // Answers served per dynamic RRset and outcome, for metrics. Outcome o of a slot: alternative o
  // for o < alternatives, then kOutcomeNoData, kOutcomeServFail, kOutcomeRefused past them.
  // Counters live with the table, one row per DNS thread on its own cache lines (single writer,
  // relaxed: query_stats.h), so a reload starts them again from zero.
  struct DynamicInfo {
    std::string key;                       // DynamicRrset::key
    std::vector<AlternativeInfo> alternatives;
  };
  static constexpr std::uint32_t kOutcomeNoData = 0, kOutcomeServFail = 1, kOutcomeRefused = 2;
  static constexpr std::uint32_t kSpecialOutcomes = 3;  // after the alternatives
  const DynamicInfo& dynamic_info(std::size_t slot) const { return info_[slot]; }
  // Control thread, before the table is published: room for `threads` counting threads.
  void attach_counters(std::size_t threads) const;
  // Thread `thread` served `served` for the dynamic answer `dynamic` (a no-op without counters
  // or for an unknown thread). No allocation.
  void count_dynamic(std::size_t thread, const Answer& dynamic, const Answer* served) const;
  // Sum over threads of one outcome of one slot; any thread, while it holds the table.
  std::uint64_t dynamic_count(std::size_t slot, std::uint32_t outcome) const;

  // Control thread: the choices readers see next. SnapshotPublisher calls these so that replaced
  // choices are freed only when no reader can hold them.
  const DynamicChoices* choices() const { return choices_.load(std::memory_order_seq_cst); }
  const DynamicChoices* exchange_choices(const DynamicChoices* c) const {
    return choices_.exchange(c, std::memory_order_seq_cst);
  }
  ~AnswerTable();

  const std::uint8_t* bytes() const { return bytes_.data(); }
  const Relocation* relocations(const Answer& a) const {
    return reinterpret_cast<const Relocation*>(bytes_.data() + a.data);
  }
  const std::uint8_t* fragment(const Answer& a) const {
    return bytes_.data() + a.data + a.nreloc * sizeof(Relocation);
  }
  const TableOptions& options() const { return options_; }
  AnswerTable() = default;
  AnswerTable(const AnswerTable&) = delete;
  AnswerTable& operator=(const AnswerTable&) = delete;
  std::size_t node_count() const { return index_.size(); }
  std::size_t answer_count() const { return answers_.size(); }
  std::size_t memory_bytes() const;
  std::size_t zone_count() const { return zones_.size(); }

 private:
  friend class TableBuilder;

  struct Node {
    std::uint32_t first_answer = 0;   // answers_[first_answer, first_answer + n_answers)
    std::uint32_t default_answer = 0; // NODATA, CNAME-chain default or referral
    std::uint16_t n_answers = 0;
    std::uint16_t zone = 0;
    std::uint8_t flags = 0;
  };
  static constexpr std::uint8_t kCut = 0x01;          // delegation point (NS, not apex)
  static constexpr std::uint8_t kDelegated = 0x02;    // at or below a zone cut: refer
  static constexpr std::uint8_t kWildcardChild = 0x04; // "*.<this name>" exists
  static constexpr std::uint8_t kHasCname = 0x08;
  static constexpr std::uint8_t kHasData = 0x10;      // any RRset at all (not an empty non-terminal)
  static constexpr std::uint8_t kAnyTcp = 0x20;       // answers_ holds a qtype-ANY entry

  struct Zone {
    std::uint32_t nxdomain = 0;   // answer index
    std::uint32_t nodata = 0;
  };

  // Name -> node, built last from names_ and nodes_, which are then freed. Each entry holds a node
  // and its name side by side, so an exact lookup touches one hash slot and one entry instead of
  // a slot, an id-to-offset array, the name bytes and the node array: on a cold cache (the
  // kernel's network path evicts the table between batches) that is two misses instead of four.
  class NodeIndex {
   public:
    // Consumes both, freeing each as soon as it is copied, so that the index never coexists
    // with a full copy of them (a large zone's peak memory).
    void build(NameSet&& names, std::vector<Node>&& nodes);
    const Node* find(const std::uint8_t* name, std::size_t len, std::uint64_t hash) const {
      if (slots_.empty()) return nullptr;
      const auto tag = static_cast<std::uint32_t>(hash >> 32);
      for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.entry == 0) return nullptr;
        if (s.tag != tag) continue;
        const std::byte* e = entry(s.entry);
        const auto* stored = reinterpret_cast<const std::uint8_t*>(e + sizeof(Node));
        if (stored[0] == len && std::memcmp(stored + 1, name, len) == 0)
          return std::launder(reinterpret_cast<const Node*>(e));
      }
    }
    // Starts loading the hash slot of `hash` into the cache.
    void prefetch_slot(std::uint64_t hash) const {
      if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
    }
    // Starts loading the entry the first slot of `hash` points at, when its tag matches.
    void prefetch_entry(std::uint64_t hash) const {
      if (slots_.empty()) return;
      const Slot& s = slots_[hash & mask_];
      if (s.entry != 0 && s.tag == static_cast<std::uint32_t>(hash >> 32)) __builtin_prefetch(entry(s.entry));
    }
    std::size_t size() const { return count_; }
    std::size_t memory_bytes() const { return arena_size_ + slots_.size() * sizeof(Slot); }

   private:
    struct Slot {
      std::uint32_t tag = 0;    // high hash bits: most mismatches end without touching the entry
      std::uint32_t entry = 0;  // entry offset / kAlign + 1; 0 = empty
    };
    static constexpr std::size_t kAlign = alignof(Node);
    const std::byte* entry(std::uint32_t e) const { return arena_.get() + std::size_t{e - 1} * kAlign; }

    std::unique_ptr<std::byte[]> arena_;  // per name: Node, then [len][name bytes], padded to kAlign
    std::size_t arena_size_ = 0;
    std::vector<Slot> slots_;
    std::uint64_t mask_ = 0;
    std::size_t count_ = 0;
  };

  const Answer* answer_at_node(const Node& n, const ParsedQuery& q, Transport t) const;

  NameSet names_;                      // node id = name id; only while the table is built
  std::vector<Node> nodes_;            // likewise
  NodeIndex index_;                    // what lookups use
  std::vector<Answer> answers_;
  std::vector<std::uint8_t> bytes_;
  std::vector<Zone> zones_;
  std::uint32_t any_hinfo_ = 0;        // answer index of the RFC 8482 HINFO
  std::uint32_t empty_ = 0;            // NOERROR, AA, no records (CHAOS names, other types)
  std::uint32_t servfail_ = 0;         // dynamic all-down policies
  std::uint32_t refused_ = 0;
  std::vector<DynamicSlot> slots_;
  std::vector<DynamicInfo> info_;      // by slot
  std::uint32_t outcomes_ = 0;         // counter columns over every slot
  mutable std::unique_ptr<std::uint64_t[]> counts_;  // [thread * stride + column], see attach_counters
  mutable std::uint64_t* count_rows_ = nullptr;      // counts_, aligned to a cache line
  mutable std::size_t count_threads_ = 0, count_stride_ = 0;
  std::vector<std::string> region_names_;
  RegionTable regions_;                // explicit networks, then GeoIP-derived ones
  // The live choices: a designated mutable slot of an otherwise immutable table, swapped by the
  // control thread and read by workers inside their read sections.
  mutable std::atomic<const DynamicChoices*> choices_{nullptr};
  std::uint32_t chaos_[3] = {0, 0, 0}; // answer index + 1 for id.server, hostname.bind, version.bind
  TableOptions options_;
};

// Builds a table from validated zones, consuming them (their name sets are reused, which keeps
// the peak memory of a large load low). Nested zones are allowed (the deeper zone wins).
// Dynamic RRsets (GTM records) must lie inside a served zone, above any zone cut, and may not
// clash with zone data (the same type, or a CNAME next to other data). Every slot starts on
// alternative 0 until choices are published.
Result<std::unique_ptr<AnswerTable>> build_table(std::vector<ZoneData>&& zones, const TableOptions& options,
                                                 std::vector<DynamicRrset>&& dynamic = {},
                                                 const std::vector<DynamicRegion>& regions = {});

}  // namespace pharos::dns
