// responder.h: turns one raw query into one raw response using the current AnswerTable.
// This file decides *what* to answer (CONFORMANCE.md); answer_table.h holds the encoded pieces.
// One Responder per worker thread: it holds that thread's counters (single writer, readable from
// any thread: query_stats.h) and FORMERR-loop memory, so it needs no locks. No allocation, no
// exception.
//
//   Responder r;
//   std::size_t n = r.respond(table, query, qlen, out, sizeof out, client, now_ms);
//   if (n > 0) send(out, n);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <sys/socket.h>

#include "dns/answer_table.h"
#include "dns/query.h"
#include "dns/query_stats.h"

namespace pharos::dns {

struct ClientInfo {
  Transport transport = Transport::kUdp;
  const sockaddr* addr = nullptr;       // may be null (tests, fuzzing)
  std::uint16_t tcp_keepalive_100ms = 0; // advertised in edns-tcp-keepalive over TCP, 0 = never
};

class Responder {
 public:
  // Writes the response into out[0, out_cap) and returns its length; 0 means drop.
  // out_cap must be at least 512; for TCP pass 65535.
  std::size_t respond(const AnswerTable& table, const std::uint8_t* query, std::size_t len,
                      std::uint8_t* out, std::size_t out_cap, const ClientInfo& client,
                      std::uint64_t now_ms);
  // The same, for a query the caller has already parsed into `q` with parse_query (a batch
  // parses every datagram first to start the table's cache loads early). `q` is the responder's
  // scratch afterwards.
  std::size_t respond_parsed(const AnswerTable& table, ParsedQuery& q, const std::uint8_t* query,
                             std::uint8_t* out, std::size_t out_cap, const ClientInfo& client,
                             std::uint64_t now_ms);

  // The size of the OPT record that ends the last reply respond*() wrote (0: none, or not an
  // answer from the table).
  std::size_t last_opt_size() const { return last_opt_; }
  // A UDP reply the kernel refused to send unfragmented (EMSGSIZE: replies leave with DF set, RFC
  // 9715 section 3.1, and this one is larger than the outgoing interface's MTU) is cut in place to
  // its header, question and the `opt_size` bytes of OPT it ended with, and TC is set: the client
  // retries over TCP. Returns the new length, or 0 when `out` cannot be cut that way.
  std::size_t cut_to_question(std::uint8_t* out, std::size_t len, std::size_t question_end, std::size_t opt_size);

  // Live counters by transport; read them from another thread with load() (query_stats.h).
  const ResponderStats& stats(Transport t) const { return stats_[static_cast<std::size_t>(t)]; }
  // Both transports, read with relaxed loads: safe from any thread.
  ResponderStats stats() const {
    ResponderStats s = load(stats_[0]);
    s += load(stats_[1]);
    return s;
  }
  // This responder's thread index for the table's per-thread GTM answer counters
  // (AnswerTable::count_dynamic); kNoThread counts nothing there.
  static constexpr std::size_t kNoThread = static_cast<std::size_t>(-1);
  void set_thread(std::size_t index) { thread_ = index; }

 private:
  // Remembers recent FORMERR answers (client address, ID) so a looping peer gets one, not a stream.
  bool formerr_repeated(const ClientInfo& client, std::uint16_t id, std::uint64_t now_ms);
  std::size_t tsig_badkey(const ParsedQuery& q, const std::uint8_t* query, std::uint8_t* out, std::size_t limit,
                          const TableOptions& opts, const ClientInfo& client);
  std::size_t finish(std::uint8_t* out, std::size_t n, std::uint16_t ar, Rcode rcode);

  ParsedQuery q_;
  std::size_t thread_ = kNoThread;
  ResponderStats* st_ = nullptr;  // stats_ of the transport being answered
  std::size_t last_opt_ = 0;
  // Own cache lines: only this responder's thread writes them.
  alignas(64) std::array<ResponderStats, 2> stats_{};  // by Transport
  struct FormerrSlot {
    std::uint64_t key = 0;
    std::uint64_t at_ms = 0;
  };
  std::array<FormerrSlot, 256> formerr_{};
};

}  // namespace pharos::dns
