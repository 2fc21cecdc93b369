// service.cc: sd_notify messages and the watchdog timer.
#include "app/service.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "app/log.h"

namespace pharos::app {
namespace {

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

}  // namespace

std::string status_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names this process.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
}

void ServiceNotifier::send(const std::string& message) {
  if (!enabled_) return;
  if (const int rc = sd_notify(0, message.c_str()); rc < 0) {
    log_warn("cannot notify systemd", {{"error", std::strerror(-rc)}});
  }
}

void ServiceNotifier::ready(std::string_view s) { send("READY=1\nSTATUS=" + status_line(s)); }
void ServiceNotifier::status(std::string_view s) { send("STATUS=" + status_line(s)); }
void ServiceNotifier::stopping(std::string_view s) { send("STOPPING=1\nSTATUS=" + status_line(s)); }

void ServiceNotifier::reloading(std::string_view s) {
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\nSTATUS=" + status_line(s));
}

void ServiceNotifier::start_watchdog(uv_loop_t* loop) {
  if (watchdog_usec_ == 0 || timer_ != nullptr) return;
  // Half the period, as sd_watchdog_enabled(3) advises; never 0, which would spin.
  const std::uint64_t every_ms = std::max<std::uint64_t>(watchdog_usec_ / 2 / 1000, 1);
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  uv_timer_start(timer_, &ServiceNotifier::on_watchdog, 0, every_ms);
  log_info("systemd watchdog", {{"timeout_ms", std::to_string(watchdog_usec_ / 1000)},
                                {"ping_every_ms", std::to_string(every_ms)}});
}

void ServiceNotifier::on_watchdog(uv_timer_t* t) { static_cast<ServiceNotifier*>(t->data)->send("WATCHDOG=1"); }

void ServiceNotifier::stop_watchdog() {
  if (timer_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

}  // namespace pharos::app
