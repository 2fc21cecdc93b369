// daemon.h: pharosd's control loop: starts serving, runs the health checks and the GTM pipeline
// that turns their results into answers, reloads on SIGHUP
// (loading off the query path, all or nothing), stops gracefully on SIGTERM/SIGINT, and frees
// replaced answer tables. With a state_dir, the state is restored on start and saved after every
// change (app/state_saver.h).
//
//   return Daemon{"pharos.json"}.run();   // exit code
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "app/config.h"
#include "app/loader.h"
#include "app/state_saver.h"
#include "dns/server.h"
#include "health/engine.h"
#include "health/probe_services.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class Daemon {
 public:
  explicit Daemon(std::string config_path) : config_path_(std::move(config_path)) {}
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until SIGTERM or SIGINT. Returns the process exit code.
  int run();

 private:
  struct ReloadJob;

  static void on_signal(uv_signal_t* s, int signum);
  static void on_reclaim(uv_timer_t* t);
  static void reload_work(uv_work_t* req);
  static void reload_done(uv_work_t* req, int status);

  void start_reload();
  void apply_reload(LoadResult&& result);
  void stop(int signum);
  void start_health();  // creates the health and GTM engines and the state saver on loop_
  // Applies a loaded configuration to the health and GTM engines and publishes `table` with the
  // GTM choices that configuration gives.
  void apply_and_publish(Loaded& l);
  // The first apply: between the health and the GTM configuration, the saved state (if usable)
  // or else the startup policy, so the first answers already follow them.
  void apply_first(Loaded& l);

  std::string config_path_;
  Config running_;              // what the sockets and workers were started with
  std::unique_ptr<dns::Server> server_;
  std::unique_ptr<health::ProbeServices> probes_;  // on loop_, like the engine
  std::unique_ptr<health::HealthEngine> health_;
  std::unique_ptr<scenario::GtmEngine> gtm_;
  std::unique_ptr<StateSaver> saver_;
  uv_loop_t loop_{};
  uv_signal_t sighup_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_timer_t reclaim_timer_{};
  bool reloading_ = false;
  bool reload_again_ = false;   // SIGHUP arrived during a reload: run one more afterwards
  bool stopping_ = false;
};

}  // namespace pharos::app
