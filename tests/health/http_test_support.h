// http_test_support.h: targets for the http/https checker tests: a small HTTP/1.1 server on the
// test's own libuv loop (127.0.0.1, port 0) with canned replies per path, an `openssl s_server`
// child for TLS, self-signed certificates made with the openssl CLI, and a Resolver for names.
//
//   HttpTestServer server{loop.get()};
//   server.route("/health", {.status = 200, .body = "ok"});
//   ... probe server.url("/health") ...
//   EXPECT_EQ(server.requests().back().host, "www.example.test");
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "health/resolver.h"
#include "tests/health/probe_test_support.h"

// Everything here lives in its own namespace: support files of all checkers link into one binary.
namespace pharos::test::http {

struct HttpReply {
  enum class Mode {
    kComplete,   // status, headers, body, then wait for the client to close
    kStallBody,  // status and headers announcing more body than sent, part of it, then silence
    kSilent,     // read the request, never answer
  };
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  Mode mode = Mode::kComplete;
};

struct SeenRequest {
  std::string method;
  std::string target;
  std::string host;   // the Host header
  std::string peer;   // the client's address
};

class HttpTestServer {
 public:
  explicit HttpTestServer(uv_loop_t* loop);
  ~HttpTestServer() { close(); }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  // Paths without a route answer 404.
  void route(const std::string& path, HttpReply reply) { routes_[path] = std::move(reply); }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const;

  const std::vector<SeenRequest>& requests() const { return requests_; }
  int open_connections() const { return static_cast<int>(conns_.size()); }
  int closed_by_client() const { return closed_by_client_; }   // EOF or reset from the client

  // Closes the listener and every connection; run the loop afterwards.
  void close();

 private:
  struct Conn;
  static void on_connection(uv_stream_t* listener, int status);
  void on_read(Conn* c, ssize_t nread, const uv_buf_t* buf);
  void answer(Conn* c);
  void close_conn(Conn* c);

  uv_loop_t* loop_;
  uv_tcp_t* listener_ = nullptr;   // heap: freed in its close callback
  std::uint16_t port_ = 0;
  std::map<std::string, HttpReply> routes_;
  std::vector<SeenRequest> requests_;
  std::set<Conn*> conns_;
  int closed_by_client_ = 0;
};

// A port on 127.0.0.1 that nobody listens on (bound, then released): connecting is refused.
std::uint16_t refused_port();

// Runs argv (argv[0] looked up in PATH) with stdin, stdout and stderr on /dev/null, killed after
// `bound`; returns its exit status, or 127 when it could not run.
int run_command(const std::vector<std::string>& argv, Millis bound = Millis{10000});

// True when the openssl CLI can be run (the TLS tests skip themselves otherwise).
bool openssl_available();

// Writes <dir>/<stem>.crt and <dir>/<stem>.key: a self-signed P-256 certificate valid for two days
// with `name` as its CN and only DNS subject alternative name.
bool make_self_signed(const TempDir& dir, const std::string& stem, const std::string& name);

// `openssl s_server -WWW` on 127.0.0.1, port 0, serving files from `www_dir` with "HTTP/1.0 200 ok".
// One connection at a time, which is all the TLS tests need.
class TlsTestServer {
 public:
  struct Options {
    std::string cert;
    std::string key;
    std::string www_dir;
    std::string client_ca;    // if set, a client certificate issued by it is required
    std::string servername;   // if set, a client sending another SNI gets a fatal alert
  };
  TlsTestServer() = default;
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  // Starts the child and waits (bounded) for its "ACCEPT 127.0.0.1:<port>" line. Its stderr goes
  // to <www_dir>/../s_server.log.
  bool start(const Options& options, std::string* error);
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
};

// Answers the names it was given with their IP literal (through LiteralResolver, so on the next
// loop iteration); other names fail. Counts what it was asked.
class NameResolver final : public health::Resolver {
 public:
  NameResolver(uv_loop_t* loop, std::map<std::string, std::string> names)
      : literal_(loop), names_(std::move(names)) {}
  std::shared_ptr<void> resolve(const std::string& host, std::uint16_t port, int family, Done done) override;
  int asked(const std::string& host) const;

 private:
  LiteralResolver literal_;
  std::map<std::string, std::string> names_;
  std::map<std::string, int> asked_;
};

}  // namespace pharos::test::http
