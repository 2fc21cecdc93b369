// daemon_metrics.h: gathers pharosd's metrics. On the control loop it keeps what only the loop
// knows (probe latencies, pipeline latency, reloads) and publishes an immutable EngineMetrics
// shortly after state changes and on a one-second heartbeat (which also carries probe counts and
// latencies); the check, DC and GTM lists are rebuilt only when they moved; render() runs on any thread (the HTTP thread of
// /metrics) and adds what the DNS threads count, read live, so /metrics answers even when the
// control loop is stuck, and then shows the heartbeat's age growing.
//
//   DaemonMetrics m(&loop, {&server, &health, &gtm, &generation, version});
//   health.on_probe([&](auto& ids, auto& r) { m.probe(ids, r); });
//   api.route_direct("GET", "/metrics", Role::kNone, [&](auto&) { return m.respond(); });
//   ...
//   m.stop();                               // on the loop; run it to close the timers
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/control_request.h"
#include "app/metrics.h"
#include "dns/server.h"
#include "health/engine.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class DaemonMetrics {
 public:
  struct Sources {
    dns::Server* server = nullptr;
    const health::HealthEngine* health = nullptr;
    const scenario::GtmEngine* gtm = nullptr;
    const std::uint64_t* config_generation = nullptr;
    std::string version;
  };
  using Clock = std::chrono::steady_clock;

  // Starts the heartbeat on `loop`. Everything but render()/respond() runs on the loop's thread.
  DaemonMetrics(uv_loop_t* loop, Sources sources);
  ~DaemonMetrics();
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  // A probe result for the checks `ids`.
  void probe(const std::vector<std::string>& ids, const health::ProbeResult& result);
  // Verdicts moved: the pipeline clock starts (unless running) and the snapshot is rebuilt soon.
  // Subscribe it before the GTM engine, and verdicts_handled() after it.
  void verdicts(const health::Changes& changes);
  void verdicts_handled();
  // The GTM engine published new answers: the pipeline latency is observed.
  void answers_published();
  // A selection round ended (after the answers it published, if any); with nothing left pending
  // the verdicts caused no answer change and the pipeline clock stops without an observation.
  void selection_done();
  void reloaded(bool ok, std::uint64_t duration_ms, std::chrono::system_clock::time_point at);
  // A config change request was answered with this HTTP status (200: applied at `at`).
  void config_change(int status, std::chrono::system_clock::time_point at);
  // Something else worth showing soon moved (operator action, configuration).
  void changed();

  // Any thread: the /metrics text, and the response to send.
  std::string render() const;
  ApiResponse respond() const;

  // Stops the timers (on the loop; run it afterwards to close them). render() keeps working.
  void stop();

 private:
  static void on_heartbeat(uv_timer_t* t);
  static void on_rebuild(uv_timer_t* t);
  enum Part : unsigned { kChecks = 1, kDcs = 2, kServing = 4 };
  void soon(unsigned parts);  // rebuild these parts shortly (bursts coalesce)
  void publish_snapshot();    // on the loop: rebuilds the dirty parts, shares the others
  void rebuild_checks();
  void rebuild_dcs();
  void rebuild_serving();
  DnsMetrics read_dns() const;

  uv_loop_t* loop_;
  Sources src_;
  double start_time_s_;
  uv_timer_t* heartbeat_ = nullptr;  // heap: freed in their close callbacks
  uv_timer_t* rebuild_ = nullptr;
  bool rebuild_pending_ = false;
  std::atomic<std::int64_t> last_beat_ns_;  // Clock, written by the heartbeat

  // Loop-only state.
  unsigned dirty_ = kChecks | kDcs | kServing;
  std::uint64_t seen_generation_ = 0;
  std::shared_ptr<const std::vector<EngineMetrics::Check>> checks_;
  std::shared_ptr<const std::vector<EngineMetrics::Dc>> dcs_;
  std::shared_ptr<const std::vector<EngineMetrics::Serving>> serving_;
  std::map<std::string, Histogram> probe_latency_;  // by check ID
  Histogram pipeline_{pipeline_latency_bounds()};
  std::optional<Clock::time_point> pipeline_since_;
  std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::optional<double> last_reload_duration_s_, last_reload_time_s_;
  bool last_reload_ok_ = false;
  std::uint64_t changes_applied_ = 0, changes_rejected_ = 0, changes_conflict_ = 0;
  std::optional<double> last_change_time_s_;

  mutable std::mutex mu_;  // guards snapshot_
  std::shared_ptr<const EngineMetrics> snapshot_;
};

}  // namespace pharos::app
