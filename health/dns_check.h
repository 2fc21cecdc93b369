// dns_check.h: the `dns` check: one query (qname, qtype) to one server through c-ares on the
// control loop; up when the rcode is the expected one and, if asked, one answer's rdata matches.
//
//   CheckSpec spec{.type = CheckType::kDns,
//                  .params = DnsParams{.server = "192.0.2.53", .qname = "www.example.com.",
//                                      .qtype = 1, .expect_answer = "192.0.2.1"},
//                  .timeout = Millis{2000}};
//   auto prober = make_dns_prober(loop, spec);
//   prober->start([](ProbeResult&& r) { ... r.reason: "rcode SERVFAIL (expected NOERROR)" ... });
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "health/check.h"
#include "health/prober.h"

namespace pharos::health {

// A prober for a kDns spec. A spec it cannot probe (bad server, qname, rcode or expected answer)
// still gets a prober, whose every probe reports down with the reason.
std::unique_ptr<Prober> make_dns_prober(uv_loop_t* loop, const CheckSpec& spec);

// "SERVFAIL" <-> 2; also accepts decimal numbers 0-15. Case-insensitive.
std::optional<int> parse_rcode(std::string_view name);
std::string rcode_name(int rcode);

}  // namespace pharos::health
