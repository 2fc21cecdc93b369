// ip_literal.cc: IP literal parsing and formatting with inet_pton/inet_ntop.
#include "health/ip_literal.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace pharos::health {
namespace {

bool parse_scope(std::string_view scope, std::uint32_t& out) {
  if (scope.empty()) return false;
  const auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), out);
  if (ec == std::errc() && end == scope.data() + scope.size()) return true;
  const std::string name(scope);
  out = if_nametoindex(name.c_str());
  return out != 0;
}

}  // namespace

bool parse_ip_literal(std::string_view text, std::uint16_t port, int family, sockaddr_storage& out,
                      socklen_t& len) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > INET6_ADDRSTRLEN + IF_NAMESIZE) return false;
  out = {};
  if (family != AF_INET6) {
    const std::string s(text);
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, s.c_str(), &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
      len = sizeof(sockaddr_in);
      return true;
    }
  }
  if (family != AF_INET) {
    std::string_view addr = text;
    std::uint32_t scope = 0;
    if (const auto pct = text.find('%'); pct != std::string_view::npos) {
      if (!parse_scope(text.substr(pct + 1), scope)) return false;
      addr = text.substr(0, pct);
    }
    const std::string s(addr);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, s.c_str(), &sin6->sin6_addr) == 1) {
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(port);
      sin6->sin6_scope_id = scope;
      len = sizeof(sockaddr_in6);
      return true;
    }
  }
  out = {};
  return false;
}

bool parse_ip_port(std::string_view text, std::uint16_t default_port, sockaddr_storage& out,
                   socklen_t& len) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    // "[v6]" or "[v6]:port"
    const auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(0, close + 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
      if (port_text.empty()) return false;
    }
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos &&
                                                 text.find(':', colon + 1) == std::string_view::npos) {
    // Exactly one colon: "v4:port". Two or more: a bare IPv6 literal.
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return false;
  }
  std::uint16_t port = default_port;
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return false;
    }
    port = static_cast<std::uint16_t>(value);
  }
  return parse_ip_literal(host, port, AF_UNSPEC, out, len);
}

std::string format_address(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN + 16] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    std::string s = buf;
    if (sin6->sin6_scope_id != 0) s += "%" + std::to_string(sin6->sin6_scope_id);
    return s;
  }
  return "?";
}

std::string format_address_port(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    return format_address(sa) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    return "[" + format_address(sa) + "]:" +
           std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port));
  }
  return "?";
}

bool same_address(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return false;
}

}  // namespace pharos::health
