// responder.cc: decides the answer to one query (CONFORMANCE.md) and writes it from the
// precomputed pieces: header, the client's own question bytes, a copied fragment with its
// pointers patched, and OPT.
#include "dns/responder.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace pharos::dns {
namespace {

constexpr std::uint64_t kFormerrRepeatMs = 2000;
constexpr std::uint16_t kTsigBadKey = 17;

// Ports of simple UDP services that echo or chatter: answering them can start a packet loop (row 3).
bool reflection_port(std::uint16_t port) {
  return port == 7 || port == 13 || port == 19 || port == 37 || port == 464;
}

std::uint16_t source_port(const sockaddr* sa) {
  if (sa == nullptr) return 0;
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}

// Writes response header fields. Only RD and CD are copied from the query (rows 11–15).
void write_header(std::uint8_t* out, const ParsedQuery& q, std::uint16_t rcode, bool aa, bool copy_flags) {
  std::uint16_t flags = kFlagQr | static_cast<std::uint16_t>(static_cast<std::uint16_t>(q.opcode) << kOpcodeShift);
  if (copy_flags) flags |= q.flags & (kFlagRd | kFlagCd);
  if (aa) flags |= kFlagAa;
  flags |= rcode & kRcodeMask;
  store_u16(out + kOffId, q.id);
  store_u16(out + kOffFlags, flags);
  std::memset(out + kOffQdcount, 0, 8);
}

class OptWriter {
 public:
  // Size of the OPT RR pharos adds to this response.
  static std::size_t size(const ParsedQuery& q, const TableOptions& o, const ClientInfo& c) {
    if (!q.edns.present) return 0;
    std::size_t n = edns::kOptRrSize;
    if (q.edns.nsid && !o.nsid.empty()) n += 4 + o.nsid.size();
    if (q.edns.ecs) n += 4 + 4 + (q.edns.ecs_source_prefix + 7u) / 8u;
    if (keepalive(q, c)) n += 4 + 2;
    return n;
  }

  static std::size_t write(std::uint8_t* p, const ParsedQuery& q, const TableOptions& o, const ClientInfo& c,
                           std::uint16_t ext_rcode, std::uint8_t ecs_scope = 0) {
    std::uint8_t* start = p;
    *p++ = 0;  // root owner
    store_u16(p, rrtype::kOpt);
    store_u16(p + 2, o.max_udp_payload);
    // Extended RCODE, version 0, and no flags: DO is not echoed because DNSSEC is not served.
    store_u32(p + 4, static_cast<std::uint32_t>(ext_rcode >> 4) << 24);
    std::uint8_t* rdlen = p + 8;
    p += 10;
    if (q.edns.nsid && !o.nsid.empty()) {
      store_u16(p, edns::kOptNsid);
      store_u16(p + 2, static_cast<std::uint16_t>(o.nsid.size()));
      std::memcpy(p + 4, o.nsid.data(), o.nsid.size());
      p += 4 + o.nsid.size();
    }
    if (q.edns.ecs) {
      // RFC 7871 §7.2.1: echo family, source prefix and address; scope 0 = the answer is the same
      // for every client, else the network the (geo) answer holds for.
      const std::size_t octets = (q.edns.ecs_source_prefix + 7u) / 8u;
      store_u16(p, edns::kOptClientSubnet);
      store_u16(p + 2, static_cast<std::uint16_t>(4 + octets));
      store_u16(p + 4, q.edns.ecs_family);
      p[6] = q.edns.ecs_source_prefix;
      p[7] = ecs_scope;
      std::memcpy(p + 8, q.edns.ecs_address, octets);
      p += 8 + octets;
    }
    if (keepalive(q, c)) {
      store_u16(p, edns::kOptKeepalive);
      store_u16(p + 2, 2);
      store_u16(p + 4, c.tcp_keepalive_100ms);
      p += 6;
    }
    store_u16(rdlen, static_cast<std::uint16_t>(p - rdlen - 2));
    return static_cast<std::size_t>(p - start);
  }

 private:
  // RFC 7828: only over TCP, only when the client asked.
  static bool keepalive(const ParsedQuery& q, const ClientInfo& c) {
    return q.edns.keepalive && c.transport == Transport::kTcp && c.tcp_keepalive_100ms != 0;
  }
};

}  // namespace

bool Responder::formerr_repeated(const ClientInfo& client, std::uint16_t id, std::uint64_t now_ms) {
  if (client.addr == nullptr || client.transport != Transport::kUdp) return false;
  std::uint64_t key = id;
  if (client.addr->sa_family == AF_INET) {
    key ^= std::uint64_t{reinterpret_cast<const sockaddr_in*>(client.addr)->sin_addr.s_addr} << 16;
  } else if (client.addr->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(client.addr)->sin6_addr.s6_addr;
    key ^= hash_name(a, 16) << 16;
  }
  key = key * 0x9E3779B97F4A7C15ull + 1;  // never 0, the empty-slot marker
  FormerrSlot& slot = formerr_[(key >> 32) % formerr_.size()];
  if (slot.key == key && now_ms - slot.at_ms < kFormerrRepeatMs) return true;
  slot.key = key;
  slot.at_ms = now_ms;
  return false;
}

std::size_t Responder::respond(const AnswerTable& table, const std::uint8_t* query, std::size_t len,
                               std::uint8_t* out, std::size_t out_cap, const ClientInfo& client,
                               std::uint64_t now_ms) {
  parse_query(query, len, q_);
  return respond_parsed(table, q_, query, out, out_cap, client, now_ms);
}

std::size_t Responder::respond_parsed(const AnswerTable& table, ParsedQuery& q, const std::uint8_t* query,
                                      std::uint8_t* out, std::size_t out_cap, const ClientInfo& client,
                                      std::uint64_t now_ms) {
  ResponderStats& st = stats_[static_cast<std::size_t>(client.transport)];
  st_ = &st;
  last_opt_ = 0;
  bump(st.queries);
  const TableOptions& opts = table.options();
  if (client.transport == Transport::kUdp && reflection_port(source_port(client.addr))) {
    bump(st.qtype[kQtypeNone]);
    bump(st.dropped);
    return 0;
  }
  bump(st.qtype[q.question_ok ? qtype_slot(q.qtype) : kQtypeNone]);

  const std::size_t opt_size = OptWriter::size(q, opts, client);
  std::size_t limit = out_cap;
  if (client.transport == Transport::kUdp) {
    std::size_t udp = kClassicUdpPayload;
    if (q.edns.present) udp = std::clamp<std::size_t>(q.edns.udp_size, kClassicUdpPayload, opts.max_udp_payload);
    limit = std::min(limit, udp);
  }
  limit = std::min(limit, kMaxMessage);

  // A reply that is only a header, optionally the question, and OPT.
  auto short_reply = [&](Rcode rcode, bool question, bool copy_flags) -> std::size_t {
    const auto code = static_cast<std::uint16_t>(rcode);
    write_header(out, q, code, false, copy_flags);
    std::size_t n = kHeaderSize;
    if (question && q.question_ok) {
      std::memcpy(out + n, query + kHeaderSize, q.question_end - kHeaderSize);
      n = q.question_end;
      set_header_count(out, kOffQdcount, 1);
    }
    if (q.edns.present && n + opt_size <= limit) {
      n += OptWriter::write(out + n, q, opts, client, code);
      set_header_count(out, kOffArcount, 1);
    }
    bump(st.rcode[std::min<std::size_t>(code, st.rcode.size() - 1)]);
    return n;
  };

  switch (q.outcome) {
    case ParseOutcome::kDrop:
      bump(st.dropped);
      return 0;
    case ParseOutcome::kNotImp:
      // No flag of the query is echoed, RD included (row 6).
      return short_reply(Rcode::kNotImp, false, false);
    case ParseOutcome::kFormErr:
      // A peer that keeps sending the same broken packet gets one answer, not a loop (row 4).
      if (formerr_repeated(client, q.id, now_ms)) {
        bump(st.dropped);
        return 0;
      }
      return short_reply(Rcode::kFormErr, true, true);
    case ParseOutcome::kBadVers:
      return short_reply(Rcode::kBadVers, true, true);
    case ParseOutcome::kTsig:
      return tsig_badkey(q, query, out, limit, opts, client);
    case ParseOutcome::kQuery:
      break;
  }

  if (q.qtype == rrtype::kAxfr || q.qtype == rrtype::kIxfr) {
    // Zone transfers are not offered: AXFR over UDP is not a thing (row 31); otherwise refuse.
    const bool notimp = q.qtype == rrtype::kAxfr && client.transport == Transport::kUdp;
    return short_reply(notimp ? Rcode::kNotImp : Rcode::kRefused, true, true);
  }

  const Answer* a = nullptr;
  if (q.qclass == rrclass::kIn || q.qclass == rrclass::kAny) a = table.lookup(q, client.transport);
  else if (q.qclass == rrclass::kCh) a = table.lookup_chaos(q);
  if (a == nullptr) return short_reply(Rcode::kRefused, true, true);  // not ours (rows 34, 36)
  std::uint8_t ecs_scope = 0;
  if (a->rcode & kDynamicAnswer) {  // GTM
    const Answer* dynamic = a;
    a = table.resolve_dynamic(*dynamic, q, client.addr, &ecs_scope);
    table.count_dynamic(thread_, *dynamic, a);
  }

  const std::uint16_t rcode = a->rcode & kRcodeBits;
  const bool aa = (a->rcode & kNotAuthoritative) == 0;
  write_header(out, q, rcode, aa, true);
  const std::size_t qend = q.question_end;
  std::memcpy(out + kHeaderSize, query + kHeaderSize, qend - kHeaderSize);
  set_header_count(out, kOffQdcount, 1);

  std::size_t body = 0;
  std::uint16_t ar = 0;
  if (qend + a->len_full + opt_size <= limit) {
    body = a->len_full;
    ar = a->ar_full;
  } else if (qend + a->len_req + opt_size <= limit) {
    body = a->len_req;  // drop optional additional records; not a truncation (RFC 2181 §9)
    ar = a->ar_req;
  } else {
    // Does not fit: header, question and OPT with TC set, so the client retries over TCP.
    store_u16(out + kOffFlags, header_flags(out) | kFlagTc);
    bump(st.truncated);
    body = 0;
  }
  std::size_t n = qend;
  if (body != 0) {
    std::memcpy(out + n, table.fragment(*a), body);
    const Relocation* r = table.relocations(*a);
    for (std::uint8_t i = 0; i < a->nreloc; ++i) {
      if (r[i].at >= body) break;
      const std::size_t target = (r[i].target & kRelocFragment) ? qend + (r[i].target & ~kRelocFragment)
                                                                : qend - 4 - r[i].target;
      store_u16(out + n + r[i].at, static_cast<std::uint16_t>(kPointerMask | target));
    }
    n += body;
    set_header_count(out, kOffAncount, a->an);
    set_header_count(out, kOffNscount, a->ns);
  }
  if (q.edns.present) {
    last_opt_ = OptWriter::write(out + n, q, opts, client, rcode, ecs_scope);
    n += last_opt_;
    ++ar;
  }
  set_header_count(out, kOffArcount, body != 0 ? ar : static_cast<std::uint16_t>(q.edns.present ? 1 : 0));
  bump(st.rcode[std::min<std::size_t>(rcode, st.rcode.size() - 1)]);
  return n;
}

std::size_t Responder::cut_to_question(std::uint8_t* out, std::size_t len, std::size_t question_end,
                                       std::size_t opt_size) {
  if (question_end <= kHeaderSize || question_end + opt_size >= len) return 0;
  std::memmove(out + question_end, out + len - opt_size, opt_size);
  store_u16(out + kOffFlags, header_flags(out) | kFlagTc);
  set_header_count(out, kOffAncount, 0);
  set_header_count(out, kOffNscount, 0);
  set_header_count(out, kOffArcount, opt_size != 0 ? 1 : 0);
  bump(stats_[static_cast<std::size_t>(Transport::kUdp)].truncated);
  return question_end + opt_size;
}

// A TSIG-signed query: we hold no keys, so NOTAUTH with an unsigned TSIG carrying BADKEY
// (RFC 8945 §5.2.1): same key name, algorithm, time and fudge, empty MAC.
std::size_t Responder::tsig_badkey(const ParsedQuery& q, const std::uint8_t* query, std::uint8_t* out,
                                   std::size_t limit, const TableOptions& opts, const ClientInfo& client) {
  write_header(out, q, static_cast<std::uint16_t>(Rcode::kNotAuth), false, true);
  std::memcpy(out + kHeaderSize, query + kHeaderSize, q.question_end - kHeaderSize);
  set_header_count(out, kOffQdcount, 1);
  std::size_t n = q.question_end;
  std::uint16_t ar = 0;
  const std::size_t opt_size = OptWriter::size(q, opts, client);
  if (q.edns.present && n + opt_size <= limit) {
    n += OptWriter::write(out + n, q, opts, client, static_cast<std::uint16_t>(Rcode::kNotAuth));
    ++ar;
  }
  // Key name as sent (uncompressed names only; a compressed key name is not echoed).
  const std::uint8_t* t = query + q.tsig.offset;
  const std::uint8_t* end = t + q.tsig.length;
  const std::uint8_t* p = t;
  while (p < end && *p != 0 && (*p & kLabelTypeMask) == 0) p += 1 + *p;
  if (p >= end || *p != 0) return finish(out, n, ar, Rcode::kNotAuth);
  const std::size_t key_len = static_cast<std::size_t>(p - t) + 1;
  const std::uint8_t* rdata = t + key_len + 10;
  const std::uint8_t* alg = rdata;
  while (alg < end && *alg != 0 && (*alg & kLabelTypeMask) == 0) alg += 1 + *alg;
  if (alg >= end || *alg != 0) return finish(out, n, ar, Rcode::kNotAuth);
  const std::size_t alg_len = static_cast<std::size_t>(alg - rdata) + 1;
  if (rdata + alg_len + 10 > end) return finish(out, n, ar, Rcode::kNotAuth);
  const std::size_t rdlen = alg_len + 6 + 2 + 2 + 2 + 2 + 2;  // time, fudge, mac size, id, error, other len
  if (n + key_len + 10 + rdlen > limit) return finish(out, n, ar, Rcode::kNotAuth);
  std::uint8_t* o = out + n;
  std::memcpy(o, t, key_len);
  o += key_len;
  store_u16(o, rrtype::kTsig);
  store_u16(o + 2, rrclass::kAny);
  store_u32(o + 4, 0);
  store_u16(o + 8, static_cast<std::uint16_t>(rdlen));
  o += 10;
  std::memcpy(o, rdata, alg_len + 8);  // algorithm, time signed (6), fudge (2)
  o += alg_len + 8;
  store_u16(o, 0);                     // MAC size
  store_u16(o + 2, q.id);              // original ID
  store_u16(o + 4, kTsigBadKey);
  store_u16(o + 6, 0);                 // other len
  o += 8;
  n = static_cast<std::size_t>(o - out);
  return finish(out, n, static_cast<std::uint16_t>(ar + 1), Rcode::kNotAuth);
}

std::size_t Responder::finish(std::uint8_t* out, std::size_t n, std::uint16_t ar, Rcode rcode) {
  set_header_count(out, kOffArcount, ar);
  bump(st_->rcode[static_cast<std::size_t>(rcode)]);
  return n;
}

}  // namespace pharos::dns
