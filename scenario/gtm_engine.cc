// gtm_engine.cc: see gtm_engine.h.
#include "scenario/gtm_engine.h"

#include <algorithm>

#include "scenario/render.h"

namespace pharos::scenario {
GtmEngine::GtmEngine(uv_loop_t* loop, Publish publish, WallClock wall)
    : loop_(loop), publish_(std::move(publish)), wall_(std::move(wall)),
      window_(loop, [this] { flush("health change, debounced"); }) {}

GtmEngine::~GtmEngine() { stop(); }

void GtmEngine::stop() { window_.close(); }

std::unique_ptr<dns::DynamicChoices> GtmEngine::apply(const GtmConfig& gtm, std::size_t regions,
                                                      const health::HealthState& health) {
  // Selection memory follows a record across reloads while its name, type and chain DCs stay.
  std::map<std::string, RecordState> previous;
  for (std::size_t i = 0; i < gtm_.records.size() && i < state_.size(); ++i) {
    std::string id = gtm_.records[i].key();
    for (const auto& e : gtm_.records[i].chain) id += "|" + e.dc;
    previous.emplace(std::move(id), std::move(state_[i]));
  }
  gtm_ = gtm;
  if (gtm.debounce) debounce_ = *gtm.debounce;
  regions_ = std::max<std::size_t>(1, regions);
  region_names_.assign(1, "");
  for (const auto& r : gtm_.regions) region_names_.push_back(r.name);
  region_names_.resize(regions_);

  check_scenarios_.clear();
  scenario_records_.clear();
  dc_records_.clear();
  for (const auto& [name, s] : gtm_.scenarios)
    for (const auto& g : s.groups)
      for (const auto& t : g) check_scenarios_[t.check].insert(name);

  state_.assign(gtm_.records.size(), RecordState{});
  index_.clear();
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    const GtmRecord& r = gtm_.records[i];
    for (const auto& e : r.chain) {
      dc_records_[e.dc].insert(i);
      if (!e.scenario.empty()) scenario_records_[e.scenario].insert(i);
    }
    if (r.dr && !r.dr->dr_cond.empty()) scenario_records_[r.dr->dr_cond].insert(i);

    index_.emplace(r.key(), i);
    std::string id = r.key();
    for (const auto& e : r.chain) id += "|" + e.dc;
    RecordState& st = state_[i];
    if (auto it = previous.find(id); it != previous.end() && it->second.memory.size() == regions_) st = std::move(it->second);
    st.order.assign(regions_, {});
    for (std::size_t reg = 0; reg < regions_; ++reg) {
      auto geo = r.geo.find(region_names_[reg]);
      if (reg == 0 || geo == r.geo.end()) {
        for (std::size_t e = 0; e < r.chain.size(); ++e) st.order[reg].push_back(static_cast<int>(e));
        continue;
      }
      // The region's DC order; a DC it does not list is not used there.
      for (const auto& dc : geo->second)
        for (std::size_t e = 0; e < r.chain.size(); ++e)
          if (r.chain[e].dc == dc) st.order[reg].push_back(static_cast<int>(e));
    }
    st.memory.resize(regions_);
    st.current.resize(regions_);
    st.since.resize(regions_);
    st.selected.resize(regions_, false);
  }
  choices_.assign(gtm_.records.size() * regions_, 0);
  for (std::size_t i = 0; i < gtm_.records.size(); ++i)
    for (std::size_t reg = 0; reg < regions_; ++reg)
      if (state_[i].selected[reg]) choices_[i * regions_ + reg] = choice_of(gtm_.records[i], state_[i].current[reg]);
  if (saved_) {
    apply_saved(*saved_);
    saved_.reset();
  }
  refresh_inputs(health, nullptr);
  dirty_.clear();
  const SystemTime now = wall_();
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) select_record(i, now, "configuration");
  auto out = std::make_unique<dns::DynamicChoices>(gtm_.records.size(), regions_);
  for (std::size_t i = 0; i < gtm_.records.size(); ++i)
    for (std::size_t reg = 0; reg < regions_; ++reg) out->set(i, reg, choices_[i * regions_ + reg]);
  return out;
}

// Scenario values and DC states, with stuck-state protection. `changes` limits the work to what
// moved and marks the affected records dirty; null recomputes everything.
void GtmEngine::refresh_inputs(const health::HealthState& health, const health::Changes* changes) {
  auto state_of = [&health](const std::string& id) { return health.effective(id); };
  std::set<std::string> scenarios;
  if (changes == nullptr) {
    for (const auto& [name, s] : gtm_.scenarios) scenarios.insert(name);
  } else {
    for (const auto& c : changes->checks) {
      if (c.hidden_by_force) continue;
      if (auto it = check_scenarios_.find(c.id); it != check_scenarios_.end())
        scenarios.insert(it->second.begin(), it->second.end());
    }
  }
  for (const auto& name : scenarios) {
    const Truth t = evaluate(gtm_.scenarios.at(name), state_of);
    if (t != Truth::kUnknown) scenario_known_.insert(name);
    const bool before = scenario_value_.count(name) ? scenario_value_[name] : false;
    const bool after = settle(t, before);
    scenario_value_[name] = after;
    if (changes != nullptr && after != before)
      if (auto it = scenario_records_.find(name); it != scenario_records_.end()) dirty_.insert(it->second.begin(), it->second.end());
  }
  auto update_dc = [&](const std::string& dc) {
    const health::DcInfo* info = health.datacenter(dc);
    const health::DcStatus status = info ? info->status : health::DcStatus::kUnknown;
    if (status != health::DcStatus::kUnknown) dc_known_.insert(dc);
    const bool ok_before = dc_ok_.count(dc) ? dc_ok_[dc] : false;
    dc_ok_[dc] = status == health::DcStatus::kUnknown ? ok_before : status == health::DcStatus::kOk;
    dc_maintenance_[dc] = status == health::DcStatus::kMaintenance;
    if (changes != nullptr)
      if (auto it = dc_records_.find(dc); it != dc_records_.end()) dirty_.insert(it->second.begin(), it->second.end());
  };
  if (changes == nullptr) {
    for (const auto& [dc, records] : dc_records_) update_dc(dc);
  } else {
    for (const auto& d : changes->datacenters)
      if (dc_records_.count(d.dc)) update_dc(d.dc);
  }
}

bool GtmEngine::entry_healthy(const GtmRecord&, const ChainEntry& e) const {
  // Maintenance removes a DC from every answer, however healthy it is.
  if (auto m = dc_maintenance_.find(e.dc); m != dc_maintenance_.end() && m->second) return false;
  if (!e.scenario.empty()) {
    auto it = scenario_value_.find(e.scenario);
    return it != scenario_value_.end() && it->second;
  }
  auto it = dc_ok_.find(e.dc);
  return it != dc_ok_.end() && it->second;
}

bool GtmEngine::entry_known(const ChainEntry& e) const {
  return e.scenario.empty() ? dc_known_.count(e.dc) > 0 : scenario_known_.count(e.scenario) > 0;
}

std::uint32_t GtmEngine::choice_of(const GtmRecord& r, const Selection& s) const {
  switch (s.source) {
    case Source::kChain:
    case Source::kFailOpen: return static_cast<std::uint32_t>(s.entry);
    case Source::kDr: return static_cast<std::uint32_t>(dr_alternative(r));
    case Source::kFallback: return static_cast<std::uint32_t>(fallback_alternative(r));
    case Source::kNoData: return dns::kChoiceNoData;
    case Source::kServFail: return dns::kChoiceServFail;
    case Source::kRefused: return dns::kChoiceRefused;
  }
  return 0;
}

std::string GtmEngine::describe(const GtmRecord& r, const Selection& s) const {
  if (s.source == Source::kChain || s.source == Source::kFailOpen)
    return std::string(s.source == Source::kFailOpen ? "failOpen " : "") + "entry " + std::to_string(s.entry) + " (" +
           r.chain[static_cast<std::size_t>(s.entry)].dc + ")";
  return to_string(s.source);
}

bool GtmEngine::select_record(std::size_t i, SystemTime now, const std::string& cause) {
  const GtmRecord& r = gtm_.records[i];
  RecordState& st = state_[i];
  std::vector<bool> healthy(r.chain.size()), known(r.chain.size());
  for (std::size_t e = 0; e < r.chain.size(); ++e) {
    healthy[e] = entry_healthy(r, r.chain[e]);
    known[e] = entry_known(r.chain[e]);
  }
  bool dr_cond = false;
  if (r.dr && !r.dr->dr_cond.empty()) {
    auto it = scenario_value_.find(r.dr->dr_cond);
    dr_cond = it != scenario_value_.end() && it->second;
  }
  bool changed = false;
  // Without a geo order every region answers alike: decide once, in region 0, and share it.
  const std::size_t decided = r.geo.empty() ? 1 : regions_;
  for (std::size_t reg = decided; reg < regions_; ++reg) choices_[i * regions_ + reg] = choices_[i * regions_];
  for (std::size_t reg = 0; reg < decided; ++reg) {
    // Stuck-state protection: never move past an entry that has had no result yet. Before the
    // first selection answer the first entry not known to be down (as if the unknown were up);
    // afterwards keep the current answer until that entry reports.
    int waiting_for = -1;
    for (int idx : st.order[reg]) {
      if (!known[static_cast<std::size_t>(idx)]) {
        waiting_for = idx;
        break;
      }
      if (healthy[static_cast<std::size_t>(idx)]) break;
    }
    Selection s;
    const bool restored_only = st.selected[reg] && st.current[reg].reason.empty();  // saved state, not yet chosen here
    if (waiting_for >= 0 && st.selected[reg] && !restored_only) {
      continue;  // keep the current answer
    } else if (waiting_for >= 0 && restored_only && st.memory[reg].serving >= 0) {
      // Restored state: keep the entry that was serving before the restart.
      const int serving = st.memory[reg].serving;
      s = Selection{Source::kChain, serving, &r.chain[static_cast<std::size_t>(serving)].rdata,
                    "serving before the restart; waiting for the first health results of " +
                        r.chain[static_cast<std::size_t>(waiting_for)].dc};
    } else if (waiting_for >= 0) {
      s = Selection{Source::kChain, waiting_for, &r.chain[static_cast<std::size_t>(waiting_for)].rdata,
                    "waiting for the first health results of " + r.chain[static_cast<std::size_t>(waiting_for)].dc};
    } else {
      s = select(r, st.order[reg], healthy, dr_cond, st.memory[reg], now, &known);
      st.selected[reg] = true;
    }
    const std::uint32_t choice = choice_of(r, s);
    std::uint32_t& slot = choices_[i * regions_ + reg];
    const bool first_time = st.since[reg] == SystemTime{};
    if (choice != slot || first_time) {
      if (!first_time && audit_) {
        audit_(AnswerChange{r.key(), region_names_[reg], describe(r, st.current[reg]), describe(r, s),
                            s.reason + " (" + cause + ")", now});
      }
      changed = changed || choice != slot || first_time;
      slot = choice;
      st.since[reg] = now;
    }
    st.current[reg] = s;
  }
  for (std::size_t reg = decided; reg < regions_; ++reg) {
    choices_[i * regions_ + reg] = choices_[i * regions_];
    st.current[reg] = st.current[0];
    st.since[reg] = st.since[0];
  }
  return changed;
}

void GtmEngine::on_health(const health::Changes& changes, const health::HealthState& health) {
  refresh_inputs(health, &changes);
  if (dirty_.empty()) return;
  if (debounce_.count() == 0) {
    flush("health change");
    return;
  }
  window_.open(debounce_);  // a change inside an open window joins it
}

void GtmEngine::flush_now(const std::string& cause) {
  if (!dirty_.empty()) flush(cause);
}

std::vector<GtmEngine::ScenarioView> GtmEngine::scenarios() const {
  std::vector<ScenarioView> out;
  for (const auto& [name, spec] : gtm_.scenarios) {
    auto v = scenario_value_.find(name);
    out.push_back(ScenarioView{name, scenario_formula(spec), v != scenario_value_.end() && v->second,
                               scenario_known_.count(name) > 0});
  }
  return out;
}

void GtmEngine::flush(const std::string& cause) {
  const SystemTime now = wall_();
  bool changed = false;
  for (std::size_t i : dirty_) changed = select_record(i, now, cause) || changed;
  dirty_.clear();
  if (changed) publish();
  if (on_selection_) on_selection_();
}

void GtmEngine::publish() {
  auto c = std::make_unique<dns::DynamicChoices>(gtm_.records.size(), regions_);
  for (std::size_t i = 0; i < gtm_.records.size(); ++i)
    for (std::size_t reg = 0; reg < regions_; ++reg) c->set(i, reg, choices_[i * regions_ + reg]);
  ++publishes_;
  publish_(std::move(c));
}

bool GtmEngine::resume(const std::string& key, const std::string& dc) {
  bool any = false;
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    const GtmRecord& r = gtm_.records[i];
    if (r.key() != key) continue;
    for (auto& memory : state_[i].memory)
      for (std::size_t e = 0; e < r.chain.size(); ++e)
        if (r.chain[e].dc == dc) any = scenario::resume(memory, static_cast<int>(e)) || any;
    if (any && select_record(i, wall_(), "resumed by an operator")) publish();
  }
  if (any && on_selection_) on_selection_();
  return any;
}

std::string scenario_formula(const ScenarioSpec& scenario) {
  std::string out;
  for (const auto& group : scenario.groups) {
    if (!out.empty()) out += '|';
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (i > 0) out += '&';
      out += group[i].negated ? "!" + group[i].check : group[i].check;
    }
  }
  return out;
}

SavedGtm GtmEngine::save() const {
  SavedGtm out;
  for (const auto& name : scenario_known_) {
    auto spec = gtm_.scenarios.find(name);
    auto value = scenario_value_.find(name);
    if (spec == gtm_.scenarios.end() || value == scenario_value_.end()) continue;
    out.scenarios.push_back(SavedScenario{name, scenario_formula(spec->second), value->second});
  }
  for (const auto& dc : dc_known_)
    if (auto it = dc_ok_.find(dc); it != dc_ok_.end()) out.dc_ok.emplace(dc, it->second);
  out.records.reserve(gtm_.records.size());
  for (std::size_t i = 0; i < gtm_.records.size() && i < state_.size(); ++i) {
    const RecordState& st = state_[i];
    SavedRecord r;
    r.key = gtm_.records[i].key();
    for (const auto& e : gtm_.records[i].chain) r.chain.push_back(e.dc);
    for (std::size_t reg = 0; reg < regions_ && reg < st.memory.size(); ++reg)
      if (st.selected[reg]) r.regions.push_back(SavedRegion{region_names_[reg], st.memory[reg]});
    if (!r.regions.empty()) out.records.push_back(std::move(r));
  }
  return out;
}

void GtmEngine::apply_saved(const SavedGtm& saved) {
  for (const auto& s : saved.scenarios) {
    auto spec = gtm_.scenarios.find(s.name);
    if (spec == gtm_.scenarios.end() || scenario_formula(spec->second) != s.formula) continue;
    scenario_value_[s.name] = s.value;
    scenario_known_.insert(s.name);
  }
  for (const auto& [dc, ok] : saved.dc_ok) {
    if (dc_records_.count(dc) == 0) continue;
    dc_ok_[dc] = ok;
    dc_known_.insert(dc);
  }
  std::map<std::string, const SavedRecord*> by_id;
  for (const auto& r : saved.records) {
    std::string id = r.key;
    for (const auto& dc : r.chain) id += "|" + dc;
    by_id.emplace(std::move(id), &r);
  }
  restored_records_ = 0;
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    const GtmRecord& r = gtm_.records[i];
    std::string id = r.key();
    for (const auto& e : r.chain) id += "|" + e.dc;
    auto found = by_id.find(id);
    RecordState& st = state_[i];
    if (found == by_id.end() || std::find(st.selected.begin(), st.selected.end(), true) != st.selected.end()) continue;
    bool any = false;
    for (const SavedRegion& sr : found->second->regions) {
      const SelectionMemory& m = sr.memory;
      // Memory is by chain index: only a memory of this chain's length means anything here.
      if (m.entries.size() != r.chain.size() || m.serving < -1 || m.serving >= static_cast<int>(r.chain.size())) continue;
      auto reg = std::find(region_names_.begin(), region_names_.end(), sr.region);
      if (reg == region_names_.end()) continue;
      const auto index = static_cast<std::size_t>(reg - region_names_.begin());
      st.memory[index] = m;
      st.selected[index] = true;
      any = true;
    }
    restored_records_ += any ? 1 : 0;
  }
}

std::vector<GtmEngine::RecordView> GtmEngine::view() const {
  std::vector<RecordView> out;
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    RecordView v;
    v.record = &gtm_.records[i];
    for (std::size_t reg = 0; reg < regions_; ++reg)
      v.regions.push_back(RegionView{region_names_[reg], state_[i].current[reg], state_[i].since[reg]});
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<std::size_t> GtmEngine::record_index(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::optional<Explanation> GtmEngine::explain(const std::string& key, std::size_t region,
                                              const health::HealthState& health) const {
  const auto i = record_index(key);
  if (!i || region >= regions_ || *i >= state_.size()) return std::nullopt;
  const GtmRecord& r = gtm_.records[*i];
  const RecordState& st = state_[*i];
  Explanation x;
  x.record = key;
  x.region = region_names_[region];
  x.selection = st.current[region];
  x.since = st.since[region];
  const Selection& s = x.selection;
  if ((s.source == Source::kChain || s.source == Source::kFailOpen) && s.entry >= 0 &&
      static_cast<std::size_t>(s.entry) < r.chain.size()) {
    x.dc = r.chain[static_cast<std::size_t>(s.entry)].dc;
    x.scenario = r.chain[static_cast<std::size_t>(s.entry)].scenario;
  }
  // Records without a geo order decide once, in region 0, for every region.
  const std::size_t decided = r.geo.empty() ? 0 : region;
  const SelectionMemory& memory = st.memory[decided];
  for (int idx : st.order[region]) {
    EntryWhy e;
    e.index = idx;
    e.healthy = entry_healthy(r, r.chain[static_cast<std::size_t>(idx)]);
    e.serving = s.source == Source::kChain && s.entry == idx;
    e.held = static_cast<std::size_t>(idx) < memory.entries.size() && memory.entries[static_cast<std::size_t>(idx)].held;
    describe_entry(e, r, health, gtm_.scenarios);
    x.entries.push_back(std::move(e));
  }
  x.rto = record_rto(r, health, gtm_.scenarios, debounce_);
  return x;
}

}  // namespace pharos::scenario
