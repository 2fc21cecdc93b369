// gtm_engine.cc: see gtm_engine.h.
#include "scenario/gtm_engine.h"

#include <algorithm>
#include <atomic>
#include <tuple>
#include <unordered_map>

#include "scenario/render.h"

namespace pharos::scenario {
GtmEngine::GtmEngine(uv_loop_t* loop, Publish publish, WallClock wall)
    : loop_(loop), publish_(std::move(publish)), wall_(std::move(wall)),
      window_(loop, [this] { flush("health change, debounced"); }) {}

GtmEngine::~GtmEngine() { stop(); }

void GtmEngine::stop() { window_.close(); }

namespace {

// A record's identity across reloads and restarts: its key and its chain's DCs (memory is by
// chain index).
std::string memory_id(const std::string& key, const std::vector<ChainEntry>& chain) {
  std::string id = key;
  for (const auto& e : chain) {
    id += '|';
    id += e.dc;
  }
  return id;
}

}  // namespace

std::unique_ptr<dns::DynamicChoices> GtmEngine::apply(GtmConfig gtm, std::size_t regions,
                                                      const health::HealthState& health) {
  const std::size_t new_regions = std::max<std::size_t>(1, regions);
  // Selection memory follows a record across reloads while its name, type and chain DCs stay
  // (and the number of regions does).
  std::unordered_map<std::string, std::size_t> previous;
  const std::size_t old_regions = regions_;
  if (old_regions == new_regions) {
    previous.reserve(gtm_.records.size());
    for (std::size_t i = 0; i < gtm_.records.size() && names_ && i < names_->records.size(); ++i)
      previous.emplace(memory_id(names_->records[i], gtm_.records[i].chain), i);
  }
  // Scenario values and DC states carry over by name (stuck-state protection across a reload).
  std::unordered_map<std::string, std::pair<char, char>> old_scenarios, old_dcs;
  for (std::size_t s = 0; s < scenario_names_.size(); ++s)
    old_scenarios.emplace(scenario_names_[s], std::pair{scenario_value_[s], scenario_known_[s]});
  for (std::size_t d = 0; d < dc_names_.size(); ++d) old_dcs.emplace(dc_names_[d], std::pair{dc_ok_[d], dc_known_[d]});

  index_.clear();
  gtm_ = std::move(gtm);
  if (gtm_.debounce) debounce_ = *gtm_.debounce;
  regions_ = new_regions;
  region_names_.assign(1, "");
  for (const auto& r : gtm_.regions) region_names_.push_back(r.name);
  region_names_.resize(regions_);
  // New names: rounds still held by the audit keep the old ones.
  names_ = std::make_shared<AnswerRound::Names>();
  names_->regions = region_names_;
  std::vector<std::string>& keys = names_->records;

  // Scenario IDs: the config's, then names records use that it lacks.
  scenario_names_.clear();
  scenario_specs_.clear();
  std::unordered_map<std::string, std::int32_t> scenario_ids;
  for (const auto& [name, spec] : gtm_.scenarios) {
    scenario_ids.emplace(name, static_cast<std::int32_t>(scenario_names_.size()));
    scenario_names_.push_back(name);
    scenario_specs_.push_back(&spec);
  }
  auto scenario_id = [&](const std::string& name) {
    auto [it, added] = scenario_ids.emplace(name, static_cast<std::int32_t>(scenario_names_.size()));
    if (added) {
      scenario_names_.push_back(name);
      scenario_specs_.push_back(nullptr);
    }
    return it->second;
  };
  check_scenarios_.clear();
  for (std::size_t s = 0; s < scenario_specs_.size(); ++s)
    for (const auto& g : scenario_specs_[s]->groups)
      for (const auto& t : g) {
        auto& list = check_scenarios_[t.check];
        if (std::find(list.begin(), list.end(), static_cast<std::int32_t>(s)) == list.end())
          list.push_back(static_cast<std::int32_t>(s));
      }

  dc_names_.clear();
  dc_ids_.clear();
  labels_.clear();
  auto dc_id = [&](const std::string& name) {
    auto [it, added] = dc_ids_.emplace(name, static_cast<std::int32_t>(dc_names_.size()));
    if (added) dc_names_.push_back(name);
    return it->second;
  };

  const std::size_t n = gtm_.records.size();
  keys.reserve(n);
  info_.assign(n, RecordInfo{});
  entries_.clear();
  geo_orders_.clear();
  identity_.clear();
  scenario_records_.clear();
  dc_records_.clear();
  auto add_record = [](std::vector<std::vector<std::uint32_t>>& lists, std::size_t id, std::uint32_t record) {
    if (lists.size() <= id) lists.resize(id + 1);
    auto& list = lists[id];
    if (list.empty() || list.back() != record) list.push_back(record);  // records arrive in order
  };
  for (std::size_t i = 0; i < n; ++i) {
    const GtmRecord& r = gtm_.records[i];
    const auto rec = static_cast<std::uint32_t>(i);
    keys.push_back(r.key());
    RecordInfo& info = info_[i];
    info.entries = static_cast<std::uint32_t>(entries_.size());
    info.size = static_cast<std::uint32_t>(r.chain.size());
    for (const auto& e : r.chain) {
      EntryRef ref;
      ref.dc = dc_id(e.dc);
      add_record(dc_records_, static_cast<std::size_t>(ref.dc), rec);
      if (!e.scenario.empty()) {
        ref.scenario = scenario_id(e.scenario);
        add_record(scenario_records_, static_cast<std::size_t>(ref.scenario), rec);
      }
      entries_.push_back(ref);
    }
    if (r.dr && !r.dr->dr_cond.empty()) {
      info.dr_cond = scenario_id(r.dr->dr_cond);
      add_record(scenario_records_, static_cast<std::size_t>(info.dr_cond), rec);
    }
    if (identity_.size() <= r.chain.size()) {
      const std::size_t from = identity_.size();
      identity_.resize(r.chain.size() + 1);
      for (std::size_t k = from; k < identity_.size(); ++k)
        for (std::size_t e = 0; e < k; ++e) identity_[k].push_back(static_cast<int>(e));
    }
    info.geo = !r.geo.empty();
    if (info.geo) {
      info.orders = static_cast<std::uint32_t>(geo_orders_.size());
      for (std::size_t reg = 0; reg < regions_; ++reg) {
        std::vector<int> o;
        auto geo = r.geo.find(region_names_[reg]);
        if (reg == 0 || geo == r.geo.end()) {
          o = identity_[r.chain.size()];
        } else {
          // The region's DC order; a DC it does not list is not used there.
          for (const auto& dc : geo->second)
            for (std::size_t e = 0; e < r.chain.size(); ++e)
              if (r.chain[e].dc == dc) o.push_back(static_cast<int>(e));
        }
        geo_orders_.push_back(std::move(o));
      }
    }
  }
  index_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) index_.emplace(keys[i], static_cast<std::uint32_t>(i));
  scenario_records_.resize(scenario_names_.size());
  dc_records_.resize(dc_names_.size());

  scenario_value_.assign(scenario_names_.size(), 0);
  scenario_known_.assign(scenario_names_.size(), 0);
  for (std::size_t s = 0; s < scenario_names_.size(); ++s)
    if (auto it = old_scenarios.find(scenario_names_[s]); it != old_scenarios.end())
      std::tie(scenario_value_[s], scenario_known_[s]) = it->second;
  dc_ok_.assign(dc_names_.size(), 0);
  dc_known_.assign(dc_names_.size(), 0);
  dc_maintenance_.assign(dc_names_.size(), 0);
  for (std::size_t d = 0; d < dc_names_.size(); ++d)
    if (auto it = old_dcs.find(dc_names_[d]); it != old_dcs.end()) std::tie(dc_ok_[d], dc_known_[d]) = it->second;
  scenario_touched_.assign(scenario_names_.size(), 0);

  // Each slot's state, by slot: carried over from the previous configuration, then restored.
  std::vector<RegionState> state(n * regions_);
  for (std::size_t i = 0; i < n; ++i) {
    if (previous.empty()) break;
    auto it = previous.find(memory_id(keys[i], gtm_.records[i].chain));
    if (it == previous.end()) continue;
    for (std::size_t reg = 0; reg < regions_; ++reg)
      state[i * regions_ + reg] = units_[slot_unit_[it->second * old_regions + reg]].state;
  }
  previous = {};
  units_.clear();
  slot_unit_.clear();
  if (saved_) {
    apply_saved(*saved_, state);
    saved_.reset();
  }
  build_units(std::move(state));
  dirty_.assign((n + 63) / 64, 0);
  dirty_count_ = 0;
  refresh_inputs(health, nullptr);
  const SystemTime now = wall_();
  moved_.clear();
  ++round_;
  for (std::size_t i = 0; i < n; ++i) select_record(i, now);
  report("configuration", now);
  return std::make_unique<dns::DynamicChoices>(regions_, choices_);
}

void GtmEngine::mark_dirty(const std::vector<std::uint32_t>& records) {
  for (const std::uint32_t i : records) {
    std::uint64_t& word = dirty_[i >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (i & 63);
    if ((word & bit) == 0) {
      word |= bit;
      ++dirty_count_;
    }
  }
}

// Scenario values and DC states, with stuck-state protection. `changes` limits the work to what
// moved and marks the affected records dirty; null recomputes everything.
void GtmEngine::refresh_inputs(const health::HealthState& health, const health::Changes* changes) {
  auto state_of = [&health](const std::string& id) { return health.effective(id); };
  scenario_work_.clear();
  if (changes == nullptr) {
    for (std::size_t s = 0; s < scenario_specs_.size(); ++s)
      if (scenario_specs_[s] != nullptr) scenario_work_.push_back(static_cast<std::int32_t>(s));
  } else {
    for (const auto& c : changes->checks) {
      if (c.hidden_by_force) continue;
      auto it = check_scenarios_.find(c.id);
      if (it == check_scenarios_.end()) continue;
      for (const std::int32_t s : it->second) {
        if (scenario_touched_[static_cast<std::size_t>(s)]) continue;
        scenario_touched_[static_cast<std::size_t>(s)] = 1;
        scenario_work_.push_back(s);
      }
    }
    std::sort(scenario_work_.begin(), scenario_work_.end());
  }
  for (const std::int32_t id : scenario_work_) {
    const auto s = static_cast<std::size_t>(id);
    scenario_touched_[s] = 0;
    const Truth t = evaluate(*scenario_specs_[s], state_of);
    if (t != Truth::kUnknown) scenario_known_[s] = 1;
    const bool before = scenario_value_[s] != 0;
    const bool after = settle(t, before);
    scenario_value_[s] = after ? 1 : 0;
    if (changes != nullptr && after != before) mark_dirty(scenario_records_[s]);
  }
  auto update_dc = [&](std::size_t d) {
    const health::DcInfo* info = health.datacenter(dc_names_[d]);
    const health::DcStatus status = info ? info->status : health::DcStatus::kUnknown;
    if (status != health::DcStatus::kUnknown) {
      dc_known_[d] = 1;
      dc_ok_[d] = status == health::DcStatus::kOk ? 1 : 0;
    }
    dc_maintenance_[d] = status == health::DcStatus::kMaintenance ? 1 : 0;
    if (changes != nullptr) mark_dirty(dc_records_[d]);
  };
  if (changes == nullptr) {
    for (std::size_t d = 0; d < dc_names_.size(); ++d) update_dc(d);
  } else {
    for (const auto& c : changes->datacenters)
      if (auto it = dc_ids_.find(c.dc); it != dc_ids_.end()) update_dc(static_cast<std::size_t>(it->second));
  }
}

bool GtmEngine::entry_healthy(std::size_t record, std::size_t entry) const {
  const EntryRef& e = entries_[info_[record].entries + entry];
  // Maintenance removes a DC from every answer, however healthy it is.
  if (dc_maintenance_[static_cast<std::size_t>(e.dc)]) return false;
  if (e.scenario >= 0) return scenario_value_[static_cast<std::size_t>(e.scenario)] != 0;
  return dc_ok_[static_cast<std::size_t>(e.dc)] != 0;
}

bool GtmEngine::entry_known(std::size_t record, std::size_t entry) const {
  const EntryRef& e = entries_[info_[record].entries + entry];
  return e.scenario >= 0 ? scenario_known_[static_cast<std::size_t>(e.scenario)] != 0
                         : dc_known_[static_cast<std::size_t>(e.dc)] != 0;
}

const std::vector<int>& GtmEngine::order(std::size_t record, std::size_t region) const {
  const RecordInfo& info = info_[record];
  return info.geo ? geo_orders_[info.orders + region] : identity_[info.size];
}

std::uint32_t GtmEngine::choice_of(const GtmRecord& r, const Decision& d) const {
  switch (d.source) {
    case Source::kChain:
    case Source::kFailOpen: return static_cast<std::uint32_t>(d.entry);
    case Source::kDr: return static_cast<std::uint32_t>(dr_alternative(r));
    case Source::kFallback: return static_cast<std::uint32_t>(fallback_alternative(r));
    case Source::kNoData: return dns::kChoiceNoData;
    case Source::kServFail: return dns::kChoiceServFail;
    case Source::kRefused: return dns::kChoiceRefused;
  }
  return 0;
}

Selection GtmEngine::selection(std::size_t record, std::size_t region) const {
  const std::size_t decided = decided_region(record, region);
  const RegionState& st = state(record, region);
  return selection_of(gtm_.records[record], st.decision, order(record, decided), st.memory);
}

void GtmEngine::decide_unit(Unit& u, SystemTime now) {
  u.round = round_;
  u.moved = false;
  u.audit = false;
  u.from = u.state.decision;
  const Shape& shape = shapes_[u.shape];
  const std::size_t i = shape.record;
  const GtmRecord& r = gtm_.records[i];
  const RecordInfo& info = info_[i];
  healthy_.assign(info.size, false);
  known_.assign(info.size, false);
  for (std::size_t e = 0; e < info.size; ++e) {
    healthy_[e] = entry_healthy(i, e);
    known_[e] = entry_known(i, e);
  }
  const bool dr_cond = info.dr_cond >= 0 && scenario_value_[static_cast<std::size_t>(info.dr_cond)] != 0;
  RegionState& st = u.state;
  const std::vector<int>& o = order(i, shape.region);
  // Stuck-state protection: never move past an entry that has had no result yet. Before the
  // first selection answer the first entry not known to be down (as if the unknown were up);
  // afterwards keep the current answer until that entry reports.
  int waiting_for = -1;
  for (int idx : o) {
    if (!known_[static_cast<std::size_t>(idx)]) {
      waiting_for = idx;
      break;
    }
    if (healthy_[static_cast<std::size_t>(idx)]) break;
  }
  Decision d;
  const bool restored_only = st.selected && st.decision.why == Why::kNone;  // saved state, not yet chosen here
  if (waiting_for >= 0 && st.selected && !restored_only) {
    return;  // keep the current answer
  } else if (waiting_for >= 0 && restored_only && st.memory.serving >= 0) {
    // Restored state: keep the entry that was serving before the restart.
    d = Decision{Source::kChain, Why::kRestoredWaiting, st.memory.serving, waiting_for};
  } else if (waiting_for >= 0) {
    d = Decision{Source::kChain, Why::kWaiting, waiting_for, waiting_for};
  } else {
    d = decide(r, o, healthy_, dr_cond, st.memory, now, &known_);
    st.selected = true;
  }
  const std::uint32_t choice = choice_of(r, d);
  const bool first_time = st.since == SystemTime{};
  if (choice != u.choice || first_time) {
    u.moved = true;
    u.audit = !first_time && audit_;
    u.choice = choice;
    st.since = now;
  }
  st.decision = d;
}

bool GtmEngine::select_record(std::size_t i, SystemTime now) {
  ++record_selections_;
  bool changed = false;
  // Without a geo order every region answers alike: decided once, in region 0, and shared.
  const bool geo = info_[i].geo;
  const std::size_t decided = geo ? regions_ : 1;
  std::uint32_t* slots = &choices_[i * regions_];
  for (std::size_t reg = 0; reg < decided; ++reg) {
    Unit& u = unit(i, reg);
    if (u.round != round_) decide_unit(u, now);
    if (!u.moved) continue;
    changed = true;
    slots[reg] = u.choice;
    if (u.audit) moved_.push_back(Moved{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(reg)});
  }
  if (changed && !geo)
    for (std::size_t reg = 1; reg < regions_; ++reg) slots[reg] = slots[0];
  return changed;
}

void GtmEngine::on_health(const health::Changes& changes, const health::HealthState& health) {
  refresh_inputs(health, &changes);
  if (dirty_count_ == 0) return;
  if (debounce_.count() == 0) {
    flush("health change");
    return;
  }
  window_.open(debounce_);  // a change inside an open window joins it
}

void GtmEngine::flush_now(const std::string& cause) {
  if (dirty_count_ > 0) flush(cause);
}

std::vector<GtmEngine::ScenarioView> GtmEngine::scenarios() const {
  std::vector<ScenarioView> out;
  for (std::size_t s = 0; s < scenario_specs_.size(); ++s) {
    if (scenario_specs_[s] == nullptr) continue;
    out.push_back(ScenarioView{scenario_names_[s], scenario_formula(*scenario_specs_[s]), scenario_value_[s] != 0,
                               scenario_known_[s] != 0});
  }
  return out;
}

void GtmEngine::flush(const std::string& cause) {
  const SystemTime now = wall_();
  bool changed = false;
  moved_.clear();
  ++round_;
  // The dirty records in record order, one bitmap word at a time.
  for (std::size_t w = 0; w < dirty_.size(); ++w) {
    std::uint64_t word = dirty_[w];
    if (word == 0) continue;
    dirty_[w] = 0;
    while (word != 0) {
      const std::size_t i = w * 64 + static_cast<std::size_t>(__builtin_ctzll(word));
      word &= word - 1;
      changed = select_record(i, now) || changed;
    }
  }
  dirty_count_ = 0;
  if (changed) publish();
  // Text for the log and the audit only now, after the new answers are out.
  report(cause, now);
  if (on_selection_) on_selection_();
}

std::shared_ptr<const AnswerRound> AnswerRound::copy_of(const std::vector<AnswerChange>& changes) {
  auto round = std::make_shared<AnswerRound>();
  auto names = std::make_shared<Names>();
  round->changes_.reserve(changes.size());
  names->records.reserve(changes.size());
  std::unordered_map<std::string, std::uint32_t> texts;  // by content: texts_ index
  std::string key;
  for (const AnswerChange& c : changes) {
    auto region = std::find(names->regions.begin(), names->regions.end(), c.region);
    if (region == names->regions.end()) region = names->regions.emplace(names->regions.end(), c.region);
    // Changes that say the same share one set of texts, wherever they are in the round.
    key.assign(c.from).append(1, '\n').append(c.to).append(1, '\n').append(c.reason).append(1, '\n').append(c.cause);
    key.append(1, '\n').append(std::to_string(c.at.time_since_epoch().count()));
    const auto [same, added] = texts.try_emplace(key, static_cast<std::uint32_t>(round->texts_.size()));
    if (added)
      round->texts_.push_back(Texts{std::string(c.from), std::string(c.to), std::string(c.reason), std::string(c.cause), c.at});
    round->changes_.push_back(Change{static_cast<std::uint32_t>(names->records.size()),
                                     static_cast<std::uint32_t>(region - names->regions.begin()),
                                     same->second});
    names->records.emplace_back(c.record);
  }
  round->names_ = std::move(names);
  round->group_changes();
  return round;
}

void AnswerRound::group_changes() {
  groups_.clear();
  const std::size_t regions = std::max<std::size_t>(names_->regions.size(), 1);
  constexpr std::uint32_t kNone = ~std::uint32_t{0};
  // Group by texts x region: a flat table, unless that would be much bigger than the round
  // (thousands of units moving in hundreds of regions at once), then a map.
  const std::size_t slots = texts_.size() * regions;
  const bool flat = slots <= 4 * changes_.size() + 1024;
  std::unordered_map<std::size_t, std::uint32_t> sparse;
  if (flat) slot_group_.assign(slots, kNone);
  auto group_of = [&](const Change& c) -> std::uint32_t& {
    const std::size_t slot = static_cast<std::size_t>(c.texts) * regions + c.region;
    return flat ? slot_group_[slot] : sparse.try_emplace(slot, kNone).first->second;
  };
  // Count each group's changes; groups are numbered in the order they first appear.
  for (const Change& c : changes_) {
    std::uint32_t& g = group_of(c);
    if (g == kNone) {
      g = static_cast<std::uint32_t>(groups_.size());
      groups_.push_back(Group{0, 0});
    }
    ++groups_[g].end;
  }
  if (groups_.size() <= 1) {  // one group (a DC failure): already in place
    if (!groups_.empty()) groups_[0] = Group{0, static_cast<std::uint32_t>(changes_.size())};
    return;
  }
  std::uint32_t at = 0;
  for (Group& g : groups_) {
    const std::uint32_t n = g.end;
    g.begin = g.end = at;  // end is the next free place until all are placed
    at += n;
  }
  sorted_.resize(changes_.size());
  for (const Change& c : changes_) sorted_[groups_[group_of(c)].end++] = c;
  changes_.swap(sorted_);
}

void AnswerRound::shrink(std::size_t keep) {
  if (changes_.capacity() > keep) std::vector<Change>().swap(changes_);
  if (sorted_.capacity() > keep) std::vector<Change>().swap(sorted_);
  if (slot_group_.capacity() > keep) std::vector<std::uint32_t>().swap(slot_group_);
  if (groups_.capacity() > keep) std::vector<Group>().swap(groups_);
}

std::string AnswerChange::full_reason() const {
  std::string out;
  out.reserve(reason.size() + cause.size() + 3);
  out.append(reason).append(" (").append(cause).append(")");
  return out;
}

namespace {

enum LabelKind : std::uint64_t { kEntry, kFailOpenEntry, kFirstHealthy, kServing, kFailOpenServes };

std::uint64_t label_key(LabelKind kind, std::int32_t dc, int entry) {
  return (static_cast<std::uint64_t>(kind) << 56) | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(dc)) << 24) |
         static_cast<std::uint64_t>(static_cast<std::uint32_t>(entry) & 0xFFFFFF);
}

}  // namespace

// The texts repeat across records: "entry 0 (dc1)" is the same for every record whose first
// entry is dc1. They are built once per (kind, DC, entry) and reused.
std::string_view GtmEngine::label(const GtmRecord& r, const Decision& d) {
  const bool entry = (d.source == Source::kChain || d.source == Source::kFailOpen) && d.entry >= 0 &&
                     static_cast<std::size_t>(d.entry) < r.chain.size();
  if (!entry) return to_string(d.source);
  const std::size_t i = static_cast<std::size_t>(&r - gtm_.records.data());
  const std::int32_t dc = entries_[info_[i].entries + static_cast<std::size_t>(d.entry)].dc;
  const LabelKind kind = d.source == Source::kFailOpen ? kFailOpenEntry : kEntry;
  auto [it, added] = labels_.try_emplace(label_key(kind, dc, d.entry));
  if (added) it->second = describe(r, d);
  return it->second;
}

std::string_view GtmEngine::reason(const Unit& u, std::string& scratch) {
  const Shape& shape = shapes_[u.shape];
  const RegionState& st = u.state;
  const Decision& d = st.decision;
  const GtmRecord& r = gtm_.records[shape.record];
  const std::vector<int>& o = order(shape.record, shape.region);
  LabelKind kind = kEntry;
  bool cacheable = false;
  if ((d.why == Why::kFirstHealthy || d.why == Why::kServing) && d.entry >= 0 &&
      static_cast<std::size_t>(d.entry) < r.chain.size()) {
    // Cached unless a held entry ahead of it is named too.
    cacheable = true;
    for (int i : o) {
      if (i == d.entry) break;
      if (static_cast<std::size_t>(i) < st.memory.entries.size() && st.memory.entries[static_cast<std::size_t>(i)].held) {
        cacheable = false;
        break;
      }
    }
    kind = d.why == Why::kServing ? kServing : kFirstHealthy;
  } else if (d.why == Why::kAllDown && d.source == Source::kFailOpen && d.entry >= 0 &&
             static_cast<std::size_t>(d.entry) < r.chain.size()) {
    cacheable = true;
    kind = kFailOpenServes;
  }
  if (!cacheable) return scratch = selection_of(r, d, o, st.memory).reason;
  const std::int32_t dc = entries_[info_[shape.record].entries + static_cast<std::size_t>(d.entry)].dc;
  auto [it, added] = labels_.try_emplace(label_key(kind, dc, d.entry));
  if (added) it->second = selection_of(r, d, o, st.memory).reason;
  return it->second;
}

std::shared_ptr<AnswerRound> GtmEngine::take_round() {
  // A round nobody else holds any more (the log writer has written it, the journal has moved
  // on) is reused, with its memory: the texts' strings and the changes' array stay allocated
  // and faulted in, and they are freed on this thread, never on the writer's. Up to 65,536
  // changes (0.8 MB) are kept, so that a verdict moving 10,000 records in 3 regions does not
  // fault in fresh pages every time; a bigger burst (a reload, a verdict moving 100,000
  // records) gives its memory back when its round is reused.
  constexpr std::size_t kPool = 4;
  constexpr std::size_t kKeepChanges = 65536;
  for (auto& r : rounds_) {
    if (r.use_count() != 1) continue;
    // The other holders' last reads of it happen before the release of their reference.
    std::atomic_thread_fence(std::memory_order_acquire);
    r->shrink(kKeepChanges);
    return r;
  }
  auto r = std::make_shared<AnswerRound>();
  if (rounds_.size() < kPool) rounds_.push_back(r);
  return r;
}

void GtmEngine::report(const std::string& cause, SystemTime now) {
  constexpr std::size_t kKeepChanges = 65536;
  if (moved_.empty() || !audit_) {
    moved_.clear();
    if (moved_.capacity() > kKeepChanges) std::vector<Moved>().swap(moved_);
    return;
  }
  std::shared_ptr<AnswerRound> round = take_round();
  round->names_ = names_;
  round->changes_.clear();
  round->changes_.reserve(moved_.size());
  std::size_t texts = 0;
  std::string scratch;
  for (const Moved& m : moved_) {
    // The texts are the unit's: built once per round for every slot that shares it.
    Unit& u = unit(m.record, m.region);
    if (u.texts_round != round_) {
      if (texts == round->texts_.size()) round->texts_.emplace_back();
      AnswerRound::Texts& t = round->texts_[texts];
      const GtmRecord& r = gtm_.records[shapes_[u.shape].record];
      t.from = label(r, u.from);
      t.to = label(r, u.state.decision);
      t.reason = reason(u, scratch);
      t.cause = cause;
      t.at = now;
      // Units that say the same (records of other shapes moving between the same DCs for the
      // same reason) share texts: per unit, not per change.
      scratch.assign(t.from).append(1, '\n').append(t.to).append(1, '\n').append(t.reason);
      const auto [same, added] = round_texts_.try_emplace(scratch, static_cast<std::uint32_t>(texts));
      if (added) ++texts;
      u.texts = same->second;
      u.texts_round = round_;
    }
    round->changes_.push_back(AnswerRound::Change{m.record, m.region, u.texts});
  }
  moved_.clear();
  round_texts_.clear();
  // The texts beyond this round's are kept (their strings' memory) only while few.
  if (round->texts_.size() > std::max<std::size_t>(texts, 64)) round->texts_.resize(texts);
  round->group_changes();
  audit_(round);
  if (moved_.capacity() > kKeepChanges) std::vector<Moved>().swap(moved_);
}

void GtmEngine::publish() {
  ++publishes_;
  publish_(std::make_unique<dns::DynamicChoices>(regions_, choices_));
}

bool GtmEngine::resume(const std::string& key, const std::string& dc) {
  const auto i = record_index(key);
  if (!i) return false;
  const GtmRecord& r = gtm_.records[*i];
  auto held = [&](const SelectionMemory& m) {
    for (std::size_t e = 0; e < r.chain.size() && e < m.entries.size(); ++e)
      if (r.chain[e].dc == dc && m.entries[e].held) return true;
    return false;
  };
  bool any = false;
  for (std::size_t reg = 0; reg < regions_ && !any; ++reg) any = held(unit(*i, reg).state.memory);
  if (any) {
    // Only this record resumes: it leaves the units it shares with other records first.
    detach(*i);
    std::vector<std::uint32_t> done;  // a unit several regions of this record share resumes once
    for (std::size_t reg = 0; reg < regions_; ++reg) {
      const std::uint32_t id = slot_unit_[*i * regions_ + reg];
      if (std::find(done.begin(), done.end(), id) != done.end()) continue;
      done.push_back(id);
      for (std::size_t e = 0; e < r.chain.size(); ++e)
        if (r.chain[e].dc == dc) scenario::resume(units_[id].state.memory, static_cast<int>(e));
    }
    const SystemTime now = wall_();
    moved_.clear();
    ++round_;
    if (select_record(*i, now)) publish();
    report("resumed by an operator", now);
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
  for (std::size_t s = 0; s < scenario_specs_.size(); ++s)
    if (scenario_specs_[s] != nullptr && scenario_known_[s])
      out.scenarios.push_back(SavedScenario{scenario_names_[s], scenario_formula(*scenario_specs_[s]), scenario_value_[s] != 0});
  std::sort(out.scenarios.begin(), out.scenarios.end(),
            [](const SavedScenario& a, const SavedScenario& b) { return a.name < b.name; });
  for (std::size_t d = 0; d < dc_names_.size(); ++d)
    if (dc_known_[d]) out.dc_ok.emplace(dc_names_[d], dc_ok_[d] != 0);
  out.records.reserve(gtm_.records.size());
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    SavedRecord r;
    for (std::size_t reg = 0; reg < regions_; ++reg) {
      const RegionState& st = unit(i, reg).state;
      if (st.selected) r.regions.push_back(SavedRegion{region_names_[reg], st.memory});
    }
    if (r.regions.empty()) continue;
    r.key = key(i);
    for (const auto& e : gtm_.records[i].chain) r.chain.push_back(e.dc);
    out.records.push_back(std::move(r));
  }
  return out;
}

void GtmEngine::apply_saved(const SavedGtm& saved, std::vector<RegionState>& state) {
  std::unordered_map<std::string, std::int32_t> scenario_ids;
  for (std::size_t s = 0; s < scenario_names_.size(); ++s) scenario_ids.emplace(scenario_names_[s], static_cast<std::int32_t>(s));
  for (const auto& s : saved.scenarios) {
    auto id = scenario_ids.find(s.name);
    if (id == scenario_ids.end()) continue;
    const ScenarioSpec* spec = scenario_specs_[static_cast<std::size_t>(id->second)];
    if (spec == nullptr || scenario_formula(*spec) != s.formula) continue;
    scenario_value_[static_cast<std::size_t>(id->second)] = s.value ? 1 : 0;
    scenario_known_[static_cast<std::size_t>(id->second)] = 1;
  }
  for (const auto& [dc, ok] : saved.dc_ok) {
    auto id = dc_ids_.find(dc);
    if (id == dc_ids_.end()) continue;
    dc_ok_[static_cast<std::size_t>(id->second)] = ok ? 1 : 0;
    dc_known_[static_cast<std::size_t>(id->second)] = 1;
  }
  std::unordered_map<std::string, const SavedRecord*> by_id;
  by_id.reserve(saved.records.size());
  for (const auto& r : saved.records) {
    std::string id = r.key;
    for (const auto& dc : r.chain) {
      id += '|';
      id += dc;
    }
    by_id.emplace(std::move(id), &r);
  }
  restored_records_ = 0;
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    const GtmRecord& r = gtm_.records[i];
    auto found = by_id.find(memory_id(key(i), r.chain));
    if (found == by_id.end()) continue;
    bool selected = false;
    for (std::size_t reg = 0; reg < regions_; ++reg) selected = selected || state[i * regions_ + reg].selected;
    if (selected) continue;
    bool any = false;
    for (const SavedRegion& sr : found->second->regions) {
      const SelectionMemory& m = sr.memory;
      // Memory is by chain index: only a memory of this chain's length means anything here.
      if (m.entries.size() != r.chain.size() || m.serving < -1 || m.serving >= static_cast<int>(r.chain.size())) continue;
      auto reg = std::find(region_names_.begin(), region_names_.end(), sr.region);
      if (reg == region_names_.end()) continue;
      const auto index = static_cast<std::size_t>(reg - region_names_.begin());
      RegionState& st = state[i * regions_ + index];
      st.memory = m;
      st.selected = true;
      any = true;
    }
    restored_records_ += any ? 1 : 0;
  }
}

std::vector<GtmEngine::RecordView> GtmEngine::view() const {
  std::vector<RecordView> out;
  out.reserve(gtm_.records.size());
  for (std::size_t i = 0; i < gtm_.records.size(); ++i) {
    RecordView v;
    v.record = &gtm_.records[i];
    for (std::size_t reg = 0; reg < regions_; ++reg)
      v.regions.push_back(RegionView{region_names_[reg], selection(i, reg), state(i, reg).since});
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<std::size_t> GtmEngine::record_index(const std::string& key) const {
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::optional<Explanation> GtmEngine::explain(const std::string& key, std::size_t region,
                                              const health::HealthState& health) const {
  const auto i = record_index(key);
  if (!i || region >= regions_ || *i >= gtm_.records.size()) return std::nullopt;
  const GtmRecord& r = gtm_.records[*i];
  // Records without a geo order decide once, in region 0, for every region.
  const RegionState& st = state(*i, region);
  Explanation x;
  x.record = key;
  x.region = region_names_[region];
  x.selection = selection(*i, region);
  x.since = st.since;
  const Selection& s = x.selection;
  if ((s.source == Source::kChain || s.source == Source::kFailOpen) && s.entry >= 0 &&
      static_cast<std::size_t>(s.entry) < r.chain.size()) {
    x.dc = r.chain[static_cast<std::size_t>(s.entry)].dc;
    x.scenario = r.chain[static_cast<std::size_t>(s.entry)].scenario;
  }
  const SelectionMemory& memory = st.memory;
  for (int idx : order(*i, region)) {
    EntryWhy e;
    e.index = idx;
    e.healthy = entry_healthy(*i, static_cast<std::size_t>(idx));
    e.serving = s.source == Source::kChain && s.entry == idx;
    e.held = static_cast<std::size_t>(idx) < memory.entries.size() && memory.entries[static_cast<std::size_t>(idx)].held;
    describe_entry(e, r, health, gtm_.scenarios);
    x.entries.push_back(std::move(e));
  }
  x.rto = record_rto(r, health, gtm_.scenarios, debounce_);
  return x;
}

}  // namespace pharos::scenario
