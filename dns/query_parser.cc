// query_parser.cc: validates a whole incoming message and extracts what the responder needs.
// Rules follow CONFORMANCE.md a.1–a.6: RFC 9267 for names, pointers and counts; RFC 6891 for OPT;
// RFC 7871 for Client Subnet; RFC 8945 placement rules for TSIG.
#include "dns/query.h"

#include <cstring>

#include "dns/wire_reader.h"

namespace pharos::dns {
namespace {

constexpr int kMaxPointerHops = 64;  // far more than any legitimate name needs

// Reads the QNAME: plain labels only (a query's first name has nothing before it to point at).
bool read_qname(WireReader& r, ParsedQuery& q) {
  std::size_t out = 0;
  std::uint8_t labels = 0;
  for (;;) {
    const std::uint8_t len = r.u8();
    if (!r.ok()) return false;
    if ((len & kLabelTypeMask) != 0) return false;  // pointer or extended label type
    if (out + 1 + len > kMaxNameWire) return false;
    q.qname[out] = len;
    if (len == 0) {
      q.qname_len = static_cast<std::uint8_t>(out + 1);
      q.label_count = labels;
      return true;
    }
    q.label_offsets[labels++] = static_cast<std::uint8_t>(out);
    const std::uint8_t* p = r.bytes(len);
    if (p == nullptr) return false;
    lowercase_copy(p, len, q.qname + out + 1);
    out += 1 + len;
  }
}

// Skips a name anywhere in the message. Pointers must point strictly backwards, each one before
// the previous, which bounds the work and rules out loops; the uncompressed length is counted.
bool skip_name(WireReader& r, bool* is_root) {
  const std::uint8_t* msg = r.data();
  const std::size_t size = r.size();
  std::size_t pos = r.pos();
  std::size_t limit = pos;      // a pointer must land before this
  std::size_t total = 0;
  bool jumped = false;
  std::size_t resume = 0;
  *is_root = false;
  for (int hops = 0;;) {
    if (pos >= size) return false;
    const std::uint8_t len = msg[pos];
    if ((len & kLabelTypeMask) == kLabelPointer) {
      if (pos + 1 >= size) return false;
      const std::size_t target = load_u16(msg + pos) & ~kPointerMask;
      if (target >= limit || target < kHeaderSize || ++hops > kMaxPointerHops) return false;
      if (!jumped) resume = pos + 2;
      jumped = true;
      limit = target;
      pos = target;
      continue;
    }
    if ((len & kLabelTypeMask) != 0) return false;
    total += 1 + len;
    if (total > kMaxNameWire) return false;
    if (len == 0) {
      if (!jumped) {
        *is_root = (total == 1);
        resume = pos + 1;
      }
      break;
    }
    pos += 1 + len;
  }
  r.skip(resume - r.pos());
  return r.ok();
}

// RFC 7871 §6: family, prefix lengths, address octets and the zero bits after the prefix.
bool parse_client_subnet(const std::uint8_t* p, std::size_t len, EdnsInfo& e) {
  if (len < 4) return false;
  const std::uint16_t family = load_u16(p);
  const std::uint8_t source = p[2];
  const std::uint8_t scope = p[3];
  const std::size_t max_bits = family == 1 ? 32 : family == 2 ? 128 : 0;
  if (max_bits == 0 || source > max_bits || scope != 0) return false;
  const std::size_t octets = (source + 7u) / 8u;
  if (len - 4 != octets) return false;
  if (octets > 0 && (source % 8) != 0) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0xFFu >> (source % 8));
    if ((p[4 + octets - 1] & mask) != 0) return false;
  }
  if (e.ecs) return true;  // only the first Client Subnet option counts
  e.ecs = true;
  e.ecs_family = family;
  e.ecs_source_prefix = source;
  std::memset(e.ecs_address, 0, sizeof e.ecs_address);
  std::memcpy(e.ecs_address, p + 4, octets);
  return true;
}

bool parse_opt(std::uint16_t cls, std::uint32_t ttl, const std::uint8_t* rdata, std::size_t rdlen,
               EdnsInfo& e) {
  e.present = true;
  e.udp_size = cls;
  e.version = static_cast<std::uint8_t>(ttl >> 16);
  e.do_bit = (ttl & edns::kFlagDo) != 0;
  std::size_t pos = 0;
  while (pos < rdlen) {
    if (rdlen - pos < 4) return false;
    const std::uint16_t code = load_u16(rdata + pos);
    const std::uint16_t olen = load_u16(rdata + pos + 2);
    pos += 4;
    if (olen > rdlen - pos) return false;
    const std::uint8_t* data = rdata + pos;
    switch (code) {
      case edns::kOptClientSubnet:
        if (!parse_client_subnet(data, olen, e)) return false;
        break;
      case edns::kOptNsid: e.nsid = true; break;       // data, if any, is ignored (row 59)
      case edns::kOptKeepalive: e.keepalive = true; break;
      default: break;  // cookies (not implemented), padding and unknown options are ignored
    }
    pos += olen;
  }
  return true;
}

// A TSIG RDATA that can be interpreted (RFC 8945 §4.2): an uncompressed algorithm name of at
// most 255 octets, time signed (6), fudge (2), MAC size and MAC, original ID (2), error (2),
// other length and other data, filling the RDATA exactly. One that cannot is FORMERR (§5.2).
bool tsig_rdata_ok(const std::uint8_t* rdata, std::size_t rdlen) {
  std::size_t pos = 0;
  for (;;) {
    if (pos >= rdlen) return false;
    const std::uint8_t label = rdata[pos];
    if ((label & kLabelTypeMask) != 0) return false;
    pos += 1 + label;
    if (pos > kMaxNameWire) return false;
    if (label == 0) break;
  }
  if (rdlen - pos < 10) return false;                // time signed, fudge, MAC size
  const std::size_t mac = load_u16(rdata + pos + 8);
  pos += 10;
  if (rdlen - pos < mac + 6) return false;           // MAC, original ID, error, other length
  pos += mac;
  const std::size_t other = load_u16(rdata + pos + 4);
  pos += 6;
  return rdlen - pos == other;
}

// Walks every record after the question. Returns false on any structural error.
bool parse_records(WireReader& r, std::uint16_t an, std::uint16_t ns, std::uint16_t ar, ParsedQuery& q) {
  const std::uint32_t total = std::uint32_t{an} + ns + ar;
  for (std::uint32_t i = 0; i < total; ++i) {
    const std::size_t start = r.pos();
    bool root = false;
    if (!skip_name(r, &root)) return false;
    const std::uint16_t type = r.u16();
    const std::uint16_t cls = r.u16();
    const std::uint32_t ttl = r.u32();
    const std::uint16_t rdlen = r.u16();
    const std::uint8_t* rdata = r.bytes(rdlen);
    if (!r.ok()) return false;
    const bool additional = i >= std::uint32_t{an} + ns;
    if (type == rrtype::kOpt) {
      if (!additional || !root || q.edns.present) return false;   // rows 43, 44, 45
      if (!parse_opt(cls, ttl, rdata, rdlen, q.edns)) return false;
    } else if (type == rrtype::kTsig) {
      if (!additional || i + 1 != total || cls != rrclass::kAny) return false;  // row 61
      if (!tsig_rdata_ok(rdata, rdlen)) return false;
      q.tsig.offset = start;
      q.tsig.length = r.pos() - start;
    }
  }
  return true;
}

}  // namespace

std::uint64_t hash_name(const std::uint8_t* name, std::size_t len) {
  // FNV-1a with a final avalanche: names are short and this runs once per lookup.
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < len; ++i) h = (h ^ name[i]) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

void parse_query(const std::uint8_t* msg, std::size_t len, ParsedQuery& q) {
  q.outcome = ParseOutcome::kDrop;
  q.question_ok = false;
  q.question_end = 0;
  q.edns = EdnsInfo{};
  q.tsig = TsigInfo{};
  if (len < kHeaderSize) return;  // no usable ID or flags: drop (row 1)
  q.id = header_id(msg);
  q.flags = header_flags(msg);
  if ((q.flags & kFlagQr) != 0) return;  // a response: never answer it (row 2)
  q.opcode = header_opcode(q.flags);

  const std::uint16_t qd = header_count(msg, kOffQdcount);
  const std::uint16_t an = header_count(msg, kOffAncount);
  const std::uint16_t ns = header_count(msg, kOffNscount);
  const std::uint16_t ar = header_count(msg, kOffArcount);
  WireReader r{msg, len};
  r.skip(kHeaderSize);

  if (q.opcode != Opcode::kQuery) {
    // NOTIMP whatever the rest holds; parse it only to learn whether the client speaks EDNS.
    q.outcome = ParseOutcome::kNotImp;
    bool ok = true;
    for (std::uint16_t i = 0; i < qd && ok; ++i) {
      bool root = false;
      ok = skip_name(r, &root);
      r.skip(4);
      ok = ok && r.ok();
    }
    if (!ok || !parse_records(r, an, ns, ar, q)) q.edns = EdnsInfo{};
    return;
  }

  q.outcome = ParseOutcome::kFormErr;
  if (qd != 1) {
    // QDCOUNT 0 or > 1 (RFC 9619): FORMERR, header only; still look for OPT when there is no
    // question, so the error carries OPT for an EDNS client.
    if (qd == 0 && !parse_records(r, an, ns, ar, q)) q.edns = EdnsInfo{};
    return;
  }
  if (!read_qname(r, q)) return;
  q.qtype = r.u16();
  q.qclass = r.u16();
  if (!r.ok()) return;
  q.question_ok = true;
  q.question_end = r.pos();
  q.qname_hash = hash_name(q.qname, q.qname_len);

  if (!parse_records(r, an, ns, ar, q)) return;
  if (an != 0) return;  // records in the answer section of a query (row 41)
  // Trailing bytes after the counted records are ignored (row 38).
  if (q.edns.present && q.edns.version != 0) {
    q.outcome = ParseOutcome::kBadVers;
    return;
  }
  q.outcome = q.tsig.length != 0 ? ParseOutcome::kTsig : ParseOutcome::kQuery;
}

}  // namespace pharos::dns
