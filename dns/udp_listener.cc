// udp_listener.cc: the UDP hot path: block in recvmmsg for a batch, answer each datagram from the
// current snapshot into preallocated buffers, sendmmsg the answers. No allocation, no lock, and no
// readiness loop: two system calls per batch (gdnsd's model), not three as with epoll in front.
#include "dns/udp_listener.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace pharos::dns {
namespace {

// The responder's clock only measures gaps of seconds (repeated FORMERR); the coarse clock is a
// vDSO read of the last tick, with no system call and no hardware counter access.
std::uint64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000u;
}

// Errors that say the socket itself is unusable: retrying would spin, so the thread ends.
bool fatal_socket_error(int err) { return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL; }

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

UdpListener::UdpListener(SnapshotReader& reader, IoCounters& counters, Fd&& fd, bool wildcard)
    : reader_(reader), counters_(counters), fd_(std::move(fd)), wildcard_(wildcard) {
  responder_.set_thread(reader.index());
}

UdpListener::~UdpListener() {
  request_stop();
  join();
}

int UdpListener::init() {
  // Blocking reads: the thread sleeps in the kernel until a datagram arrives. Sends stay
  // non-blocking per call (MSG_DONTWAIT): a full send buffer drops, it never stalls the reader.
  const int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return -errno;
  return 0;
}

void UdpListener::start(const std::string& thread_name) {
  assert(!thread_.joinable());
  thread_ = std::thread([this, thread_name] {
    // Signals belong to the control loop; recvmmsg should never see EINTR from them.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    pthread_setname_np(pthread_self(), thread_name.substr(0, 15).c_str());
    run();
  });
}

// shutdown(SHUT_RD) on a UDP socket returns ENOTCONN when it is not connected, but Linux sets the
// receive-shutdown bit and wakes every waiter anyway: a blocked recvmmsg returns at once, and any
// later one does not block. Datagrams already queued can still be read; the thread sees stop_
// after its current batch and exits. Nothing else touches the socket: it is closed only after
// join(), so the descriptor cannot be reused under the thread.
void UdpListener::request_stop() {
  if (stop_.exchange(true, std::memory_order_acq_rel)) return;
  if (fd_) ::shutdown(fd_.get(), SHUT_RD);
}

void UdpListener::join() {
  if (thread_.joinable()) thread_.join();
}

void UdpListener::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    if (run_batch() < 0) return;
  }
}

int UdpListener::run_batch() {
  auto& b = batch_;
  // recvmmsg overwrites the name and control lengths of the messages it fills: reset those.
  for (std::size_t i = 0; i < b.used; ++i) {
    msghdr& h = b.rx[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_control = wildcard_ ? b.rx_control[i].data() : nullptr;
    h.msg_controllen = wildcard_ ? UdpBatch::kControlSize : 0;
    h.msg_flags = 0;
  }
  // Block until one datagram is there, then take whatever else is already queued.
  const int n = ::recvmmsg(fd_.get(), b.rx.data(), UdpBatch::kBatch, MSG_WAITFORONE, nullptr);
  if (n < 0) {
    // EINTR, EAGAIN, ENOMEM, a pending ICMP error: try again. A dead socket ends the thread.
    b.used = 0;
    return fatal_socket_error(errno) ? -1 : 0;
  }
  b.used = static_cast<std::size_t>(n);
  // After shutdown(SHUT_RD) the wait returns an empty message; it is no datagram of a client.
  const bool stopping = stop_.load(std::memory_order_acquire);

  unsigned out_count = 0;
  std::uint64_t received = 0, dropped = 0;
  {
    // One snapshot for the whole batch, entered only once datagrams are in hand: a thread asleep
    // in recvmmsg holds no table, so replaced tables are reclaimed while the socket is quiet.
    ReadSection section{reader_};
    const AnswerTable* table = section.table();
    const std::uint64_t now_ms = monotonic_ms();
    // A datagram larger than our buffer was cut short; it is no DNS query we would answer.
    auto answerable = [&](int i) {
      return table != nullptr && (b.rx[i].msg_hdr.msg_flags & MSG_TRUNC) == 0 && !(stopping && b.rx[i].msg_len == 0);
    };
    // Parse the whole batch first and start the table's cache loads for every qname, hash slot
    // first, then the entry: the loads of all queries overlap instead of stalling one by one.
    for (int i = 0; i < n; ++i) {
      if (!answerable(i)) continue;
      parse_query(b.in_buf(i), b.rx[i].msg_len, b.parsed[i]);
      if (b.parsed[i].outcome == ParseOutcome::kQuery) table->prefetch_slot(b.parsed[i]);
    }
    for (int i = 0; i < n; ++i)
      if (answerable(i) && b.parsed[i].outcome == ParseOutcome::kQuery) table->prefetch_entry(b.parsed[i]);
    for (int i = 0; i < n; ++i)
      if (answerable(i) && b.parsed[i].outcome == ParseOutcome::kQuery) table->prefetch_answers(b.parsed[i]);
    for (int i = 0; i < n; ++i)
      if (answerable(i) && b.parsed[i].outcome == ParseOutcome::kQuery) table->prefetch_fragment(b.parsed[i], Transport::kUdp);
    for (int i = 0; i < n; ++i) {
      const msghdr& h = b.rx[i].msg_hdr;
      if (stopping && b.rx[i].msg_len == 0) continue;
      ++received;
      if (!answerable(i)) {
        ++dropped;
        continue;
      }
      const ClientInfo client{Transport::kUdp, reinterpret_cast<const sockaddr*>(&b.peer[i]), 0};
      const std::size_t len = responder_.respond_parsed(*table, b.parsed[i], b.in_buf(i), b.out_buf(i),
                                                        UdpBatch::kBufSize, client, now_ms);
      if (len == 0) {
        ++dropped;
        continue;
      }
      msghdr& t = b.tx[out_count].msg_hdr;
      b.tx_iov[out_count] = iovec{b.out_buf(i), len};
      t.msg_name = &b.peer[i];
      t.msg_namelen = h.msg_namelen;
      t.msg_flags = 0;
      b.tx_question_end[out_count] = b.parsed[i].question_ok ? b.parsed[i].question_end : 0;
      b.tx_opt[out_count] = static_cast<std::uint16_t>(responder_.last_opt_size());
      set_reply_source(static_cast<unsigned>(i), out_count);
      ++out_count;
    }
  }
  if (received != 0) counters_.udp_received.add(received);
  if (dropped != 0) counters_.udp_dropped.add(dropped);
  send_all(out_count);
  return n;
}

// Wildcard sockets copy the query's destination address into the reply's source (IP_PKTINFO), so
// a multi-homed host answers from the address the client asked. A socket bound to one address has
// no control messages at all: the kernel neither builds nor parses them per datagram.
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
      counters_.udp_sent.add(static_cast<std::uint64_t>(r));
      continue;
    }
    if (r < 0 && errno == EINTR && eintr_budget-- > 0) continue;
    if (r < 0 && errno == EMSGSIZE && shrink(sent)) continue;  // the same reply again, cut to fit
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      counters_.udp_send_failed.add(count - sent);
      return;
    }
    counters_.udp_send_failed.add();
    ++sent;
  }
}

// Replies leave with DF set (listen_socket.cc), so one larger than the outgoing interface's MTU
// fails with EMSGSIZE instead of going out in fragments. It is cut to header, question and OPT
// with TC (RFC 9715 section 3.2: the client comes back over TCP); a reply that was already cut,
// or has no question to keep, is dropped and counted as a failed send.
bool UdpListener::shrink(unsigned tx_index) {
  auto& b = batch_;
  if (b.tx_opt[tx_index] == UdpBatch::kCut) return false;
  iovec& v = b.tx_iov[tx_index];
  const std::size_t n = responder_.cut_to_question(static_cast<std::uint8_t*>(v.iov_base), v.iov_len,
                                                   b.tx_question_end[tx_index], b.tx_opt[tx_index]);
  if (n == 0) return false;
  v.iov_len = n;
  b.tx_opt[tx_index] = UdpBatch::kCut;
  return true;
}

}  // namespace pharos::dns
