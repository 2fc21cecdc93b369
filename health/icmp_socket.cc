// icmp_socket.cc: opening the echo socket (ping socket, else raw), building echo requests and
// matching what comes back. Raw sockets see every ICMP message the host receives: the identifier,
// a per-socket cookie and the sender's address keep other programs' replies out.
#include "health/icmp_socket.h"

#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <tuple>

#include "health/ip_literal.h"

namespace pharos::health {

struct IcmpSocket::Poll {
  uv_poll_t handle;
  int fd;
  IcmpSocket* owner;
};

namespace {

// ICMP types and header layout (RFC 792, RFC 4443).
constexpr std::uint8_t kEchoRequest4 = 8, kEchoReply4 = 0, kUnreachable4 = 3, kTimeExceeded4 = 11;
constexpr std::uint8_t kEchoRequest6 = 128, kEchoReply6 = 129, kUnreachable6 = 1, kTimeExceeded6 = 3;
constexpr std::size_t kIcmpHeader = 8;             // type, code, checksum, identifier, sequence
constexpr std::size_t kChecksumAt = 2, kIdentAt = 4, kSeqAt = 6;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::uint8_t kIpv4IhlMask = 0x0F;        // header length in 32-bit words, low nibble of byte 0
constexpr std::size_t kIpv4Protocol = 9;           // offsets in an IPv4 header
constexpr std::size_t kIpv4Destination = 16;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kIpv6NextHeader = 6;         // offsets in an IPv6 header
constexpr std::size_t kIpv6Destination = 24;
constexpr std::uint8_t kNextHeaderIcmp6 = 58;
constexpr std::size_t kPayload = 16;               // cookie + padding
constexpr int kReadsPerWakeup = 64;                // bounded, so one busy socket cannot hog the loop
// Linux raw ICMP filter (linux/icmp.h, which clashes with the glibc headers): a bit set = blocked.
constexpr int kIcmpFilterOption = 1;
struct IcmpFilter {
  std::uint32_t blocked;
};

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += get16(data + i);
  if (len % 2 != 0) sum += static_cast<std::uint32_t>(data[len - 1]) << 8;
  while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Raw sockets would otherwise wake us for every ICMP message on the host (on loopback, even for
// our own requests): let through only replies and the errors that can concern a request.
void install_filter(int fd, int family) {
  if (family == AF_INET) {
    IcmpFilter filter{~((1u << kEchoReply4) | (1u << kUnreachable4) | (1u << kTimeExceeded4))};
    setsockopt(fd, SOL_RAW, kIcmpFilterOption, &filter, sizeof filter);
  } else {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(kEchoReply6, &filter);
    ICMP6_FILTER_SETPASS(kUnreachable6, &filter);
    ICMP6_FILTER_SETPASS(kTimeExceeded6, &filter);
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
  }
}

int open_echo_socket(int family, bool& raw, std::string& error) {
  const int protocol = family == AF_INET ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd >= 0) {
    // Ping sockets hear about ICMP errors only through the error queue.
    const int on = 1;
    if (family == AF_INET) {
      setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    } else {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    }
    raw = false;
    return fd;
  }
  const int ping_errno = errno;
  fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd >= 0) {
    raw = true;
    install_filter(fd, family);
    return fd;
  }
  error = std::string("ICMP needs CAP_NET_RAW or net.ipv4.ping_group_range (ping socket: ") +
          std::strerror(ping_errno) + ", raw socket: " + std::strerror(errno) + ")";
  return -1;
}

std::string unreachable_reason(int family, std::uint8_t type, std::uint8_t code) {
  if (family == AF_INET) {
    if (type == kTimeExceeded4) return "time exceeded";
    switch (code) {
      case 0: return "network unreachable";
      case 1: return "host unreachable";
      case 9: case 10: case 13: return "administratively prohibited";
      default: return "destination unreachable (code " + std::to_string(code) + ")";
    }
  }
  if (type == kTimeExceeded6) return "time exceeded";
  switch (code) {
    case 0: return "no route to destination";
    case 1: return "administratively prohibited";
    case 3: return "address unreachable";
    default: return "destination unreachable (code " + std::to_string(code) + ")";
  }
}

using RegistryKey = std::tuple<uv_loop_t*, int, std::string>;
std::mutex registry_mutex;
std::map<RegistryKey, std::weak_ptr<IcmpSocket>>& registry() {
  static auto* sockets = new std::map<RegistryKey, std::weak_ptr<IcmpSocket>>;
  return *sockets;
}

}  // namespace

std::shared_ptr<IcmpSocket> IcmpSocket::get(uv_loop_t* loop, int family, const std::string& source_address,
                                            std::string& error) {
  const std::lock_guard lock(registry_mutex);
  auto& entry = registry()[RegistryKey{loop, family, source_address}];
  if (auto existing = entry.lock()) return existing;

  sockaddr_storage source{};
  socklen_t source_len = 0;
  if (!source_address.empty() && !parse_ip_literal(source_address, 0, family, source, source_len)) {
    error = "bad source address \"" + source_address + "\" for " + (family == AF_INET ? "IPv4" : "IPv6");
    return nullptr;
  }
  bool raw = false;
  const int fd = open_echo_socket(family, raw, error);
  if (fd < 0) return nullptr;
  if (source_len != 0 && bind(fd, reinterpret_cast<const sockaddr*>(&source), source_len) != 0) {
    error = "bind to " + source_address + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::shared_ptr<IcmpSocket> socket(new IcmpSocket(loop, family, fd, raw));
  entry = socket;
  return socket;
}

IcmpSocket::IcmpSocket(uv_loop_t* loop, int family, int fd, bool raw)
    : family_(family), raw_(raw), poll_(new Poll{{}, fd, this}) {
  std::random_device random;
  ident_ = static_cast<std::uint16_t>(random());
  next_seq_ = static_cast<std::uint16_t>(random());
  for (auto& b : cookie_) b = static_cast<std::uint8_t>(random());
  uv_poll_init_socket(loop, &poll_->handle, fd);
  poll_->handle.data = poll_;
  uv_poll_start(&poll_->handle, UV_READABLE, &IcmpSocket::on_poll);
}

IcmpSocket::~IcmpSocket() {
  {
    const std::lock_guard lock(registry_mutex);
    std::erase_if(registry(), [](const auto& kv) { return kv.second.expired(); });
  }
  // Stop polling before the fd closes; the fd closes with the handle, in its close callback.
  poll_->owner = nullptr;
  uv_poll_stop(&poll_->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), [](uv_handle_t* handle) {
    auto* poll = static_cast<Poll*>(handle->data);
    ::close(poll->fd);
    delete poll;
  });
}

int IcmpSocket::send(const sockaddr* to, socklen_t len, Listener* listener, std::string& error) {
  if (to->sa_family != family_) {
    error = "address family mismatch";
    return -1;
  }
  // A free sequence number: 65536 requests in flight on one socket is far beyond any config.
  std::uint16_t seq = next_seq_;
  for (int tries = 0; pending_.contains(seq); ++tries) {
    if (tries == 0xFFFF) {
      error = "too many ICMP requests in flight";
      return -1;
    }
    ++seq;
  }
  next_seq_ = static_cast<std::uint16_t>(seq + 1);

  std::array<std::uint8_t, kIcmpHeader + kPayload> packet{};
  packet[0] = family_ == AF_INET ? kEchoRequest4 : kEchoRequest6;
  put16(&packet[kIdentAt], ident_);   // a ping socket replaces it with its own
  put16(&packet[kSeqAt], seq);
  std::memcpy(&packet[kIcmpHeader], cookie_.data(), cookie_.size());
  // The kernel fills the ICMPv6 checksum (it covers a pseudo-header); ICMPv4's is ours.
  if (family_ == AF_INET) put16(&packet[kChecksumAt], checksum(packet.data(), packet.size()));

  if (sendto(poll_->fd, packet.data(), packet.size(), 0, to, len) < 0) {
    error = "send to " + format_address(to) + ": " + std::strerror(errno);
    return -1;
  }
  Pending pending{listener, {}};
  std::memcpy(&pending.to, to, std::min<std::size_t>(len, sizeof pending.to));
  pending_[seq] = pending;
  return seq;
}

void IcmpSocket::forget(int key, const Listener* listener) {
  if (key < 0) return;
  const auto it = pending_.find(static_cast<std::uint16_t>(key));
  if (it != pending_.end() && it->second.listener == listener) pending_.erase(it);
}

void IcmpSocket::on_poll(uv_poll_t* handle, int status, int /*events*/) {
  auto* poll = static_cast<Poll*>(handle->data);
  if (poll->owner == nullptr) return;
  if (status < 0) {
    // An ICMP error about one of our requests also sets the raw socket's pending error, and libuv
    // stops a poll that reports POLLERR. Clear the error and keep listening: the error message
    // itself is in the receive queue and reaches its probe below.
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(poll->fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    uv_poll_start(handle, UV_READABLE, &IcmpSocket::on_poll);
    if (!poll->owner->raw_) poll->owner->receive_errors();
  }
  poll->owner->receive();
}

void IcmpSocket::receive_errors() {
  // A ping socket queues each ICMP error with the request it concerns (our ICMP header) and the
  // request's destination; the router that complained is the "offender".
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    std::array<std::uint8_t, 576> data;
    alignas(cmsghdr) std::array<char, 512> control;
    sockaddr_storage destination{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_name = &destination;
    msg.msg_namelen = sizeof destination;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = recvmsg(poll_->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    if (static_cast<std::size_t>(n) < kIcmpHeader) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      const auto* ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      const auto it = pending_.find(get16(data.data() + kSeqAt));
      if (it == pending_.end()) continue;
      if (!same_address(reinterpret_cast<const sockaddr*>(&it->second.to), reinterpret_cast<const sockaddr*>(&destination))) continue;
      const auto* offender = reinterpret_cast<const sockaddr*>(SO_EE_OFFENDER(ee));
      Listener* listener = it->second.listener;
      pending_.erase(it);
      listener->on_echo_error(unreachable_reason(family_, ee->ee_type, ee->ee_code) + " (from " +
                              format_address(offender) + ")");
    }
  }
}

void IcmpSocket::receive() {
  std::array<std::uint8_t, 1500> buf;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(poll_->fd, buf.data(), buf.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;   // EINTR, or a pending socket error, which this read has consumed
    }
    const std::uint8_t* icmp = buf.data();
    std::size_t len = static_cast<std::size_t>(n);
    if (raw_ && family_ == AF_INET) {
      // Raw IPv4 sockets deliver the IP header too.
      if (len < kIpv4MinHeader) continue;
      const std::size_t ihl = static_cast<std::size_t>(icmp[0] & kIpv4IhlMask) * 4;
      if (ihl < kIpv4MinHeader || len < ihl) continue;
      icmp += ihl;
      len -= ihl;
    }
    if (len < kIcmpHeader) continue;
    dispatch(icmp, len, from);
  }
}

void IcmpSocket::dispatch(const std::uint8_t* icmp, std::size_t len, const sockaddr_storage& from) {
  const std::uint8_t type = icmp[0];
  const bool error = family_ == AF_INET ? (type == kUnreachable4 || type == kTimeExceeded4)
                                        : (type == kUnreachable6 || type == kTimeExceeded6);
  if (error) return dispatch_error(icmp, len, from);
  if (type != (family_ == AF_INET ? kEchoReply4 : kEchoReply6)) return;
  if (raw_ && get16(icmp + kIdentAt) != ident_) return;   // someone else's ping
  if (len < kIcmpHeader + cookie_.size() || std::memcmp(icmp + kIcmpHeader, cookie_.data(), cookie_.size()) != 0) return;
  const auto it = pending_.find(get16(icmp + kSeqAt));
  if (it == pending_.end()) return;   // late (timed out already) or a duplicate
  if (!same_address(reinterpret_cast<const sockaddr*>(&it->second.to), reinterpret_cast<const sockaddr*>(&from))) return;
  Listener* listener = it->second.listener;
  pending_.erase(it);
  listener->on_echo_reply();
}

void IcmpSocket::dispatch_error(const std::uint8_t* icmp, std::size_t len, const sockaddr_storage& from) {
  // The error quotes our request: its IP header, then at least the first 8 bytes of our ICMP.
  const std::uint8_t* inner = icmp + kIcmpHeader;
  const std::size_t inner_len = len - kIcmpHeader;
  const std::uint8_t* inner_icmp = nullptr;
  const std::uint8_t* inner_dst = nullptr;
  if (family_ == AF_INET) {
    if (inner_len < kIpv4MinHeader) return;
    const std::size_t ihl = static_cast<std::size_t>(inner[0] & kIpv4IhlMask) * 4;
    if (ihl < kIpv4MinHeader || inner_len < ihl + kIcmpHeader || inner[kIpv4Protocol] != IPPROTO_ICMP) return;
    inner_dst = inner + kIpv4Destination;
    inner_icmp = inner + ihl;
  } else {
    if (inner_len < kIpv6Header + kIcmpHeader || inner[kIpv6NextHeader] != kNextHeaderIcmp6) return;
    inner_dst = inner + kIpv6Destination;
    inner_icmp = inner + kIpv6Header;
  }
  if (inner_icmp[0] != (family_ == AF_INET ? kEchoRequest4 : kEchoRequest6)) return;
  if (get16(inner_icmp + kIdentAt) != ident_) return;
  const auto it = pending_.find(get16(inner_icmp + kSeqAt));
  if (it == pending_.end()) return;
  const auto* to = reinterpret_cast<const sockaddr*>(&it->second.to);
  const void* to_addr = family_ == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(to)->sin_addr)
                                           : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(to)->sin6_addr);
  if (std::memcmp(inner_dst, to_addr, family_ == AF_INET ? 4 : 16) != 0) return;
  Listener* listener = it->second.listener;
  pending_.erase(it);
  listener->on_echo_error(unreachable_reason(family_, icmp[0], icmp[1]) + " (from " +
                          format_address(reinterpret_cast<const sockaddr*>(&from)) + ")");
}

}  // namespace pharos::health
