// explain.cc: see explain.h.
#include "scenario/explain.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "health/datacenter.h"

namespace pharos::scenario {
namespace {

// "auto|dc1|wanAccess" -> dc1's wanAccess targets; false for any other ID.
bool dimension_targets(const std::string& id, const health::HealthState& health, std::vector<std::string>& out) {
  if (id.rfind("auto|", 0) != 0) return false;
  const std::size_t bar = id.find('|', 5);
  if (bar == std::string::npos || id.find('|', bar + 1) != std::string::npos) return false;
  const health::DcInfo* dc = health.datacenter(id.substr(5, bar - 5));
  if (dc == nullptr) return false;
  const std::string dimension = id.substr(bar + 1);
  for (health::Dimension d : health::kAllDimensions) {
    if (dimension != health::to_string(d)) continue;
    out = dc->spec.dimensions[health::index(d)].targets;
    return true;
  }
  return false;
}

CheckWhy check_why(const std::string& id, const health::HealthState& health) {
  CheckWhy w;
  w.id = id;
  if (const health::CheckInfo* c = health.check(id)) {
    w.state = c->effective();
    w.forced = c->forced.has_value();
    w.since = c->since;
    w.reason = c->reason;
  } else {
    w.reason = "no such check";
  }
  return w;
}

std::string state_text(const CheckWhy& c) {
  std::string s = c.id + " is " + health::to_string(c.state);
  if (c.forced) s += " (forced)";
  if (c.since != SystemTime{}) s += " since " + rfc3339(c.since);
  if (!c.reason.empty()) s += ": " + c.reason;
  return s;
}

// The checks below an automatic dimension check that are not up, else the check itself.
void add_failing(const std::string& id, const health::HealthState& health, std::vector<CheckWhy>& out) {
  out.push_back(check_why(id, health));
  std::vector<std::string> targets;
  if (!dimension_targets(id, health, targets)) return;
  for (const auto& t : targets)
    if (health.effective(t) != health::State::kUp) out.push_back(check_why(t, health));
}

}  // namespace

std::string rfc3339(SystemTime t) {
  if (t == SystemTime{}) return "";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int the fields could hold, so the format is never cut
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

Millis detection_time(const std::string& check_id, const health::HealthState& health, std::string* slowest) {
  std::vector<std::string> targets;
  if (dimension_targets(check_id, health, targets)) {
    Millis worst{0};
    for (const auto& t : targets) {
      std::string which;
      const Millis d = detection_time(t, health, &which);
      if (d > worst) {
        worst = d;
        if (slowest) *slowest = which;
      }
    }
    return worst;
  }
  const health::CheckInfo* c = health.check(check_id);
  if (c == nullptr || !c->spec) return Millis{0};
  if (slowest) *slowest = check_id;
  return c->spec->interval * c->spec->thresholds.required_failure + c->spec->timeout;
}

Rto record_rto(const GtmRecord& record, const health::HealthState& health,
               const std::map<std::string, ScenarioSpec>& scenarios, Millis debounce) {
  Rto r;
  r.debounce = debounce;
  r.ttl_s = record.ttl;
  auto consider = [&](const std::string& id) {
    std::string which;
    const Millis d = detection_time(id, health, &which);
    if (d > r.detection) {
      r.detection = d;
      r.slowest_check = which;
    }
  };
  for (const ChainEntry& e : record.chain) {
    if (e.scenario.empty()) {
      // The DC's status: every dimension can take it out.
      for (health::Dimension d : health::kAllDimensions) consider(health::auto_id(e.dc, d));
    } else if (auto spec = scenarios.find(e.scenario); spec != scenarios.end()) {
      for (const auto& group : spec->second.groups)
        for (const Term& t : group) consider(t.check);
    }
  }
  return r;
}

void describe_entry(EntryWhy& entry, const GtmRecord& record, const health::HealthState& health,
                    const std::map<std::string, ScenarioSpec>& scenarios) {
  const ChainEntry& e = record.chain[static_cast<std::size_t>(entry.index)];
  entry.dc = e.dc;
  entry.scenario = e.scenario;
  const health::DcInfo* dc = health.datacenter(e.dc);
  if (dc != nullptr && dc->maintenance) {
    entry.why = "DC " + e.dc + " is in maintenance";
    if (!dc->maintenance_by.empty()) entry.why += " (set by " + dc->maintenance_by + ")";
    if (dc->maintenance_until) entry.why += " until " + rfc3339(*dc->maintenance_until);
    if (!dc->maintenance_note.empty()) entry.why += ": " + dc->maintenance_note;
    entry.checks.push_back(check_why(health::maintenance_id(e.dc), health));
    return;
  }
  if (!e.scenario.empty()) {
    auto spec = scenarios.find(e.scenario);
    std::vector<CheckWhy> unmet;
    if (spec != scenarios.end()) {
      for (const auto& group : spec->second.groups)
        for (const Term& t : group) {
          const health::State s = health.effective(t.check);
          const bool met = t.negated ? s == health::State::kDown : s == health::State::kUp;
          if (!met && std::none_of(unmet.begin(), unmet.end(), [&](const CheckWhy& c) { return c.id == t.check; }))
            add_failing(t.check, health, unmet);
        }
    }
    if (entry.healthy) {
      entry.why = "scenario " + e.scenario + " is true";
    } else {
      entry.why = "scenario " + e.scenario + " is false";
      if (!unmet.empty()) entry.why += ": " + state_text(unmet.front());
      entry.checks = std::move(unmet);
    }
  } else if (dc == nullptr) {
    entry.why = "DC " + e.dc + " is not configured";
  } else {
    entry.why = "DC " + e.dc + " is " + health::to_string(dc->status);
    if (!dc->reason.empty()) entry.why += ": " + dc->reason;
    if (dc->since != SystemTime{}) entry.why += " (since " + rfc3339(dc->since) + ")";
    if (!entry.healthy)
      for (health::Dimension d : health::kAllDimensions) {
        const std::string id = health::auto_id(e.dc, d);
        if (health.effective(id) != health::State::kUp) add_failing(id, health, entry.checks);
      }
  }
  if (entry.held) entry.why = "held after an outage longer than staleAfter; an operator resumes it (" + entry.why + ")";
}

}  // namespace pharos::scenario
