// io_counters.h: per-worker transport counters, read by anyone (stats, tests). The TCP ones are
// written only by the worker's loop thread, so plain relaxed loads and stores suffice; the UDP ones
// by each of the worker's UDP threads (one per listen address), once per batch, so they add
// atomically.
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

// A counter with several writers; relaxed fetch_add, used once per batch rather than per query.
class SharedCounter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct IoCounters {
  // UDP
  // The UDP threads and the loop thread write to different cache lines.
  alignas(64) SharedCounter udp_received;  // datagrams read
  SharedCounter udp_sent;         // responses handed to the kernel
  SharedCounter udp_dropped;      // no answer: responder said drop, no table yet, or oversized datagram
  SharedCounter udp_send_failed;  // sendmmsg refused the datagram (buffer full, unreachable, ...)
  // TCP
  alignas(64) Counter tcp_accepted;
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
