// test_util.h: helpers for DNS unit tests: build queries by hand or with ldns, run them through
// a Responder, and parse responses with ldns as an independent check of our encoding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/ldns_compat.h"

#include "dns/answer_table.h"
#include "dns/responder.h"
#include "dns/zone.h"

namespace pharos::dns::testing {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

// A wire query for `name` `type` with optional EDNS (payload 0 = no OPT).
std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type,
                                     std::uint16_t cls = 1, std::uint16_t edns_payload = 0,
                                     std::uint16_t id = 0x1234, bool rd = true);

// Hex string ("0012 01 00 ...", spaces ignored) to bytes.
std::vector<std::uint8_t> hex(const std::string& s);

// Builds a table from zone text (origin example.com. unless given). Fails the test on error.
std::unique_ptr<AnswerTable> table_from_text(const std::string& text, const TableOptions& options = {},
                                             const std::string& origin = "example.com.");

// The text of zones/example.com.zone.
std::string example_zone_text();

struct Reply {
  std::vector<std::uint8_t> wire;  // empty = dropped
  PktPtr pkt;                      // parsed by ldns; null if it did not parse
};

Reply ask(Responder& r, const AnswerTable& t, const std::vector<std::uint8_t>& query,
          Transport transport = Transport::kUdp, const sockaddr* from = nullptr);

// "www.example.com. 300 IN A 192.0.2.10"-style lines of one section, sorted.
std::vector<std::string> section(const ldns_pkt* p, ldns_pkt_section s);

}  // namespace pharos::dns::testing
