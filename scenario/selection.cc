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

Decision decide(const GtmRecord& record, const std::vector<int>& order, const std::vector<bool>& healthy,
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
    return Decision{Source::kChain, kept ? Why::kServing : Why::kFirstHealthy, chosen, -1};
  }

  memory.serving = -1;
  for (auto& e : memory.entries) e.held = false;  // nothing serves: nothing to protect
  if (record.dr && (dr_cond || record.dr->dr_if_no_records))
    return Decision{Source::kDr, dr_cond ? Why::kDrCond : Why::kDrIfNoRecords, -1, -1};
  if (!record.fallback.empty()) return Decision{Source::kFallback, Why::kFallback, -1, -1};
  switch (record.all_down) {
    case AllDownPolicy::kFailOpen: return Decision{Source::kFailOpen, Why::kAllDown, order.empty() ? 0 : order.front(), -1};
    case AllDownPolicy::kNoData: return Decision{Source::kNoData, Why::kAllDown, -1, -1};
    case AllDownPolicy::kServFail: return Decision{Source::kServFail, Why::kAllDown, -1, -1};
    case AllDownPolicy::kRefused: return Decision{Source::kRefused, Why::kAllDown, -1, -1};
  }
  return Decision{Source::kNoData, Why::kAllDown, -1, -1};
}

Selection selection_of(const GtmRecord& record, const Decision& d, const std::vector<int>& order,
                       const SelectionMemory& memory) {
  const std::size_t n = record.chain.size();
  const bool has_entry = d.entry >= 0 && static_cast<std::size_t>(d.entry) < n;
  Selection s{d.source, d.entry, nullptr, ""};
  switch (d.source) {
    case Source::kChain:
    case Source::kFailOpen:
      if (has_entry) s.rdata = &record.chain[static_cast<std::size_t>(d.entry)].rdata;
      break;
    case Source::kDr: s.rdata = record.dr ? &record.dr->rdata : nullptr; break;
    case Source::kFallback: s.rdata = &record.fallback; break;
    default: break;
  }
  const bool has_waiting = d.waiting_for >= 0 && static_cast<std::size_t>(d.waiting_for) < n;
  switch (d.why) {
    case Why::kNone: break;
    case Why::kFirstHealthy:
    case Why::kServing:
      if (!has_entry) break;
      s.reason = entry_name(record, d.entry) + (d.why == Why::kServing ? " is serving" : " is the first healthy entry");
      for (int i : order) {
        if (i == d.entry) break;
        if (static_cast<std::size_t>(i) < memory.entries.size() && memory.entries[static_cast<std::size_t>(i)].held)
          s.reason += "; " + entry_name(record, i) + " is held (onlyNew) until an operator resumes it";
      }
      break;
    case Why::kDrCond:
      s.reason = "no chain entry is healthy; DR condition " + (record.dr ? record.dr->dr_cond : std::string()) + " is true";
      break;
    case Why::kDrIfNoRecords: s.reason = "no chain entry is healthy (drIfNoRecords)"; break;
    case Why::kFallback: s.reason = "no chain entry is healthy; fail-safe records"; break;
    case Why::kAllDown:
      if (d.source == Source::kFailOpen && has_entry) s.reason = "every entry is down: failOpen serves " + entry_name(record, d.entry);
      else s.reason = std::string("every entry is down: ") + to_string(d.source);
      break;
    case Why::kWaiting:
      if (has_waiting) s.reason = "waiting for the first health results of " + record.chain[static_cast<std::size_t>(d.waiting_for)].dc;
      break;
    case Why::kRestoredWaiting:
      if (has_waiting)
        s.reason = "serving before the restart; waiting for the first health results of " +
                   record.chain[static_cast<std::size_t>(d.waiting_for)].dc;
      break;
  }
  return s;
}

std::string describe(const GtmRecord& record, const Decision& d) {
  if ((d.source == Source::kChain || d.source == Source::kFailOpen) && d.entry >= 0 &&
      static_cast<std::size_t>(d.entry) < record.chain.size())
    return std::string(d.source == Source::kFailOpen ? "failOpen " : "") + entry_name(record, d.entry);
  return to_string(d.source);
}

Selection select(const GtmRecord& record, const std::vector<int>& order, const std::vector<bool>& healthy,
                 bool dr_cond, SelectionMemory& memory, SystemTime now, const std::vector<bool>* known) {
  const Decision d = decide(record, order, healthy, dr_cond, memory, now, known);
  return selection_of(record, d, order, memory);
}

bool resume(SelectionMemory& memory, int entry) {
  if (entry < 0 || static_cast<std::size_t>(entry) >= memory.entries.size()) return false;
  EntryMemory& e = memory.entries[static_cast<std::size_t>(entry)];
  if (!e.held) return false;
  e.held = false;  // the next selection takes it if it is the best healthy entry
  return true;
}

}  // namespace pharos::scenario
