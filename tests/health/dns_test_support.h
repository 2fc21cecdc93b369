// dns_test_support.h: a tiny UDP DNS server for the DNS check and resolver tests (on the test's own
// loop, loopback, port 0; answers built with ldns), and bounded loop runners.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace pharos::health::testing {

// Runs the loop until pred() holds or `limit` passes; returns pred().
bool run_until(uv_loop_t* loop, const std::function<bool()>& pred,
               std::chrono::milliseconds limit = std::chrono::seconds(10));
// Lets every close callback run (bounded), then closes the loop; returns uv_loop_close()'s result,
// which is UV_EBUSY when a handle was leaked.
int drain_and_close(uv_loop_t* loop);
// Runs the loop for `duration` (to show something does not happen).
void run_for(uv_loop_t* loop, std::chrono::milliseconds duration);

class TestDnsServer {
 public:
  enum class Mode { kAnswer, kServfail, kNxdomain, kRefused, kSilent };

  // Listens on `address` port 0. Answers A with 192.0.2.1 (TTL 60) until told otherwise.
  explicit TestDnsServer(uv_loop_t* loop, const char* address = "127.0.0.1");
  ~TestDnsServer();   // closes the socket; run the loop afterwards
  TestDnsServer(const TestDnsServer&) = delete;
  TestDnsServer& operator=(const TestDnsServer&) = delete;

  void set_mode(Mode mode) { mode_ = mode; }
  // The answer records for a query type, as presentation rdata ("192.0.2.1", "10 mail.example.com.").
  void set_answers(std::uint16_t qtype, std::vector<std::string> rdata, std::uint32_t ttl = 60);

  std::string address() const;     // "127.0.0.1:port" / "[::1]:port"
  std::uint16_t port() const { return port_; }
  int queries() const { return queries_; }
  const std::string& last_qname() const { return last_qname_; }

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_recv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags);
  void answer(const std::uint8_t* query, std::size_t len, const sockaddr* from);

  struct Answers {
    std::vector<std::string> rdata;
    std::uint32_t ttl = 60;
  };

  uv_udp_t* udp_;
  std::string host_;
  std::uint16_t port_ = 0;
  Mode mode_ = Mode::kAnswer;
  std::map<std::uint16_t, Answers> answers_;
  int queries_ = 0;
  std::string last_qname_;
  char buffer_[4096];
};

}  // namespace pharos::health::testing
