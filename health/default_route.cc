// default_route.cc: /proc/net/route and /proc/net/ipv6_route parsing. Reading procfs is a memory
// copy in the kernel, cheap enough to do on the control loop once per gateway probe.
#include "health/default_route.h"

#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace pharos::health {
namespace {

// Route flags as the kernel prints them (RTF_* from <net/route.h>).
constexpr unsigned long kRouteUp = RTF_UP;
constexpr unsigned long kRouteGateway = RTF_GATEWAY;
constexpr unsigned long kRouteReject = RTF_REJECT;

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool hex(std::string_view s, unsigned long& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

bool dec(std::string_view s, unsigned long& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool hex_bytes(std::string_view s, unsigned char* out, std::size_t n) {
  if (s.size() != n * 2) return false;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned long byte = 0;
    if (!hex(s.substr(i * 2, 2), byte)) return false;
    out[i] = static_cast<unsigned char>(byte);
  }
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

DefaultRoute parse_ipv4_route_table(std::string_view table) {
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT; addresses are the
  // in-memory (network order) u32 printed as hex, so they go into s_addr unchanged.
  DefaultRoute best;
  unsigned long best_metric = std::numeric_limits<unsigned long>::max();
  bool found = false;
  for_each_line(table, [&](std::string_view line) {
    const auto f = split_fields(line);
    unsigned long dest = 0, gateway = 0, flags = 0, metric = 0, mask = 0;
    if (f.size() < 8 || !hex(f[1], dest) || !hex(f[2], gateway) || !hex(f[3], flags) ||
        !dec(f[6], metric) || !hex(f[7], mask)) {
      return;   // the header line, or something we do not understand
    }
    if (dest != 0 || mask != 0) return;
    if ((flags & kRouteUp) == 0 || (flags & kRouteGateway) == 0 || (flags & kRouteReject) != 0) return;
    if (found && metric >= best_metric) return;
    found = true;
    best_metric = metric;
    best = DefaultRoute{};
    auto* sin = reinterpret_cast<sockaddr_in*>(&best.gateway);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = static_cast<std::uint32_t>(gateway);
    best.len = sizeof(sockaddr_in);
    best.interface = std::string(f[0]);
  });
  if (!found) best.error = "no IPv4 default route";
  return best;
}

DefaultRoute parse_ipv6_route_table(std::string_view table) {
  // dest dest_len src src_len next_hop metric refcnt use flags iface, all hex.
  DefaultRoute best;
  unsigned long best_metric = std::numeric_limits<unsigned long>::max();
  bool found = false;
  for_each_line(table, [&](std::string_view line) {
    const auto f = split_fields(line);
    in6_addr dest{}, next_hop{};
    unsigned long dest_len = 0, metric = 0, flags = 0;
    if (f.size() < 10 || !hex_bytes(f[0], dest.s6_addr, 16) || !hex(f[1], dest_len) ||
        !hex_bytes(f[4], next_hop.s6_addr, 16) || !hex(f[5], metric) || !hex(f[8], flags)) {
      return;
    }
    if (dest_len != 0 || !IN6_IS_ADDR_UNSPECIFIED(&dest) || IN6_IS_ADDR_UNSPECIFIED(&next_hop)) return;
    if ((flags & kRouteUp) == 0 || (flags & kRouteGateway) == 0 || (flags & kRouteReject) != 0) return;
    if (found && metric >= best_metric) return;
    found = true;
    best_metric = metric;
    best = DefaultRoute{};
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&best.gateway);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = next_hop;
    best.interface = std::string(f[9]);
    // A link-local next hop means nothing without its link.
    if (IN6_IS_ADDR_LINKLOCAL(&next_hop)) sin6->sin6_scope_id = if_nametoindex(best.interface.c_str());
    best.len = sizeof(sockaddr_in6);
  });
  if (!found) best.error = "no IPv6 default route";
  return best;
}

DefaultRoute find_default_route(int family) {
  const char* name = family == AF_INET6 ? "ipv6_route" : "route";
  // /proc/net is /proc/self/net: the namespace of the process's main thread. thread-self follows
  // the calling thread, which matters when a thread has entered another network namespace.
  std::string table = read_file(std::string("/proc/thread-self/net/") + name);
  if (table.empty()) table = read_file(std::string("/proc/net/") + name);
  return family == AF_INET6 ? parse_ipv6_route_table(table) : parse_ipv4_route_table(table);
}

}  // namespace pharos::health
