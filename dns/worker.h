// worker.h: one DNS worker: a libuv loop thread serving its TCP socket of every listen address,
// and one receive thread per UDP socket (udp_listener.h). Every thread has its own Responder and
// its own snapshot reader, which it enters at the start of each batch.
//
//   WorkerSockets socks;  socks.udp.push_back({std::move(fd), false, &pub.reader(1)});
//   Result<std::unique_ptr<Worker>> w = Worker::create(0, pub.reader(0), options, std::move(socks));
//   (*w)->start();  ...  (*w)->request_stop();  (*w)->join();
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dns/io_counters.h"
#include "dns/listen_socket.h"
#include "dns/responder.h"
#include "dns/result.h"
#include "dns/snapshot.h"
#include "dns/tcp_listener.h"
#include "dns/udp_listener.h"

namespace pharos::dns {

struct WorkerOptions {
  TcpOptions tcp;
  // On stop, how long TCP connections may take to flush answers already computed.
  std::uint64_t drain_timeout_ms = 2'000;
};

// A worker's share of the sockets: one UDP and one TCP socket per listen address.
struct WorkerSockets {
  struct Udp {
    Fd fd;
    bool wildcard = false;
    SnapshotReader* reader = nullptr;  // the UDP thread's own slot, never the loop's
  };
  std::vector<Udp> udp;
  std::vector<Fd> tcp;
};

class Worker {
 public:
  // Sets up the loop and registers every socket (on the calling thread, so errors surface here).
  static Result<std::unique_ptr<Worker>> create(unsigned index, SnapshotReader& reader,
                                                const WorkerOptions& options, WorkerSockets&& sockets);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the loop and every UDP receive thread.
  void start();
  // Thread-safe, idempotent: stop reading UDP (waking blocked receivers), stop accepting, flush
  // TCP answers (bounded), exit the loop.
  void request_stop();
  // Waits for every thread to finish (after request_stop()).
  void join();

  unsigned index() const { return index_; }
  const IoCounters& counters() const { return counters_; }
  // The loop thread's handle (TCP), e.g. to attribute per-thread measurements in tests.
  std::thread::native_handle_type native_handle() { return thread_.native_handle(); }
  // The receive thread of UDP socket i (listen-address order).
  std::size_t udp_count() const { return udp_.size(); }
  std::thread::native_handle_type udp_native_handle(std::size_t i) { return udp_[i]->native_handle(); }
  // Live query counters, any thread (relaxed reads of single-writer counters): the loop's
  // responder (TCP) plus every UDP thread's.
  ResponderStats responder_stats() const;
  ResponderStats responder_stats(Transport t) const;

 private:
  Worker(unsigned index, SnapshotReader& reader, const WorkerOptions& options);
  int init(WorkerSockets&& sockets);
  void run();
  void begin_stop();
  // Closes every handle and runs the loop until their callbacks ran; then the loop can close.
  void close_loop();

  static void on_stop(uv_async_t* a);
  static void on_drain_timeout(uv_timer_t* t);

  unsigned index_;
  WorkerOptions options_;
  uv_loop_t loop_{};
  bool loop_ready_ = false;
  uv_async_t stop_async_{};
  uv_timer_t drain_timer_{};
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  IoCounters counters_;
  Responder responder_;
  SnapshotReader& reader_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::unique_ptr<TcpListener> tcp_;
  std::thread thread_;
};

}  // namespace pharos::dns
