// udp_listener.cc: the UDP hot path: recvmmsg a batch, answer each datagram from the current
// snapshot into preallocated buffers, sendmmsg the answers. No allocation, no lock, no blocking.
#include "dns/udp_listener.h"

#include <cassert>
#include <cerrno>
#include <cstring>

namespace pharos::dns {
namespace {

// Batches per readiness callback. uv_poll is level-triggered, so leftover datagrams wake us again
// on the next loop iteration; capping the rounds keeps TCP connections and timers of the same
// worker from starving under a UDP flood.
constexpr int kMaxRoundsPerWakeup = 8;

}  // namespace

UdpBatch::UdpBatch()
    : in(std::make_unique<std::uint8_t[]>(kBatch * kBufSize)),
      out(std::make_unique<std::uint8_t[]>(kBatch * kBufSize)) {
  for (std::size_t i = 0; i < kBatch; ++i) {
    rx_iov[i] = iovec{in_buf(i), kBufSize};
    rx[i].msg_hdr.msg_iov = &rx_iov[i];
    rx[i].msg_hdr.msg_iovlen = 1;
    rx[i].msg_hdr.msg_name = &peer[i];
    tx[i].msg_hdr.msg_iov = &tx_iov[i];
    tx[i].msg_hdr.msg_iovlen = 1;
  }
}

UdpListener::UdpListener(const WorkerContext& ctx, UdpBatch& batch, Fd&& fd, bool wildcard)
    : ctx_(ctx), batch_(batch), fd_(std::move(fd)), wildcard_(wildcard) {
  poll_.data = this;
}

UdpListener::~UdpListener() { assert(!started_ || closed_); }

int UdpListener::start() {
  const int rc = uv_poll_init_socket(ctx_.loop, &poll_, fd_.get());
  if (rc != 0) return rc;
  started_ = true;
  return uv_poll_start(&poll_, UV_READABLE, &UdpListener::on_poll);
}

void UdpListener::close() {
  if (!started_) {
    closed_ = true;
    return;
  }
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &UdpListener::on_close);
}

void UdpListener::on_close(uv_handle_t* h) {
  auto* self = static_cast<UdpListener*>(h->data);
  // libuv has forgotten the fd now; it is ours to close.
  self->fd_.reset();
  self->closed_ = true;
}

void UdpListener::on_poll(uv_poll_t* h, int status, int /*events*/) {
  auto* self = static_cast<UdpListener*>(h->data);
  // A poll error on a UDP socket is a pending ICMP error; recvmmsg below reads and clears it.
  (void)status;
  self->drain();
}

void UdpListener::drain() {
  for (int round = 0; round < kMaxRoundsPerWakeup; ++round) {
    if (run_batch() < static_cast<int>(UdpBatch::kBatch)) return;
  }
}

int UdpListener::run_batch() {
  auto& b = batch_;
  // recvmmsg overwrites the name and control lengths; reset them for every round.
  for (std::size_t i = 0; i < UdpBatch::kBatch; ++i) {
    msghdr& h = b.rx[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_control = wildcard_ ? b.rx_control[i].data() : nullptr;
    h.msg_controllen = wildcard_ ? UdpBatch::kControlSize : 0;
    h.msg_flags = 0;
  }
  const int n = ::recvmmsg(fd_.get(), b.rx.data(), UdpBatch::kBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;  // EAGAIN: drained; other errors (ICMP) are consumed by the read
  ctx_.counters->udp_received.add(static_cast<std::uint64_t>(n));

  unsigned out_count = 0;
  {
    // One snapshot for the whole batch: the table cannot be freed until leave().
    ReadSection section{*ctx_.reader};
    const AnswerTable* table = section.table();
    const std::uint64_t now_ms = uv_now(ctx_.loop);
    for (int i = 0; i < n; ++i) {
      const msghdr& h = b.rx[i].msg_hdr;
      // A datagram larger than our buffer was cut short; it is no DNS query we would answer.
      if (table == nullptr || (h.msg_flags & MSG_TRUNC) != 0) {
        ctx_.counters->udp_dropped.add();
        continue;
      }
      const ClientInfo client{Transport::kUdp, reinterpret_cast<const sockaddr*>(&b.peer[i]), 0};
      const std::size_t len = ctx_.responder->respond(*table, b.in_buf(i), b.rx[i].msg_len,
                                                      b.out_buf(i), UdpBatch::kBufSize, client, now_ms);
      if (len == 0) {
        ctx_.counters->udp_dropped.add();
        continue;
      }
      msghdr& t = b.tx[out_count].msg_hdr;
      b.tx_iov[out_count] = iovec{b.out_buf(i), len};
      t.msg_name = &b.peer[i];
      t.msg_namelen = h.msg_namelen;
      t.msg_flags = 0;
      set_reply_source(static_cast<unsigned>(i), out_count);
      ++out_count;
    }
  }
  send_all(out_count);
  return n;
}

// Wildcard sockets copy the query's destination address into the reply's source (IP_PKTINFO), so
// a multi-homed host answers from the address the client asked.
void UdpListener::set_reply_source(unsigned rx_index, unsigned tx_index) {
  msghdr& t = batch_.tx[tx_index].msg_hdr;
  t.msg_control = nullptr;
  t.msg_controllen = 0;
  if (!wildcard_) return;
  msghdr& r = batch_.rx[rx_index].msg_hdr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&r); c != nullptr; c = CMSG_NXTHDR(&r, c)) {
    std::uint8_t* ctl = batch_.tx_control[tx_index].data();
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      in_pktinfo reply{};
      reply.ipi_spec_dst = info.ipi_addr;  // source address to use; the route picks the interface
      t.msg_control = ctl;
      t.msg_controllen = CMSG_SPACE(sizeof reply);
      cmsghdr* out = CMSG_FIRSTHDR(&t);
      out->cmsg_level = IPPROTO_IP;
      out->cmsg_type = IP_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof reply);
      std::memcpy(CMSG_DATA(out), &reply, sizeof reply);
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);  // keep the interface: link-local needs it
      t.msg_control = ctl;
      t.msg_controllen = CMSG_SPACE(sizeof info);
      cmsghdr* out = CMSG_FIRSTHDR(&t);
      out->cmsg_level = IPPROTO_IPV6;
      out->cmsg_type = IPV6_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(out), &info, sizeof info);
      return;
    }
  }
}

// UDP is lossy by contract: when the socket buffer is full we drop rather than queue, so a worker
// never holds answers (or memory) for clients that flood us. A datagram the kernel refuses for its
// own reasons (unreachable, bad address) is skipped and the rest still go out.
void UdpListener::send_all(unsigned count) {
  unsigned sent = 0;
  int eintr_budget = 4;
  while (sent < count) {
    const int r = ::sendmmsg(fd_.get(), batch_.tx.data() + sent, count - sent, MSG_DONTWAIT);
    if (r > 0) {
      sent += static_cast<unsigned>(r);
      ctx_.counters->udp_sent.add(static_cast<std::uint64_t>(r));
      continue;
    }
    if (r < 0 && errno == EINTR && eintr_budget-- > 0) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      ctx_.counters->udp_send_failed.add(count - sent);
      return;
    }
    ctx_.counters->udp_send_failed.add();
    ++sent;
  }
}

}  // namespace pharos::dns
