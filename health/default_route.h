// default_route.h: the gateway of the default route, per address family, read from the kernel's
// route tables in /proc (of the calling thread's network namespace).
//
//   DefaultRoute r = find_default_route(AF_INET6);
//   if (!r.ok()) return fail(r.error);          // "no IPv6 default route"
//   ping(r.gateway);                            // link-local gateways carry the interface's scope
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace pharos::health {

struct DefaultRoute {
  sockaddr_storage gateway{};   // port 0
  socklen_t len = 0;
  std::string interface;
  std::string error;            // set when there is no usable default route
  bool ok() const { return error.empty(); }
};

// Reads /proc/thread-self/net/route (AF_INET) or ipv6_route (AF_INET6); falls back to /proc/net/.
DefaultRoute find_default_route(int family);

// The parsers behind it, on the file's text: the up, non-reject default route with a gateway and
// the lowest metric.
DefaultRoute parse_ipv4_route_table(std::string_view table);
DefaultRoute parse_ipv6_route_table(std::string_view table);

}  // namespace pharos::health
