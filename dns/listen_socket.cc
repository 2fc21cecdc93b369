// listen_socket.cc: parsing and formatting listen addresses; creating and binding the per-worker
// UDP and TCP sockets, including the port-0 resolution shared by every socket of one address.
#include "dns/listen_socket.h"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <unistd.h>

namespace pharos::dns {
namespace {

// How often to retry when the ephemeral UDP port picked by the kernel is taken for TCP (or by
// another process between our binds).
constexpr int kPortZeroAttempts = 16;

std::string errno_text(int err) { return std::strerror(err); }

sockaddr_in* v4(sockaddr_storage& s) { return reinterpret_cast<sockaddr_in*>(&s); }
sockaddr_in6* v6(sockaddr_storage& s) { return reinterpret_cast<sockaddr_in6*>(&s); }
const sockaddr_in* v4(const sockaddr_storage& s) { return reinterpret_cast<const sockaddr_in*>(&s); }
const sockaddr_in6* v6(const sockaddr_storage& s) { return reinterpret_cast<const sockaddr_in6*>(&s); }

// Creates one bound socket. Returns the fd or -errno.
int make_socket(const ListenAddress& a, int type) {
  const int fd = ::socket(a.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  Fd guard{fd};
  const int one = 1;
  // SO_REUSEPORT: one socket per worker on the same address; the kernel spreads datagrams and
  // connections across them by flow hash.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return -errno;
  if (type == SOCK_STREAM && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return -errno;
  }
  // A v6 socket must not also take v4 traffic: "[::]:53" and "0.0.0.0:53" are listed separately.
  if (a.family() == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return -errno;
  }
  // A wildcard UDP socket must reply from the address the query was sent to.
  if (type == SOCK_DGRAM && a.is_wildcard()) {
    const int rc = a.family() == AF_INET
                       ? ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
                       : ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    if (rc != 0) return -errno;
  }
  // UDP replies leave with DF set and are never fragmented by this host (RFC 9715 section 3.1);
  // one larger than the interface's MTU fails with EMSGSIZE and is sent truncated instead
  // (UdpListener::shrink). PROBE ignores path MTUs learnt from ICMP, which anyone can forge.
  // On IPv4 it also spares the kernel a shared IP-ID counter per reply.
  if (type == SOCK_DGRAM) {
    const int probe = a.family() == AF_INET ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE;
    const int rc = a.family() == AF_INET
                       ? ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe)
                       : ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe);
    if (rc != 0) return -errno;
  }
  if (::bind(fd, a.sa(), a.len) != 0) return -errno;
  return guard.release();
}

// Binds every socket for one address at a.port(). Returns 0 or -errno; `out` is complete on 0.
int bind_all(ListenAddress& a, unsigned workers, BoundAddress& out) {
  out.udp.clear();
  out.tcp.clear();
  for (unsigned w = 0; w < workers; ++w) {
    const int fd = make_socket(a, SOCK_DGRAM);
    if (fd < 0) return fd;
    out.udp.emplace_back(fd);
    if (a.port() == 0) {
      // The first socket chose the port; every other socket of this address joins it.
      sockaddr_storage got{};
      socklen_t len = sizeof got;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len) != 0) return -errno;
      a.set_port(got.ss_family == AF_INET ? ntohs(v4(got)->sin_port) : ntohs(v6(got)->sin6_port));
    }
  }
  for (unsigned w = 0; w < workers; ++w) {
    const int fd = make_socket(a, SOCK_STREAM);
    if (fd < 0) return fd;
    out.tcp.emplace_back(fd);
  }
  out.address = a;
  return 0;
}

}  // namespace

std::uint16_t ListenAddress::port() const {
  return addr.ss_family == AF_INET ? ntohs(v4(addr)->sin_port) : ntohs(v6(addr)->sin6_port);
}

void ListenAddress::set_port(std::uint16_t port) {
  if (addr.ss_family == AF_INET) {
    v4(addr)->sin_port = htons(port);
  } else {
    v6(addr)->sin6_port = htons(port);
  }
}

bool ListenAddress::is_wildcard() const {
  if (addr.ss_family == AF_INET) return v4(addr)->sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&v6(addr)->sin6_addr);
}

bool ListenAddress::operator==(const ListenAddress& o) const {
  return len == o.len && format_address(sa()) == format_address(o.sa());
}

bool parse_listen_address(std::string_view text, ListenAddress& out) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [p, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc{} || p != end || port > 65535) return false;

  out = ListenAddress{};
  if (::inet_pton(AF_INET, host.c_str(), &v4(out.addr)->sin_addr) == 1 && text.front() != '[') {
    v4(out.addr)->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6(out.addr)->sin6_addr) == 1 &&
             text.front() == '[') {
    v6(out.addr)->sin6_family = AF_INET6;
    out.len = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  out.set_port(static_cast<std::uint16_t>(port));
  return true;
}

std::string format_address(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa == nullptr) return "-";
  if (sa->sa_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(s->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(s->sin6_port));
  }
  return "?";
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<std::vector<BoundAddress>> open_listen_sockets(const std::vector<ListenAddress>& addresses,
                                                      unsigned workers) {
  std::vector<BoundAddress> bound;
  for (const ListenAddress& configured : addresses) {
    BoundAddress b;
    int rc = 0;
    const int attempts = configured.port() == 0 ? kPortZeroAttempts : 1;
    for (int i = 0; i < attempts; ++i) {
      ListenAddress a = configured;
      rc = bind_all(a, workers, b);
      if (rc != -EADDRINUSE) break;
    }
    if (rc != 0) {
      return Error{"", "", "cannot listen on " + format_address(configured.sa()) + ": " +
                               errno_text(-rc)};
    }
    bound.push_back(std::move(b));
  }
  return bound;
}

}  // namespace pharos::dns
