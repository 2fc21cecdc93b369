// http_test_support.cc: the HTTP test server, the s_server child, certificates, the name resolver.
#include "tests/health/http_test_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

extern char** environ;

namespace pharos::test::http {

// A connection's memory is freed in its close callback; nothing there touches the server, which
// may be gone by then.
struct HttpTestServer::Conn {
  uv_tcp_t tcp{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  HttpTestServer* server = nullptr;
  std::array<char, 4096> buf{};
  std::string in;
  std::string out;   // what is being written; must live until the write callback
  bool answered = false;
  bool closing = false;
};

HttpTestServer::HttpTestServer(uv_loop_t* loop) : loop_(loop), listener_(new uv_tcp_t) {
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 1024, &HttpTestServer::on_connection);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

std::string HttpTestServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpTestServer::close() {
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
  }
  while (!conns_.empty()) close_conn(*conns_.begin());
}

void HttpTestServer::close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  conns_.erase(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
}

void HttpTestServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<HttpTestServer*>(listener->data);
  if (status < 0) return;
  auto* c = new Conn;
  c->server = self;
  uv_tcp_init(self->loop_, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    return;
  }
  self->conns_.insert(c);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(conn->buf.data(), static_cast<unsigned>(conn->buf.size()));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(s->data);
        conn->server->on_read(conn, nread, buf);
      });
}

void HttpTestServer::on_read(Conn* c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    // The client went away (EOF or reset): the end of every exchange, and what a cancelled probe
    // must cause.
    ++closed_by_client_;
    close_conn(c);
    return;
  }
  c->in.append(buf->base, static_cast<std::size_t>(nread));
  if (!c->answered && c->in.find("\r\n\r\n") != std::string::npos) {
    c->answered = true;
    answer(c);
  }
}

void HttpTestServer::answer(Conn* c) {
  SeenRequest seen;
  const std::size_t line_end = c->in.find("\r\n");
  const std::string line = c->in.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  seen.method = line.substr(0, sp1);
  seen.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (std::size_t at = line_end + 2; at < c->in.size();) {
    const std::size_t end = c->in.find("\r\n", at);
    if (end == std::string::npos || end == at) break;
    const std::string header = c->in.substr(at, end - at);
    if (strncasecmp(header.c_str(), "host:", 5) == 0) {
      seen.host = header.substr(5);
      seen.host.erase(0, seen.host.find_first_not_of(' '));
    }
    at = end + 2;
  }
  sockaddr_storage peer{};
  int len = sizeof peer;
  uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &len);
  char text[64] = {};
  uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&peer), text, sizeof text);
  seen.peer = text;
  requests_.push_back(seen);

  const auto route = routes_.find(seen.target);
  const HttpReply reply = route != routes_.end() ? route->second : HttpReply{404, "no route\n", {}, {}};
  if (reply.mode == HttpReply::Mode::kSilent) return;

  const bool stall = reply.mode == HttpReply::Mode::kStallBody;
  const std::size_t announced = reply.body.size() + (stall ? 100000 : 0);
  c->out = "HTTP/1.1 " + std::to_string(reply.status) + " Canned\r\nContent-Length: " + std::to_string(announced) +
           "\r\nConnection: close\r\n";
  for (const auto& [name, value] : reply.headers) c->out += name + ": " + value + "\r\n";
  c->out += "\r\n";
  if (seen.method != "HEAD") c->out += reply.body;
  uv_buf_t out = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  c->write.data = c;
  uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &out, 1, [](uv_write_t* w, int status) {
    auto* conn = static_cast<Conn*>(w->data);
    if (status < 0 || conn->closing) return;
    // A complete answer is followed by our FIN; the client's close then ends the connection.
    // A stalled one just stays open.
  });
  if (!stall) {
    c->shutdown.data = c;
    uv_shutdown(&c->shutdown, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t*, int) {});
  }
}

std::uint16_t refused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // never listened: connections to it are refused
  return ntohs(addr.sin_port);
}

namespace {

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

int run_command(const std::vector<std::string>& argv, Millis bound) {
  // coreutils' timeout bounds the child; 127 comes back when argv[0] is not found.
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3fs", static_cast<double>(bound.count()) / 1000.0);
  std::vector<std::string> args = {"timeout", "-s", "KILL", seconds};
  args.insert(args.end(), argv.begin(), argv.end());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  auto cargv = c_argv(args);
  const int rc = posix_spawnp(&pid, "timeout", &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return 127;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool openssl_available() {
  static const bool available = run_command({"openssl", "version"}) == 0;
  return available;
}

bool make_self_signed(const TempDir& dir, const std::string& stem, const std::string& name) {
  return run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", dir.file(stem + ".key"), "-out", dir.file(stem + ".crt"), "-days", "2", "-subj",
                      "/CN=" + name, "-addext", "subjectAltName=DNS:" + name}) == 0;
}

TlsTestServer::~TlsTestServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);  // our own child, by its id
    ::waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool TlsTestServer::start(const Options& options, std::string* error) {
  std::vector<std::string> args = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", options.cert,
                                   "-key", options.key, "-WWW"};
  if (!options.client_ca.empty()) {
    args.insert(args.end(), {"-Verify", "1", "-CAfile", options.client_ca});
  }
  if (!options.servername.empty()) {
    args.insert(args.end(), {"-servername", options.servername, "-servername_fatal", "-cert2", options.cert,
                             "-key2", options.key});
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  const std::string log = std::filesystem::path(options.www_dir).parent_path() / "s_server.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&actions, options.www_dir.c_str());
  auto cargv = c_argv(args);
  const int rc = posix_spawnp(&pid_, "openssl", &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  stdout_fd_ = pipe_fds[0];
  if (rc != 0) {
    pid_ = -1;
    *error = "cannot run openssl";
    return false;
  }
  // Read stdout until "ACCEPT 127.0.0.1:<port>", at most 10 s. The pipe stays open afterwards:
  // s_server writes little more to stdout, and closing it would kill the child with SIGPIPE.
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::size_t at = out.find("ACCEPT 127.0.0.1:");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::strtoul(out.c_str() + at + 17, nullptr, 10));
      return port_ != 0;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char chunk[512];
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  *error = "s_server did not start; stdout: " + out + " (stderr in " + log + ")";
  return false;
}

std::shared_ptr<void> NameResolver::resolve(const std::string& host, std::uint16_t port, int family, Done done) {
  ++asked_[host];
  const auto it = names_.find(host);
  return literal_.resolve(it != names_.end() ? it->second : host, port, family, std::move(done));
}

int NameResolver::asked(const std::string& host) const {
  const auto it = asked_.find(host);
  return it == asked_.end() ? 0 : it->second;
}

}  // namespace pharos::test::http
