// datacenter.h: a data center's health dimensions and its status, as pure functions over check
// states. A dimension is up when at least minUp of its targets are up; the DC status names the
// first failing dimension, so it says *why* a DC is out.
//
//   State wan = dimension_state(dc.dimensions[index(Dimension::kWanAccess)], state_of);
//   DcStatus s = dc_status({access, wan, lan, internet}, dc.maintenance);
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "health/threshold.h"

namespace pharos::health {

// In the order that decides the DC status.
enum class Dimension : std::uint8_t { kAccess, kWanAccess, kLanAccess, kInternet };
inline constexpr std::size_t kDimensions = 4;
inline constexpr std::array<Dimension, kDimensions> kAllDimensions = {
    Dimension::kAccess, Dimension::kWanAccess, Dimension::kLanAccess, Dimension::kInternet};
const char* to_string(Dimension d);  // "access", "wanAccess", "lanAccess", "internet"
inline std::size_t index(Dimension d) { return static_cast<std::size_t>(d); }

enum class DcStatus : std::uint8_t { kUnknown, kOk, kNoAccess, kNoWan, kNoLan, kNoInternet, kMaintenance };
const char* to_string(DcStatus s);  // "unknown", "ok", "noAccess", ...

struct DimensionSpec {
  std::vector<std::string> targets;  // check IDs
  int min_up = 1;
  bool operator==(const DimensionSpec&) const = default;
};

struct DcSpec {
  std::string name;
  std::array<DimensionSpec, kDimensions> dimensions;
  bool maintenance = false;          // the configured maintenanceMode
  bool operator==(const DcSpec&) const = default;
};

// Automatic check IDs: "auto|dc1|wanAccess", "auto|dc1|maintenanceMode" (up while maintenance is
// on), and the targets of a dimension "auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1", ...
std::string auto_id(const std::string& dc, Dimension d);
std::string maintenance_id(const std::string& dc);
std::string target_id(const std::string& dc, Dimension d, std::size_t i);

// Up with at least min_up targets up; down when even every unknown target turning up could not
// reach min_up; unknown otherwise. A dimension without targets has nothing to fail: up.
State dimension_state(const DimensionSpec& dim, const std::function<State(const std::string&)>& state_of);

// Maintenance wins; then the first dimension that is down; unknown while any is unknown; else ok.
DcStatus dc_status(const std::array<State, kDimensions>& dims, bool maintenance);

}  // namespace pharos::health
