// tcp_listener.cc: accepting, framing (2-byte length prefix), pipelined answers, the write queue
// with backpressure, half-close, timeouts and the per-worker connection cap for DNS over TCP.
#include "dns/tcp_listener.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "dns/wire.h"

namespace pharos::dns {

// A connection's memory is allocated at accept time and freed in its uv_close callback.
struct TcpConnection {
  explicit TcpConnection(TcpListener* s) : server(s) {
    handle.data = this;
    write_req.data = this;
    idle_hook.owner = this;
    partial_hook.owner = this;
  }

  uv_tcp_t handle{};
  uv_write_t write_req{};
  TcpListener* server;
  sockaddr_storage peer{};
  // Bytes read but not yet answered: a partial frame, or whole frames held back by backpressure.
  std::vector<std::uint8_t> in;
  // Double-buffered output: out[fill] collects answers while out[fill ^ 1] may be in flight.
  std::vector<std::uint8_t> out[2];
  int fill = 0;
  bool writing = false;
  bool reading = false;
  bool eof = false;        // the client half-closed
  bool draining = false;   // server shutdown or a dropped query: flush, then close
  bool closing = false;
  std::uint64_t last_activity_ms = 0;
  std::uint64_t message_start_ms = 0;
  ListHook idle_hook;
  ListHook partial_hook;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  std::size_t unsent() const { return out[0].size() + out[1].size(); }
};

struct TcpListener::Listening {
  uv_tcp_t handle{};
};

namespace {

// Initial per-connection buffer sizes: a typical query and a few typical answers. They grow (at
// most to one 64 KiB message in, max_unsent plus one answer out) only for unusual traffic.
constexpr std::size_t kInitialIn = 512;
constexpr std::size_t kInitialOut = 2048;
constexpr std::size_t kReadBufSize = 64 * 1024;
constexpr std::size_t kFrameMax = 2 + kMaxMessage;

bool has_complete_frame(const std::vector<std::uint8_t>& in) {
  return in.size() >= 2 && in.size() - 2 >= load_u16(in.data());
}

}  // namespace

TcpListener::TcpListener(const WorkerContext& ctx, const TcpOptions& options)
    : ctx_(ctx),
      opt_(options),
      read_buf_(std::make_unique<std::uint8_t[]>(kReadBufSize)),
      answer_buf_(std::make_unique<std::uint8_t[]>(kFrameMax)) {
  opt_.max_connections = std::max<std::uint32_t>(opt_.max_connections, 1);
  // The sweep period bounds how late a timeout fires: an eighth of the shorter timeout, within
  // [5 ms, 1 s]; cheap, because each sweep only looks at connections that have expired.
  sweep_interval_ms_ =
      std::clamp<std::uint64_t>(std::min(opt_.idle_timeout_ms, opt_.message_timeout_ms) / 8, 5, 1000);
  keepalive_100ms_ = static_cast<std::uint16_t>(std::min<std::uint64_t>(opt_.idle_timeout_ms / 100, 0xFFFF));
  uv_timer_init(ctx_.loop, &sweep_);
  sweep_.data = this;
}

TcpListener::~TcpListener() {
  assert(open_ == 0);
  assert(sweep_closed_);
}

int TcpListener::add_listener(Fd&& fd) {
  auto l = std::make_unique<Listening>();
  l->handle.data = this;
  int rc = uv_tcp_init(ctx_.loop, &l->handle);
  if (rc != 0) return rc;
  listening_.push_back(std::move(l));
  Listening& lr = *listening_.back();
  rc = uv_tcp_open(&lr.handle, fd.get());
  if (rc != 0) return rc;
  fd.release();  // libuv owns it now and closes it with the handle
  return uv_listen(reinterpret_cast<uv_stream_t*>(&lr.handle), opt_.backlog, &TcpListener::on_connection);
}

void TcpListener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<TcpListener*>(server->data);
  // Accept errors (EMFILE and the like) are transient; libuv already sheds the pending connection.
  if (status < 0 || self->shutting_down_) return;
  self->accept_from(server);
}

void TcpListener::accept_from(uv_stream_t* server) {
  auto* c = new TcpConnection(this);
  uv_tcp_init(ctx_.loop, &c->handle);
  if (uv_accept(server, c->stream()) != 0) {
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), &TcpListener::on_conn_close);
    return;
  }
  int len = sizeof c->peer;
  uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&c->peer), &len);
  uv_tcp_nodelay(&c->handle, 1);  // answers are whole messages; don't let Nagle hold them
  c->in.reserve(kInitialIn);
  c->out[0].reserve(kInitialOut);
  c->out[1].reserve(kInitialOut);
  ++open_;
  ctx_.counters->tcp_accepted.add();
  ctx_.counters->tcp_open.add();
  touch(*c, uv_now(ctx_.loop));
  if (open_ > opt_.max_connections) {
    // The new connection sits at the back; the front has been idle longest.
    ctx_.counters->tcp_evicted.add();
    close(*idle_.next->owner);
  }
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&sweep_))) {
    uv_timer_start(&sweep_, &TcpListener::on_sweep, sweep_interval_ms_, sweep_interval_ms_);
  }
  start_reading(*c);
}

void TcpListener::start_reading(TcpConnection& c) {
  if (c.reading || c.closing) return;
  if (uv_read_start(c.stream(), &TcpListener::on_alloc, &TcpListener::on_read) != 0) {
    close(c);
    return;
  }
  c.reading = true;
}

void TcpListener::stop_reading(TcpConnection& c) {
  if (!c.reading) return;
  uv_read_stop(c.stream());
  c.reading = false;
}

void TcpListener::on_alloc(uv_handle_t* h, std::size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<TcpConnection*>(h->data)->server;
  // One shared buffer per worker: on_read consumes or copies it before the next read.
  *buf = uv_buf_init(reinterpret_cast<char*>(self->read_buf_.get()), kReadBufSize);
}

void TcpListener::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<TcpConnection*>(s->data);
  TcpListener* self = c->server;
  if (nread == 0 || c->closing) return;  // EAGAIN
  if (nread == UV_EOF) {
    self->on_eof(*c);
    return;
  }
  if (nread < 0) {
    self->close(*c);  // reset or other error: nobody is left to answer
    return;
  }
  self->on_bytes(*c, reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread));
}

void TcpListener::on_bytes(TcpConnection& c, const std::uint8_t* data, std::size_t n) {
  bool completed = false;
  if (c.in.empty()) {
    // Common case: whole messages in one read, answered straight from the read buffer.
    const std::size_t used = process(c, data, n, completed);
    if (used == kClosed) return;
    c.in.assign(data + used, data + n);
  } else {
    c.in.insert(c.in.end(), data, data + n);
    const std::size_t used = process(c, c.in.data(), c.in.size(), completed);
    if (used == kClosed) return;
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
  }
  if (c.draining) {
    c.in.clear();
    c.partial_hook.unlink();
    maybe_finish(c);
    return;
  }
  after_input(c, completed, uv_now(ctx_.loop));
}

std::size_t TcpListener::process(TcpConnection& c, const std::uint8_t* p, std::size_t n, bool& completed) {
  std::size_t off = 0;
  ReadSection section{*ctx_.reader};
  const std::uint64_t now_ms = uv_now(ctx_.loop);
  while (n - off >= 2) {
    const std::size_t len = load_u16(p + off);
    // Shorter than a header cannot be DNS; RFC 7766 §8 lets us drop the connection.
    if (len < kHeaderSize) {
      ctx_.counters->tcp_bad_length.add();
      close(c);
      return kClosed;
    }
    if (n - off - 2 < len) break;
    if (c.unsent() >= opt_.max_unsent) break;
    completed = true;
    if (section.table() != nullptr && !answer(c, *section.table(), p + off + 2, len, now_ms)) {
      // The responder drops what must never be answered (a response sent to us, a FORMERR loop).
      // Over TCP that peer gets no more service: send what is owed, read nothing more, close.
      ctx_.counters->tcp_dropped.add();
      c.draining = true;
      stop_reading(c);
      off = n;
      break;
    }
    off += 2 + len;
  }
  flush(c);
  return c.closing ? kClosed : off;
}

bool TcpListener::answer(TcpConnection& c, const AnswerTable& table, const std::uint8_t* msg,
                         std::size_t len, std::uint64_t now_ms) {
  ctx_.counters->tcp_queries.add();
  const ClientInfo client{Transport::kTcp, reinterpret_cast<const sockaddr*>(&c.peer), keepalive_100ms_};
  std::uint8_t* frame = answer_buf_.get();
  const std::size_t n = ctx_.responder->respond(table, msg, len, frame + 2, kMaxMessage, client, now_ms);
  if (n == 0) return false;
  store_u16(frame, static_cast<std::uint16_t>(n));
  auto& out = c.out[c.fill];
  out.insert(out.end(), frame, frame + 2 + n);
  return true;
}

// Keeps the timers' lists and the read state in line with what is left in c.in.
void TcpListener::after_input(TcpConnection& c, bool completed, std::uint64_t now_ms) {
  if (completed) touch(c, now_ms);
  if (c.in.empty() || has_complete_frame(c.in)) {
    c.partial_hook.unlink();
  } else if (completed || !c.partial_hook.linked()) {
    // A new partial message starts now; its clock runs until it is complete.
    c.message_start_ms = now_ms;
    partial_.push_back(&c.partial_hook);
  }
  if (c.unsent() >= opt_.max_unsent || has_complete_frame(c.in)) {
    if (c.reading) ctx_.counters->tcp_backpressure.add();
    stop_reading(c);
  }
}

void TcpListener::flush(TcpConnection& c) {
  if (c.writing || c.closing || c.out[c.fill].empty()) return;
  auto& buf = c.out[c.fill];
  c.fill ^= 1;
  c.writing = true;
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(buf.data()), static_cast<unsigned>(buf.size()));
  if (uv_write(&c.write_req, c.stream(), &b, 1, &TcpListener::on_write) != 0) {
    c.writing = false;
    close(c);
  }
}

void TcpListener::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<TcpConnection*>(req->data);
  TcpListener* self = c->server;
  c->writing = false;
  if (c->closing) return;  // UV_ECANCELED from our own uv_close; the close callback frees c
  if (status < 0) {
    self->close(*c);
    return;
  }
  c->out[c->fill ^ 1].clear();  // the buffer that was in flight; keeps its capacity
  self->touch(*c, uv_now(self->ctx_.loop));
  self->flush(*c);
  self->resume(*c);
}

// After output drained: answer queries held back by backpressure, then read again (or finish).
void TcpListener::resume(TcpConnection& c) {
  if (c.closing) return;
  if (has_complete_frame(c.in) && c.unsent() < opt_.max_unsent) {
    bool completed = false;
    const std::size_t used = process(c, c.in.data(), c.in.size(), completed);
    if (used == kClosed) return;
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
    if (!c.eof && !c.draining) after_input(c, completed, uv_now(ctx_.loop));
  }
  if (c.eof || c.draining) {
    maybe_finish(c);
    return;
  }
  if (c.unsent() < opt_.max_unsent && !has_complete_frame(c.in)) start_reading(c);
}

void TcpListener::on_eof(TcpConnection& c) {
  c.eof = true;
  stop_reading(c);
  // A partial message can never complete now; whole queries already read are still answered.
  c.partial_hook.unlink();
  if (!has_complete_frame(c.in)) c.in.clear();
  maybe_finish(c);
}

// Half-closed or draining: close once every answer we owe has been written.
void TcpListener::maybe_finish(TcpConnection& c) {
  if (c.closing) return;
  if (!c.writing) flush(c);
  if (c.closing || c.writing || has_complete_frame(c.in)) return;
  close(c);
}

void TcpListener::touch(TcpConnection& c, std::uint64_t now_ms) {
  c.last_activity_ms = now_ms;
  idle_.push_back(&c.idle_hook);
}

void TcpListener::close(TcpConnection& c) {
  if (c.closing) return;
  c.closing = true;
  c.idle_hook.unlink();
  c.partial_hook.unlink();
  --open_;
  ctx_.counters->tcp_open.sub();
  // Pending writes complete with UV_ECANCELED before on_conn_close frees the connection.
  uv_close(reinterpret_cast<uv_handle_t*>(&c.handle), &TcpListener::on_conn_close);
}

void TcpListener::on_conn_close(uv_handle_t* h) { delete static_cast<TcpConnection*>(h->data); }

void TcpListener::on_sweep(uv_timer_t* t) { static_cast<TcpListener*>(t->data)->sweep(); }

void TcpListener::sweep() {
  const std::uint64_t now = uv_now(ctx_.loop);
  // Both lists are in deadline order, so each walk stops at the first live connection.
  while (!partial_.empty()) {
    TcpConnection& c = *partial_.next->owner;
    if (c.message_start_ms + opt_.message_timeout_ms > now) break;
    ctx_.counters->tcp_message_timeouts.add();
    close(c);
  }
  while (!idle_.empty()) {
    TcpConnection& c = *idle_.next->owner;
    if (c.last_activity_ms + opt_.idle_timeout_ms > now) break;
    ctx_.counters->tcp_idle_timeouts.add();
    close(c);
  }
  if (open_ == 0) uv_timer_stop(&sweep_);
}

void TcpListener::shutdown() {
  shutting_down_ = true;
  for (auto& l : listening_) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->handle))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), [](uv_handle_t* h) {
        (void)h;  // the Listening record is owned by listening_ and outlives the loop
      });
    }
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&sweep_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), [](uv_handle_t* h) {
      static_cast<TcpListener*>(h->data)->sweep_closed_ = true;
    });
  }
  // Answer every whole query the client sent before the stop, then close. Take `next` first:
  // finishing may unlink `c`.
  for (ListHook* h = idle_.next; h != &idle_;) {
    ListHook* next = h->next;
    drain_for_stop(*h->owner);
    h = next;
  }
}

// A client that pipelined queries must not lose the ones it had already sent when the stop came,
// wherever they are: held back in c.in by backpressure, or still in the socket's receive buffer
// (taken with one non-blocking read, bounded by the shared buffer). Only a trailing partial query
// is dropped; reading stops for good.
void TcpListener::drain_for_stop(TcpConnection& c) {
  if (c.closing) return;
  stop_reading(c);
  uv_os_fd_t fd = -1;
  if (!c.eof && !c.draining && uv_fileno(reinterpret_cast<uv_handle_t*>(&c.handle), &fd) == 0) {
    ssize_t n;
    do {
      n = ::recv(fd, read_buf_.get(), kReadBufSize, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) c.in.insert(c.in.end(), read_buf_.get(), read_buf_.get() + n);
    if (n == 0) c.eof = true;
  }
  c.draining = true;
  c.partial_hook.unlink();
  // Whole frames at the front are answered as output drains (resume); a partial one never will be.
  if (!has_complete_frame(c.in)) c.in.clear();
  resume(c);
}

void TcpListener::close_all() {
  if (!shutting_down_) shutdown();
  while (!idle_.empty()) close(*idle_.next->owner);
}

}  // namespace pharos::dns
