// tcp_check.h: the tcp check: resolve the host, connect (optionally from spec.source_address), send
// `send` if set, and read until `expect` appears if set. Up on success; closed with a reset.
//
//   CheckSpec spec;
//   spec.params = TcpParams{.host = "db1.example", .port = 5432};
//   spec.timeout = Millis{2000};                  // covers resolve + connect + exchange
//   auto prober = make_tcp_prober(loop, resolver, spec);
//   prober->start([](ProbeResult&& r) { ... });   // r.reason e.g. "connection refused"
#pragma once

#include <uv.h>

#include <memory>

#include "health/check.h"
#include "health/prober.h"
#include "health/resolver.h"

namespace pharos::health {

// spec.params holds TcpParams. `resolver` must outlive the prober and any probe it cancelled.
std::unique_ptr<Prober> make_tcp_prober(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec);

}  // namespace pharos::health
