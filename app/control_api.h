// control_api.h: what the control API's endpoints do (docs/api.md). The HTTP layer
// (control_server.h) routes and authenticates; these handlers run on the daemon's control loop,
// read the engines directly and act through them, and write every operator action to the audit
// journal.
//
//   ControlApi api(context);
//   api.install(server);          // registers every route, before server.start()
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "app/audit.h"
#include "app/control_server.h"
#include "dns/server.h"
#include "health/engine.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class HealthHistory;

struct ReloadOutcome {
  std::uint64_t id = 0;            // 1, 2, ... per reload attempt since start
  scenario::SystemTime at{};
  bool ok = false;
  std::string error;               // the first error when !ok
  std::uint64_t duration_ms = 0;
};

// The last configuration change applied through the API (app/config_api.h).
struct ConfigChangeNote {
  scenario::SystemTime at{};
  std::string by;                  // the token's name
  std::uint64_t config_generation = 0;  // the generation it made
  std::string summary;             // "update datacenter dc4", "insert record x./A and 2 more"
};

// What the daemon shares with the API. Pointers stay valid while the server runs.
struct ApiContext {
  std::string version;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  dns::Server* server = nullptr;
  health::HealthEngine* health = nullptr;
  scenario::GtmEngine* gtm = nullptr;
  AuditJournal* audit = nullptr;
  const std::uint64_t* config_generation = nullptr;
  const std::size_t* zones = nullptr;
  const std::optional<ReloadOutcome>* last_reload = nullptr;
  const std::optional<ConfigChangeNote>* last_change = nullptr;
  const HealthHistory* history = nullptr;  // DC timelines and check transitions for the status page
  // Starts a reload (or joins the one running); `done` runs on the loop when it has finished.
  std::function<void(const std::string& by, std::function<void(const ReloadOutcome&)> done)> reload;
};

class ControlApi {
 public:
  explicit ControlApi(ApiContext context) : c_(std::move(context)) {}
  void install(ControlServer& server);

  // The handlers, public for tests that call them without HTTP.
  ApiResponse status() const;
  ApiResponse datacenters() const;
  ApiResponse checks() const;
  ApiResponse check(const ApiRequest& r) const;  // one check, with its recent results
  ApiResponse scenarios() const;
  ApiResponse records() const;
  ApiResponse explain(const ApiRequest& r) const;
  ApiResponse audit(const ApiRequest& r) const;
  ApiResponse maintenance(const ApiRequest& r, bool on);
  ApiResponse force(const ApiRequest& r, bool set);
  ApiResponse resume(const ApiRequest& r);
  ApiResponse page() const;  // the status page (status_page.h)

 private:
  std::string who(const ApiRequest& r) const;
  void record_action(const std::string& kind, const std::string& subject, std::string from, std::string to,
                     std::string reason, const std::string& by);

  ApiContext c_;
};

}  // namespace pharos::app
