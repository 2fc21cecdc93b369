// selection.h: the GTM decision as pure functions. Scenario formulas over check states (with
// stuck-state protection), entry health, and per-record selection: chain, then DR, then the
// fail-safe records, then the all-down policy, with onlyNew failback protection (DOMAIN.md §3-4).
// Time is an argument; tests run it on fixed times.
//
//   Truth t = evaluate(spec, state_of);
//   Selection s = select(record, order, healthy, dr_cond, state, now);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "health/threshold.h"
#include "scenario/model.h"

namespace pharos::scenario {

using SystemTime = std::chrono::system_clock::time_point;

enum class Truth : std::uint8_t { kFalse, kTrue, kUnknown };

// A term is true while its check is up (down with "!"); unknown while the check is unknown.
// Groups AND their terms, the scenario ORs its groups; a known answer wins over unknowns
// (one false term makes a group false; one true group makes the scenario true).
Truth evaluate(const ScenarioSpec& scenario, const std::function<health::State(const std::string&)>& state_of);

// Stuck-state protection: an unknown result keeps the previous one (false before any).
inline bool settle(Truth now, bool previous) { return now == Truth::kUnknown ? previous : now == Truth::kTrue; }

// What selection remembers per record and region; persisted so a restart does not flap.
struct EntryMemory {
  bool healthy = false;
  SystemTime down_since{};   // when it last became unhealthy, or was first seen unhealthy
  bool held = false;         // onlyNew: back after a long outage, waiting for an operator
  bool operator==(const EntryMemory&) const = default;
};

struct SelectionMemory {
  int serving = -1;                   // chain index now answering, -1 for none
  std::vector<EntryMemory> entries;   // by chain index
  bool operator==(const SelectionMemory&) const = default;
};

enum class Source : std::uint8_t { kChain, kDr, kFallback, kFailOpen, kNoData, kServFail, kRefused };
const char* to_string(Source s);

struct Selection {
  Source source = Source::kChain;
  int entry = -1;                                // chain index for kChain and kFailOpen
  const std::vector<std::string>* rdata = nullptr;  // what to answer; null for nodata/servfail/refused
  std::string reason;                            // for explain and the audit journal
};

// Why an answer was chosen, as a code: selection_of() renders the text. The pipeline keeps
// only this per record and region and builds text when someone reads it (explain, the audit).
enum class Why : std::uint8_t {
  kNone,             // never selected
  kFirstHealthy,     // chain: the first healthy entry
  kServing,          // chain: the entry already serving, still healthy
  kDrCond,           // no healthy entry, DR condition true
  kDrIfNoRecords,    // no healthy entry, drIfNoRecords
  kFallback,         // no healthy entry, fail-safe records
  kAllDown,          // no healthy entry: the all-down policy (source says which)
  kWaiting,          // an entry has had no result yet: `waiting_for`
  kRestoredWaiting,  // saved state: the entry serving before the restart, waiting for `waiting_for`
};

struct Decision {
  Source source = Source::kChain;
  Why why = Why::kNone;
  int entry = -1;         // chain index for kChain and kFailOpen
  int waiting_for = -1;   // kWaiting, kRestoredWaiting
  bool operator==(const Decision&) const = default;
};

// select() without the text: the same decision and the same updates to `memory`.
Decision decide(const GtmRecord& record, const std::vector<int>& order, const std::vector<bool>& healthy,
                bool dr_cond, SelectionMemory& memory, SystemTime now, const std::vector<bool>* known = nullptr);

// The Selection (rdata and reason text) of a decision; `order` and `memory` as decide() left them
// (the reason names the held onlyNew entries ahead of the chosen one).
Selection selection_of(const GtmRecord& record, const Decision& d, const std::vector<int>& order,
                       const SelectionMemory& memory);

// "entry 1 (dc2)", "failOpen entry 0 (dc1)", "dr", "nodata", ...: what a decision answers.
std::string describe(const GtmRecord& record, const Decision& d);

// Chooses the answer of one record for one region.
//   order:    chain indexes in this region's preference order (the chain's own order if no geo)
//   healthy:  per chain index, the entry's scenario (or its DC is ok), after stuck-state protection;
//             an entry whose DC is in maintenance must be passed as unhealthy
//   dr_cond:  the record's drCond scenario (false if it has none)
// Updates `memory` (entry transitions, onlyNew holds, the serving entry).
//   known:    per chain index, whether the entry has ever had a result (null: all known). Time
//             spent unknown is not an outage: it never counts towards staleAfter.
Selection select(const GtmRecord& record, const std::vector<int>& order, const std::vector<bool>& healthy,
                 bool dr_cond, SelectionMemory& memory, SystemTime now, const std::vector<bool>* known = nullptr);

// An operator resumes a held onlyNew entry: it answers again if it is the best healthy one.
// Returns false if the entry is not held.
bool resume(SelectionMemory& memory, int entry);

}  // namespace pharos::scenario
