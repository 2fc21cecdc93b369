// query_stats.h: per-thread query counters (by transport, qtype, rcode, outcome). One thread
// writes them, any thread reads them (metrics), and no two threads write the same cache line.
//
//   bump(stats.queries);                          // the owning thread, per query
//   ResponderStats now = load(worker_stats);      // any thread: a relaxed copy
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dns/wire.h"

namespace pharos::dns {

// A single-writer counter: a relaxed load and a relaxed store, no read-modify-write. On x86 and
// arm64 that is a plain increment (no lock prefix); a reader sees a value at most a few queries
// old, and never a torn one.
inline void bump(std::uint64_t& c, std::uint64_t n = 1) {
  std::atomic_ref<std::uint64_t> r(c);
  r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline std::uint64_t peek(const std::uint64_t& c) {
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(c)).load(std::memory_order_relaxed);
}

// Query types counted on their own; the rest share "other". A fixed array keeps the count to one
// indexed increment, whatever types clients send.
inline constexpr std::uint16_t kCountedQtypes[] = {
    rrtype::kA,    rrtype::kNs,     rrtype::kCname, rrtype::kSoa,  rrtype::kPtr,  rrtype::kMx,
    rrtype::kTxt,  rrtype::kAaaa,   rrtype::kSrv,   rrtype::kNaptr, rrtype::kDs,  rrtype::kDnskey,
    rrtype::kSvcb, rrtype::kHttps,  257 /* CAA */,  rrtype::kIxfr, rrtype::kAxfr, rrtype::kAny};
inline constexpr std::size_t kQtypeOther = std::size(kCountedQtypes);
inline constexpr std::size_t kQtypeNone = kQtypeOther + 1;  // no readable question
inline constexpr std::size_t kQtypeSlots = kQtypeNone + 1;

inline constexpr std::size_t kQtypeCaa = 14;  // the one counted type above 255
inline constexpr auto kQtypeIndex = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(static_cast<std::uint8_t>(kQtypeOther));
  for (std::size_t i = 0; i < std::size(kCountedQtypes); ++i)
    if (kCountedQtypes[i] < 256) t[kCountedQtypes[i]] = static_cast<std::uint8_t>(i);
  return t;
}();
static_assert(kCountedQtypes[kQtypeCaa] == 257);

// One table load per query.
inline std::size_t qtype_slot(std::uint16_t qtype) {
  if (qtype < 256) return kQtypeIndex[qtype];
  return qtype == 257 ? kQtypeCaa : kQtypeOther;
}
// "A", "AAAA", ..., "other", "none".
const char* qtype_slot_name(std::size_t slot);
// "NOERROR", "NXDOMAIN", ... for the RCODEs pharos sends; nullptr for the others.
const char* rcode_name(std::size_t rcode);

struct ResponderStats {
  std::uint64_t queries = 0;
  std::uint64_t dropped = 0;
  std::uint64_t truncated = 0;
  std::array<std::uint64_t, 24> rcode{};              // responses by extended RCODE
  std::array<std::uint64_t, kQtypeSlots> qtype{};     // queries by qtype_slot()

  ResponderStats& operator+=(const ResponderStats& o);
};

// A copy of counters another thread is writing, read with relaxed loads.
ResponderStats load(const ResponderStats& live);

}  // namespace pharos::dns
