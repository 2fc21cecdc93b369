// curl_multi.cc: curl's multi_socket API on a libuv loop (the pattern of curl's multi-uv example).
#include "health/curl_multi.h"

#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <utility>

namespace pharos::health {

// Owned by its own close callback: a poll's memory outlives both the socket and the CurlMulti.
struct CurlMulti::Socket {
  uv_poll_t poll;
  CurlMulti* owner = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
};

void curl_global_init_once() {
  // Process-wide and not thread-safe in older curls, hence once; never cleaned up (process
  // lifetime), so probers built on several loops never race a cleanup.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlMulti::CurlMulti(uv_loop_t* loop) : loop_(loop) {
  curl_global_init_once();
  multi_.reset(curl_multi_init());
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() { close(); }

void CurlMulti::close_poll(Socket* socket) {
  uv_poll_stop(&socket->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&socket->poll),
           [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
}

bool CurlMulti::add(CURL* easy, Done done) {
  if (!multi_ || transfers_.contains(easy)) return false;
  // Set on every add: the owner may have curl_easy_reset() the handle between transfers.
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::on_close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  transfers_.emplace(easy, std::move(done));
  if (curl_multi_add_handle(multi_.get(), easy) != CURLM_OK) {
    transfers_.erase(easy);
    return false;
  }
  return true;
}

void CurlMulti::remove(CURL* easy) {
  const auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  transfers_.erase(it);
  curl_multi_remove_handle(multi_.get(), easy);
}

void CurlMulti::close() {
  if (!multi_) return;
  for (const auto& [easy, done] : transfers_) curl_multi_remove_handle(multi_.get(), easy);
  transfers_.clear();
  // Cleanup closes whatever connections curl still caches; our socket and close-socket callbacks
  // run during it and still find `this` whole.
  multi_.reset();
  for (const auto& [fd, socket] : sockets_) close_poll(socket);
  sockets_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

int CurlMulti::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (what == CURL_POLL_REMOVE) {
    self->unwatch(fd);
  } else {
    self->watch(fd, what);
  }
  // Never -1: curl would abort every transfer of the multi. A socket we could not watch fails
  // its own transfer by that transfer's timeout.
  return 0;
}

void CurlMulti::watch(curl_socket_t fd, int what) {
  Socket*& socket = sockets_[fd];
  if (socket == nullptr) {
    socket = new Socket;
    socket->owner = this;
    socket->fd = fd;
    if (uv_poll_init_socket(loop_, &socket->poll, fd) != 0) {
      delete socket;
      sockets_.erase(fd);
      return;
    }
    socket->poll.data = socket;
  }
  int events = 0;
  if ((what & CURL_POLL_IN) != 0) events |= UV_READABLE;
  if ((what & CURL_POLL_OUT) != 0) events |= UV_WRITABLE;
  uv_poll_start(&socket->poll, events, &CurlMulti::on_poll);
}

void CurlMulti::unwatch(curl_socket_t fd) {
  const auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  close_poll(it->second);
  sockets_.erase(it);
}

int CurlMulti::on_close_socket(void* clientp, curl_socket_t fd) {
  // Usually CURL_POLL_REMOVE came first and this finds nothing; when it did not, the poll must go
  // while the fd is still open (epoll_ctl on a closed, perhaps reused, fd would hit its new owner).
  static_cast<CurlMulti*>(clientp)->unwatch(fd);
  return ::close(fd);
}

int CurlMulti::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (self->timer_ == nullptr) return 0;  // after close(): nothing left to time
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_);
  } else {
    // 0 means "as soon as possible": the next loop iteration, never from inside this callback
    // (curl forbids calling curl_multi_socket_action from its own callbacks).
    uv_timer_start(self->timer_, &CurlMulti::on_timeout, static_cast<std::uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void CurlMulti::on_timeout(uv_timer_t* timer) {
  static_cast<CurlMulti*>(timer->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMulti::on_poll(uv_poll_t* poll, int status, int events) {
  auto* socket = static_cast<Socket*>(poll->data);
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;  // curl reads the socket's error and fails the transfer
  } else {
    if ((events & UV_READABLE) != 0) flags |= CURL_CSELECT_IN;
    if ((events & UV_WRITABLE) != 0) flags |= CURL_CSELECT_OUT;
  }
  // `socket` may be freed during the action (curl removes it); copy what we need first.
  CurlMulti* self = socket->owner;
  self->socket_action(socket->fd, flags);
}

void CurlMulti::socket_action(curl_socket_t fd, int flags) {
  if (!multi_) return;
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, flags, &running);
  read_completions();
}

void CurlMulti::read_completions() {
  int queued = 0;
  // multi_ is re-checked each round: a completion callback may call close().
  while (multi_) {
    CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued);
    if (msg == nullptr) break;
    if (msg->msg != CURLMSG_DONE) continue;
    // msg is only valid until the next curl call: copy it out first.
    CURL* easy = msg->easy_handle;
    const CURLcode result = msg->data.result;
    const auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    curl_multi_remove_handle(multi_.get(), easy);
    // May add(), remove(), destroy the easy handle or close(); nothing here is used after it
    // except through the lookups above, which start afresh.
    done(result);
  }
}

}  // namespace pharos::health
