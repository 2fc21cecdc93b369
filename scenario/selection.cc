// selection.cc: see selection.h.
#include "scenario/selection.h"

#include <algorithm>

namespace pharos::scenario {

Truth evaluate(const ScenarioSpec& scenario, const std::function<health::State(const std::string&)>& state_of) {
  bool any_unknown_group = false;
  for (const auto& group : scenario.groups) {
    bool group_false = false, group_unknown = false;
    for (const Term& t : group) {
      const health::State s = state_of(t.check);
      if (s == health::State::kUnknown) {
        group_unknown = true;
        continue;
      }
      const bool value = (s == health::State::kUp) != t.negated;
      if (!value) {
        group_false = true;
        break;
      }
    }
    if (group_false) continue;
    if (!group_unknown) return Truth::kTrue;
    any_unknown_group = true;
  }
  return any_unknown_group ? Truth::kUnknown : Truth::kFalse;
}

const char* to_string(Source s) {
  switch (s) {
    case Source::kChain: return "chain";
    case Source::kDr: return "dr";
    case Source::kFallback: return "fallback";
    case Source::kFailOpen: return "failOpen";
    case Source::kNoData: return "nodata";
    case Source::kServFail: return "servfail";
    case Source::kRefused: return "refused";
  }
  return "?";
}

namespace {

std::string entry_name(const GtmRecord& r, int i) {
  return "entry " + std::to_string(i) + " (" + r.chain[static_cast<std::size_t>(i)].dc + ")";
}

}  // namespace

Selection select(const GtmRecord& record, const std::vector<int>& order, const std::vector<bool>& healthy,
                 bool dr_cond, SelectionMemory& memory, SystemTime now, const std::vector<bool>* known) {
  const std::size_t n = record.chain.size();
  memory.entries.resize(n);
  const bool only_new = record.backup == BackupBehavior::kOnlyNew;

  // Entry transitions: remember when each went down; an onlyNew entry back from an outage
  // longer than staleAfter comes back held (passive).
  for (std::size_t i = 0; i < n; ++i) {
    EntryMemory& e = memory.entries[i];
    if (known != nullptr && (i >= known->size() || !(*known)[i])) continue;  // no result yet: no outage
    const bool h = i < healthy.size() && healthy[i];
    // Down since the transition, or since its first result for an entry that has never been up.
    if (!h && (e.healthy || e.down_since == SystemTime{})) e.down_since = now;
    if (!e.healthy && h && only_new && e.down_since != SystemTime{} && now - e.down_since >= record.stale_after &&
        static_cast<int>(i) != memory.serving) {
      e.held = true;
    }
    if (!h && static_cast<int>(i) == memory.serving) e.held = false;  // a failed server is never held
    e.healthy = h;
  }

  const bool serving_ok = memory.serving >= 0 && static_cast<std::size_t>(memory.serving) < n &&
                          memory.entries[static_cast<std::size_t>(memory.serving)].healthy &&
                          std::find(order.begin(), order.end(), memory.serving) != order.end();
  int chosen = -1;
  for (int i : order) {
    const EntryMemory& e = memory.entries[static_cast<std::size_t>(i)];
    if (!e.healthy) continue;
    // A held entry answers only once the one serving now has failed.
    if (e.held && serving_ok) continue;
    chosen = i;
    break;
  }
  if (chosen >= 0) {
    // Whoever answers now is no longer held; nothing held stays held once the server failed.
    if (!serving_ok)
      for (auto& e : memory.entries) e.held = false;
    memory.entries[static_cast<std::size_t>(chosen)].held = false;
    const bool kept = chosen == memory.serving;
    memory.serving = chosen;
    Selection s{Source::kChain, chosen, &record.chain[static_cast<std::size_t>(chosen)].rdata, ""};
    s.reason = entry_name(record, chosen) + (kept ? " is serving" : " is the first healthy entry");
    for (int i : order) {
      if (i == chosen) break;
      const EntryMemory& e = memory.entries[static_cast<std::size_t>(i)];
      if (e.held) s.reason += "; " + entry_name(record, i) + " is held (onlyNew) until an operator resumes it";
    }
    return s;
  }

  memory.serving = -1;
  for (auto& e : memory.entries) e.held = false;  // nothing serves: nothing to protect
  if (record.dr && (dr_cond || record.dr->dr_if_no_records)) {
    return Selection{Source::kDr, -1, &record.dr->rdata,
                     dr_cond ? "no chain entry is healthy; DR condition " + record.dr->dr_cond + " is true"
                             : "no chain entry is healthy (drIfNoRecords)"};
  }
  if (!record.fallback.empty()) return Selection{Source::kFallback, -1, &record.fallback, "no chain entry is healthy; fail-safe records"};
  switch (record.all_down) {
    case AllDownPolicy::kFailOpen: {
      const int first = order.empty() ? 0 : order.front();
      return Selection{Source::kFailOpen, first, &record.chain[static_cast<std::size_t>(first)].rdata,
                       "every entry is down: failOpen serves " + entry_name(record, first)};
    }
    case AllDownPolicy::kNoData: return Selection{Source::kNoData, -1, nullptr, "every entry is down: nodata"};
    case AllDownPolicy::kServFail: return Selection{Source::kServFail, -1, nullptr, "every entry is down: servfail"};
    case AllDownPolicy::kRefused: return Selection{Source::kRefused, -1, nullptr, "every entry is down: refused"};
  }
  return Selection{Source::kNoData, -1, nullptr, "?"};
}

bool resume(SelectionMemory& memory, int entry) {
  if (entry < 0 || static_cast<std::size_t>(entry) >= memory.entries.size()) return false;
  EntryMemory& e = memory.entries[static_cast<std::size_t>(entry)];
  if (!e.held) return false;
  e.held = false;  // the next selection takes it if it is the best healthy entry
  return true;
}

}  // namespace pharos::scenario
