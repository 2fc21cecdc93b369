// health_bench_targets.cc: see health_bench_targets.h.
#include "bench/health_bench_targets.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pharos::bench {
namespace {

bool is_loopback(const sockaddr* addr) {
  if (addr == nullptr || addr->sa_family != AF_INET) return false;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
  return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
}

double thread_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

MHD_Result accept_loopback(void*, const sockaddr* addr, socklen_t) { return is_loopback(addr) ? MHD_YES : MHD_NO; }

struct HttpContext {
  std::atomic<std::uint64_t>* served;
  MHD_Response* ok;
};

MHD_Result answer(void* cls, MHD_Connection* connection, const char*, const char*, const char*, const char*,
                  std::size_t*, void**) {
  auto* ctx = static_cast<HttpContext*>(cls);
  ctx->served->fetch_add(1, std::memory_order_relaxed);
  return MHD_queue_response(connection, MHD_HTTP_OK, ctx->ok);
}

}  // namespace

std::string loopback_address(std::uint32_t i) {
  const std::uint32_t a = i / 62500;
  const std::uint32_t b = (i / 250) % 250 + 1;
  const std::uint32_t c = i % 250 + 1;
  return "127." + std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
}

TcpAcceptCloseTarget::TcpAcceptCloseTarget() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error_ = errno_text("socket");
    return;
  }
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof addr;
  // The backlog is capped by net.core.somaxconn; connections are accepted as soon as they arrive.
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(listen_fd_, 65535) < 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
    error_ = errno_text("bind/listen");
    return;
  }
  port_ = ntohs(addr.sin_port);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  if (epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) < 0) {
    error_ = errno_text("epoll");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void TcpAcceptCloseTarget::run() {
  pthread_setname_np(pthread_self(), "tcp-target");
  epoll_event ev{};
  while (!stopping_.load(std::memory_order_relaxed)) {
    // The timeout bounds how long stop() waits for this thread.
    if (epoll_wait(epoll_fd_, &ev, 1, 100) <= 0) continue;
    for (int n = 0; n < 4096; ++n) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd < 0) break;   // EAGAIN, or a connection reset before we took it
      if (is_loopback(reinterpret_cast<sockaddr*>(&peer))) served_.fetch_add(1, std::memory_order_relaxed);
      close(fd);
    }
  }
  cpu_seconds_ = thread_cpu_seconds();
}

void TcpAcceptCloseTarget::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  epoll_fd_ = listen_fd_ = -1;
}

std::string TcpAcceptCloseTarget::describe() const {
  return "one epoll thread, accept4 then close, 0.0.0.0:" + std::to_string(port_);
}

HttpOkTarget::HttpOkTarget(unsigned threads) : threads_(threads) {
  static const char kBody[] = "ok";
  ok_ = MHD_create_response_from_buffer(2, const_cast<char*>(kBody), MHD_RESPMEM_PERSISTENT);
  auto* ctx = new HttpContext{&served_, ok_};   // lives as long as the process: the daemon's threads use it
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  daemon_ = MHD_start_daemon(flags, 0, &accept_loopback, nullptr, &answer, ctx,
                             MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
                             MHD_OPTION_THREAD_POOL_SIZE, threads_,
                             MHD_OPTION_CONNECTION_LIMIT, 60000u,
                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 65535u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                             MHD_OPTION_END);
  if (daemon_ == nullptr) {
    error_ = "MHD_start_daemon failed";
    return;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : 0;
  if (port_ == 0) error_ = "libmicrohttpd did not report its port";
}

void HttpOkTarget::stop() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  if (ok_ != nullptr) MHD_destroy_response(ok_);
  ok_ = nullptr;
}

std::string HttpOkTarget::describe() const {
  return "libmicrohttpd " + std::string(MHD_get_version()) + ", epoll, " + std::to_string(threads_) +
         " thread(s), 200 \"ok\", 0.0.0.0:" + std::to_string(port_);
}

}  // namespace pharos::bench
