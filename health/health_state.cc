// health_state.cc: see health_state.h.
#include "health/health_state.h"

#include <algorithm>

namespace pharos::health {
namespace {

CheckInfo make_automatic(const std::string& id, SystemTime now) {
  CheckInfo c;
  c.id = id;
  c.automatic = true;
  c.since = now;
  c.reason = "configured";
  return c;
}

}  // namespace

Changes HealthState::configure(const HealthConfig& config, SystemTime now) {
  Changes out;
  std::map<std::string, CheckInfo> next;
  for (const auto& [id, spec] : config.checks) {
    auto old = checks_.find(id);
    if (old != checks_.end() && !old->second.automatic && old->second.spec == spec) {
      next.emplace(id, std::move(old->second));
      continue;
    }
    CheckInfo c;
    c.id = id;
    c.spec = spec;
    c.since = now;
    c.reason = old == checks_.end() ? "configured" : "reconfigured";
    if (old != checks_.end()) c.forced = old->second.forced;  // an operator's force is about the ID
    next.emplace(id, std::move(c));
  }

  std::map<std::string, DcInfo> dcs;
  dependents_.clear();
  automatic_dc_.clear();
  for (const DcSpec& spec : config.datacenters) {
    auto adopt = [&](const std::string& id) {
      auto old = checks_.find(id);
      if (old != checks_.end() && old->second.automatic) next.emplace(id, std::move(old->second));
      else next.emplace(id, make_automatic(id, now));
      automatic_dc_[id] = spec.name;
    };
    for (Dimension d : kAllDimensions) {
      adopt(auto_id(spec.name, d));
      for (const auto& target : spec.dimensions[index(d)].targets) dependents_[target].push_back({spec.name, d});
    }
    adopt(maintenance_id(spec.name));
    DcInfo info;
    auto old = dcs_.find(spec.name);
    if (old != dcs_.end()) {
      info = std::move(old->second);
      // A maintenance flag changed in the file wins; otherwise an operator's runtime setting stays.
      if (info.spec.maintenance != spec.maintenance) {
        info.maintenance = spec.maintenance;
        info.maintenance_until.reset();
        info.maintenance_by.clear();
        info.maintenance_note.clear();
      }
    } else {
      info.maintenance = spec.maintenance;
      info.since = now;
      info.reason = "configured";
    }
    info.spec = spec;
    dcs.emplace(spec.name, std::move(info));
  }
  checks_ = std::move(next);
  dcs_ = std::move(dcs);
  evaluate_all(now, out);
  return out;
}

void HealthState::evaluate_all(SystemTime now, Changes& out) {
  for (auto& [name, dc] : dcs_) {
    for (Dimension d : kAllDimensions) {
      CheckInfo& agg = checks_[auto_id(name, d)];
      const State s = dimension_state(dc.spec.dimensions[index(d)], [this](const std::string& t) { return effective(t); });
      set_automatic(agg, s, dimension_reason(dc, d), now, out);
    }
    set_automatic(checks_[maintenance_id(name)], dc.maintenance ? State::kUp : State::kDown,
                  dc.maintenance ? "maintenance mode on" : "maintenance mode off", now, out);
    evaluate_dc(dc, "configuration", now, out);
  }
}

SavedHealth HealthState::save() const {
  SavedHealth out;
  out.checks.reserve(checks_.size());
  for (const auto& [id, c] : checks_) {
    SavedCheck s;
    s.id = id;
    s.automatic = c.automatic;
    if (c.spec) s.probe_key = c.spec->probe_key();
    s.measured = c.measured;
    s.forced = c.forced;
    s.since = c.since;
    s.reason = c.reason;
    s.probes = c.probes;
    s.failures = c.failures;
    s.transitions = c.transitions;
    out.checks.push_back(std::move(s));
  }
  for (const auto& [name, dc] : dcs_) {
    out.datacenters.push_back(SavedDc{name, dc.maintenance, dc.spec.maintenance, dc.maintenance_until,
                                      dc.maintenance_by, dc.maintenance_note, dc.status, dc.since, dc.reason});
  }
  return out;
}

RestoreOutcome HealthState::restore(const SavedHealth& saved, SystemTime now) {
  RestoreOutcome r;
  const Before before = snapshot();
  for (const SavedCheck& s : saved.checks) {
    auto it = checks_.find(s.id);
    if (it == checks_.end() || it->second.automatic != s.automatic) {
      ++r.skipped;
      continue;
    }
    CheckInfo& info = it->second;
    info.forced = s.forced;
    if (info.automatic) {
      ++r.checks;  // its state is recomputed below from its targets
      continue;
    }
    if (!info.spec || info.spec->probe_key() != s.probe_key) {
      ++r.skipped;  // a different probe now: its old verdict says nothing about the new target
      continue;
    }
    info.measured = s.measured;
    info.since = s.since;
    info.reason = s.reason;
    info.probes = s.probes;
    info.failures = s.failures;
    info.transitions = s.transitions;
    ++r.checks;
  }
  for (const SavedDc& s : saved.datacenters) {
    auto it = dcs_.find(s.name);
    if (it == dcs_.end()) continue;
    DcInfo& dc = it->second;
    // As on reload: a maintenanceMode changed in the file wins over the saved runtime setting.
    if (s.configured_maintenance != dc.spec.maintenance) continue;
    if (s.maintenance_until && *s.maintenance_until <= now) continue;  // expired while we were down
    dc.maintenance = s.maintenance;
    dc.maintenance_until = s.maintenance_until;
    dc.maintenance_by = s.maintenance_by;
    dc.maintenance_note = s.maintenance_note;
  }
  Changes ignored;  // reported below as a whole, against `before`
  evaluate_all(now, ignored);
  // What came back as it was saved keeps its original since and cause.
  for (const SavedCheck& s : saved.checks) {
    auto it = checks_.find(s.id);
    if (it == checks_.end() || !it->second.automatic || !s.automatic) continue;
    it->second.transitions = s.transitions;
    const State saved_effective = s.forced ? *s.forced : s.measured.state;
    if (it->second.effective() == saved_effective) {
      it->second.since = s.since;
      it->second.reason = s.reason;
    }
  }
  for (const SavedDc& s : saved.datacenters) {
    auto it = dcs_.find(s.name);
    if (it != dcs_.end() && it->second.status == s.status) {
      it->second.since = s.since;
      it->second.reason = s.reason;
    }
  }
  r.changes = changes_since(before, now, /*restored=*/true);
  return r;
}

Changes HealthState::assume_up(SystemTime now) {
  const Before before = snapshot();
  for (auto& [id, c] : checks_) {
    if (c.automatic || c.measured.state != State::kUnknown) continue;
    c.measured = CheckState{State::kUp, 0, 0};
    if (!c.forced) {
      c.since = now;
      c.reason = "startup policy assumeUp";
    }
  }
  Changes ignored;
  evaluate_all(now, ignored);
  return changes_since(before, now, /*restored=*/false);
}

HealthState::Before HealthState::snapshot() const {
  Before b;
  for (const auto& [id, c] : checks_) b.checks.emplace(id, c.effective());
  for (const auto& [name, dc] : dcs_) b.dcs.emplace(name, dc.status);
  return b;
}

Changes HealthState::changes_since(const Before& before, SystemTime now, bool restored) const {
  Changes out;
  for (const auto& [id, c] : checks_) {
    auto it = before.checks.find(id);
    const State from = it == before.checks.end() ? State::kUnknown : it->second;
    if (from != c.effective()) out.checks.push_back(VerdictChange{id, from, c.effective(), now, c.reason, false, restored});
  }
  for (const auto& [name, dc] : dcs_) {
    auto it = before.dcs.find(name);
    const DcStatus from = it == before.dcs.end() ? DcStatus::kUnknown : it->second;
    if (from != dc.status) out.datacenters.push_back(DcChange{name, from, dc.status, now, dc.reason, restored});
  }
  return out;
}

Changes HealthState::record(const std::string& id, const ProbeResult& result, SystemTime now) {
  Changes out;
  auto it = checks_.find(id);
  if (it == checks_.end() || it->second.automatic || !it->second.spec) return out;
  CheckInfo& info = it->second;
  ++info.probes;
  if (!result.up) ++info.failures;
  info.recent.push_back(ResultRecord{now, result.up, result.reason, result.latency});
  while (info.recent.size() > CheckInfo::kRecent) info.recent.pop_front();

  const State before = info.effective();
  const Transition t = next(info.measured, result.up ? Observation::kSuccess : Observation::kFailure,
                            info.spec->thresholds);
  info.measured = t.state;
  if (!t.changed) return out;
  ++info.transitions;
  const std::uint32_t run = result.up ? t.state.successes : t.state.failures;
  std::string reason = std::to_string(run) + (result.up ? " consecutive success" : " consecutive failure") +
                       (run == 1 ? "" : "s");
  if (!result.reason.empty()) reason += ": " + result.reason;
  if (info.effective() == before) {
    out.checks.push_back(VerdictChange{id, t.from, t.to, now, reason, true});
    return out;
  }
  note_change(info, before, reason, now, out);
  propagate(id, now, out);
  return out;
}

std::optional<Changes> HealthState::force(const std::string& id, std::optional<State> state, SystemTime now) {
  auto it = checks_.find(id);
  if (it == checks_.end()) return std::nullopt;
  Changes out;
  CheckInfo& info = it->second;
  const State before = info.effective();
  info.forced = state;
  const std::string reason =
      state ? std::string("forced ") + to_string(*state) + " by an operator" : "force cleared by an operator";
  if (info.effective() != before) {
    note_change(info, before, reason, now, out);
    propagate(id, now, out);
  } else {
    info.reason = reason;  // still worth seeing in the check's details
  }
  return out;
}

std::optional<Changes> HealthState::set_maintenance(const std::string& dc, bool on, SystemTime now,
                                                     std::optional<SystemTime> until, std::string by,
                                                     std::string note) {
  auto it = dcs_.find(dc);
  if (it == dcs_.end()) return std::nullopt;
  Changes out;
  DcInfo& info = it->second;
  info.maintenance = on;
  info.maintenance_until = until;
  info.maintenance_by = std::move(by);
  info.maintenance_note = std::move(note);
  std::string reason = on ? "maintenance mode on" : "maintenance mode off";
  if (!info.maintenance_by.empty()) reason += " by " + info.maintenance_by;
  if (!info.maintenance_note.empty()) reason += " (" + info.maintenance_note + ")";
  set_automatic(checks_[maintenance_id(dc)], on ? State::kUp : State::kDown, reason, now, out);
  evaluate_dc(info, reason, now, out);
  return out;
}

Changes HealthState::expire_maintenance(SystemTime now) {
  Changes out;
  for (auto& [name, dc] : dcs_) {
    if (!dc.maintenance_until || *dc.maintenance_until > now) continue;
    const bool on = dc.spec.maintenance;  // back to what the file says
    dc.maintenance = on;
    dc.maintenance_until.reset();
    dc.maintenance_by.clear();
    dc.maintenance_note.clear();
    const std::string reason = on ? "operator maintenance expired; maintenanceMode of the file applies"
                                  : "maintenance mode expired";
    set_automatic(checks_[maintenance_id(name)], on ? State::kUp : State::kDown, reason, now, out);
    evaluate_dc(dc, reason, now, out);
  }
  return out;
}

std::optional<SystemTime> HealthState::next_maintenance_expiry() const {
  std::optional<SystemTime> next;
  for (const auto& [name, dc] : dcs_)
    if (dc.maintenance_until && (!next || *dc.maintenance_until < *next)) next = dc.maintenance_until;
  return next;
}

const CheckInfo* HealthState::check(const std::string& id) const {
  auto it = checks_.find(id);
  return it == checks_.end() ? nullptr : &it->second;
}

State HealthState::effective(const std::string& id) const {
  const CheckInfo* c = check(id);
  return c ? c->effective() : State::kUnknown;
}

const DcInfo* HealthState::datacenter(const std::string& dc) const {
  auto it = dcs_.find(dc);
  return it == dcs_.end() ? nullptr : &it->second;
}

void HealthState::set_automatic(CheckInfo& info, State measured, const std::string& reason, SystemTime now,
                                Changes& out) {
  const State before = info.effective();
  if (info.measured.state != measured) {
    info.measured.state = measured;
    ++info.transitions;
  }
  if (info.effective() != before) note_change(info, before, reason, now, out);
}

void HealthState::note_change(CheckInfo& info, State before, const std::string& reason, SystemTime now,
                              Changes& out) {
  info.since = now;
  info.reason = reason;
  out.checks.push_back(VerdictChange{info.id, before, info.effective(), now, reason, false});
}

void HealthState::propagate(const std::string& id, SystemTime now, Changes& out) {
  if (auto owner = automatic_dc_.find(id); owner != automatic_dc_.end()) {
    // A forced automatic check: its DC's status may move.
    if (auto dc = dcs_.find(owner->second); dc != dcs_.end()) evaluate_dc(dc->second, id, now, out);
    return;
  }
  auto deps = dependents_.find(id);
  if (deps == dependents_.end()) return;
  for (const Dependent& d : deps->second) {
    DcInfo& dc = dcs_[d.dc];
    CheckInfo& agg = checks_[auto_id(d.dc, d.dimension)];
    const State before = agg.effective();
    const State s = dimension_state(dc.spec.dimensions[index(d.dimension)],
                                    [this](const std::string& t) { return effective(t); });
    set_automatic(agg, s, dimension_reason(dc, d.dimension), now, out);
    if (agg.effective() != before) evaluate_dc(dc, agg.id, now, out);
  }
}

void HealthState::evaluate_dc(DcInfo& dc, const std::string& cause, SystemTime now, Changes& out) {
  std::array<State, kDimensions> dims{};
  for (Dimension d : kAllDimensions) dims[index(d)] = effective(auto_id(dc.spec.name, d));
  dc.dimensions = dims;
  const bool maintenance = effective(maintenance_id(dc.spec.name)) == State::kUp;
  const DcStatus status = dc_status(dims, maintenance);
  if (status == dc.status) return;
  std::string reason;
  switch (status) {
    case DcStatus::kMaintenance: reason = checks_[maintenance_id(dc.spec.name)].reason; break;
    // Leaving maintenance: the cause (who ended it, or its expiry) says more than the dimensions.
    case DcStatus::kOk: reason = dc.status == DcStatus::kMaintenance ? cause : "every dimension up"; break;
    case DcStatus::kUnknown: reason = "waiting for results"; break;
    case DcStatus::kNoAccess: reason = checks_[auto_id(dc.spec.name, Dimension::kAccess)].reason; break;
    case DcStatus::kNoWan: reason = checks_[auto_id(dc.spec.name, Dimension::kWanAccess)].reason; break;
    case DcStatus::kNoLan: reason = checks_[auto_id(dc.spec.name, Dimension::kLanAccess)].reason; break;
    case DcStatus::kNoInternet: reason = checks_[auto_id(dc.spec.name, Dimension::kInternet)].reason; break;
  }
  if (reason.empty()) reason = cause;
  out.datacenters.push_back(DcChange{dc.spec.name, dc.status, status, now, reason});
  dc.status = status;
  dc.since = now;
  dc.reason = reason;
}

std::string HealthState::dimension_reason(const DcInfo& dc, Dimension d) const {
  const DimensionSpec& dim = dc.spec.dimensions[index(d)];
  if (dim.targets.empty()) return std::string(to_string(d)) + ": no targets";
  std::size_t up = 0;
  std::string failing;
  for (const auto& t : dim.targets) {
    const CheckInfo* c = check(t);
    const State s = c ? c->effective() : State::kUnknown;
    if (s == State::kUp) {
      ++up;
      continue;
    }
    if (!failing.empty()) failing += "; ";
    failing += t + " " + to_string(s);
    if (c && !c->reason.empty()) failing += " (" + c->reason + ")";
  }
  const int need = std::clamp<int>(dim.min_up, 1, static_cast<int>(dim.targets.size()));
  std::string r = std::string(to_string(d)) + ": " + std::to_string(up) + " of " + std::to_string(dim.targets.size()) +
                  " targets up, " + std::to_string(need) + " needed";
  if (!failing.empty()) r += ": " + failing;
  return r;
}

}  // namespace pharos::health
