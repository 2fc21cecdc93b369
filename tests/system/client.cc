// client.cc: UDP/TCP clients, the CLOSE_WAIT probe and the dig/kdig runners (client.h).
#include "tests/system/client.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

namespace pharos::system_test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Endpoints.

Endpoint make_endpoint(const std::string& host, std::uint16_t port) {
  Endpoint e;
  e.host = host;
  e.port = port;
  if (host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&e.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    e.len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&e.addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    e.len = sizeof(sockaddr_in);
  }
  return e;
}


// ---------------------------------------------------------------------------------------------
// Transports.

UdpClient::UdpClient(const Endpoint& server, std::uint16_t local_port) {
  fd_ = socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const Endpoint local = make_endpoint(server.family() == AF_INET6 ? "::1" : "127.0.0.1", local_port);
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0 ||
      connect(fd_, reinterpret_cast<const sockaddr*>(&server.addr), server.len) != 0) {
    bind_errno_ = errno;
    close(fd_);
    fd_ = -1;
  }
}

UdpClient::~UdpClient() {
  if (fd_ >= 0) close(fd_);
}

bool UdpClient::send(const Bytes& msg) {
  return fd_ >= 0 && ::send(fd_, msg.data(), msg.size(), 0) == static_cast<ssize_t>(msg.size());
}

std::optional<Bytes> UdpClient::recv(int timeout_ms) {
  if (fd_ < 0) return std::nullopt;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    Bytes buf(65535);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;  // ICMP from an earlier send
      return std::nullopt;
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
}

TcpClient::TcpClient(const Endpoint& server) {
  fd_ = socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&server.addr), server.len) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) close(fd_);
}

std::uint16_t TcpClient::local_port() const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

bool TcpClient::send_raw(const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool TcpClient::send_framed(const Bytes& msg) {
  Bytes framed;
  put_u16(framed, static_cast<std::uint16_t>(msg.size()));
  put_bytes(framed, msg);
  return send_raw(framed);
}

bool TcpClient::read_exact(std::uint8_t* p, std::size_t n, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t done = 0;
  while (done < n) {
    pollfd pfd{fd_, POLLIN, 0};
    const int r = poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t got = ::recv(fd_, p + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

std::optional<Bytes> TcpClient::recv_framed(int timeout_ms) {
  if (fd_ < 0) return std::nullopt;
  std::uint8_t len[2];
  if (!read_exact(len, 2, timeout_ms)) return std::nullopt;
  Bytes msg(pharos::dns::load_u16(len));
  if (!read_exact(msg.data(), msg.size(), timeout_ms)) return std::nullopt;
  return msg;
}

bool TcpClient::wait_closed(int timeout_ms, std::size_t* bytes_seen) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t seen = 0;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (bytes_seen) *bytes_seen = seen;
      return true;
    }
    seen += static_cast<std::size_t>(n);
  }
  if (bytes_seen) *bytes_seen = seen;
  return false;
}

void TcpClient::shutdown_write() { shutdown(fd_, SHUT_WR); }

std::optional<Response> udp_exchange(const Endpoint& server, const Bytes& query, int timeout_ms) {
  UdpClient c(server);
  if (!c.send(query)) return std::nullopt;
  auto reply = c.recv(timeout_ms);
  if (!reply) return std::nullopt;
  return Response(std::move(*reply));
}

std::optional<Response> tcp_exchange(const Endpoint& server, const Bytes& query, int timeout_ms) {
  TcpClient c(server);
  if (!c.ok() || !c.send_framed(query)) return std::nullopt;
  auto reply = c.recv_framed(timeout_ms);
  if (!reply) return std::nullopt;
  return Response(std::move(*reply));
}

bool udp_silent(const Endpoint& server, const Bytes& query, int timeout_ms) {
  UdpClient c(server);
  if (!c.send(query)) return false;
  return !c.recv(timeout_ms).has_value();
}

int close_wait_count(std::uint16_t port) {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream s(line);
      std::string sl, local, remote, state;
      s >> sl >> local >> remote >> state;
      const std::size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      const unsigned long p = std::strtoul(local.substr(colon + 1).c_str(), nullptr, 16);
      if (p == port && state == "08") ++count;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// dig and kdig.

std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

namespace {

ToolAnswer parse_tool_output(const std::string& out) {
  ToolAnswer a;
  a.output = out;
  std::smatch m;
  static const std::regex status(R"(status: ([A-Z]+))");
  static const std::regex flags(R"([Ff]lags:([a-z ]*);)");
  if (std::regex_search(out, m, status)) {
    a.ran = true;
    a.status = m[1].str();
  }
  if (std::regex_search(out, m, flags)) {
    std::istringstream s(m[1].str());
    std::string f;
    while (s >> f) a.flags.push_back(f);
    std::sort(a.flags.begin(), a.flags.end());
  }
  std::istringstream lines(out);
  std::string line;
  bool in_answer = false;
  while (std::getline(lines, line)) {
    if (line.find("ANSWER SECTION:") != std::string::npos) {
      in_answer = true;
      continue;
    }
    if (!in_answer) continue;
    if (line.empty() || line[0] == ';') break;
    std::istringstream s(line);
    std::string tok, norm;
    int i = 0;
    while (s >> tok) {
      if (i == 0) tok = to_lower(tok);
      norm += (i++ ? " " : "") + tok;
    }
    a.answer.push_back(norm);
  }
  std::sort(a.answer.begin(), a.answer.end());
  return a;
}

}  // namespace

ToolAnswer run_dig(const Endpoint& server, const std::string& args) {
  return parse_tool_output(run_command("dig @" + server.host + " -p " + std::to_string(server.port) +
                                       " +time=2 +tries=1 " + args));
}

ToolAnswer run_kdig(const Endpoint& server, const std::string& args) {
  return parse_tool_output(run_command("kdig @" + server.host + " -p " + std::to_string(server.port) +
                                       " +time=2 +retry=0 " + args));
}


}  // namespace pharos::system_test
