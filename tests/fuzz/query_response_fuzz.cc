// query_response_fuzz.cc: arbitrary bytes as a query, over UDP and TCP, against the example zone.
// Every response must be a well-formed DNS message that fits the transport's limit.
#include <cstdlib>

#include "dns/ldns_compat.h"
#include "dns/responder.h"
#include "tests/fuzz/fuzz_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos::dns;
  static const AnswerTable& table = pharos::fuzz::example_table();
  static Responder responder;
  static std::uint8_t out[kMaxMessage];
  for (const auto transport : {Transport::kUdp, Transport::kTcp}) {
    const std::size_t cap = transport == Transport::kUdp ? 4096 : kMaxMessage;
    const std::size_t n = responder.respond(table, data, size, out, cap, ClientInfo{transport}, 0);
    if (n == 0) continue;
    ldns_pkt* pkt = nullptr;
    if (n > cap || n < kHeaderSize || header_id(out) != header_id(data) ||
        ldns_wire2pkt(&pkt, out, n) != LDNS_STATUS_OK)
      std::abort();
    ldns_pkt_free(pkt);
  }
  return 0;
}
