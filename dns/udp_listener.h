// udp_listener.h: one UDP socket of one worker, served by a thread of its own that blocks in
// recvmmsg and answers with sendmmsg. No event loop sits in front of the socket: a readiness loop
// costs one epoll_wait per batch, the biggest kernel cost per query after the datagrams themselves.
//
//   UdpListener u{reader, counters, std::move(fd), /*wildcard=*/false};
//   if (int err = u.init(); err != 0) ...;      // makes the socket blocking
//   u.start("pharos-w0u0");                       // spawns the receive thread
//   u.request_stop();  u.join();                  // any thread; wakes a blocked recvmmsg
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "dns/io_counters.h"
#include "dns/listen_socket.h"
#include "dns/responder.h"
#include "dns/snapshot.h"

namespace pharos::dns {

// Buffers for one recvmmsg/sendmmsg round, allocated once per listener: the UDP path allocates
// nothing per query. 64 datagrams per syscall amortises the syscall cost well past the point of
// diminishing returns while keeping the batch in L2; 4096 bytes covers any EDNS payload we allow
// (edns.max_udp_payload <= 4096) and any sane query.
struct UdpBatch {
  static constexpr std::size_t kBatch = 64;
  static constexpr std::size_t kBufSize = 4096;
  // Room for one IP_PKTINFO or IPV6_PKTINFO control message.
  static constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(in6_pktinfo));

  UdpBatch();

  std::unique_ptr<std::uint8_t[]> in;    // kBatch * kBufSize
  std::unique_ptr<std::uint8_t[]> out;   // kBatch * kBufSize
  std::array<mmsghdr, kBatch> rx{};
  std::array<mmsghdr, kBatch> tx{};
  std::array<iovec, kBatch> rx_iov{};
  std::array<iovec, kBatch> tx_iov{};
  std::array<sockaddr_storage, kBatch> peer{};
  std::array<ParsedQuery, kBatch> parsed{};  // every datagram of a batch is parsed before any is answered
  std::size_t used = kBatch;                 // receive headers recvmmsg wrote in the last round
  // Per reply, what cutting it needs if the kernel refuses it as too big (UdpListener::shrink):
  // where its question ends and the size of the OPT it ends with; kCut once it has been cut.
  static constexpr std::uint16_t kCut = 0xffff;
  std::array<std::uint16_t, kBatch> tx_question_end{};
  std::array<std::uint16_t, kBatch> tx_opt{};
  alignas(cmsghdr) std::array<std::array<std::uint8_t, kControlSize>, kBatch> rx_control{};
  alignas(cmsghdr) std::array<std::array<std::uint8_t, kControlSize>, kBatch> tx_control{};

  std::uint8_t* in_buf(std::size_t i) { return in.get() + i * kBufSize; }
  std::uint8_t* out_buf(std::size_t i) { return out.get() + i * kBufSize; }
};

// Everything a worker's TCP listener needs from its worker; all of it lives as long as the loop.
struct WorkerContext {
  uv_loop_t* loop = nullptr;
  SnapshotReader* reader = nullptr;
  Responder* responder = nullptr;
  IoCounters* counters = nullptr;
};

class UdpListener {
 public:
  // `reader` is this listener's own snapshot slot (one per thread); `counters` may be shared with
  // the worker's other listeners (the UDP counters are multi-writer).
  UdpListener(SnapshotReader& reader, IoCounters& counters, Fd&& fd, bool wildcard);
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;
  // Stops and joins the thread if it still runs, then closes the socket.
  ~UdpListener();

  // Switches the socket to blocking reads. Returns 0 or -errno.
  int init();
  // Starts the receive thread.
  void start(const std::string& thread_name);
  // Any thread, idempotent: the thread finishes the batch in hand, sends it, and exits. A thread
  // asleep in recvmmsg is woken by shutdown(SHUT_RD), which makes its wait return at once.
  void request_stop();
  void join();

  bool running() const { return thread_.joinable(); }
  std::thread::native_handle_type native_handle() { return thread_.native_handle(); }
  // Live query counters (relaxed reads of the receive thread's single-writer counters).
  ResponderStats responder_stats() const { return load(responder_.stats(Transport::kUdp)); }

 private:
  void run();
  // One recvmmsg + answers + sendmmsg round. Returns how many datagrams it read, or -1 on an
  // error other than EINTR/EAGAIN (ICMP errors are consumed by the read and count as 0).
  int run_batch();
  void send_all(unsigned count);
  bool shrink(unsigned tx_index);
  void set_reply_source(unsigned rx_index, unsigned tx_index);

  SnapshotReader& reader_;
  IoCounters& counters_;
  Fd fd_;
  bool wildcard_;
  Responder responder_;
  UdpBatch batch_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pharos::dns
