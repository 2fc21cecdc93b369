// query_stats.cc: names for the counted qtypes and RCODEs, and sums of per-thread counters.
#include "dns/query_stats.h"

namespace pharos::dns {

const char* qtype_slot_name(std::size_t slot) {
  static constexpr const char* kNames[] = {"A",    "NS",   "CNAME", "SOA",   "PTR",   "MX",
                                           "TXT",  "AAAA", "SRV",   "NAPTR", "DS",    "DNSKEY",
                                           "SVCB", "HTTPS", "CAA",  "IXFR",  "AXFR",  "ANY"};
  static_assert(std::size(kNames) == std::size(kCountedQtypes));
  if (slot < std::size(kNames)) return kNames[slot];
  return slot == kQtypeOther ? "other" : "none";
}

const char* rcode_name(std::size_t rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    case 9: return "NOTAUTH";
    case 16: return "BADVERS";
    case 23: return "BADCOOKIE";
    default: return nullptr;
  }
}

ResponderStats& ResponderStats::operator+=(const ResponderStats& o) {
  queries += o.queries;
  dropped += o.dropped;
  truncated += o.truncated;
  for (std::size_t i = 0; i < rcode.size(); ++i) rcode[i] += o.rcode[i];
  for (std::size_t i = 0; i < qtype.size(); ++i) qtype[i] += o.qtype[i];
  return *this;
}

ResponderStats load(const ResponderStats& live) {
  ResponderStats s;
  s.queries = peek(live.queries);
  s.dropped = peek(live.dropped);
  s.truncated = peek(live.truncated);
  for (std::size_t i = 0; i < s.rcode.size(); ++i) s.rcode[i] = peek(live.rcode[i]);
  for (std::size_t i = 0; i < s.qtype.size(); ++i) s.qtype[i] = peek(live.qtype[i]);
  return s;
}

}  // namespace pharos::dns
