// tcp_listener.h: one worker's DNS-over-TCP side (RFC 7766): its listening sockets, every
// connection they accepted, framing and pipelining, timeouts, the connection cap and write
// backpressure.
//
// Policy choices, in one place:
//  - Connection cap (per worker, its share of tcp.max_connections): a new connection is always
//    accepted and, when the cap is exceeded, the connection idle for longest is closed. Refusing
//    new connections would let a few hundred stalled clients lock everyone else out; the oldest
//    idle one is the cheapest to lose (RFC 7766 §6.2.3 lets servers close idle connections).
//  - Idle timeout: no complete query and no write progress for tcp.idle_timeout closes.
//  - Message timeout: a message whose first byte arrived tcp.message_timeout ago and is still
//    incomplete closes the connection (slowloris); a length prefix < 12 closes at once.
//  - Backpressure: when a connection's unsent answers exceed max_unsent, we stop reading it (and
//    stop answering its already-read queries) until the client reads.
//  - Half-close: queries already read are answered and flushed, then the socket is closed.
//  - Stop: listeners close at once; whole queries a client already sent (held back or still in
//    the receive buffer) are answered and flushed, then the connection closes (bounded by the
//    worker's drain timeout).
//  - A query the responder drops (QR=1, a FORMERR loop) ends the connection the same way.
// Timeouts are enforced by one sweep timer per worker walking two lists kept in deadline order,
// so a connection costs no timer handle and no timer re-arm per query.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dns/listen_socket.h"
#include "dns/udp_listener.h"

namespace pharos::dns {

struct TcpOptions {
  std::uint64_t idle_timeout_ms = 10'000;
  std::uint64_t message_timeout_ms = 5'000;
  std::uint32_t max_connections = 1024;  // for this worker
  std::size_t max_unsent = 64 * 1024;    // unsent answer bytes before we stop reading
  int backlog = 1024;
};

struct TcpConnection;

// An intrusive list link, so moving a connection in the idle or message list never allocates.
struct ListHook {
  ListHook* prev = this;
  ListHook* next = this;
  TcpConnection* owner = nullptr;

  bool linked() const { return next != this; }
  void unlink() {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
  // Used on a list head: appends `h` at the back.
  void push_back(ListHook* h) {
    h->unlink();
    h->prev = prev;
    h->next = this;
    prev->next = h;
    prev = h;
  }
  bool empty() const { return !linked(); }
};

class TcpListener {
 public:
  TcpListener(const WorkerContext& ctx, const TcpOptions& options);
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  // Every handle must be closed (shutdown() or close_all() and their callbacks) first.
  ~TcpListener();

  // Takes a bound socket, listens on it and accepts into this worker. Returns 0 or a libuv error.
  int add_listener(Fd&& fd);
  // Graceful stop: no new connections; every whole query a connection already sent is answered,
  // then it closes once its answers are flushed.
  void shutdown();
  // Forced stop: closes every connection now.
  void close_all();

  std::size_t open_connections() const { return open_; }

 private:
  struct Listening;
  friend struct TcpConnection;

  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_conn_close(uv_handle_t* h);
  static void on_sweep(uv_timer_t* t);

  void accept_from(uv_stream_t* server);
  void on_bytes(TcpConnection& c, const std::uint8_t* data, std::size_t n);
  // Answers every complete frame at p[0, n) it may (backpressure). Returns bytes consumed, or
  // kClosed if the connection was closed.
  std::size_t process(TcpConnection& c, const std::uint8_t* p, std::size_t n, bool& completed);
  // Appends the answer to c's output. False when the responder drops the query.
  bool answer(TcpConnection& c, const AnswerTable& table, const std::uint8_t* msg, std::size_t len,
              std::uint64_t now_ms);
  void after_input(TcpConnection& c, bool completed, std::uint64_t now_ms);
  void flush(TcpConnection& c);
  void resume(TcpConnection& c);
  void on_eof(TcpConnection& c);
  void maybe_finish(TcpConnection& c);
  void drain_for_stop(TcpConnection& c);
  void touch(TcpConnection& c, std::uint64_t now_ms);
  void close(TcpConnection& c);
  void start_reading(TcpConnection& c);
  void stop_reading(TcpConnection& c);
  void sweep();

  static constexpr std::size_t kClosed = static_cast<std::size_t>(-1);

  WorkerContext ctx_;
  TcpOptions opt_;
  std::uint64_t sweep_interval_ms_;
  std::uint16_t keepalive_100ms_;
  std::vector<std::unique_ptr<Listening>> listening_;
  std::size_t open_ = 0;
  bool shutting_down_ = false;
  // Connections by last activity (front = idle longest) and, for those holding a partial
  // message, by the time that message started (front = oldest).
  ListHook idle_;
  ListHook partial_;
  uv_timer_t sweep_{};
  bool sweep_closed_ = false;
  // Shared by every connection of this worker: one read at a time, one answer at a time.
  std::unique_ptr<std::uint8_t[]> read_buf_;
  std::unique_ptr<std::uint8_t[]> answer_buf_;
};

}  // namespace pharos::dns
