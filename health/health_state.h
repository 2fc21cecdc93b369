// health_state.h: the verdict table. Holds every check's measured and forced state, its recent
// results and counters, the automatic per-DC dimension checks and the DC statuses, and reports
// each change with its cause. Pure: time comes in as an argument, nothing here does I/O.
// save() and restore() carry it across a restart (scenario/state_file.h writes it to disk).
//
//   HealthState s;
//   s.configure(config, now);
//   Changes c = s.record("web1", ProbeResult{false, "HTTP 500 (expected 200)"}, now);
//   for (const auto& v : c.checks) log(v.id, to_string(v.from), to_string(v.to), v.reason);
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "health/check.h"
#include "health/datacenter.h"
#include "health/prober.h"
#include "health/threshold.h"

namespace pharos::health {

using SystemTime = std::chrono::system_clock::time_point;

struct HealthConfig {
  std::map<std::string, CheckSpec> checks;   // every probed check: users' and DC targets
  std::vector<DcSpec> datacenters;
};

struct ResultRecord {
  SystemTime at;
  bool up = false;
  std::string reason;
  std::chrono::microseconds latency{0};
};

struct CheckInfo {
  static constexpr std::size_t kRecent = 10;

  std::string id;
  bool automatic = false;              // auto|<dc>|<dimension|maintenanceMode>: computed, not probed
  std::optional<CheckSpec> spec;       // probed checks only
  CheckState measured;
  std::optional<State> forced;         // an operator's decision, kept apart from the measurement
  SystemTime since{};                  // last change of the effective state
  std::string reason;                  // the cause of that change
  std::deque<ResultRecord> recent;     // newest last
  std::uint64_t probes = 0;
  std::uint64_t failures = 0;
  std::uint64_t transitions = 0;       // measured-state changes

  State effective() const { return forced ? *forced : measured.state; }
};

struct VerdictChange {
  std::string id;
  State from = State::kUnknown;
  State to = State::kUnknown;
  SystemTime at{};
  std::string reason;
  // The measured state changed while a forced state hides it: worth logging, but the effective
  // state (what scenarios use) did not move.
  bool hidden_by_force = false;
  bool restored = false;               // set by restore(): the saved state, not a new observation
};

struct DcChange {
  std::string dc;
  DcStatus from = DcStatus::kUnknown;
  DcStatus to = DcStatus::kUnknown;
  SystemTime at{};
  std::string reason;
  bool restored = false;               // set by restore()
};

struct Changes {
  std::vector<VerdictChange> checks;
  std::vector<DcChange> datacenters;
  bool empty() const { return checks.empty() && datacenters.empty(); }
};

struct DcInfo {
  DcSpec spec;
  bool maintenance = false;            // effective: configured, or set by an operator since
  std::optional<SystemTime> maintenance_until;  // an operator's maintenance that ends by itself
  std::string maintenance_by;          // who set the runtime maintenance ("" = the file)
  std::string maintenance_note;        // the operator's reason, if given
  std::array<State, kDimensions> dimensions{};
  DcStatus status = DcStatus::kUnknown;
  SystemTime since{};
  std::string reason;
};

// What of a check survives a restart. Probed checks carry their probe key: a check whose probe
// changed meanwhile starts afresh instead of inheriting a verdict about a different target.
struct SavedCheck {
  std::string id;
  bool automatic = false;
  std::string probe_key;               // probed checks only
  CheckState measured;
  std::optional<State> forced;
  SystemTime since{};
  std::string reason;
  std::uint64_t probes = 0;
  std::uint64_t failures = 0;
  std::uint64_t transitions = 0;
  bool operator==(const SavedCheck&) const = default;
};

struct SavedDc {
  std::string name;
  bool maintenance = false;            // effective when saved
  bool configured_maintenance = false; // the file's maintenanceMode when saved: a changed file wins
  std::optional<SystemTime> maintenance_until;
  std::string maintenance_by;
  std::string maintenance_note;
  DcStatus status = DcStatus::kUnknown;  // informative: restore recomputes it from the checks
  SystemTime since{};
  std::string reason;
  bool operator==(const SavedDc&) const = default;
};

struct SavedHealth {
  std::vector<SavedCheck> checks;      // by ID
  std::vector<SavedDc> datacenters;    // by name
  bool operator==(const SavedHealth&) const = default;
};

struct RestoreOutcome {
  Changes changes;                     // every entry has `restored` set
  std::size_t checks = 0;              // saved checks applied
  std::size_t skipped = 0;             // saved checks no longer configured, or whose probe changed
};

class HealthState {
 public:
  // Checks whose spec is unchanged keep their state, counters and history; new checks start
  // unknown; removed checks disappear. Returns the changes the new configuration causes.
  Changes configure(const HealthConfig& config, SystemTime now);

  // A probe result for a probed check. Unknown IDs are ignored (a removed check's late result).
  Changes record(const std::string& id, const ProbeResult& result, SystemTime now);

  // Forces a check (probed or automatic) up or down, or clears the force (nullopt).
  // Returns nullopt if there is no such check.
  std::optional<Changes> force(const std::string& id, std::optional<State> state, SystemTime now);

  // Runtime maintenance of a DC, optionally ending by itself at `until` (back to the file's
  // maintenanceMode), with who set it and why. Returns nullopt if there is no such DC.
  std::optional<Changes> set_maintenance(const std::string& dc, bool on, SystemTime now,
                                         std::optional<SystemTime> until = std::nullopt, std::string by = {},
                                         std::string note = {});
  // Ends every runtime maintenance whose expiry is at or before `now`.
  Changes expire_maintenance(SystemTime now);
  // The earliest pending maintenance expiry, if any.
  std::optional<SystemTime> next_maintenance_expiry() const;

  // Everything a restart should keep: measured states and counters, forced states, maintenance.
  SavedHealth save() const;
  // Call right after configure(), before any result. Probed checks get their saved state,
  // counters and last change if their probe key is unchanged; forced states come back for every
  // ID still configured (a force is about the ID, as on reload); runtime maintenance comes back
  // unless the file's maintenanceMode changed meanwhile or its expiry passed. Automatic checks and
  // DC statuses are then recomputed; where they match what was saved they keep its since/reason.
  RestoreOutcome restore(const SavedHealth& saved, SystemTime now);
  // The "assumeUp" startup policy: every probed check still unknown starts up (without any
  // consecutive success, so its first failures count at once).
  Changes assume_up(SystemTime now);

  const CheckInfo* check(const std::string& id) const;
  State effective(const std::string& id) const;  // unknown for a missing ID
  const std::map<std::string, CheckInfo>& checks() const { return checks_; }
  const DcInfo* datacenter(const std::string& dc) const;
  const std::map<std::string, DcInfo>& datacenters() const { return dcs_; }

 private:
  struct Dependent {
    std::string dc;
    Dimension dimension;
  };

  // Sets an automatic check's measured state; records the change if the effective state moved.
  void set_automatic(CheckInfo& info, State measured, const std::string& reason, SystemTime now, Changes& out);
  void note_change(CheckInfo& info, State before, const std::string& reason, SystemTime now, Changes& out);
  // Re-evaluates what depends on `id`: its dimension(s), then their DCs.
  void propagate(const std::string& id, SystemTime now, Changes& out);
  void evaluate_dc(DcInfo& dc, const std::string& cause, SystemTime now, Changes& out);
  // Recomputes every dimension, maintenance check and DC status from the checks.
  void evaluate_all(SystemTime now, Changes& out);
  // The effective states and DC statuses before a bulk update, to report what it moved.
  struct Before {
    std::map<std::string, State> checks;
    std::map<std::string, DcStatus> dcs;
  };
  Before snapshot() const;
  Changes changes_since(const Before& before, SystemTime now, bool restored) const;
  std::string dimension_reason(const DcInfo& dc, Dimension d) const;

  std::map<std::string, CheckInfo> checks_;
  std::map<std::string, DcInfo> dcs_;
  std::unordered_map<std::string, std::vector<Dependent>> dependents_;  // target ID -> dimensions
  std::unordered_map<std::string, std::string> automatic_dc_;           // automatic ID -> its DC
};

}  // namespace pharos::health
