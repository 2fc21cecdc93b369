// worker.h: one DNS worker thread: its own libuv loop, one UDP and one TCP socket per listen
// address, one Responder, and the snapshot reader it uses at the start of every batch.
//
//   Result<std::unique_ptr<Worker>> w = Worker::create(0, pub.reader(0), options, std::move(socks));
//   (*w)->start();  ...  (*w)->request_stop();  (*w)->join();
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
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

  // Runs the loop on a new thread.
  void start();
  // Thread-safe, idempotent: stop accepting, flush TCP answers (bounded), exit the loop.
  void request_stop();
  // Waits for the thread to finish (after request_stop()).
  void join();

  unsigned index() const { return index_; }
  const IoCounters& counters() const { return counters_; }
  // The worker thread's handle, e.g. to attribute per-thread measurements in tests.
  std::thread::native_handle_type native_handle() { return thread_.native_handle(); }
  // Only meaningful once the worker has stopped (written by the worker thread without locks).
  const ResponderStats& responder_stats() const { return responder_.stats(); }

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
  UdpBatch batch_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::unique_ptr<TcpListener> tcp_;
  std::thread thread_;
};

}  // namespace pharos::dns
