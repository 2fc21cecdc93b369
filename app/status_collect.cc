// status_collect.cc: collect_status (status_page.h): reads the health and GTM engines, the audit
// journal and the health history into a StatusView, on the control loop where they live.
#include <unistd.h>

#include <algorithm>

#include "app/status_page.h"

namespace pharos::app {
namespace {

StatusView::Check check_view(const health::CheckInfo& c) {
  StatusView::Check out;
  out.id = c.id;
  out.automatic = c.automatic;
  if (c.spec) out.type = health::to_string(c.spec->type);
  out.state = c.effective();
  out.measured = c.measured.state;
  out.forced = c.forced;
  out.since = c.since;
  out.reason = c.reason;
  if (!c.recent.empty()) {
    const health::ResultRecord& last = c.recent.back();
    out.has_last = true;
    out.last_ok = last.up;
    out.last_reason = last.reason;
    out.last_at = last.at;
    out.last_latency_ms = static_cast<double>(last.latency.count()) / 1000.0;
  }
  out.probes = c.probes;
  out.failures = c.failures;
  out.transitions = c.transitions;
  return out;
}

std::string status_word(const std::optional<health::DcStatus>& s) { return s ? health::to_string(*s) : "not running"; }

}  // namespace

StatusView collect_status(const ApiContext& c, SystemTime now, const PageOptions& opt) {
  StatusView v;
  v.version = c.version;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) v.hostname = host;
  v.uptime_s = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - c.started).count());
  v.config_generation = c.config_generation != nullptr ? *c.config_generation : 0;
  if (c.last_reload != nullptr) v.last_reload = *c.last_reload;
  if (c.last_change != nullptr) v.last_change = *c.last_change;
  v.zones = c.zones != nullptr ? *c.zones : 0;
  if (c.server != nullptr) v.workers = c.server->worker_count();

  if (c.health != nullptr) {
    const health::HealthState& h = c.health->state();
    v.watchdog_age_ms = c.health->watchdog_age().count();
    for (const auto& [name, dc] : h.datacenters()) {
      StatusView::Dc d;
      d.name = name;
      d.status = dc.status;
      d.since = dc.since;
      d.reason = dc.reason;
      d.maintenance = dc.maintenance;
      d.configured_maintenance = dc.spec.maintenance;
      d.until = dc.maintenance_until;
      d.by = dc.maintenance_by;
      d.note = dc.maintenance_note;
      v.dcs.push_back(std::move(d));
    }
    for (bool automatic : {false, true})
      for (const auto& [id, info] : h.checks())
        if (info.automatic == automatic) v.checks.push_back(check_view(info));
  }

  if (c.gtm != nullptr) {
    v.pending_selection = c.gtm->pending();
    for (const auto& rv : c.gtm->view()) {
      const scenario::GtmRecord& r = *rv.record;
      StatusView::Record rec;
      rec.name = r.name;
      rec.type = scenario::type_name(r.type);
      rec.ttl = r.ttl;
      for (const auto& e : r.chain) rec.chain.push_back(e.dc);
      // Without a geo order every region answers alike: one line says it all.
      const std::size_t shown = r.geo.empty() ? std::min<std::size_t>(1, rv.regions.size()) : rv.regions.size();
      for (std::size_t i = 0; i < shown; ++i) {
        const auto& region = rv.regions[i];
        const scenario::Selection& s = region.selection;
        StatusView::Answer a;
        a.region = r.geo.empty() ? "" : region.region;
        a.source = scenario::to_string(s.source);
        if (s.entry >= 0 && static_cast<std::size_t>(s.entry) < r.chain.size() &&
            (s.source == scenario::Source::kChain || s.source == scenario::Source::kFailOpen)) {
          a.entry = s.entry;
          a.dc = r.chain[static_cast<std::size_t>(s.entry)].dc;
        }
        if (s.rdata != nullptr) a.rdata = *s.rdata;
        a.reason = s.reason;
        a.since = region.since;
        rec.answers.push_back(std::move(a));
      }
      v.records.push_back(std::move(rec));
    }
  }

  // The timeline per DC, and the DC and check transitions of the shown span among the events.
  const SystemTime from = now - opt.span;
  for (const auto& d : v.dcs) {
    StatusView::Timeline t;
    t.dc = d.name;
    if (c.history != nullptr) {
      const auto& segments = c.history->timeline(d.name);
      t.segments.assign(segments.begin(), segments.end());
      for (std::size_t i = 1; i < segments.size(); ++i) {
        if (segments[i].at < from) continue;
        v.events.push_back({segments[i].at, "dc", d.name, "", status_word(segments[i - 1].status),
                            status_word(segments[i].status), segments[i].reason, "health"});
      }
    }
    if (t.segments.empty()) t.segments.push_back({d.since, d.status, d.reason});
    v.timelines.push_back(std::move(t));
  }
  if (c.history != nullptr) {
    const auto& transitions = c.history->checks();
    const std::size_t skip = transitions.size() > opt.max_events ? transitions.size() - opt.max_events : 0;
    for (std::size_t i = skip; i < transitions.size(); ++i) {
      const auto& t = transitions[i];
      v.events.push_back({t.at, "check", t.id, "", health::to_string(t.from), health::to_string(t.to),
                          t.hidden_by_force ? t.reason + " (hidden by a forced state)" : t.reason, "health"});
    }
  }
  if (c.audit != nullptr) {
    for (auto& e : c.audit->recent(opt.max_events))
      v.events.push_back({e.at, e.kind, e.subject, e.region, e.from, e.to, e.reason, e.by});
  }
  std::stable_sort(v.events.begin(), v.events.end(),
                   [](const StatusView::Event& a, const StatusView::Event& b) { return a.at > b.at; });
  if (v.events.size() > opt.max_events) v.events.resize(opt.max_events);
  return v;
}

}  // namespace pharos::app
