// control_server.h: the control API's HTTP layer (libmicrohttpd on its own threads): routes with
// {captures}, bearer-token roles, JSON errors, and handlers serialized on the daemon's control
// loop. What each endpoint does is the daemon's business (docs/api.md lists them).
//
//   ControlServer api(&loop, config.control);
//   api.route("GET", "/v1/checks/{id}", Role::kRead, [&](const ApiRequest& r) {
//     return api_json(200, describe_check(r.params[0]));       // runs on `loop`
//   });
//   if (auto s = api.start(); !s) log_error("no control API", {{"error", s.error().to_string()}});
//   ...
//   api.stop();                                                // on `loop`'s thread
//
// Requests travel: HTTP thread (routing, auth, body limits: control_request.h, which the fuzz
// target drives) -> queue + uv_async -> handler on `loop` -> back to the HTTP thread, which
// sends the response. A loop that does not answer within loop_timeout_ms gives the client 503.
#pragma once

#include <rapidjson/document.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "app/config.h"
#include "app/control_request.h"
#include "app/tokens.h"
#include "dns/result.h"

struct MHD_Daemon;

namespace pharos::app {

class ControlServer {
 public:
  using Handler = std::function<ApiResponse(const ApiRequest&)>;

  // Handlers run on `loop` (the daemon's control loop).
  ControlServer(uv_loop_t* loop, ControlConfig config);
  ~ControlServer();  // stop()s if still running: destroy on `loop`'s thread
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Pattern segments in braces capture: "/v1/checks/{id}/force". Routes are matched on the HTTP
  // thread (404 unknown path, 405 wrong method with Allow), auth checked there (401 no/bad token,
  // 403 role too low), then the handler runs on `loop` and the HTTP thread sends its response.
  // Register every route before start().
  void route(std::string method, std::string pattern, Role min_role, Handler handler);
  // Reads the tokens and binds; the error names the file or the address. Call on `loop`'s thread.
  // A handler that answers later (a reload): it starts the work on `loop` and calls `reply` once,
  // on `loop`, when done. The client waits up to `timeout`, then gets 503. `reply` must be called
  // before the server is destroyed, or not at all.
  using Reply = std::function<void(ApiResponse)>;
  using AsyncHandler = std::function<void(const ApiRequest&, Reply reply)>;
  void route_async(std::string method, std::string pattern, Role min_role, AsyncHandler handler,
                   std::chrono::milliseconds timeout);
  // A handler that runs on the HTTP thread itself, never waiting for `loop`: for reads that
  // must answer while the loop is busy or stuck (/metrics). It may run on several HTTP threads
  // at once and must only touch what is safe from any thread.
  void route_direct(std::string method, std::string pattern, Role min_role, Handler handler);
  Result<void> start();
  std::uint16_t port() const { return port_; }  // the bound port (useful with port 0)
  // On SIGHUP: a bad file keeps the old tokens and the error says why.
  Result<void> reload_tokens();
  // Requests waiting for the control loop to take them (for tests and metrics).
  std::size_t queued_requests() const;
  // Stops accepting, answers what is queued, waits (bounded) for in-flight responses to be sent,
  // joins the HTTP threads. Call on `loop`'s thread, which must run again to close the async handle.
  void stop();

 private:
  struct Job;

  friend struct ControlServerCallbacks;  // libmicrohttpd and libuv callbacks (control_server.cc)

  ApiResponse dispatch(Routed&& routed);   // on an HTTP thread: queue, wait, or 503
  ApiResponse run_direct(Routed&& routed);  // on an HTTP thread
  void run_job(const std::shared_ptr<Job>& job);  // on `loop`
  void finish_job(Job& job, ApiResponse&& r);      // on `loop`
  void run_queued();                       // on `loop`
  std::shared_ptr<const TokenSet> tokens() const;

  uv_loop_t* loop_;
  ControlConfig config_;
  RouteTable table_;
  std::vector<Handler> handlers_;             // by route; empty for async routes
  std::vector<AsyncHandler> async_handlers_;  // by route; empty for plain routes
  std::vector<std::chrono::milliseconds> timeouts_;  // by route; 0 = config_.loop_timeout_ms
  std::vector<bool> direct_;                  // by route: the handler runs on the HTTP thread
  MHD_Daemon* daemon_ = nullptr;
  uv_async_t* async_ = nullptr;  // freed in its close callback
  std::uint16_t port_ = 0;

  mutable std::mutex tokens_mu_;
  std::shared_ptr<const TokenSet> tokens_;

  mutable std::mutex mu_;               // guards queue_, every Job's state, stopping_, in_flight_
  std::condition_variable answered_;    // a job is done
  std::condition_variable idle_;        // in_flight_ reached zero
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;           // requests read but not yet fully answered
};

}  // namespace pharos::app
