// ares_uv.cc: the c-ares <-> libuv glue. c-ares tells us which sockets it wants watched
// (sock_state_cb); we tell it what happened (ares_process_fd) and when its next deadline is due.
#include "health/ares_uv.h"

#include <netinet/in.h>

#include <cassert>
#include <cstring>
#include <vector>

#include "health/ip_literal.h"

namespace pharos::health {

struct AresUv::Poll {
  uv_poll_t handle;
  AresUv* owner;
  ares_socket_t fd;
  int events;
};

namespace {

bool library_ready() {
  // c-ares wants one library-wide init before the first channel (a no-op on Linux today, but the
  // API asks for it); a function-local static runs it once, thread-safely.
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status == ARES_SUCCESS;
}

// Makes the channel send from `address` (ares_set_local_ip4 takes host byte order).
bool set_local_address(ares_channel channel, const std::string& address) {
  sockaddr_storage sa;
  socklen_t len = 0;
  if (!parse_ip_literal(address, 0, AF_UNSPEC, sa, len)) return false;
  if (sa.ss_family == AF_INET) {
    ares_set_local_ip4(channel, ntohl(reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr.s_addr));
  } else {
    ares_set_local_ip6(channel, reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_addr.s6_addr);
  }
  return true;
}

}  // namespace

void AresUvCloser::operator()(AresUv* ares) const { ares->close(); }

AresUv::AresUv(uv_loop_t* loop) : loop_(loop) {}

AresUv::~AresUv() { assert(open_handles_ == 0 && channel_ == nullptr); }

AresUvPtr AresUv::create(uv_loop_t* loop, const AresConfig& config, std::string& error) {
  if (!library_ready()) {
    error = "c-ares library initialisation failed";
    return nullptr;
  }
  AresUvPtr self(new AresUv(loop));

  ares_options options{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS;
  options.sock_state_cb = &AresUv::on_sock_state;
  options.sock_state_cb_data = self.get();
  options.flags = config.flags;
  if (config.timeout.count() > 0) {
    options.timeout = static_cast<int>(config.timeout.count());
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (config.tries > 0) {
    options.tries = config.tries;
    mask |= ARES_OPT_TRIES;
  }
  std::vector<char> lookups(config.lookups.begin(), config.lookups.end());
  lookups.push_back('\0');
  if (!config.lookups.empty()) {
    options.lookups = lookups.data();
    mask |= ARES_OPT_LOOKUPS;
  }
  if (const int status = ares_init_options(&self->channel_, &options, mask); status != ARES_SUCCESS) {
    self->channel_ = nullptr;
    error = std::string("c-ares: ") + ares_strerror(status);
    return nullptr;
  }
  if (!config.servers.empty()) {
    if (const int status = ares_set_servers_ports_csv(self->channel_, config.servers.c_str());
        status != ARES_SUCCESS) {
      error = "bad DNS server list \"" + config.servers + "\": " + ares_strerror(status);
      return nullptr;
    }
  }
  if (!config.local_address.empty() && !set_local_address(self->channel_, config.local_address)) {
    error = "bad source address \"" + config.local_address + "\"";
    return nullptr;
  }

  self->timer_ = new uv_timer_t;
  uv_timer_init(loop, self->timer_);
  self->timer_->data = self.get();
  ++self->open_handles_;
  return self;
}

void AresUv::close() {
  if (closing_ || close_requested_) return;
  // Destroying the channel from inside one of its own callbacks would free what c-ares is still
  // walking: wait until the outermost call into c-ares has returned (leave()).
  if (depth_ > 0) {
    close_requested_ = true;
    return;
  }
  destroy_channel();
}

void AresUv::destroy_channel() {
  closing_ = true;
  if (channel_ != nullptr) {
    // ares_destroy runs every pending callback with ARES_EDESTRUCTION, then closes its sockets,
    // reporting each through on_sock_state(fd, 0, 0) first: the polls stop before the fds close.
    ++depth_;
    ares_destroy(channel_);
    --depth_;
    channel_ = nullptr;
  }
  for (auto& [fd, poll] : polls_) {
    uv_poll_stop(&poll->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), &AresUv::on_poll_closed);
  }
  polls_.clear();
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), &AresUv::on_timer_closed);
    timer_ = nullptr;
  }
  if (open_handles_ == 0) delete this;
}

void AresUv::leave() {
  assert(depth_ > 0);
  if (--depth_ > 0) return;
  if (close_requested_) {
    close_requested_ = false;
    destroy_channel();   // may delete this
    return;
  }
  rearm();
}

void AresUv::rearm() {
  if (closing_ || timer_ == nullptr) return;
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    uv_timer_stop(timer_);
    return;
  }
  // Round up: a timer that fires a hair early finds nothing due and re-arms for the remainder.
  const std::uint64_t ms = static_cast<std::uint64_t>(tv.tv_sec) * 1000 + (static_cast<std::uint64_t>(tv.tv_usec) + 999) / 1000;
  uv_update_time(loop_);
  uv_timer_start(timer_, &AresUv::on_timer, ms, 0);
}

void AresUv::handle_closed() {
  assert(open_handles_ > 0);
  if (--open_handles_ == 0 && closing_) delete this;
}

void AresUv::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<AresUv*>(data);
  const auto it = self->polls_.find(fd);
  if (readable == 0 && writable == 0) {
    // c-ares is about to close the socket: stop watching it first.
    if (it == self->polls_.end()) return;
    Poll* poll = it->second;
    self->polls_.erase(it);
    uv_poll_stop(&poll->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), &AresUv::on_poll_closed);
    return;
  }
  if (self->closing_) return;
  Poll* poll = nullptr;
  if (it != self->polls_.end()) {
    poll = it->second;
  } else {
    poll = new Poll{};
    poll->owner = self;
    poll->fd = fd;
    if (uv_poll_init_socket(self->loop_, &poll->handle, fd) != 0) {
      // Not watchable: the query ends by c-ares' own timeout, driven by our timer.
      delete poll;
      return;
    }
    poll->handle.data = poll;
    ++self->open_handles_;
    self->polls_.emplace(fd, poll);
  }
  poll->events = (readable != 0 ? UV_READABLE : 0) | (writable != 0 ? UV_WRITABLE : 0);
  uv_poll_start(&poll->handle, poll->events, &AresUv::on_poll);
}

void AresUv::on_poll(uv_poll_t* handle, int status, int events) {
  // Copy what we need first: c-ares may close this socket (and we this handle) while processing.
  auto* poll = static_cast<Poll*>(handle->data);
  AresUv* self = poll->owner;
  const ares_socket_t fd = poll->fd;
  if (self->closing_) return;
  self->enter();
  if (status < 0) {
    // libuv saw an error on the socket: hand it to c-ares for both directions so its read or
    // write fails and it drops the connection and moves the query on.
    ares_process_fd(self->channel_, fd, fd);
    // libuv stopped this poll when it reported the error. Usually c-ares has now closed the
    // socket; if it kept it, watch it again.
    if (const auto it = self->polls_.find(fd); !self->closing_ && it != self->polls_.end()) {
      uv_poll_start(&it->second->handle, it->second->events, &AresUv::on_poll);
    }
  } else {
    ares_process_fd(self->channel_, (events & UV_READABLE) != 0 ? fd : ARES_SOCKET_BAD,
                    (events & UV_WRITABLE) != 0 ? fd : ARES_SOCKET_BAD);
  }
  self->leave();
}

void AresUv::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<AresUv*>(timer->data);
  if (self->closing_) return;
  self->enter();
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->leave();
}

void AresUv::on_poll_closed(uv_handle_t* handle) {
  auto* poll = static_cast<Poll*>(handle->data);
  AresUv* self = poll->owner;
  delete poll;
  self->handle_closed();
}

void AresUv::on_timer_closed(uv_handle_t* handle) {
  auto* self = static_cast<AresUv*>(handle->data);
  delete reinterpret_cast<uv_timer_t*>(handle);
  self->handle_closed();
}

}  // namespace pharos::health
