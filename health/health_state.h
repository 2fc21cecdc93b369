// health_state.h: the verdict table. Holds every check's measured and forced state, its recent
// results and counters, the automatic per-DC dimension checks and the DC statuses, and reports
// each change with its cause. Pure: time comes in as an argument, nothing here does I/O.
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
};

struct DcChange {
  std::string dc;
  DcStatus from = DcStatus::kUnknown;
  DcStatus to = DcStatus::kUnknown;
  SystemTime at{};
  std::string reason;
};

struct Changes {
  std::vector<VerdictChange> checks;
  std::vector<DcChange> datacenters;
  bool empty() const { return checks.empty() && datacenters.empty(); }
};

struct DcInfo {
  DcSpec spec;
  bool maintenance = false;            // effective: configured, or set by an operator since
  std::array<State, kDimensions> dimensions{};
  DcStatus status = DcStatus::kUnknown;
  SystemTime since{};
  std::string reason;
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

  // Runtime maintenance of a DC. Returns nullopt if there is no such DC.
  std::optional<Changes> set_maintenance(const std::string& dc, bool on, SystemTime now);

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
  std::string dimension_reason(const DcInfo& dc, Dimension d) const;

  std::map<std::string, CheckInfo> checks_;
  std::map<std::string, DcInfo> dcs_;
  std::unordered_map<std::string, std::vector<Dependent>> dependents_;  // target ID -> dimensions
  std::unordered_map<std::string, std::string> automatic_dc_;           // automatic ID -> its DC
};

}  // namespace pharos::health
