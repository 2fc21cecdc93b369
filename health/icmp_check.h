// icmp_check.h: the `icmp` check (one echo request to a host, up on its reply) and the `gateway`
// check (the same, to the default route's gateway of one address family, or a given address).
//
//   auto ping = make_icmp_prober(loop, resolver, spec);       // IcmpParams{.host = "192.0.2.1"}
//   auto gw = make_gateway_prober(loop, gateway_spec);        // GatewayParams{.family = 6}
//   gw->start([](ProbeResult&& r) { ... r.reason: "no IPv6 default route" ... });
//
// Both share one ICMP socket per loop and family (see icmp_socket.h). Sockets belong to the
// network namespace of the thread that first probes on the loop.
#pragma once

#include <uv.h>

#include <memory>

#include "health/check.h"
#include "health/prober.h"
#include "health/resolver.h"

namespace pharos::health {

// `resolver` must outlive the prober. A spec that cannot be probed still gets a prober, whose
// every probe reports down with the reason.
std::unique_ptr<Prober> make_icmp_prober(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec);
std::unique_ptr<Prober> make_gateway_prober(uv_loop_t* loop, const CheckSpec& spec);

}  // namespace pharos::health
