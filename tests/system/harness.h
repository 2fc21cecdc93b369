// harness.h: system-test harness: starts a real pharosd on ephemeral loopback ports with a temp
// config, finds its ports in its log, and kills it at teardown. message.h builds and parses DNS
// messages; client.h sends them.
//
//   Server* srv = default_server();                   // example.com on 127.0.0.1:0
//   Bytes q = build_query(next_id(), "www.example.com", rrtype::kA);
//   std::optional<Response> r = udp_exchange(srv->udp(), q);
//   EXPECT_EQ(r->rcode(), 0);
//   EXPECT_TRUE(udp_silent(srv->udp(), malformed));     // "drop": no reply within 300 ms
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "tests/system/client.h"
#include "tests/system/message.h"

namespace pharos::system_test {

// ---------------------------------------------------------------------------------------------
// The server under test.

struct ServerOptions {
  std::vector<std::string> listen = {"127.0.0.1:0"};
  // Zones as {name, absolute path}; the harness copies each file next to the temp config.
  std::vector<std::pair<std::string, std::string>> zones = {
      {"example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone"}};
  // JSON object text for "identity"; empty = every identity string empty (hidden).
  std::string identity_json;
  int workers = 1;
  int max_udp_payload = 1232;
  std::string tcp_idle_timeout = "5s";
  std::string tcp_message_timeout = "1s";
  int tcp_max_connections = 64;
};

class Server {
 public:
  // Starts pharosd, waits for its listeners and for a first answer. Returns nullptr (after an
  // ADD_FAILURE with the captured log) if it does not come up within a few seconds.
  static std::unique_ptr<Server> start(const ServerOptions& opts);
  ~Server();  // SIGTERM, then SIGKILL after a bounded wait; removes the temp directory
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Endpoint udp(int family = AF_INET) const;
  Endpoint tcp(int family = AF_INET) const;
  bool alive();               // the process has not exited
  std::string log() const;    // everything it printed so far
  pid_t pid() const { return pid_; }

 private:
  Server() = default;
  void reader_loop();

  struct Listener {
    bool tcp = false;
    std::string host;
    std::uint16_t port = 0;
  };
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string dir_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
  std::vector<Listener> listeners_;
  bool exited_ = false;
};

// Shared servers for a test binary: started on first use, restarted if a previous test killed it.
// Each returns nullptr (after reporting the failure) when pharosd does not come up.
Server* default_server();     // example.com, 127.0.0.1:0, identity hidden
Server* identity_server();    // same zone, identity strings and NSID configured (kIdentity* below)
Server* dual_stack_server();  // 127.0.0.1:0 and [::1]:0

inline constexpr const char* kIdentityIdServer = "pharos-test-id";
inline constexpr const char* kIdentityHostname = "pharos-test-host";
inline constexpr const char* kIdentityVersion = "pharos-test-version-1";
inline constexpr const char* kIdentityNsid = "pharos-nsid";

}  // namespace pharos::system_test
