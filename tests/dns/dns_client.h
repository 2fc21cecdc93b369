// dns_client.h: a small blocking DNS client for event-loop and daemon tests: queries built by hand,
// UDP and TCP exchanges with bounded waits, and ldns as an independent parser of the responses.
// Loopback only; every wait has a deadline.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dns/ldns_compat.h"

namespace pharos::test {

using Bytes = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

// A QUERY for `name` (presentation, no trailing dot needed) with RD clear; with `edns`, an OPT
// record advertising `udp_size`.
inline Bytes make_query(std::uint16_t id, std::string_view name, std::uint16_t qtype, bool edns = true,
                        std::uint16_t udp_size = 1232) {
  Bytes q = {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0, 0, 0, 1, 0, 0, 0, 0, 0,
             static_cast<std::uint8_t>(edns ? 1 : 0)};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  q.insert(q.end(), {static_cast<std::uint8_t>(qtype >> 8), static_cast<std::uint8_t>(qtype), 0, 1});
  if (edns) {
    q.insert(q.end(), {0, 0, 41, static_cast<std::uint8_t>(udp_size >> 8), static_cast<std::uint8_t>(udp_size),
                       0, 0, 0, 0, 0, 0});
  }
  return q;
}

// 2-byte length prefix + message.
inline Bytes framed(const Bytes& m) {
  Bytes f(2 + m.size());
  f[0] = static_cast<std::uint8_t>(m.size() >> 8);
  f[1] = static_cast<std::uint8_t>(m.size());
  std::copy(m.begin(), m.end(), f.begin() + 2);
  return f;
}

inline int ms_left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return d < 0 ? 0 : static_cast<int>(d);
}

inline bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { reset(); }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int fd() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

inline Socket udp_socket(const sockaddr* to, socklen_t len) {
  Socket s{::socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (s && ::connect(s.fd(), to, len) != 0) s.reset();
  return s;
}

// Sends one datagram and waits for the reply with the same ID.
inline std::optional<Bytes> udp_exchange(int fd, const Bytes& q, int timeout_ms = 2000) {
  if (::send(fd, q.data(), q.size(), 0) != static_cast<ssize_t>(q.size())) return std::nullopt;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Bytes buf(65535);
  while (wait_readable(fd, ms_left(deadline))) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    if (n >= 2 && buf[0] == q[0] && buf[1] == q[1]) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
  }
  return std::nullopt;
}

inline Socket tcp_connect(const sockaddr* to, socklen_t len) {
  Socket s{::socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!s) return s;
  const int one = 1;
  ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{2, 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(s.fd(), to, len) != 0) s.reset();
  return s;
}

inline bool send_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
inline bool send_all(int fd, const Bytes& b) { return send_all(fd, b.data(), b.size()); }

// Reads exactly n bytes before the deadline.
inline bool recv_exact(int fd, std::uint8_t* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    if (!wait_readable(fd, ms_left(deadline))) return false;
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Reads one length-prefixed message.
inline std::optional<Bytes> tcp_read_message(int fd, int timeout_ms = 2000) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::uint8_t len[2];
  if (!recv_exact(fd, len, 2, deadline)) return std::nullopt;
  Bytes m(static_cast<std::size_t>((len[0] << 8) | len[1]));
  if (!recv_exact(fd, m.data(), m.size(), deadline)) return std::nullopt;
  return m;
}

// True once the peer has closed (EOF or reset) within the timeout; data received first is skipped.
inline bool wait_closed(int fd, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::uint8_t buf[4096];
  while (wait_readable(fd, ms_left(deadline))) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return true;
  }
  return false;
}

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};

// What ldns sees in a response.
struct Parsed {
  bool ok = false;
  std::uint16_t id = 0;
  bool qr = false, aa = false, tc = false;
  int rcode = -1;
  std::size_t answers = 0;
  std::set<std::string> addresses;  // A/AAAA rdata in the answer section, presentation form
};

inline Parsed parse_response(const Bytes& wire) {
  Parsed out;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) return out;
  std::unique_ptr<ldns_pkt, PktDeleter> pkt(raw);
  out.ok = true;
  out.id = ldns_pkt_id(raw);
  out.qr = ldns_pkt_qr(raw);
  out.aa = ldns_pkt_aa(raw);
  out.tc = ldns_pkt_tc(raw);
  out.rcode = ldns_pkt_get_rcode(raw);
  const ldns_rr_list* an = ldns_pkt_answer(raw);
  out.answers = ldns_rr_list_rr_count(an);
  for (std::size_t i = 0; i < out.answers; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(an, i);
    const auto t = ldns_rr_get_type(rr);
    if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA) || ldns_rr_rd_count(rr) < 1) continue;
    char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
    if (s != nullptr) out.addresses.insert(s);
    free(s);  // NOLINT: ldns allocates with malloc
  }
  return out;
}

}  // namespace pharos::test
