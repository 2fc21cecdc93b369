// daemon.cc: startup, SIGHUP reload on the libuv thread pool, graceful stop, snapshot reclamation.
#include "app/daemon.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "app/answers.h"
#include "app/log.h"
#include "dns/listen_socket.h"

namespace pharos::app {
namespace {

// Replaced tables are freed once no worker can hold them; workers leave a snapshot within one
// batch, so a short period keeps at most a couple of old tables alive after a reload.
constexpr std::uint64_t kReclaimPeriodMs = 100;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

void log_outcome(const LoadResult& r) {
  for (const auto& w : r.warnings) log_warn("zone warning", {{"warning", w}});
}

// Every real transition, with old state, new state and the cause. What a saved state brought back
// is not a transition: its checks are summed up in "state restored", its DCs listed once.
void log_health(const health::Changes& changes) {
  for (const auto& c : changes.checks) {
    if (c.restored) continue;
    log_info(c.hidden_by_force ? "check state changed (hidden by a forced state)" : "check state changed",
             {{"check", c.id}, {"from", health::to_string(c.from)}, {"to", health::to_string(c.to)}, {"reason", c.reason}});
  }
  for (const auto& d : changes.datacenters) {
    if (d.restored) {
      log_info("datacenter status restored", {{"dc", d.dc}, {"status", health::to_string(d.to)}, {"reason", d.reason}});
      continue;
    }
    const bool bad = d.to != health::DcStatus::kOk && d.to != health::DcStatus::kUnknown;
    (bad ? log_warn : log_info)("datacenter status changed", {{"dc", d.dc},
                                                              {"from", health::to_string(d.from)},
                                                              {"to", health::to_string(d.to)},
                                                              {"reason", d.reason}});
  }
}

std::int64_t unix_ms(health::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The saved state if it is there, whole, and young enough; otherwise says why not.
std::optional<scenario::StateFile> usable_state(const Config& c, std::int64_t& age_ms) {
  if (c.state_dir.empty()) return std::nullopt;
  if (auto e = scenario::make_state_dir(c.state_dir)) {
    log_error("cannot use state_dir; nothing restored", {{"error", e->to_string()}});
    return std::nullopt;
  }
  const std::string path = scenario::state_path(c.state_dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    log_info("no saved state", {{"file", path}, {"startup_policy", to_string(c.startup_policy)}});
    return std::nullopt;
  }
  Result<scenario::StateFile> s = scenario::read_state_file(path);
  if (!s) {
    log_warn("state file ignored", {{"error", s.error().to_string()}, {"startup_policy", to_string(c.startup_policy)}});
    return std::nullopt;
  }
  age_ms = unix_ms(std::chrono::system_clock::now()) - unix_ms(s->written_at);
  // A file from the future (the clock was set back) is as doubtful as an old one.
  if (std::abs(age_ms) > static_cast<std::int64_t>(c.state_max_age_ms)) {
    log_info("state file ignored", {{"reason", "older than state_max_age"}, {"file", path},
                                    {"age_ms", std::to_string(age_ms)},
                                    {"state_max_age_ms", std::to_string(c.state_max_age_ms)},
                                    {"startup_policy", to_string(c.startup_policy)}});
    return std::nullopt;
  }
  return std::move(*s);
}

}  // namespace

struct Daemon::ReloadJob {
  uv_work_t req{};
  Daemon* daemon = nullptr;
  std::string path;
  LoadResult result;
};

int Daemon::run() {
  // Hold the control signals until their handlers exist: a SIGTERM during startup then stops us
  // gracefully instead of killing the process, and a SIGHUP is not lost. Worker threads are
  // created meanwhile and inherit the mask (they block every signal anyway).
  sigset_t control;
  sigemptyset(&control);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&control, s);
  pthread_sigmask(SIG_BLOCK, &control, nullptr);

  notify_.status("loading " + config_path_);
  LoadResult first = load_everything(config_path_);
  log_outcome(first);
  if (!first.loaded) {
    for (const auto& e : first.errors) log_error("cannot start", {{"error", e.to_string()}});
    notify_.status("cannot start: " + (first.errors.empty() ? std::string("unknown error") : first.errors.front().to_string()));
    return 1;
  }
  Loaded& l = *first.loaded;
  // Still root: state_dir must be the user's before the saved state is read or the journal opened.
  if (auto s = prepare_state_dir(l.config.state_dir, l.config.run_as); !s) {
    Error e = s.error();
    if (e.file.empty()) e.file = config_path_;
    log_error("cannot start", {{"error", e.to_string()}});
    notify_.status("cannot start: " + e.to_string());
    return 1;
  }
  auto server = dns::Server::create(l.config.server_options());
  if (!server) {
    log_error("cannot start", {{"error", server.error().to_string()}});
    notify_.status("cannot start: " + server.error().to_string());
    return 1;
  }
  server_ = std::move(*server);
  running_ = l.config;
  for (const auto& b : server_->bound()) {
    const std::string addr = dns::format_address(b.sa());
    log_info("listening udp " + addr, {{"proto", "udp"}, {"addr", addr}});
    log_info("listening tcp " + addr, {{"proto", "tcp"}, {"addr", addr}});
  }
  log_info("started", {{"zones", std::to_string(l.zone_count)},
                       {"names", std::to_string(l.name_count)},
                       {"workers", std::to_string(server_->worker_count())},
                       {"serials", join(l.serials)}});

  zones_ = l.zone_count;
  open_audit(l.config);
  uv_loop_init(&loop_);
  for (auto [handle, signum] : {std::pair{&sighup_, SIGHUP}, {&sigterm_, SIGTERM}, {&sigint_, SIGINT}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, &Daemon::on_signal, signum);
  }
  uv_timer_init(&loop_, &reclaim_timer_);
  reclaim_timer_.data = this;
  uv_timer_start(&reclaim_timer_, &Daemon::on_reclaim, kReclaimPeriodMs, kReclaimPeriodMs);
  start_health();
  const std::size_t checks = l.scenarios.health.checks.size(), dcs = l.scenarios.health.datacenters.size(),
                    records = l.scenarios.gtm.records.size();
  apply_first(l);
  log_info("health checks started", {{"checks", std::to_string(checks)},
                                     {"probes", std::to_string(health_->prober_count())},
                                     {"datacenters", std::to_string(dcs)},
                                     {"gtm_records", std::to_string(records)}});
  // Every socket (DNS and control API) is bound before the switch to "user", and the workers start
  // after it, so no query is parsed as root. They start with a table (and its GTM choices) in
  // place; queries that arrived meanwhile wait in the socket buffers.
  const bool ok = start_control(l.config) && become_user(l.config);
  server_->start();
  if (!ok) {
    stop(0);
  } else {
    std::vector<std::string> addrs;
    for (const auto& b : server_->bound()) addrs.push_back(dns::format_address(b.sa()));
    notify_.ready("serving " + std::to_string(l.zone_count) + " zones on " + join(addrs));
    notify_.start_watchdog(&loop_);
  }
  pthread_sigmask(SIG_UNBLOCK, &control, nullptr);

  uv_run(&loop_, UV_RUN_DEFAULT);
  config_api_.reset();
  api_.reset();
  control_.reset();
  metrics_.reset();
  saver_.reset();
  gtm_.reset();
  health_.reset();
  probes_.reset();
  uv_loop_close(&loop_);
  server_.reset();  // workers are joined; frees every table
  // Everything logged and journaled so far is written before "stopped".
  set_log_writer(nullptr);
  if (audit_) audit_->set_writer(nullptr);
  writer_.reset();
  log_info("stopped");
  return ok ? 0 : 1;
}

bool Daemon::become_user(const Config& config) {
  const RunAs& r = config.run_as;
  Result<DropPlan> plan = plan_drop(r);
  if (plan && *plan == DropPlan::kSwitch) {
    Result<void> dropped = drop_privileges(r);
    if (dropped) {
      std::string groups;
      for (gid_t g : r.groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
      log_info("privileges dropped", {{"user", r.user}, {"uid", std::to_string(r.uid)},
                                      {"gid", std::to_string(r.gid)}, {"groups", groups}});
      return true;
    }
    plan = dropped.error();
  }
  if (!plan) {
    Error e = plan.error();
    if (e.file.empty()) e.file = config_path_;
    log_error("cannot switch to the configured user", {{"error", e.to_string()}});
    notify_.status("cannot start: " + e.to_string());
    return false;
  }
  if (*plan == DropPlan::kAlreadyThatUser) log_info("already running as the configured user", {{"user", r.user}});
  return true;
}

void Daemon::open_audit(const Config& config) {
  std::string path;
  if (!config.state_dir.empty() && !scenario::make_state_dir(config.state_dir)) path = config.state_dir + "/audit.jsonl";
  audit_ = std::make_unique<AuditJournal>(path);
  if (auto e = audit_->open()) {
    log_warn("audit journal kept in memory only", {{"error", e->to_string()}});
  } else if (!path.empty()) {
    log_info("audit journal", {{"file", path}, {"entries", std::to_string(audit_->size())}});
  }
  // From here on the log lines and the journal's file writes leave the control loop: a verdict
  // that moves thousands of answers is formatted and written by a low-priority thread.
  writer_ = std::make_unique<BackgroundWriter>();
  set_log_writer(writer_.get());
  audit_->set_writer(writer_.get());
  history_ = std::make_unique<HealthHistory>(path.empty() ? "" : config.state_dir + "/health_history.jsonl");
  if (auto e = history_->open(std::chrono::system_clock::now()))
    log_warn("health history kept in memory only", {{"error", e->to_string()}});
}

bool Daemon::start_control(const Config& config) {
  if (!config.control.enabled) return true;
  control_ = std::make_unique<ControlServer>(&loop_, config.control);
  ApiContext c;
  c.version = version_;
  c.server = server_.get();
  c.health = health_.get();
  c.gtm = gtm_.get();
  c.audit = audit_.get();
  c.config_generation = &config_generation_;
  c.zones = &zones_;
  c.last_reload = &last_reload_;
  c.last_change = &last_change_;
  c.history = history_.get();
  c.reload = [this](const std::string& by, std::function<void(const ReloadOutcome&)> done) {
    start_reload(by, std::move(done));
  };
  api_ = std::make_unique<ControlApi>(std::move(c));
  api_->install(*control_);
  ConfigApiContext cc;
  cc.config_path = config_path_;
  cc.config_generation = &config_generation_;
  cc.change = [this](ChangeBatch&& batch, const std::string& by, std::function<void(const ChangeOutcome&)> done) {
    start_change(std::move(batch), by, std::move(done));
  };
  cc.answered = [this](int status) { metrics_->config_change(status, std::chrono::system_clock::now()); };
  config_api_ = std::make_unique<ConfigApi>(std::move(cc));
  config_api_->install(*control_);
  // Answered on the HTTP thread, from live counters and the last snapshot: it works (and shows
  // the watchdog age growing) even when the control loop is stuck.
  control_->route_direct("GET", "/metrics", Role::kNone, [this](const ApiRequest&) { return metrics_->respond(); });
  if (auto s = control_->start(); !s) {
    log_error("cannot start the control API", {{"error", s.error().to_string()}});
    return false;
  }
  log_info("control API ready", {{"addr", config.control.listen}, {"port", std::to_string(control_->port())}});
  return true;
}

void Daemon::start_health() {
  probes_ = std::make_unique<health::ProbeServices>(&loop_);
  health_ = std::make_unique<health::HealthEngine>(&loop_, *probes_);
  gtm_ = std::make_unique<scenario::GtmEngine>(
      &loop_, [this](std::unique_ptr<const dns::DynamicChoices>&& c) {
        server_->publish_choices(std::move(c));
        metrics_->answers_published();
      });
  metrics_ = std::make_unique<DaemonMetrics>(
      &loop_, DaemonMetrics::Sources{server_.get(), health_.get(), gtm_.get(), &config_generation_, version_});
  health_->on_probe([this](const std::vector<std::string>& ids, const health::ProbeResult& r) { metrics_->probe(ids, r); });
  // Called after the publish, once per selection round: one log write, one journal write.
  gtm_->on_audit([this](const std::shared_ptr<const scenario::AnswerRound>& round) {
    record_answer_changes(round, audit_.get(), writer_.get());
  });
  health_->subscribe(log_health);
  health_->subscribe([this](const health::Changes& c) { history_->record(c); });
  health_->subscribe([this](const health::Changes& c) { metrics_->verdicts(c); });  // before the GTM engine
  health_->subscribe([this](const health::Changes& c) { gtm_->on_health(c, health_->state()); });
  health_->subscribe([this](const health::Changes&) { metrics_->verdicts_handled(); });

  saver_ = std::make_unique<StateSaver>(&loop_, [this] {
    return scenario::StateFile{std::chrono::system_clock::now(), health_->state().save(), gtm_->save()};
  });
  // Everything that moves the state: verdicts, selection rounds (memory moves even when no answer
  // does) and operator actions (a force to the current state moves nothing else).
  health_->subscribe([this](const health::Changes&) { saver_->changed(); });
  health_->on_operator_action([this] {
    saver_->changed();
    metrics_->changed();
  });
  gtm_->on_selection([this] {
    saver_->changed();
    metrics_->selection_done();
  });
}

void Daemon::apply_first(Loaded& l) {
  std::int64_t age_ms = 0;
  std::optional<scenario::StateFile> saved = usable_state(l.config, age_ms);
  saver_->set_dir(l.config.state_dir);
  // Before the loop runs: no probe has reported yet, so nothing the saved state says is stale.
  health_->apply(l.scenarios.health);
  std::size_t checks = 0, skipped = 0;
  if (saved) {
    const health::RestoreOutcome r = health_->restore(saved->health);
    checks = r.checks;
    skipped = r.skipped;
    gtm_->restore(std::move(saved->gtm));
  } else if (l.config.startup_policy == StartupPolicy::kAssumeUp) {
    health_->assume_up();
  }
  auto choices = gtm_->apply(std::move(l.scenarios.gtm), l.table->region_count(), health_->state());
  delete l.table->exchange_choices(choices.release());  // not yet published: no reader holds it
  server_->publish(std::move(l.table));
  if (saved) {
    log_info("state restored", {{"age_ms", std::to_string(age_ms)},
                                {"checks", std::to_string(checks)},
                                {"skipped", std::to_string(skipped)},
                                {"records", std::to_string(gtm_->restored_records())}});
  } else if (!l.config.state_dir.empty() || l.config.startup_policy != StartupPolicy::kWait) {
    log_info("startup policy applied", {{"startup_policy", to_string(l.config.startup_policy)}});
  }
  history_->sync(health_->state().datacenters(), std::chrono::system_clock::now());
  saver_->changed();
}

void Daemon::apply_and_publish(Loaded& l) {
  health_->apply(l.scenarios.health);  // unchanged checks keep their state; removed ones stop
  auto choices = gtm_->apply(std::move(l.scenarios.gtm), l.table->region_count(), health_->state());
  delete l.table->exchange_choices(choices.release());  // not yet published: no reader holds it
  server_->publish(std::move(l.table));
  saver_->set_dir(l.config.state_dir);  // a reload may move or turn off persistence
  saver_->changed();
  history_->sync(health_->state().datacenters(), std::chrono::system_clock::now());
}

void Daemon::on_signal(uv_signal_t* s, int signum) {
  auto* self = static_cast<Daemon*>(s->data);
  if (signum == SIGHUP) {
    log_info("reload requested", {{"signal", "SIGHUP"}});
    self->start_reload("SIGHUP");
    if (self->control_) {
      if (auto t = self->control_->reload_tokens(); !t)
        log_error("control API tokens not reloaded, the previous ones stay", {{"error", t.error().to_string()}});
    }
    return;
  }
  self->stop(signum);
}

void Daemon::on_reclaim(uv_timer_t* t) { static_cast<Daemon*>(t->data)->server_->reclaim(); }

void Daemon::start_reload(const std::string& by, std::function<void(const ReloadOutcome&)> done) {
  if (stopping_) {
    if (done) done(ReloadOutcome{0, std::chrono::system_clock::now(), false, "pharosd is stopping", 0});
    return;
  }
  if (reloading_) {
    reload_again_ = true;  // the running load may have read the files before this change
    if (done) next_waiters_.push_back(std::move(done));
    return;
  }
  reloading_ = true;
  reload_by_ = by;
  notify_.reloading("reloading (" + by + ")");
  reload_started_ms_ = uv_hrtime() / 1'000'000;
  if (done) reload_waiters_.push_back(std::move(done));
  auto* job = new ReloadJob;
  job->req.data = job;
  job->daemon = this;
  job->path = config_path_;
  if (const int rc = uv_queue_work(&loop_, &job->req, &Daemon::reload_work, &Daemon::reload_done); rc != 0) {
    delete job;
    reloading_ = false;
    log_error("reload failed, still serving the previous data", {{"error", uv_strerror(rc)}});
    finish_reload(ReloadOutcome{++reload_ids_, std::chrono::system_clock::now(), false, uv_strerror(rc), 0});
  }
}

void Daemon::finish_reload(ReloadOutcome outcome) {
  last_reload_ = outcome;
  notify_.ready(outcome.ok ? "serving; reloaded, config generation " + std::to_string(config_generation_)
                           : "serving the previous configuration; reload failed: " + outcome.error);
  metrics_->reloaded(outcome.ok, outcome.duration_ms, outcome.at);
  audit_->append(AuditEntry{outcome.at, "reload", config_path_, "", "generation " + std::to_string(
                                outcome.ok ? config_generation_ - 1 : config_generation_),
                            outcome.ok ? "generation " + std::to_string(config_generation_) : "unchanged",
                            outcome.ok ? "reloaded" : outcome.error, reload_by_});
  auto waiters = std::move(reload_waiters_);
  reload_waiters_.clear();
  for (auto& w : waiters) w(outcome);
}

// Runs on a libuv thread-pool thread: parsing and building never touch a DNS worker.
void Daemon::reload_work(uv_work_t* req) {
  auto* job = static_cast<ReloadJob*>(req->data);
  job->result = load_everything(job->path);
}

void Daemon::reload_done(uv_work_t* req, int /*status*/) {
  std::unique_ptr<ReloadJob> job(static_cast<ReloadJob*>(req->data));
  Daemon* self = job->daemon;
  self->reloading_ = false;
  if (self->stopping_) {
    auto waiters = std::move(self->reload_waiters_);
    for (auto& w : self->next_waiters_) waiters.push_back(std::move(w));
    self->reload_waiters_.clear();
    self->next_waiters_.clear();
    for (auto& w : waiters) w(ReloadOutcome{0, std::chrono::system_clock::now(), false, "pharosd is stopping", 0});
    self->fail_changes("pharosd is stopping");
    return;
  }
  self->finish_reload(self->apply_reload(std::move(job->result)));
  self->after_load();
}

void Daemon::after_load() {
  if (!reload_again_) {
    run_next_change();
    return;
  }
  reload_again_ = false;
  auto waiters = std::move(next_waiters_);
  next_waiters_.clear();
  start_reload(reload_by_.empty() ? "SIGHUP" : reload_by_);
  for (auto& w : waiters) reload_waiters_.push_back(std::move(w));
}

ReloadOutcome Daemon::apply_reload(LoadResult&& r) {
  ReloadOutcome out;
  out.id = ++reload_ids_;
  out.at = std::chrono::system_clock::now();
  out.duration_ms = uv_hrtime() / 1'000'000 - reload_started_ms_;
  log_outcome(r);
  if (!r.loaded) {
    for (const auto& e : r.errors) {
      log_error("reload failed, still serving the previous data", {{"error", e.to_string()}});
    }
    out.error = r.errors.empty() ? "unknown error" : r.errors.front().to_string();
    return out;
  }
  Loaded& l = *r.loaded;
  // Sockets and threads are created once; say so instead of silently ignoring the change.
  std::vector<std::string> changed;
  if (l.config.listen_text != running_.listen_text) changed.push_back("listen");
  if (l.config.workers != running_.workers) changed.push_back("workers");
  if (!(l.config.tcp == running_.tcp)) changed.push_back("tcp");
  if (l.config.stop_timeout_ms != running_.stop_timeout_ms) changed.push_back("stop_timeout");
  if (l.config.control.listen != running_.control.listen || l.config.control.enabled != running_.control.enabled) {
    changed.push_back("control");
  }
  if (l.config.run_as.user != running_.run_as.user || l.config.run_as.group != running_.run_as.group) {
    changed.push_back("user");
  }
  if (!changed.empty()) {
    // After the switch to "user", port 53 cannot be bound any more: new addresses need a restart,
    // which binds them as root again. Until then the sockets we have keep serving.
    log_warn("restart needed to apply some changes; the rest is reloaded",
             {{"keys", join(changed)}, {"listen_kept", join(running_.listen_text)}});
  }
  apply_and_publish(l);
  // The previous GTM configuration and engine state were freed just now: give the pages back
  // (a reload of 100,000 GTM records frees ~100 MB on this thread).
  malloc_trim(0);
  zones_ = l.zone_count;
  ++config_generation_;
  log_info("reloaded", {{"zones", std::to_string(l.zone_count)},
                        {"names", std::to_string(l.name_count)},
                        {"serials", join(l.serials)},
                        {"config_generation", std::to_string(config_generation_)},
                        {"duration_ms", std::to_string(out.duration_ms)}});
  out.ok = true;
  return out;
}

void Daemon::stop(int signum) {
  if (stopping_) return;
  stopping_ = true;
  notify_.stopping(signum == 0 ? "stopping: startup failed" : "stopping");
  notify_.stop_watchdog();
  log_info("stopping", {{"signal", signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : "none (startup failed)"}});
  if (control_) control_->stop();  // answers what is queued; no new request reaches the engines
  for (uv_signal_t* s : {&sighup_, &sigterm_, &sigint_}) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&reclaim_timer_), nullptr);
  saver_->close();  // one last write of the state; the loop runs until it is on disk
  history_->close(std::chrono::system_clock::now());  // the timeline shows the time we are away
  metrics_->stop();
  gtm_->stop();
  health_->stop();
  probes_->close();
  // Workers stop accepting and reading at once and get a bounded time to flush TCP answers.
  server_->stop();
}

}  // namespace pharos::app
