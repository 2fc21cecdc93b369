// listen_socket.h: listen addresses, and the UDP/TCP sockets created by hand (SO_REUSEPORT,
// IPV6_V6ONLY) so that every worker owns one socket of each kind per address; port 0 resolves to
// one ephemeral port shared by every socket of that address.
//
//   ListenAddress a;  parse_listen_address("[::1]:5353", a);
//   Result<std::vector<BoundAddress>> b = open_listen_sockets({a}, /*workers=*/2);
//   // b->at(0).udp[w], b->at(0).tcp[w]: worker w's sockets; b->at(0).address has the real port
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include "dns/result.h"

namespace pharos::dns {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  int family() const { return addr.ss_family; }
  std::uint16_t port() const;
  void set_port(std::uint16_t port);
  // INADDR_ANY or in6addr_any: replies need the destination address echoed (IP_PKTINFO).
  bool is_wildcard() const;
  bool operator==(const ListenAddress& o) const;
};

// "192.0.2.1:53" or "[2001:db8::1]:53"; the port is mandatory (0 = ephemeral).
bool parse_listen_address(std::string_view text, ListenAddress& out);
// The same notation back: "127.0.0.1:5353", "[::1]:5353".
std::string format_address(const sockaddr* sa);

// Owns a file descriptor; closes it unless released (libuv takes over a released fd).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct BoundAddress {
  ListenAddress address;   // as bound: a configured port 0 is replaced by the real one
  std::vector<Fd> udp;     // one per worker, bound, non-blocking
  std::vector<Fd> tcp;     // one per worker, bound, not yet listening
};

// Creates and binds `workers` UDP and `workers` TCP sockets per address. Errors name the address.
Result<std::vector<BoundAddress>> open_listen_sockets(const std::vector<ListenAddress>& addresses,
                                                      unsigned workers);

}  // namespace pharos::dns
