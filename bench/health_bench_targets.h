// health_bench_targets.h: the local targets of health_bench, each on threads of its own so their CPU
// is not the control loop's: a TCP listener that accepts and closes, and an HTTP server answering
// 200 "ok". Both listen on 0.0.0.0 (one socket takes every 127.x.y.z) and refuse non-loopback peers.
//
//   TcpAcceptCloseTarget tcp;                       // started; tcp.port()
//   HttpOkTarget http(2);                           // libmicrohttpd, epoll, a pool of 2 threads
//   ... probe them ...
//   tcp.stop(); tcp.served();                       // connections accepted
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

struct MHD_Daemon;
struct MHD_Response;

namespace pharos::bench {

// Common: a port, a served counter, an error string when starting failed.
class Target {
 public:
  virtual ~Target() = default;
  virtual void stop() = 0;
  std::uint16_t port() const { return port_; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  virtual std::string describe() const = 0;

 protected:
  std::uint16_t port_ = 0;
  std::string error_;
  std::atomic<std::uint64_t> served_{0};
};

// One epoll thread: accept4 until EAGAIN, close each connection at once.
class TcpAcceptCloseTarget final : public Target {
 public:
  TcpAcceptCloseTarget();
  ~TcpAcceptCloseTarget() override { stop(); }
  void stop() override;
  std::string describe() const override;
  // CPU seconds of the listener thread, valid after stop().
  double cpu_seconds() const { return cpu_seconds_; }

 private:
  void run();

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  double cpu_seconds_ = 0;
};

// libmicrohttpd with its own epoll polling thread(s): every request gets 200 "ok".
class HttpOkTarget final : public Target {
 public:
  explicit HttpOkTarget(unsigned threads);
  ~HttpOkTarget() override { stop(); }
  void stop() override;
  std::string describe() const override;

 private:
  unsigned threads_;
  MHD_Daemon* daemon_ = nullptr;
  MHD_Response* ok_ = nullptr;   // shared by every request (reference counted by libmicrohttpd)
};

// Loopback address number i (0-based): 127.0.x.y with x and y in 1..250 for the first 62,500, then
// 127.1.x.y and so on. Distinct targets make distinct probes (the engine merges identical ones) and
// spread the connections over many 4-tuples.
std::string loopback_address(std::uint32_t i);

}  // namespace pharos::bench
