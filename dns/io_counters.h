// io_counters.h: per-worker transport counters. Written only by the owning worker thread and read
// by anyone (stats, tests), so plain relaxed loads and stores suffice: no read-modify-write.
#pragma once

#include <atomic>
#include <cstdint>

namespace pharos::dns {

class Counter {
 public:
  void add(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct IoCounters {
  // UDP
  Counter udp_received;      // datagrams read
  Counter udp_sent;          // responses handed to the kernel
  Counter udp_dropped;       // no answer: responder said drop, no table yet, or oversized datagram
  Counter udp_send_failed;   // sendmmsg refused the datagram (buffer full, unreachable, ...)
  // TCP
  Counter tcp_accepted;
  Counter tcp_open;          // currently open connections (a gauge)
  Counter tcp_queries;
  Counter tcp_evicted;       // closed to make room for a new connection
  Counter tcp_idle_timeouts;
  Counter tcp_message_timeouts;
  Counter tcp_bad_length;    // length prefix < 12
  Counter tcp_dropped;       // the responder dropped a query: connection closed after flushing
  Counter tcp_backpressure;  // times reading paused because unsent output was too large
};

}  // namespace pharos::dns
