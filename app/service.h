// service.h: telling systemd how pharosd is doing (sd_notify, Type=notify): READY, RELOADING with
// its MONOTONIC_USEC, STOPPING, STATUS lines, and watchdog pings from a timer on the control loop,
// so a stuck control loop stops the pings and systemd restarts us. Without NOTIFY_SOCKET (not run
// by systemd) every call does nothing.
//
//   ServiceNotifier n;
//   n.ready("serving 3 zones");  n.start_watchdog(&loop);   // once sockets are bound, table published
//   n.reloading("reloading (SIGHUP)");  ...  n.ready("reloaded");
//   n.stopping("stopping (SIGTERM)");  n.stop_watchdog();
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pharos::app {

class ServiceNotifier {
 public:
  ServiceNotifier();  // reads NOTIFY_SOCKET and the watchdog settings once
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  bool enabled() const { return enabled_; }
  void ready(std::string_view status);
  void status(std::string_view status);
  void reloading(std::string_view status);  // with MONOTONIC_USEC, as systemd wants for reloads
  void stopping(std::string_view status);

  // The watchdog period systemd asked for (WATCHDOG_USEC, when WATCHDOG_PID is unset or ours);
  // 0 = none. Pings go out every half of it.
  std::uint64_t watchdog_usec() const { return watchdog_usec_; }
  void start_watchdog(uv_loop_t* loop);
  // Closes the timer: systemd stops watching once we said STOPPING. On the loop's thread, before
  // the loop's last run.
  void stop_watchdog();

 private:
  static void on_watchdog(uv_timer_t* t);
  void send(const std::string& message);

  bool enabled_ = false;
  std::uint64_t watchdog_usec_ = 0;
  uv_timer_t* timer_ = nullptr;  // freed in its close callback
};

// The STATUS= text for `s`: one line, newlines turned into spaces.
std::string status_line(std::string_view s);

}  // namespace pharos::app
