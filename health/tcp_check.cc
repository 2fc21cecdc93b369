// tcp_check.cc: one tcp probe as a ProbeRun: resolve, bind, connect, send, read until expected.
//
// Why every probe ends with a reset (SO_LINGER 0, uv_tcp_close_reset) instead of a FIN: the side that
// closes first keeps the connection in TIME_WAIT for 60 s. At 10,000 probes per second that is
// 600,000 sockets held by the kernel, and with a fixed source address or a single target the
// ephemeral ports for that (source, target) pair (about 28,000) run out within three seconds and
// connect() starts failing with EADDRNOTAVAIL: the checker would report its own exhaustion as the
// target being down. A reset skips TIME_WAIT on both ends. Load balancers probe the same way; the
// only cost is that a target counting resets will count ours. Bytes written but not yet acknowledged
// are dropped by the reset, which is why a check that must know the target read its payload uses
// `expect`.
#include "health/tcp_check.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "health/probe_run.h"

namespace pharos::health {
namespace {

constexpr std::size_t kReadBuffer = 4096;

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out += printable(s, 64);
  out += '"';
  return out;
}

std::string connect_failure(int status) {
  switch (status) {
    case UV_ECONNREFUSED: return "connection refused";
    case UV_ECONNRESET: return "connection reset by peer while connecting";
    case UV_ETIMEDOUT: return "connect timed out";
    case UV_EHOSTUNREACH: return "no route to host";
    case UV_ENETUNREACH: return "network unreachable";
    case UV_EADDRNOTAVAIL: return "cannot connect: no local address or port available";
    default: return std::string("connect failed: ") + uv_strerror(status);
  }
}

// Parses an IP literal (no port) into `out`; false if it is not one.
bool parse_ip(const std::string& text, sockaddr_storage& out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (uv_ip4_addr(text.c_str(), 0, v4) == 0) return true;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  return uv_ip6_addr(text.c_str(), 0, v6) == 0;
}

class TcpRun final : public ProbeRun {
 public:
  TcpRun(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec, const TcpParams* params,
         ProbeCallback&& done, ProbeRun** slot)
      : ProbeRun(loop, spec.timeout, std::move(done), slot),
        resolver_(resolver),
        params_(params != nullptr ? *params : TcpParams{}),
        has_params_(params != nullptr),
        source_address_(spec.source_address) {}

 private:
  enum class Phase { kResolving, kConnecting, kSending, kReading };

  void begin() override;
  void on_timeout() override;
  void on_end() override;

  void on_resolved(ResolvedAddress&& address);
  int bind_source();
  std::string bind_failure(int status) const;
  void connected();
  void received(std::string_view chunk);
  std::string not_received() const;

  static void on_connect(uv_connect_t* req, int status);
  static void on_write(uv_write_t* req, int status);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  Resolver& resolver_;
  const TcpParams params_;
  const bool has_params_;
  const std::string source_address_;
  sockaddr_storage source_{};

  std::shared_ptr<void> resolve_token_;
  bool in_resolve_callback_ = false;
  Phase phase_ = Phase::kResolving;

  uv_tcp_t tcp_{};
  bool tcp_open_ = false;
  bool bound_ = false;
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};

  // What came back: a count, and the last expect.size()-1 bytes so a match split across reads is
  // still found without keeping the whole reply.
  std::size_t received_ = 0;
  std::string tail_;
  char buffer_[kReadBuffer];
};

void TcpRun::begin() {
  if (!has_params_) return report(false, "tcp check without tcp parameters");
  if (params_.host.empty() || params_.port == 0) return report(false, "tcp check needs a host and a port");
  int family = AF_UNSPEC;
  if (!source_address_.empty()) {
    if (!parse_ip(source_address_, source_)) {
      return report(false, "invalid source address " + quoted(source_address_));
    }
    family = source_.ss_family;   // the target must be reachable from the source's family
  }
  uv_tcp_init(loop(), &tcp_);
  attach(&tcp_);
  hold();   // released when tcp_ is closed; its connect and write callbacks run before that
  tcp_open_ = true;
  resolve_token_ = resolver_.resolve(params_.host, params_.port, family,
                                     [this](ResolvedAddress&& address) { on_resolved(std::move(address)); });
}

void TcpRun::on_resolved(ResolvedAddress&& address) {
  if (ended()) return;
  in_resolve_callback_ = true;
  if (!address.ok()) {
    report(false, "cannot resolve " + params_.host + ": " + address.error);
  } else if (const int b = bind_source(); b < 0) {
    report(false, bind_failure(b));
  } else {
    phase_ = Phase::kConnecting;
    attach(&connect_req_);
    const int r = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&address.addr), on_connect);
    if (r < 0) report(false, bound_ && (r == UV_EADDRINUSE || r == UV_EADDRNOTAVAIL) ? bind_failure(r) : connect_failure(r));
  }
  in_resolve_callback_ = false;
}

int TcpRun::bind_source() {
  if (source_address_.empty()) return 0;
  bound_ = true;
  return uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(&source_), 0);
}

std::string TcpRun::bind_failure(int status) const {
  return "cannot bind to source address " + source_address_ + ": " + uv_strerror(status);
}

void TcpRun::on_connect(uv_connect_t* req, int status) {
  auto* self = run_of<TcpRun>(req);
  if (self->ended()) return;   // UV_ECANCELED from closing, or a result after the timeout
  if (status < 0) {
    // A bind conflict may only surface here (libuv defers EADDRINUSE from bind to connect).
    const bool bind_error = self->bound_ && (status == UV_EADDRNOTAVAIL || status == UV_EADDRINUSE);
    return self->report(false, bind_error ? self->bind_failure(status) : connect_failure(status));
  }
  self->connected();
}

void TcpRun::connected() {
  if (params_.send.empty() && params_.expect.empty()) return report(true, "connected");
  if (!params_.expect.empty()) {
    // Read from the start: a banner may arrive before (or instead of) an answer to what we send.
    const int r = uv_read_start(stream(), on_alloc, on_read);
    if (r < 0) return report(false, std::string("read failed: ") + uv_strerror(r));
    phase_ = Phase::kReading;
  }
  if (!params_.send.empty()) {
    phase_ = Phase::kSending;
    attach(&write_req_);
    uv_buf_t buf = uv_buf_init(const_cast<char*>(params_.send.data()), static_cast<unsigned>(params_.send.size()));
    const int r = uv_write(&write_req_, stream(), &buf, 1, on_write);
    if (r < 0) return report(false, std::string("send failed: ") + uv_strerror(r));
  }
}

void TcpRun::on_write(uv_write_t* req, int status) {
  auto* self = run_of<TcpRun>(req);
  if (self->ended()) return;
  if (status < 0) return self->report(false, std::string("send failed: ") + uv_strerror(status));
  if (self->params_.expect.empty()) {
    return self->report(true, "connected, sent " + std::to_string(self->params_.send.size()) + " bytes");
  }
  self->phase_ = Phase::kReading;
}

void TcpRun::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = run_of<TcpRun>(handle);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void TcpRun::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = run_of<TcpRun>(stream);
  if (self->ended() || nread == 0) return;
  if (nread > 0) return self->received(std::string_view(buf->base, static_cast<std::size_t>(nread)));
  if (nread == UV_EOF) return self->report(false, self->not_received());
  if (nread == UV_ECONNRESET) {
    return self->report(false, "connection reset by peer (got " + std::to_string(self->received_) +
                                   " bytes, expected " + quoted(self->params_.expect) + ")");
  }
  self->report(false, std::string("read failed: ") + uv_strerror(static_cast<int>(nread)) + " (got " +
                          std::to_string(self->received_) + " bytes)");
}

void TcpRun::received(std::string_view chunk) {
  received_ += chunk.size();
  const std::string& expect = params_.expect;
  tail_.append(chunk);
  if (tail_.find(expect) != std::string::npos) return report(true, "got " + quoted(expect));
  const std::size_t keep = std::min(tail_.size(), expect.size() - 1);
  tail_.erase(0, tail_.size() - keep);
}

std::string TcpRun::not_received() const {
  return "expected " + quoted(params_.expect) + " not received (got " + std::to_string(received_) + " bytes)";
}

void TcpRun::on_timeout() {
  switch (phase_) {
    case Phase::kResolving: return report(false, timeout_reason("resolving " + params_.host));
    case Phase::kConnecting: return report(false, timeout_reason("connecting"));
    case Phase::kSending: return report(false, timeout_reason("sending"));
    case Phase::kReading:
      return report(false, timeout_reason("waiting for " + quoted(params_.expect) + " (got " +
                                          std::to_string(received_) + " bytes)"));
  }
}

void TcpRun::on_end() {
  // Dropping the token cancels a resolution still in flight. Not from inside the resolver's own
  // callback, though: the destructor drops it then, after the close callbacks.
  if (!in_resolve_callback_) resolve_token_.reset();
  if (!tcp_open_) return;
  tcp_open_ = false;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0 && uv_tcp_close_reset(&tcp_, release_on_close) == 0) {
    return;
  }
  // No socket yet (still resolving), or the reset could not be set: a plain close.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), release_on_close);
}

class TcpProber final : public RunProber {
 public:
  TcpProber(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec)
      : loop_(loop), resolver_(resolver), spec_(spec) {}

 private:
  ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) override {
    return new TcpRun(loop_, resolver_, spec_, std::get_if<TcpParams>(&spec_.params), std::move(done), slot);
  }

  uv_loop_t* loop_;
  Resolver& resolver_;
  const CheckSpec spec_;
};

}  // namespace

std::unique_ptr<Prober> make_tcp_prober(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec) {
  return std::make_unique<TcpProber>(loop, resolver, spec);
}

}  // namespace pharos::health
