// metrics.cc: the Prometheus text writer and the list of metric families /metrics serves
// (docs/api.md documents each one).
#include "app/metrics.h"

#include <charconv>
#include <cmath>

namespace pharos::app {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return std::string(buf, r.ptr);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::vector<double> probe_latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> pipeline_latency_bounds() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 3, 5, 10, 30, 60, 300};
}

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsWriter::series(std::string_view name, const Labels& labels, std::string_view extra_name,
                           std::string_view extra_value) {
  out_ += name;
  if (labels.empty() && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto add = [&](std::string_view k, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out_ += '}';
}

void MetricsWriter::sample(std::string_view name, const Labels& labels, double value) {
  series(name, labels);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void MetricsWriter::sample(std::string_view name, const Labels& labels, std::uint64_t value) {
  series(name, labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void MetricsWriter::histogram(std::string_view name, const Labels& labels, const Histogram& h) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    series(bucket, labels, "le", format_value(h.bounds()[i]));
    out_ += ' ' + std::to_string(cumulative) + '\n';
  }
  series(bucket, labels, "le", "+Inf");
  out_ += ' ' + std::to_string(h.count()) + '\n';
  sample(std::string(name) + "_sum", labels, h.sum());
  sample(std::string(name) + "_count", labels, h.count());
}

namespace {

constexpr const char* kTransports[] = {"udp", "tcp"};
constexpr const char* kCheckStates[] = {"up", "down", "unknown"};
constexpr const char* kDcStatuses[] = {"unknown", "ok", "noAccess", "noWan", "noLan", "noInternet", "maintenance"};

void render_dns(MetricsWriter& w, const DnsMetrics& d) {
  w.family("pharos_dns_queries_total", "counter",
           "DNS messages received, by transport and query type (\"other\": uncounted types, \"none\": no readable question).");
  for (std::size_t t = 0; t < 2; ++t)
    for (std::size_t q = 0; q < dns::kQtypeSlots; ++q)
      w.sample("pharos_dns_queries_total", {{"transport", kTransports[t]}, {"qtype", dns::qtype_slot_name(q)}},
               d.by_transport[t].qtype[q]);
  w.family("pharos_dns_responses_total", "counter", "DNS responses sent, by transport and RCODE.");
  for (std::size_t t = 0; t < 2; ++t) {
    const auto& rc = d.by_transport[t].rcode;
    for (std::size_t r = 0; r < rc.size(); ++r) {
      const char* name = dns::rcode_name(r);
      // The RCODEs pharos sends always show (at 0); others only if one was ever counted.
      if (name == nullptr && rc[r] == 0) continue;
      const std::string code = name != nullptr ? std::string(name) : std::to_string(r);
      w.sample("pharos_dns_responses_total", {{"transport", kTransports[t]}, {"rcode", code}}, rc[r]);
    }
  }
  w.family("pharos_dns_dropped_total", "counter", "Queries dropped without an answer by the responder, by transport.");
  for (std::size_t t = 0; t < 2; ++t)
    w.sample("pharos_dns_dropped_total", {{"transport", kTransports[t]}}, d.by_transport[t].dropped);
  w.family("pharos_dns_truncated_total", "counter", "Responses sent with TC set because the answer did not fit, by transport.");
  for (std::size_t t = 0; t < 2; ++t)
    w.sample("pharos_dns_truncated_total", {{"transport", kTransports[t]}}, d.by_transport[t].truncated);

  w.family("pharos_dns_udp_received_total", "counter", "UDP datagrams read.");
  w.sample("pharos_dns_udp_received_total", {}, d.udp_received);
  w.family("pharos_dns_udp_sent_total", "counter", "UDP responses handed to the kernel.");
  w.sample("pharos_dns_udp_sent_total", {}, d.udp_sent);
  w.family("pharos_dns_udp_unanswered_total", "counter",
           "UDP datagrams not answered: dropped by the responder, no table yet, or oversized.");
  w.sample("pharos_dns_udp_unanswered_total", {}, d.udp_dropped);
  w.family("pharos_dns_udp_send_failures_total", "counter", "UDP responses the kernel refused (send buffer full, unreachable).");
  w.sample("pharos_dns_udp_send_failures_total", {}, d.udp_send_failed);
  w.family("pharos_dns_tcp_accepted_total", "counter", "TCP connections accepted.");
  w.sample("pharos_dns_tcp_accepted_total", {}, d.tcp_accepted);
  w.family("pharos_dns_tcp_open_connections", "gauge", "TCP connections open now.");
  w.sample("pharos_dns_tcp_open_connections", {}, d.tcp_open);
  w.family("pharos_dns_tcp_evicted_total", "counter", "TCP connections closed to make room for a new one.");
  w.sample("pharos_dns_tcp_evicted_total", {}, d.tcp_evicted);
  w.family("pharos_dns_tcp_timeouts_total", "counter", "TCP connections closed for idling or for a message that took too long.");
  w.sample("pharos_dns_tcp_timeouts_total", {}, d.tcp_timeouts);
  w.family("pharos_dns_serving", "gauge", "1 when an answer table is published and DNS queries are answered.");
  w.sample("pharos_dns_serving", {}, std::uint64_t{d.serving ? 1u : 0u});

  w.family("pharos_gtm_answers_total", "counter",
           "Answers served per GTM record and what answered (source chain with entry and dc, dr, fallback, nodata, "
           "servfail, refused). Starts again from 0 at each reload.");
  for (const auto& a : d.answers)
    w.sample("pharos_gtm_answers_total", {{"record", a.record}, {"source", a.source}, {"entry", a.entry}, {"dc", a.dc}},
             a.count);
}

template <typename T>
const std::vector<T>& items(const std::shared_ptr<const std::vector<T>>& p) {
  static const std::vector<T> kNone;
  return p ? *p : kNone;
}

void render_engine(MetricsWriter& w, const EngineMetrics& e) {
  const auto& checks = items(e.checks);
  const auto& dcs = items(e.dcs);
  const auto& serving = items(e.serving);
  w.family("pharos_build_info", "gauge", "pharosd's version, as a label; always 1.");
  w.sample("pharos_build_info", {{"version", e.version}}, std::uint64_t{1});
  w.family("pharos_start_time_seconds", "gauge", "When pharosd started, in Unix seconds.");
  w.sample("pharos_start_time_seconds", {}, e.start_time_s);
  w.family("pharos_config_generation", "gauge",
           "The configuration generation: 1 at start, +1 for each successful reload and each applied config change.");
  w.sample("pharos_config_generation", {}, e.config_generation);
  w.family("pharos_config_changes_total", "counter",
           "Config change requests through the API, by result: applied, conflict (409: stale if_generation or an "
           "existing ID), rejected (any other refusal: invalid request or files, not written, stopping).");
  w.sample("pharos_config_changes_total", {{"result", "applied"}}, e.config_changes_applied);
  w.sample("pharos_config_changes_total", {{"result", "rejected"}}, e.config_changes_rejected);
  w.sample("pharos_config_changes_total", {{"result", "conflict"}}, e.config_changes_conflict);
  if (e.last_config_change_time_s) {
    w.family("pharos_config_change_last_timestamp_seconds", "gauge",
             "When the last config change through the API was applied, in Unix seconds.");
    w.sample("pharos_config_change_last_timestamp_seconds", {}, *e.last_config_change_time_s);
  }
  w.family("pharos_reloads_total", "counter", "Reloads (SIGHUP or the API), by result.");
  w.sample("pharos_reloads_total", {{"result", "ok"}}, e.reloads_ok);
  w.sample("pharos_reloads_total", {{"result", "error"}}, e.reloads_failed);
  if (e.last_reload_time_s) {
    w.family("pharos_reload_last_timestamp_seconds", "gauge", "When the last reload finished, in Unix seconds.");
    w.sample("pharos_reload_last_timestamp_seconds", {}, *e.last_reload_time_s);
    w.family("pharos_reload_last_duration_seconds", "gauge", "How long the last reload took.");
    w.sample("pharos_reload_last_duration_seconds", {}, e.last_reload_duration_s.value_or(0));
    w.family("pharos_reload_last_success", "gauge", "1 if the last reload succeeded, 0 if it failed.");
    w.sample("pharos_reload_last_success", {}, std::uint64_t{e.last_reload_ok ? 1u : 0u});
  }
  w.family("pharos_health_probes_overdue_seconds", "gauge", "How late the most overdue health probe is (0: all on time).");
  w.sample("pharos_health_probes_overdue_seconds", {}, e.probes_overdue_s);

  w.family("pharos_check_state", "gauge", "A check's effective state (forced if forced): 1 for the state it is in.");
  for (const auto& c : checks)
    for (const char* s : kCheckStates)
      w.sample("pharos_check_state", {{"check", c.id}, {"state", s}}, std::uint64_t{c.state == s ? 1u : 0u});
  w.family("pharos_check_forced", "gauge", "1 when an operator forces the check's state.");
  for (const auto& c : checks) w.sample("pharos_check_forced", {{"check", c.id}}, std::uint64_t{c.forced ? 1u : 0u});
  w.family("pharos_check_transitions_total", "counter", "Changes of a check's measured state.");
  for (const auto& c : checks) w.sample("pharos_check_transitions_total", {{"check", c.id}}, c.transitions);
  w.family("pharos_check_probes_total", "counter", "Probe results of a probed check.");
  for (const auto& c : checks)
    if (!c.automatic) w.sample("pharos_check_probes_total", {{"check", c.id}}, c.probes);
  w.family("pharos_check_failures_total", "counter", "Failed probe results of a probed check.");
  for (const auto& c : checks)
    if (!c.automatic) w.sample("pharos_check_failures_total", {{"check", c.id}}, c.failures);
  w.family("pharos_check_probe_duration_seconds", "histogram",
           "Time from probe start to result, per probed check, since pharosd started.");
  for (const auto& c : checks)
    if (c.latency) w.histogram("pharos_check_probe_duration_seconds", {{"check", c.id}}, *c.latency);

  w.family("pharos_dc_status", "gauge", "A data center's status: 1 for the status it is in.");
  for (const auto& d : dcs)
    for (const char* s : kDcStatuses)
      w.sample("pharos_dc_status", {{"dc", d.name}, {"status", s}}, std::uint64_t{d.status == s ? 1u : 0u});
  w.family("pharos_dc_maintenance", "gauge", "1 while a data center is in maintenance (file or operator).");
  for (const auto& d : dcs) w.sample("pharos_dc_maintenance", {{"dc", d.name}}, std::uint64_t{d.maintenance ? 1u : 0u});

  w.family("pharos_gtm_serving", "gauge",
           "What a GTM record answers now per region (region \"\": clients in no region); always 1, the labels say what.");
  for (const auto& s : serving)
    w.sample("pharos_gtm_serving",
             {{"record", s.record}, {"region", s.region}, {"source", s.source}, {"entry", s.entry}, {"dc", s.dc}},
             std::uint64_t{1});
  w.family("pharos_gtm_publishes_total", "counter", "GTM answer changes published to the DNS workers.");
  w.sample("pharos_gtm_publishes_total", {}, e.gtm_publishes);
  w.family("pharos_pipeline_latency_seconds", "histogram",
           "From a health verdict change to the published answer it caused (includes the debounce).");
  w.histogram("pharos_pipeline_latency_seconds", {}, e.pipeline);
}

}  // namespace

std::string render_metrics(const EngineMetrics* engine, const DnsMetrics& dns, double watchdog_age_s) {
  MetricsWriter w;
  w.family("pharos_watchdog_age_seconds", "gauge", "Seconds since the loop's once-a-second heartbeat last ran.");
  w.sample("pharos_watchdog_age_seconds", {{"loop", "control"}}, watchdog_age_s);
  if (engine != nullptr) render_engine(w, *engine);
  render_dns(w, dns);
  return w.take();
}

}  // namespace pharos::app
