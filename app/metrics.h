// metrics.h: pharosd's metrics in the Prometheus text format (version 0.0.4): a writer that gets
// names, label escaping, values and histograms right, and the values /metrics shows, split into
// what the control loop publishes (EngineMetrics) and what is read live from the DNS threads.
//
//   MetricsWriter w;
//   w.family("pharos_reloads_total", "counter", "Reloads by result.");
//   w.sample("pharos_reloads_total", {{"result", "ok"}}, std::uint64_t{3});
//   std::string text = w.take();
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/query_stats.h"

namespace pharos::app {

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Label values: backslash, double quote and newline escaped. HELP text: backslash and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// "+Inf", "-Inf", "NaN", integers without an exponent, otherwise the shortest exact decimal.
std::string format_value(double v);

// Observations counted into fixed upper bounds (ascending, finite); the +Inf bucket is implicit.
class Histogram {
 public:
  Histogram() = default;
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<std::uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative; last = above all bounds
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Seconds: probe latencies (sub-millisecond up to the longest timeouts) and the pipeline (which
// includes the debounce, seconds by default).
std::vector<double> probe_latency_bounds();
std::vector<double> pipeline_latency_bounds();

class MetricsWriter {
 public:
  // HELP and TYPE of a family ("counter", "gauge" or "histogram"); its samples follow.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, const Labels& labels, std::uint64_t value);
  // name_bucket{..., le="..."} (cumulative, ending with +Inf), name_sum, name_count.
  void histogram(std::string_view name, const Labels& labels, const Histogram& h);
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view name, const Labels& labels, std::string_view extra_name = {},
              std::string_view extra_value = {});
  std::string out_;
};

// What the control loop knows, copied at each change and every second (immutable once built).
struct EngineMetrics {
  std::string version;
  double start_time_s = 0;                     // Unix time pharosd started
  std::uint64_t config_generation = 0;
  std::uint64_t reloads_ok = 0, reloads_failed = 0;
  std::optional<double> last_reload_duration_s, last_reload_time_s;
  bool last_reload_ok = false;
  // Config change requests by result (applied, rejected, conflict), and when the last one applied.
  std::uint64_t config_changes_applied = 0, config_changes_rejected = 0, config_changes_conflict = 0;
  std::optional<double> last_config_change_time_s;
  double probes_overdue_s = 0;                 // HealthEngine::watchdog_age
  std::uint64_t gtm_publishes = 0;
  struct Check {
    std::string id;
    std::string state;                         // effective: "up", "down", "unknown"
    bool forced = false;
    bool automatic = false;
    std::uint64_t probes = 0, failures = 0, transitions = 0;
    std::optional<Histogram> latency;          // probed checks that have had a result
  };
  struct Dc {
    std::string name;
    std::string status;                        // health::to_string(DcStatus)
    bool maintenance = false;
  };
  struct Serving {
    std::string record, region, source, entry, dc;
  };
  // The large parts are shared between snapshots and rebuilt only when they moved (a probe
  // result does not rebuild every GTM record's line). Null: nothing to show.
  std::shared_ptr<const std::vector<Check>> checks;
  std::shared_ptr<const std::vector<Dc>> dcs;
  std::shared_ptr<const std::vector<Serving>> serving;  // per record and region ("" = no region)
  Histogram pipeline{pipeline_latency_bounds()};
};

// What the DNS threads count, read live when /metrics is asked.
struct DnsMetrics {
  std::array<dns::ResponderStats, 2> by_transport{};  // [udp, tcp]
  std::uint64_t udp_received = 0, udp_sent = 0, udp_dropped = 0, udp_send_failed = 0;
  std::uint64_t tcp_accepted = 0, tcp_open = 0, tcp_evicted = 0, tcp_timeouts = 0;
  struct Answers {
    std::string record, source, entry, dc;
    std::uint64_t count = 0;
  };
  std::vector<Answers> answers;                // per GTM record and what answered
  bool serving = false;                        // a table is published
};

// The whole /metrics text. `engine` may be null (not published yet); `watchdog_age_s` is how long
// ago the control loop's heartbeat last ran.
std::string render_metrics(const EngineMetrics* engine, const DnsMetrics& dns, double watchdog_age_s);

}  // namespace pharos::app
