// curl_multi.h: one libcurl multi handle per control loop, driven by libuv through curl's
// multi_socket API: a uv_poll per socket curl wants watched, one uv_timer for curl's timeouts.
//
//   CurlMulti curl{loop};
//   curl.add(easy, [](CURLcode result) { ... });  // runs once, on the loop, unless removed first
//   curl.remove(easy);                            // cancels; the callback never runs
//   ...
//   curl.close();                  // shutdown: every transfer dropped, every uv handle closing
//   uv_run(loop, UV_RUN_DEFAULT);  // the close callbacks free the handles; then uv_loop_close
//
// Sockets: a poll is stopped and closed *before* curl closes its socket. curl reports most closes
// with CURL_POLL_REMOVE first; CURLOPT_CLOSESOCKETFUNCTION, which add() sets on every transfer,
// catches the rest. Either way no poll outlives its fd, so a new socket that gets the same fd
// number (curl's or anyone's on this loop) never inherits a stale epoll registration. Sockets are
// found by fd in our own map rather than through curl_multi_assign, so a pointer curl kept for a
// socket it forgot to report can never be handed back to us.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_map>

namespace pharos::health {

struct CurlMultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct CurlEasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Calls curl_global_init once per process (CurlMulti's constructor does it too). Call it before
// creating easy handles if no CurlMulti exists yet.
void curl_global_init_once();

class CurlMulti {
 public:
  using Done = std::function<void(CURLcode)>;

  explicit CurlMulti(uv_loop_t* loop);
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;
  // close() if not done yet. The handles still need the loop to run once more (see close()).
  // Every easy handle must have been removed or completed (or close() called) by now, and the
  // owners of easy handles must not call remove() afterwards: destroy probers first.
  ~CurlMulti();

  // Starts a transfer on a configured easy handle. `done` runs exactly once on the loop thread
  // with curl's result, unless remove() or close() comes first; the easy handle is already out of
  // the multi when it runs, so `done` may reconfigure and add() it again, or destroy it. Returns
  // false (and never calls `done`) if curl refuses the handle or close() has run.
  // Never call add(), remove() or close() from inside a curl callback (write, header, ...).
  [[nodiscard]] bool add(CURL* easy, Done done);
  // Cancels a transfer; a no-op for a handle that is not in flight. Its connection is closed.
  void remove(CURL* easy);
  // Drops every transfer (their callbacks never run), cleans the multi handle up and closes every
  // uv handle. Idempotent. CurlMulti may be destroyed right after: nothing libuv still references
  // points back to it. The owner must let the loop run before uv_loop_close() so the close
  // callbacks free the handles: uv_run(loop, UV_RUN_DEFAULT) once everything else is closed, or
  // uv_run(loop, UV_RUN_NOWAIT) once (close callbacks run in every loop iteration).
  void close();

  std::size_t in_flight() const { return transfers_.size(); }
  std::size_t sockets_watched() const { return sockets_.size(); }

 private:
  struct Socket;

  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static int on_close_socket(void* clientp, curl_socket_t fd);
  static void on_poll(uv_poll_t* poll, int status, int events);
  static void on_timeout(uv_timer_t* timer);

  static void close_poll(Socket* socket);  // stops it; freed by its close callback
  void watch(curl_socket_t fd, int what);
  void unwatch(curl_socket_t fd);
  void socket_action(curl_socket_t fd, int flags);
  void read_completions();

  uv_loop_t* loop_;
  CurlMultiPtr multi_;
  uv_timer_t* timer_ = nullptr;  // heap: freed by its close callback, which may run after us
  std::unordered_map<curl_socket_t, Socket*> sockets_;
  std::unordered_map<CURL*, Done> transfers_;
};

}  // namespace pharos::health
