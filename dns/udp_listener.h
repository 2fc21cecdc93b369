// udp_listener.h: one worker's UDP socket for one listen address, read with recvmmsg and answered
// with sendmmsg in batches. libuv 1.44 has no batched send, so the socket is driven by uv_poll and
// every buffer is allocated once per worker: the UDP path allocates nothing per query.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dns/io_counters.h"
#include "dns/listen_socket.h"
#include "dns/responder.h"
#include "dns/snapshot.h"

namespace pharos::dns {

// Buffers for one recvmmsg/sendmmsg round, shared by every UDP socket of a worker (callbacks of
// one loop never overlap). 64 datagrams per syscall amortises the syscall cost well past the
// point of diminishing returns while keeping the batch in L2; 4096 bytes covers any EDNS payload
// we allow (edns.max_udp_payload <= 4096) and any sane query.
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
  alignas(cmsghdr) std::array<std::array<std::uint8_t, kControlSize>, kBatch> rx_control{};
  alignas(cmsghdr) std::array<std::array<std::uint8_t, kControlSize>, kBatch> tx_control{};

  std::uint8_t* in_buf(std::size_t i) { return in.get() + i * kBufSize; }
  std::uint8_t* out_buf(std::size_t i) { return out.get() + i * kBufSize; }
};

// Everything a listener needs from its worker; all of it lives as long as the worker's loop.
struct WorkerContext {
  uv_loop_t* loop = nullptr;
  SnapshotReader* reader = nullptr;
  Responder* responder = nullptr;
  IoCounters* counters = nullptr;
};

class UdpListener {
 public:
  UdpListener(const WorkerContext& ctx, UdpBatch& batch, Fd&& fd, bool wildcard);
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;
  // The poll handle must have been closed (close() and its callback) before destruction.
  ~UdpListener();

  // Registers the socket with the loop and starts reading. Returns 0 or a libuv error.
  int start();
  // Stops reading and closes the socket; done() turns true in the close callback.
  void close();
  bool done() const { return closed_; }

 private:
  static void on_poll(uv_poll_t* h, int status, int events);
  static void on_close(uv_handle_t* h);
  void drain();
  // One recvmmsg + answers + sendmmsg round. Returns how many datagrams it read.
  int run_batch();
  void send_all(unsigned count);
  void set_reply_source(unsigned rx_index, unsigned tx_index);

  WorkerContext ctx_;
  UdpBatch& batch_;
  Fd fd_;
  bool wildcard_;
  bool started_ = false;
  bool closing_ = false;
  bool closed_ = false;
  uv_poll_t poll_{};
};

}  // namespace pharos::dns
