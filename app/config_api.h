// config_api.h: the control API's configuration endpoints (docs/api.md, "Configuration"): read
// DCs, checks, scenarios, regions and records as the scenario files hold them, and change them
// with operations (app/config_change.h) that the daemon applies one at a time like a reload.
//
//   ConfigApi api({.config_path = "pharos.json", .config_generation = &generation,
//                  .change = [&](ChangeBatch&& b, const std::string& by, auto done) { ... }});
//   api.install(server);   // before server.start()
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "app/config_change.h"
#include "app/control_server.h"

namespace pharos::app {

struct ConfigApiContext {
  std::string config_path;
  const std::uint64_t* config_generation = nullptr;
  // Queues a batch; `done` runs on the control loop once it is applied or refused.
  std::function<void(ChangeBatch&&, const std::string& by, std::function<void(const ChangeOutcome&)> done)> change;
  // Optional: the HTTP status of every change request's answer, refusals included (for metrics).
  std::function<void(int status)> answered;
};

class ConfigApi {
 public:
  explicit ConfigApi(ConfigApiContext context) : c_(std::move(context)) {}
  void install(ControlServer& server);

  // GET: every object of a kind, or one (`id` non-null), read from the files on disk.
  ApiResponse get(ConfigKind kind, const std::string* id) const;
  // The response for a finished change.
  static ApiResponse answer(const ChangeOutcome& o);

 private:
  std::uint64_t generation() const { return c_.config_generation ? *c_.config_generation : 0; }
  // PUT (upsert) and DELETE of one object: the batch, or the 400 to send.
  std::variant<ChangeBatch, ApiResponse> single(const ApiRequest& r, ConfigKind kind, ChangeOp op) const;
  void submit(const ApiRequest& r, std::variant<ChangeBatch, ApiResponse>&& batch, ControlServer::Reply reply);
  // `reply`, telling `answered` the status first.
  ControlServer::Reply counted(ControlServer::Reply reply) const;

  ConfigApiContext c_;
};

}  // namespace pharos::app
