// icmp_check.cc: the echo prober behind the `icmp` and `gateway` checks. Where the target comes
// from differs (the resolver; the route table or a configured address); the echo, the timeout and
// the delivery rules are the same.
#include "health/icmp_check.h"

#include <netinet/in.h>

#include <array>
#include <variant>

#include "health/default_route.h"
#include "health/icmp_socket.h"
#include "health/ip_literal.h"

namespace pharos::health {
namespace {

class EchoProber final : public Prober, private IcmpSocket::Listener {
 public:
  // A host to resolve (icmp) ...
  EchoProber(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec, std::string host);
  // ... or a gateway: `address` if not empty, else the default route's, of `family`.
  EchoProber(uv_loop_t* loop, const CheckSpec& spec, int family, const std::string& address);
  ~EchoProber() override;
  EchoProber(const EchoProber&) = delete;
  EchoProber& operator=(const EchoProber&) = delete;

  void start(ProbeCallback done) override;
  void cancel() override;
  void set_config_error(std::string error) { config_error_ = std::move(error); }

 private:
  enum class Phase { kIdle, kRunning, kFinished };

  void on_target(ResolvedAddress&& target);
  void on_echo_reply() override;
  void on_echo_error(const std::string& reason) override;
  void finish(bool up, std::string reason);
  void release();
  std::string timeout_reason() const;
  static void on_timer(uv_timer_t* timer);

  uv_loop_t* loop_;
  Resolver* resolver_ = nullptr;        // icmp: names go through it; nullptr for gateways
  std::string host_;
  int gateway_family_ = 0;              // gateway: AF_INET or AF_INET6
  ResolvedAddress gateway_;             // gateway: the configured address, if any
  Millis timeout_;
  std::string source_address_;
  std::string config_error_;

  uv_timer_t* timer_;                   // hard timeout, then a 0 ms hop to deliver; freed on close
  ProbeCallback done_;
  ProbeResult result_;
  Phase phase_ = Phase::kIdle;
  std::uint64_t started_ns_ = 0;
  std::shared_ptr<void> resolving_;     // the resolver's token while a name is being resolved
  std::array<std::shared_ptr<IcmpSocket>, 2> sockets_;   // IPv4, IPv6: kept between probes
  IcmpSocket* socket_ = nullptr;        // the one the request in flight went out on
  int key_ = -1;
  std::string target_;                  // printable address of the request in flight
};

EchoProber::EchoProber(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec, std::string host)
    : loop_(loop), resolver_(&resolver), host_(std::move(host)), timeout_(spec.timeout),
      source_address_(spec.source_address), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  if (host_.empty()) config_error_ = "no host to ping";
}

EchoProber::EchoProber(uv_loop_t* loop, const CheckSpec& spec, int family, const std::string& address)
    : loop_(loop), timeout_(spec.timeout), source_address_(spec.source_address), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  if (family != 4 && family != 6) {
    config_error_ = "gateway family must be 4 or 6, not " + std::to_string(family);
    return;
  }
  gateway_family_ = family == 4 ? AF_INET : AF_INET6;
  if (!address.empty() && !parse_ip_literal(address, 0, gateway_family_, gateway_.addr, gateway_.len)) {
    config_error_ = "bad gateway address \"" + address + "\" for IPv" + std::to_string(family);
  }
}

EchoProber::~EchoProber() {
  cancel();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

void EchoProber::start(ProbeCallback done) {
  if (phase_ != Phase::kIdle) cancel();
  done_ = std::move(done);
  phase_ = Phase::kRunning;
  started_ns_ = uv_hrtime();
  uv_timer_start(timer_, &EchoProber::on_timer, static_cast<std::uint64_t>(timeout_.count()), 0);
  if (!config_error_.empty()) return finish(false, config_error_);
  if (resolver_ != nullptr) {
    // The token keeps the answer coming; dropping it (cancel, destructor) means it never comes.
    resolving_ = resolver_->resolve(host_, 0, AF_UNSPEC, [this](ResolvedAddress&& a) { on_target(std::move(a)); });
    return;
  }
  if (gateway_.len != 0) return on_target(ResolvedAddress(gateway_));
  // The route table is read again for every probe: the gateway may change under us.
  const DefaultRoute route = find_default_route(gateway_family_);
  if (!route.ok()) return finish(false, route.error);
  on_target(ResolvedAddress{route.gateway, route.len, ""});
}

void EchoProber::on_target(ResolvedAddress&& target) {
  resolving_.reset();
  if (phase_ != Phase::kRunning) return;
  if (!target.ok()) return finish(false, target.error);
  const auto* to = reinterpret_cast<const sockaddr*>(&target.addr);
  auto& socket = sockets_[to->sa_family == AF_INET ? 0 : 1];
  std::string error;
  if (!socket) socket = IcmpSocket::get(loop_, to->sa_family, source_address_, error);
  if (!socket) return finish(false, error);
  target_ = format_address(to);
  key_ = socket->send(to, target.len, this, error);
  if (key_ < 0) return finish(false, error);
  socket_ = socket.get();
}

void EchoProber::on_echo_reply() {
  key_ = -1;   // the socket has dropped it already
  finish(true, "echo reply from " + target_);
}

void EchoProber::on_echo_error(const std::string& reason) {
  key_ = -1;
  finish(false, reason);
}

void EchoProber::release() {
  resolving_.reset();
  if (socket_ != nullptr) socket_->forget(key_, this);
  socket_ = nullptr;
  key_ = -1;
}

void EchoProber::finish(bool up, std::string reason) {
  if (phase_ != Phase::kRunning) return;
  release();
  phase_ = Phase::kFinished;
  result_ = ProbeResult{.up = up, .reason = std::move(reason),
                        .latency = std::chrono::microseconds((uv_hrtime() - started_ns_) / 1000)};
  // Delivered from the loop: never inside start(), never inside the socket's dispatch.
  uv_timer_start(timer_, &EchoProber::on_timer, 0, 0);
}

std::string EchoProber::timeout_reason() const {
  std::string reason = "timeout after " + std::to_string(timeout_.count()) + " ms";
  if (resolving_) return reason + " resolving " + host_;
  if (!target_.empty()) return reason + " (no echo reply from " + target_ + ")";
  return reason;
}

void EchoProber::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<EchoProber*>(timer->data);
  if (self->phase_ == Phase::kRunning) return self->finish(false, self->timeout_reason());
  if (self->phase_ != Phase::kFinished) return;
  self->phase_ = Phase::kIdle;
  ProbeCallback done = std::move(self->done_);
  self->done_ = nullptr;
  done(std::move(self->result_));   // may destroy self
}

void EchoProber::cancel() {
  if (phase_ == Phase::kIdle) return;
  phase_ = Phase::kIdle;
  release();
  done_ = nullptr;
  uv_timer_stop(timer_);
}

}  // namespace

std::unique_ptr<Prober> make_icmp_prober(uv_loop_t* loop, Resolver& resolver, const CheckSpec& spec) {
  const auto* params = std::get_if<IcmpParams>(&spec.params);
  auto prober = std::make_unique<EchoProber>(loop, resolver, spec, params != nullptr ? params->host : "");
  if (params == nullptr) prober->set_config_error("not an icmp check");
  return prober;
}

std::unique_ptr<Prober> make_gateway_prober(uv_loop_t* loop, const CheckSpec& spec) {
  const auto* params = std::get_if<GatewayParams>(&spec.params);
  const GatewayParams p = params != nullptr ? *params : GatewayParams{};
  auto prober = std::make_unique<EchoProber>(loop, spec, p.family, p.address);
  if (params == nullptr) prober->set_config_error("not a gateway check");
  return prober;
}

}  // namespace pharos::health
