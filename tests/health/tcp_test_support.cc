// tcp_test_support.cc: socket targets, the loop server and the TIME_WAIT count.
#include "tests/health/tcp_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace pharos::test {
namespace {

bool loopback_address(const char* ip, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  if (uv_ip4_addr(ip, 0, reinterpret_cast<sockaddr_in*>(&ss)) == 0) {
    len = sizeof(sockaddr_in);
    return true;
  }
  if (uv_ip6_addr(ip, 0, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

SocketTarget::SocketTarget(Kind kind, const char* ip) {
  sockaddr_storage ss;
  socklen_t len = 0;
  if (!loopback_address(ip, ss, len)) return;
  fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return;
  const std::uint16_t port = port_of(fd_);
  if (kind == Kind::kListening && listen(fd_, 16) != 0) return;
  if (kind == Kind::kFullBacklog) {
    // Linux keeps backlog+1 completed connections: with 0, one filler fills the queue and the
    // kernel drops later SYNs (it never answers them with a reset, tcp_abort_on_overflow aside).
    if (listen(fd_, 0) != 0) return;
    filler_ = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage to = ss;
    if (to.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&to)->sin_port = htons(port);
    else reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = htons(port);
    if (filler_ < 0 || connect(filler_, reinterpret_cast<sockaddr*>(&to), len) != 0) return;
  }
  port_ = port;
}

SocketTarget::~SocketTarget() {
  if (filler_ >= 0) close(filler_);
  if (fd_ >= 0) close(fd_);
}

struct TcpTestConn;

struct LoopServer::State {
  uv_loop_t* loop = nullptr;
  ServerBehavior behavior;
  ServerLog log;
  uv_tcp_t listener{};
  bool listening = false;
  std::uint16_t port = 0;
  std::shared_ptr<State> self;     // kept until the listener's close callback
  std::set<struct TcpTestConn*> conns;
};

struct TcpTestConn {
  uv_tcp_t tcp{};
  std::shared_ptr<LoopServer::State> state;
  std::string got;
  bool replied = false;
  bool closing = false;
  char buffer[4096];

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }
  void close() {
    if (closing) return;
    closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), [](uv_handle_t* h) {
      auto* c = static_cast<TcpTestConn*>(h->data);
      c->state->conns.erase(c);
      delete c;
    });
  }
  void write(const std::string& data, bool close_after) {
    struct Req {
      uv_write_t req;
      std::string data;
      TcpTestConn* conn;
      bool close_after;
    };
    auto* r = new Req{{}, data, this, close_after};
    r->req.data = r;
    uv_buf_t buf = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    if (uv_write(&r->req, stream(), &buf, 1, [](uv_write_t* w, int status) {
          auto* req = static_cast<Req*>(w->data);
          if (status == 0 && req->close_after) req->conn->close();
          delete req;
        }) != 0) {
      delete r;
    }
  }
};

namespace {

void on_conn_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<TcpTestConn*>(s->data);
  LoopServer::State& st = *c->state;
  if (nread > 0) {
    st.log.received.append(buf->base, static_cast<std::size_t>(nread));
    c->got.append(buf->base, static_cast<std::size_t>(nread));
    const ServerBehavior& b = st.behavior;
    if (!c->replied && !b.reply.empty() && (b.trigger.empty() || c->got.find(b.trigger) != std::string::npos)) {
      c->replied = true;
      c->write(b.reply, b.close_after_reply);
    }
    return;
  }
  if (nread == UV_EOF) ++st.log.peer_eofs;
  if (nread == UV_ECONNRESET) ++st.log.peer_resets;
  if (nread < 0) c->close();
}

void on_connection(uv_stream_t* server, int status) {
  auto* st = static_cast<LoopServer::State*>(server->data);
  if (status < 0) return;
  auto* c = new TcpTestConn;
  c->state = st->self;
  uv_tcp_init(st->loop, &c->tcp);
  c->tcp.data = c;
  st->conns.insert(c);
  if (uv_accept(server, c->stream()) != 0) return c->close();
  ++st->log.accepted;
  sockaddr_storage peer{};
  int len = sizeof peer;
  char ip[INET6_ADDRSTRLEN] = "";
  if (uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    if (peer.ss_family == AF_INET) uv_ip4_name(reinterpret_cast<sockaddr_in*>(&peer), ip, sizeof ip);
    else uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&peer), ip, sizeof ip);
  }
  st->log.peer_ip = ip;
  if (st->behavior.reset_on_accept) {
    c->closing = true;
    uv_tcp_close_reset(&c->tcp, [](uv_handle_t* h) {
      auto* conn = static_cast<TcpTestConn*>(h->data);
      conn->state->conns.erase(conn);
      delete conn;
    });
    return;
  }
  uv_read_start(
      c->stream(), [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* conn = static_cast<TcpTestConn*>(h->data);
        *buf = uv_buf_init(conn->buffer, sizeof conn->buffer);
      },
      on_conn_read);
  if (!st->behavior.banner.empty()) c->write(st->behavior.banner, false);
}

}  // namespace

LoopServer::LoopServer(uv_loop_t* loop, ServerBehavior behavior, const char* ip) : state_(std::make_shared<State>()) {
  State& st = *state_;
  st.loop = loop;
  st.behavior = std::move(behavior);
  st.self = state_;
  uv_tcp_init(loop, &st.listener);
  st.listener.data = &st;
  sockaddr_storage ss;
  socklen_t len = 0;
  if (!loopback_address(ip, ss, len)) return;
  if (uv_tcp_bind(&st.listener, reinterpret_cast<sockaddr*>(&ss), 0) != 0) return;
  if (uv_listen(reinterpret_cast<uv_stream_t*>(&st.listener), 64, on_connection) != 0) return;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&st.listener), &fd) != 0) return;
  st.port = port_of(fd);
  st.listening = true;
}

LoopServer::~LoopServer() {
  State& st = *state_;
  for (TcpTestConn* c : std::set<TcpTestConn*>(st.conns)) c->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&st.listener), [](uv_handle_t* h) {
    auto* s = static_cast<State*>(h->data);
    auto keep = std::move(s->self);   // may be the last reference: free after this callback
  });
}

bool LoopServer::ok() const { return state_->listening; }
std::uint16_t LoopServer::port() const { return state_->port; }
const ServerLog& LoopServer::log() const { return state_->log; }

int time_wait_count(std::uint16_t port) {
  constexpr const char* kTimeWait = "06";
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);   // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto port_hex = [](const std::string& addr) {
        const auto colon = addr.rfind(':');
        return colon == std::string::npos ? 0 : static_cast<int>(std::stoul(addr.substr(colon + 1), nullptr, 16));
      };
      if (state == kTimeWait && (port_hex(local) == port || port_hex(remote) == port)) ++count;
    }
  }
  return count;
}

}  // namespace pharos::test
