// daemon_metrics.cc: the control loop's side of the metrics (heartbeat, snapshots, latencies)
// and the live read of the DNS threads' counters.
#include "app/daemon_metrics.h"

#include "scenario/model.h"
#include "scenario/selection.h"

namespace pharos::app {
namespace {

// Bursts of changes (a DC going down moves many checks) cost one snapshot.
constexpr std::uint64_t kRebuildDelayMs = 20;
constexpr std::uint64_t kHeartbeatMs = 1000;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(DaemonMetrics::Clock::now().time_since_epoch()).count();
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void free_timer(uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); }

}  // namespace

DaemonMetrics::DaemonMetrics(uv_loop_t* loop, Sources sources)
    : loop_(loop), src_(std::move(sources)), start_time_s_(unix_seconds(std::chrono::system_clock::now())),
      last_beat_ns_(steady_ns()) {
  heartbeat_ = new uv_timer_t;
  uv_timer_init(loop_, heartbeat_);
  heartbeat_->data = this;
  uv_timer_start(heartbeat_, &DaemonMetrics::on_heartbeat, kHeartbeatMs, kHeartbeatMs);
  rebuild_ = new uv_timer_t;
  uv_timer_init(loop_, rebuild_);
  rebuild_->data = this;
  publish_snapshot();
}

DaemonMetrics::~DaemonMetrics() { stop(); }

void DaemonMetrics::stop() {
  for (uv_timer_t** t : {&heartbeat_, &rebuild_}) {
    if (*t == nullptr) continue;
    uv_close(reinterpret_cast<uv_handle_t*>(*t), free_timer);
    *t = nullptr;
  }
}

void DaemonMetrics::on_heartbeat(uv_timer_t* t) {
  auto* self = static_cast<DaemonMetrics*>(t->data);
  self->last_beat_ns_.store(steady_ns(), std::memory_order_relaxed);
  self->publish_snapshot();
}

void DaemonMetrics::on_rebuild(uv_timer_t* t) {
  auto* self = static_cast<DaemonMetrics*>(t->data);
  self->rebuild_pending_ = false;
  self->publish_snapshot();
}

void DaemonMetrics::soon(unsigned parts) {
  dirty_ |= parts;
  if (rebuild_pending_ || rebuild_ == nullptr) return;
  rebuild_pending_ = true;
  uv_timer_start(rebuild_, &DaemonMetrics::on_rebuild, kRebuildDelayMs, 0);
}

void DaemonMetrics::changed() { soon(kChecks | kDcs | kServing); }

// A probe result moves counters and a histogram, nothing an alert waits for: the heartbeat
// publishes it, so busy checks cost one rebuild of the check list a second, not one per result.
void DaemonMetrics::probe(const std::vector<std::string>& ids, const health::ProbeResult& result) {
  const double s = std::chrono::duration<double>(result.latency).count();
  for (const auto& id : ids) {
    auto it = probe_latency_.find(id);
    if (it == probe_latency_.end()) it = probe_latency_.emplace(id, Histogram(probe_latency_bounds())).first;
    it->second.observe(s);
  }
  dirty_ |= kChecks;
}

void DaemonMetrics::verdicts(const health::Changes& changes) {
  bool verdict = false;
  for (const auto& c : changes.checks) verdict = verdict || (!c.restored && !c.hidden_by_force);
  for (const auto& d : changes.datacenters) verdict = verdict || !d.restored;
  if (verdict && !pipeline_since_) pipeline_since_ = Clock::now();
  soon(kChecks | kDcs);
}

void DaemonMetrics::verdicts_handled() {
  // The GTM engine has seen the changes. With nothing pending it either published (observed in
  // answers_published) or had no answer to change.
  if (src_.gtm != nullptr && !src_.gtm->pending()) pipeline_since_.reset();
}

void DaemonMetrics::answers_published() {
  if (pipeline_since_) {
    pipeline_.observe(std::chrono::duration<double>(Clock::now() - *pipeline_since_).count());
    pipeline_since_.reset();
  }
  soon(kServing);
}

void DaemonMetrics::selection_done() {
  if (src_.gtm != nullptr && !src_.gtm->pending()) pipeline_since_.reset();
  soon(kServing);
}

void DaemonMetrics::reloaded(bool ok, std::uint64_t duration_ms, std::chrono::system_clock::time_point at) {
  ++(ok ? reloads_ok_ : reloads_failed_);
  last_reload_ok_ = ok;
  last_reload_duration_s_ = static_cast<double>(duration_ms) / 1000.0;
  last_reload_time_s_ = unix_seconds(at);
  // A reload may remove checks: their histograms go with them at the next snapshot.
  changed();
}

void DaemonMetrics::config_change(int status, std::chrono::system_clock::time_point at) {
  if (status == 200) {
    ++changes_applied_;
    last_change_time_s_ = unix_seconds(at);
  } else if (status == 409) {
    ++changes_conflict_;
  } else {
    ++changes_rejected_;
  }
  // An applied change bumps the generation, which rebuilds every part; a refusal moves a counter.
  soon(0);
}

void DaemonMetrics::rebuild_checks() {
  auto checks = std::make_shared<std::vector<EngineMetrics::Check>>();
  const health::HealthState& h = src_.health->state();
  checks->reserve(h.checks().size());
  std::map<std::string, Histogram> kept;
  for (const auto& [id, c] : h.checks()) {
    EngineMetrics::Check m;
    m.id = id;
    m.state = health::to_string(c.effective());
    m.forced = c.forced.has_value();
    m.automatic = c.automatic;
    m.probes = c.probes;
    m.failures = c.failures;
    m.transitions = c.transitions;
    if (auto it = probe_latency_.find(id); it != probe_latency_.end()) {
      m.latency = it->second;
      kept.insert(probe_latency_.extract(it));
    }
    checks->push_back(std::move(m));
  }
  probe_latency_ = std::move(kept);  // forget removed checks
  checks_ = std::move(checks);
}

void DaemonMetrics::rebuild_dcs() {
  auto dcs = std::make_shared<std::vector<EngineMetrics::Dc>>();
  for (const auto& [name, d] : src_.health->state().datacenters())
    dcs->push_back(EngineMetrics::Dc{name, health::to_string(d.status), d.maintenance});
  dcs_ = std::move(dcs);
}

void DaemonMetrics::rebuild_serving() {
  auto serving = std::make_shared<std::vector<EngineMetrics::Serving>>();
  // Decisions, not view(): no reason text for every record.
  const scenario::GtmEngine& g = *src_.gtm;
  const auto& records = g.config().records;
  const auto& names = g.region_names();
  serving->reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const scenario::GtmRecord& r = records[i];
    // Without a geo order every region answers alike: show it once, for region "".
    const std::size_t regions = r.geo.empty() ? std::min<std::size_t>(1, names.size()) : names.size();
    for (std::size_t reg = 0; reg < regions; ++reg) {
      const scenario::Decision d = g.decision(i, reg);
      EngineMetrics::Serving m{g.key(i), names[reg], scenario::to_string(d.source), "", ""};
      if (d.entry >= 0 && static_cast<std::size_t>(d.entry) < r.chain.size()) {
        m.entry = std::to_string(d.entry);
        m.dc = r.chain[static_cast<std::size_t>(d.entry)].dc;
      }
      serving->push_back(std::move(m));
    }
  }
  serving_ = std::move(serving);
}

void DaemonMetrics::publish_snapshot() {
  const std::uint64_t generation = src_.config_generation != nullptr ? *src_.config_generation : 0;
  // A configuration change through the API applies like a reload without passing reloaded().
  if (generation != seen_generation_) dirty_ |= kChecks | kDcs | kServing;
  seen_generation_ = generation;
  if (src_.health != nullptr && (dirty_ & kChecks)) rebuild_checks();
  if (src_.health != nullptr && (dirty_ & kDcs)) rebuild_dcs();
  if (src_.gtm != nullptr && (dirty_ & kServing)) rebuild_serving();
  dirty_ = 0;

  auto e = std::make_shared<EngineMetrics>();
  e->version = src_.version;
  e->start_time_s = start_time_s_;
  e->config_generation = generation;
  e->reloads_ok = reloads_ok_;
  e->reloads_failed = reloads_failed_;
  e->last_reload_ok = last_reload_ok_;
  e->last_reload_duration_s = last_reload_duration_s_;
  e->last_reload_time_s = last_reload_time_s_;
  e->config_changes_applied = changes_applied_;
  e->config_changes_rejected = changes_rejected_;
  e->config_changes_conflict = changes_conflict_;
  e->last_config_change_time_s = last_change_time_s_;
  e->pipeline = pipeline_;
  if (src_.health != nullptr) e->probes_overdue_s = std::chrono::duration<double>(src_.health->watchdog_age()).count();
  if (src_.gtm != nullptr) e->gtm_publishes = src_.gtm->publishes();
  e->checks = checks_;
  e->dcs = dcs_;
  e->serving = serving_;
  std::lock_guard lock(mu_);
  snapshot_ = std::move(e);
}

DnsMetrics DaemonMetrics::read_dns() const {
  DnsMetrics d;
  dns::Server* s = src_.server;
  if (s == nullptr) return d;
  d.by_transport[0] = s->query_stats(dns::Transport::kUdp);
  d.by_transport[1] = s->query_stats(dns::Transport::kTcp);
  for (unsigned i = 0; i < s->worker_count(); ++i) {
    const dns::IoCounters& c = s->worker(i).counters();
    d.udp_received += c.udp_received.get();
    d.udp_sent += c.udp_sent.get();
    d.udp_dropped += c.udp_dropped.get();
    d.udp_send_failed += c.udp_send_failed.get();
    d.tcp_accepted += c.tcp_accepted.get();
    d.tcp_open += c.tcp_open.get();
    d.tcp_evicted += c.tcp_evicted.get();
    d.tcp_timeouts += c.tcp_idle_timeouts.get() + c.tcp_message_timeouts.get();
  }
  s->inspect([&d](const dns::AnswerTable* t) {
    if (t == nullptr) return;
    d.serving = true;
    static constexpr const char* kSpecial[] = {"nodata", "servfail", "refused"};
    for (std::size_t slot = 0; slot < t->dynamic_slots(); ++slot) {
      const dns::AnswerTable::DynamicInfo& info = t->dynamic_info(slot);
      const auto alternatives = t->dynamic_slot(slot).alternatives;
      for (std::uint32_t a = 0; a < alternatives; ++a) {
        DnsMetrics::Answers m;
        m.record = info.key;
        if (a < info.alternatives.size()) {
          m.source = info.alternatives[a].source;
          m.entry = info.alternatives[a].entry;
          m.dc = info.alternatives[a].dc;
        } else {
          m.source = "alternative";
          m.entry = std::to_string(a);
        }
        m.count = t->dynamic_count(slot, a);
        d.answers.push_back(std::move(m));
      }
      // The policy answers show once they happened.
      for (std::uint32_t k = 0; k < dns::AnswerTable::kSpecialOutcomes; ++k) {
        const std::uint64_t n = t->dynamic_count(slot, alternatives + k);
        if (n != 0) d.answers.push_back(DnsMetrics::Answers{info.key, kSpecial[k], "", "", n});
      }
    }
  });
  return d;
}

std::string DaemonMetrics::render() const {
  std::shared_ptr<const EngineMetrics> e;
  {
    std::lock_guard lock(mu_);
    e = snapshot_;
  }
  const double age = static_cast<double>(steady_ns() - last_beat_ns_.load(std::memory_order_relaxed)) / 1e9;
  return render_metrics(e.get(), read_dns(), age < 0 ? 0 : age);
}

ApiResponse DaemonMetrics::respond() const {
  ApiResponse r;
  r.status = 200;
  r.body = render();
  r.content_type = kMetricsContentType;
  return r;
}

}  // namespace pharos::app
