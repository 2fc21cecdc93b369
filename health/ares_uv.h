// ares_uv.h: a c-ares channel driven by a libuv loop: one uv_poll per c-ares socket (from
// ARES_OPT_SOCK_STATE_CB), one timer re-armed from ares_timeout after every event. Shared by the
// resolver and the DNS check.
//
//   std::string error;
//   AresUvPtr ares = AresUv::create(loop, AresConfig{.timeout = Millis{2000}, .tries = 1}, error);
//   if (!ares) return fail(error);
//   ares->run([&](ares_channel ch) { ares_send(ch, query, query_len, on_answer, arg); });
//   ares.reset();   // ares_destroy: pending callbacks see ARES_EDESTRUCTION, then the handles close
#pragma once

#include <ares.h>
#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "health/check.h"

namespace pharos::health {

struct AresConfig {
  Millis timeout{0};          // per try; 0 = the system's (resolv.conf, else c-ares' 5 s)
  int tries = 0;              // 0 = the system's
  int flags = 0;              // ARES_FLAG_*
  std::string lookups;        // "fb" = hosts file, then DNS; empty = the system's
  std::string servers;        // "addr:port,[v6]:port" instead of resolv.conf's, if not empty
  std::string local_address;  // IP literal the queries leave from, if not empty
};

class AresUv;
struct AresUvCloser {
  void operator()(AresUv* ares) const;
};
// Owning handle. Resetting it destroys the channel at once (or, when called from inside a c-ares
// callback on this channel, as soon as c-ares returns) and frees the rest after the close callbacks.
using AresUvPtr = std::unique_ptr<AresUv, AresUvCloser>;

class AresUv {
 public:
  // nullptr with `error` set when c-ares cannot be set up with this config.
  static AresUvPtr create(uv_loop_t* loop, const AresConfig& config, std::string& error);

  AresUv(const AresUv&) = delete;
  AresUv& operator=(const AresUv&) = delete;

  // Calls f(channel) and then re-arms the timer. Every call that can start, end or cancel queries
  // (ares_send, ares_getaddrinfo, ares_cancel) goes through here. c-ares may run completion
  // callbacks inside f; the channel stays alive until f returns even if one of them drops the
  // AresUvPtr.
  template <class F>
  void run(F&& f) {
    enter();
    std::forward<F>(f)(channel_);
    leave();
  }

  std::size_t open_sockets() const { return polls_.size(); }

 private:
  friend struct AresUvCloser;
  struct Poll;

  explicit AresUv(uv_loop_t* loop);
  ~AresUv();

  void close();
  void destroy_channel();
  void enter() { ++depth_; }
  void leave();
  void rearm();
  void handle_closed();

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_timer(uv_timer_t* timer);
  static void on_poll_closed(uv_handle_t* handle);
  static void on_timer_closed(uv_handle_t* handle);

  uv_loop_t* loop_;
  ares_channel channel_ = nullptr;
  uv_timer_t* timer_ = nullptr;                 // freed in its close callback
  std::unordered_map<ares_socket_t, Poll*> polls_;
  int open_handles_ = 0;                        // initialised, not yet through their close callback
  int depth_ = 0;                               // nested run()/event calls into c-ares
  bool close_requested_ = false;                // closing waits for depth_ to reach 0
  bool closing_ = false;                        // the channel is gone or going
};

}  // namespace pharos::health
