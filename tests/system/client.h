// client.h: how the system tests reach pharosd: UDP with a receive timeout (to assert "drop"),
// TCP with RFC 1035 length framing, /proc/net/tcp for CLOSE_WAIT leaks, and dig/kdig via popen.
//
//   std::optional<Response> r = udp_exchange(endpoint, query);
//   EXPECT_TRUE(udp_silent(endpoint, malformed));       // no reply within 300 ms
//   TcpClient t(endpoint); t.send_framed(q); auto reply = t.recv_framed(2000);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/system/message.h"

namespace pharos::system_test {

// A server address, usable with sendto/connect and printable for dig/kdig.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // "127.0.0.1" or "::1", for dig/kdig
  std::uint16_t port = 0;
  int family() const { return addr.ss_family; }
};
Endpoint make_endpoint(const std::string& host, std::uint16_t port);

// ---------------------------------------------------------------------------------------------
// Transports.

class UdpClient {
 public:
  // Binds to `local_port` on the loopback address of `server`'s family (0 = ephemeral).
  explicit UdpClient(const Endpoint& server, std::uint16_t local_port = 0);
  ~UdpClient();
  bool ok() const { return fd_ >= 0; }
  int bind_errno() const { return bind_errno_; }
  bool send(const Bytes& msg);
  std::optional<Bytes> recv(int timeout_ms);

 private:
  int fd_ = -1;
  int bind_errno_ = 0;
};

class TcpClient {
 public:
  explicit TcpClient(const Endpoint& server);
  ~TcpClient();
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  std::uint16_t local_port() const;
  bool send_raw(const Bytes& bytes);
  bool send_framed(const Bytes& msg);
  std::optional<Bytes> recv_framed(int timeout_ms);
  // True if the peer closes (EOF or reset) within timeout_ms without sending anything more.
  bool wait_closed(int timeout_ms, std::size_t* bytes_seen = nullptr);
  void shutdown_write();

 private:
  bool read_exact(std::uint8_t* p, std::size_t n, int timeout_ms);
  int fd_ = -1;
};

inline constexpr int kReplyTimeoutMs = 2000;
inline constexpr int kSilenceMs = 300;

std::optional<Response> udp_exchange(const Endpoint& server, const Bytes& query,
                                     int timeout_ms = kReplyTimeoutMs);
std::optional<Response> tcp_exchange(const Endpoint& server, const Bytes& query,
                                     int timeout_ms = kReplyTimeoutMs);
// True when the server sends nothing back within timeout_ms ("drop").
bool udp_silent(const Endpoint& server, const Bytes& query, int timeout_ms = kSilenceMs);

// TCP sockets in CLOSE_WAIT whose local port is `port` (from /proc/net/tcp and tcp6).
int close_wait_count(std::uint16_t port);

// ---------------------------------------------------------------------------------------------
// Command-line clients.

struct ToolAnswer {
  bool ran = false;
  std::string status;              // "NOERROR"
  std::vector<std::string> flags;  // {"qr", "aa"}
  std::vector<std::string> answer; // normalised "owner ttl class type rdata", sorted, lowercased owner
  std::string output;
};
std::string run_command(const std::string& cmd);
ToolAnswer run_dig(const Endpoint& server, const std::string& args);
ToolAnswer run_kdig(const Endpoint& server, const std::string& args);


}  // namespace pharos::system_test
