// gtm_units.cc: GtmEngine's grouping of the (record, region) slots that decide alike into units
// (gtm_engine.h, Shape and Unit): built at apply(), split when one record's state must diverge.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "scenario/gtm_engine.h"

namespace pharos::scenario {
namespace {

void put(std::string& key, std::int64_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); }

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

std::int64_t ticks(SystemTime t) { return t.time_since_epoch().count(); }

}  // namespace

void GtmEngine::build_units(std::vector<RegionState>&& state) {
  const std::size_t n = gtm_.records.size();
  shapes_.clear();
  units_.clear();
  slot_unit_.assign(n * regions_, 0);
  // Shapes by what selection reads; units by shape and state (equal states are compared, the
  // hash only finds candidates).
  std::unordered_map<std::string, std::uint32_t> shape_ids;
  std::unordered_multimap<std::uint64_t, std::uint32_t> unit_ids;
  unit_ids.reserve(64);
  std::string key;
  for (std::size_t i = 0; i < n; ++i) {
    const GtmRecord& r = gtm_.records[i];
    const RecordInfo& info = info_[i];
    for (std::size_t reg = 0; reg < regions_; ++reg) {
      key.clear();
      // A slot that is never decided (a record without geo, beyond region 0) keeps its state
      // apart from the decided ones: only save() reads it.
      put(key, reg == decided_region(i, reg) ? 1 : 0);
      put(key, info.size);
      for (std::size_t e = 0; e < info.size; ++e) {
        put(key, entries_[info.entries + e].dc);
        put(key, entries_[info.entries + e].scenario);
      }
      put(key, info.dr_cond);
      put(key, static_cast<std::int64_t>(r.backup));
      put(key, r.stale_after.count());
      put(key, r.dr ? 1 + (r.dr->dr_if_no_records ? 1 : 0) : 0);
      put(key, r.fallback.empty() ? 0 : 1);
      put(key, static_cast<std::int64_t>(r.all_down));
      const std::vector<int>& o = order(i, reg);
      put(key, static_cast<std::int64_t>(o.size()));
      for (int idx : o) put(key, idx);
      auto [shape, new_shape] = shape_ids.try_emplace(key, static_cast<std::uint32_t>(shapes_.size()));
      if (new_shape) shapes_.push_back(Shape{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(reg)});

      RegionState& st = state[i * regions_ + reg];
      std::uint64_t h = mix(shape->second, st.selected ? 1 : 0);
      h = mix(h, static_cast<std::uint64_t>(st.decision.source) << 8 | static_cast<std::uint64_t>(st.decision.why));
      h = mix(h, static_cast<std::uint64_t>(st.decision.entry) << 32 ^ static_cast<std::uint32_t>(st.decision.waiting_for));
      h = mix(h, static_cast<std::uint64_t>(ticks(st.since)));
      h = mix(h, static_cast<std::uint64_t>(st.memory.serving));
      for (const EntryMemory& e : st.memory.entries)
        h = mix(h, static_cast<std::uint64_t>(ticks(e.down_since)) ^ (e.healthy ? 1u : 0u) ^ (e.held ? 2u : 0u));
      std::uint32_t id = static_cast<std::uint32_t>(units_.size());
      for (auto [it, end] = unit_ids.equal_range(h); it != end; ++it) {
        const Unit& u = units_[it->second];
        if (u.shape == shape->second && u.state.selected == st.selected && u.state.decision == st.decision &&
            u.state.since == st.since && u.state.memory == st.memory) {
          id = it->second;
          break;
        }
      }
      if (id == units_.size()) {
        Unit u;
        u.shape = shape->second;
        u.state = std::move(st);
        // What its slots answer: the carried-over decision; a restored state (no decision yet)
        // answers the first alternative until it is selected.
        if (u.state.selected && u.state.decision.why != Why::kNone) u.choice = choice_of(r, u.state.decision);
        units_.push_back(std::move(u));
        unit_ids.emplace(h, id);
      }
      ++units_[id].slots;
      slot_unit_[i * regions_ + reg] = id;
    }
  }
  choices_.assign(n * regions_, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t reg = 0; reg < regions_; ++reg) choices_[i * regions_ + reg] = unit(i, decided_region(i, reg)).choice;
}

void GtmEngine::detach(std::size_t record) {
  // The units this record's slots use, with how many of its slots use each.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> mine;
  for (std::size_t reg = 0; reg < regions_; ++reg) {
    const std::uint32_t id = slot_unit_[record * regions_ + reg];
    auto it = std::find_if(mine.begin(), mine.end(), [id](const auto& p) { return p.first == id; });
    if (it == mine.end()) mine.emplace_back(id, 1);
    else ++it->second;
  }
  for (const auto& [id, count] : mine) {
    if (units_[id].slots == count) continue;  // no other record uses it
    Unit copy = units_[id];
    copy.slots = count;
    units_[id].slots -= count;
    const auto copy_id = static_cast<std::uint32_t>(units_.size());
    units_.push_back(std::move(copy));
    for (std::size_t reg = 0; reg < regions_; ++reg)
      if (slot_unit_[record * regions_ + reg] == id) slot_unit_[record * regions_ + reg] = copy_id;
  }
}

}  // namespace pharos::scenario
