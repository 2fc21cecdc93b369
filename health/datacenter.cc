// datacenter.cc: see datacenter.h.
#include "health/datacenter.h"

#include <algorithm>

namespace pharos::health {

const char* to_string(Dimension d) {
  switch (d) {
    case Dimension::kAccess: return "access";
    case Dimension::kWanAccess: return "wanAccess";
    case Dimension::kLanAccess: return "lanAccess";
    case Dimension::kInternet: return "internet";
  }
  return "?";
}

const char* to_string(DcStatus s) {
  switch (s) {
    case DcStatus::kUnknown: return "unknown";
    case DcStatus::kOk: return "ok";
    case DcStatus::kNoAccess: return "noAccess";
    case DcStatus::kNoWan: return "noWan";
    case DcStatus::kNoLan: return "noLan";
    case DcStatus::kNoInternet: return "noInternet";
    case DcStatus::kMaintenance: return "maintenance";
  }
  return "?";
}

std::string auto_id(const std::string& dc, Dimension d) { return "auto|" + dc + "|" + to_string(d); }
std::string maintenance_id(const std::string& dc) { return "auto|" + dc + "|maintenanceMode"; }
std::string target_id(const std::string& dc, Dimension d, std::size_t i) {
  return auto_id(dc, d) + "|" + std::to_string(i);
}

State dimension_state(const DimensionSpec& dim, const std::function<State(const std::string&)>& state_of) {
  if (dim.targets.empty()) return State::kUp;
  const std::size_t need =
      static_cast<std::size_t>(std::clamp<int>(dim.min_up, 1, static_cast<int>(dim.targets.size())));
  std::size_t up = 0, unknown = 0;
  for (const auto& id : dim.targets) {
    const State s = state_of(id);
    up += s == State::kUp;
    unknown += s == State::kUnknown;
  }
  if (up >= need) return State::kUp;
  if (up + unknown < need) return State::kDown;
  return State::kUnknown;
}

DcStatus dc_status(const std::array<State, kDimensions>& dims, bool maintenance) {
  if (maintenance) return DcStatus::kMaintenance;
  static constexpr DcStatus kDown[kDimensions] = {DcStatus::kNoAccess, DcStatus::kNoWan, DcStatus::kNoLan,
                                                  DcStatus::kNoInternet};
  for (std::size_t i = 0; i < kDimensions; ++i)
    if (dims[i] == State::kDown) return kDown[i];
  for (State s : dims)
    if (s == State::kUnknown) return DcStatus::kUnknown;
  return DcStatus::kOk;
}

}  // namespace pharos::health
