// responder.h: turns one raw query into one raw response using the current AnswerTable.
// This file decides *what* to answer (CONFORMANCE.md); answer_table.h holds the encoded pieces.
// One Responder per worker: it holds that worker's counters and FORMERR-loop memory, so it needs
// no locks. No allocation, no exception.
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

namespace pharos::dns {

struct ClientInfo {
  Transport transport = Transport::kUdp;
  const sockaddr* addr = nullptr;       // may be null (tests, fuzzing)
  std::uint16_t tcp_keepalive_100ms = 0; // advertised in edns-tcp-keepalive over TCP, 0 = never
};

struct ResponderStats {
  std::uint64_t queries = 0;
  std::uint64_t dropped = 0;
  std::uint64_t truncated = 0;
  std::array<std::uint64_t, 24> rcode{};  // by extended RCODE
};

class Responder {
 public:
  // Writes the response into out[0, out_cap) and returns its length; 0 means drop.
  // out_cap must be at least 512; for TCP pass 65535.
  std::size_t respond(const AnswerTable& table, const std::uint8_t* query, std::size_t len,
                      std::uint8_t* out, std::size_t out_cap, const ClientInfo& client,
                      std::uint64_t now_ms);

  const ResponderStats& stats() const { return stats_; }

 private:
  // Remembers recent FORMERR answers (client address, ID) so a looping peer gets one, not a stream.
  bool formerr_repeated(const ClientInfo& client, std::uint16_t id, std::uint64_t now_ms);
  std::size_t tsig_badkey(const std::uint8_t* query, std::uint8_t* out, std::size_t limit,
                          const TableOptions& opts, const ClientInfo& client);
  std::size_t finish(std::uint8_t* out, std::size_t n, std::uint16_t ar, Rcode rcode);

  ParsedQuery q_;
  ResponderStats stats_;
  struct FormerrSlot {
    std::uint64_t key = 0;
    std::uint64_t at_ms = 0;
  };
  std::array<FormerrSlot, 256> formerr_{};
};

}  // namespace pharos::dns
