// daemon.h: pharosd's control loop: starts serving, runs the health checks and the GTM pipeline
// that turns their results into answers, reloads on SIGHUP
// (loading off the query path, all or nothing), stops gracefully on SIGTERM/SIGINT, and frees
// replaced answer tables. With a state_dir, the state is restored on start and saved after every
// change (app/state_saver.h).
//
//   return Daemon{"pharos.json"}.run();   // exit code
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <string>

#include "app/audit.h"
#include "app/background_writer.h"
#include "app/config.h"
#include "app/config_api.h"
#include "app/config_change.h"
#include "app/control_api.h"
#include "app/control_server.h"
#include "app/health_history.h"
#include "app/daemon_metrics.h"
#include "app/loader.h"
#include "app/service.h"
#include "app/state_saver.h"
#include "dns/server.h"
#include "health/engine.h"
#include "health/probe_services.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class Daemon {
 public:
  explicit Daemon(std::string config_path, std::string version = {})
      : config_path_(std::move(config_path)), version_(std::move(version)) {}
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
  struct ChangeJob;
  struct PendingChange {
    ChangeBatch batch;
    std::string by;
    std::function<void(const ChangeOutcome&)> done;
  };
  static void change_work(uv_work_t* req);
  static void change_done(uv_work_t* req, int status);

  // `by` says who asked ("SIGHUP", a token's name); `done` (optional) runs when it has finished.
  void start_reload(const std::string& by, std::function<void(const ReloadOutcome&)> done = {});
  ReloadOutcome apply_reload(LoadResult&& result);
  void finish_reload(ReloadOutcome outcome);
  // A config change (app/config_change.h) runs like a reload and never beside one: it waits for
  // the running reload or change, is checked against `if_generation` when its turn comes, is
  // prepared and written on the thread pool, and applied through apply_reload.
  void start_change(ChangeBatch&& batch, const std::string& by, std::function<void(const ChangeOutcome&)> done);
  void run_next_change();
  void apply_change(PreparedChange&& change, const std::string& by, ChangeOutcome& out);
  void fail_changes(const std::string& why);
  // After a reload or a change: the reload asked for meanwhile, else the next change.
  void after_load();
  // The control API, when configured: false if it cannot start (the daemon then exits).
  bool start_control(const Config& config);
  void open_audit(const Config& config);
  void stop(int signum);
  // After every socket is bound: becomes the configured "user"; false if that failed (exit).
  bool become_user(const Config& config);
  void start_health();  // creates the health and GTM engines and the state saver on loop_
  // Applies a loaded configuration to the health and GTM engines and publishes `table` with the
  // GTM choices that configuration gives.
  void apply_and_publish(Loaded& l);
  // The first apply: between the health and the GTM configuration, the saved state (if usable)
  // or else the startup policy, so the first answers already follow them.
  void apply_first(Loaded& l);

  std::string config_path_;
  std::string version_;
  Config running_;              // what the sockets and workers were started with
  std::unique_ptr<dns::Server> server_;
  std::unique_ptr<health::ProbeServices> probes_;  // on loop_, like the engine
  std::unique_ptr<health::HealthEngine> health_;
  std::unique_ptr<scenario::GtmEngine> gtm_;
  std::unique_ptr<StateSaver> saver_;
  // Writes the log and the audit journal's file, at low priority, while the loop runs (declared
  // before the journal, which flushes it when it goes).
  std::unique_ptr<BackgroundWriter> writer_;
  std::unique_ptr<AuditJournal> audit_;
  std::unique_ptr<HealthHistory> history_;  // for the status page; opened with the audit journal
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<ControlApi> api_;
  ServiceNotifier notify_;  // systemd's Type=notify protocol; does nothing outside systemd
  std::unique_ptr<ConfigApi> config_api_;
  std::deque<PendingChange> changes_;     // waiting for the running reload or change
  std::unique_ptr<DaemonMetrics> metrics_;  // outlives control_: /metrics reads it on HTTP threads
  std::uint64_t config_generation_ = 1;  // bumped by every successful reload
  std::size_t zones_ = 0;
  std::optional<ReloadOutcome> last_reload_;
  std::optional<ConfigChangeNote> last_change_;  // the last config change applied through the API
  std::uint64_t reload_ids_ = 0;
  std::string reload_by_;                 // who asked for the reload running now
  std::uint64_t reload_started_ms_ = 0;   // uv_hrtime of its start
  std::vector<std::function<void(const ReloadOutcome&)>> reload_waiters_;  // of the running reload
  std::vector<std::function<void(const ReloadOutcome&)>> next_waiters_;    // of the one queued after it
  uv_loop_t loop_{};
  uv_signal_t sighup_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_timer_t reclaim_timer_{};
  bool reloading_ = false;      // a reload or a config change is loading
  bool reload_again_ = false;   // SIGHUP arrived during a reload: run one more afterwards
  bool stopping_ = false;
};

}  // namespace pharos::app
