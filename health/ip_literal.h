// ip_literal.h: IP address literals <-> sockaddr for the checkers ("192.0.2.1", "2001:db8::1",
// "[::1]", "fe80::1%eth0"), and "addr:port" / "[v6]:port" server strings.
//
//   sockaddr_storage sa; socklen_t len;
//   if (parse_ip_literal("::1", 53, AF_UNSPEC, sa, len)) connect(fd, (sockaddr*)&sa, len);
//   format_address((sockaddr*)&sa)  // "::1"
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pharos::health {

// True when `text` is an IPv4 or IPv6 literal of `family` (AF_UNSPEC: either). Brackets around an
// IPv6 literal are accepted, and a "%scope" suffix (interface name or index) for link-local ones.
bool parse_ip_literal(std::string_view text, std::uint16_t port, int family, sockaddr_storage& out,
                      socklen_t& len);

// "addr", "addr:port", "[v6]" or "[v6]:port" (a bare IPv6 literal takes the default port).
// Returns false when the address is not an IP literal or the port is not 1-65535.
bool parse_ip_port(std::string_view text, std::uint16_t default_port, sockaddr_storage& out,
                   socklen_t& len);

// The address without the port: "192.0.2.1", "2001:db8::1", "fe80::1%3".
std::string format_address(const sockaddr* sa);
// With the port: "192.0.2.1:53", "[2001:db8::1]:53".
std::string format_address_port(const sockaddr* sa);

bool same_address(const sockaddr* a, const sockaddr* b);   // family and address, port ignored

}  // namespace pharos::health
