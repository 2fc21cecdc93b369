// daemon_change.cc: the daemon's side of config changes (app/config_change.h): queued behind the
// running reload or change, checked against if_generation when their turn comes, prepared and
// written on the thread pool, then applied through apply_reload so health and GTM state carry
// over exactly as they do for a reload.
#include <string>
#include <variant>

#include "app/daemon.h"
#include "app/log.h"

namespace pharos::app {

struct Daemon::ChangeJob {
  uv_work_t req{};
  Daemon* daemon = nullptr;
  std::string path;
  PendingChange change;
  std::variant<PreparedChange, ChangeFailure> result;
  bool written = false;
};

void Daemon::start_change(ChangeBatch&& batch, const std::string& by, std::function<void(const ChangeOutcome&)> done) {
  if (stopping_) {
    done(ChangeOutcome{503, Error{"", "", "pharosd is stopping"}, {}, config_generation_});
    return;
  }
  changes_.push_back(PendingChange{std::move(batch), by, std::move(done)});
  run_next_change();
}

void Daemon::run_next_change() {
  while (!reloading_ && !stopping_ && !changes_.empty()) {
    PendingChange next = std::move(changes_.front());
    changes_.pop_front();
    // Checked when its turn comes, not when it arrived: every change queued before it has been
    // applied (or refused) by now, so one writer per generation wins.
    if (next.batch.if_generation && *next.batch.if_generation != config_generation_) {
      next.done(ChangeOutcome{409,
                              Error{"", "/if_generation",
                                    "the config generation is " + std::to_string(config_generation_) + ", not " +
                                        std::to_string(*next.batch.if_generation) +
                                        ": someone changed the configuration meanwhile; read it again and retry"},
                              {},
                              config_generation_});
      continue;
    }
    auto* job = new ChangeJob;
    job->req.data = job;
    job->daemon = this;
    job->path = config_path_;
    job->change = std::move(next);
    reloading_ = true;
    reload_started_ms_ = uv_hrtime() / 1'000'000;
    if (const int rc = uv_queue_work(&loop_, &job->req, &Daemon::change_work, &Daemon::change_done); rc != 0) {
      reloading_ = false;
      auto done = std::move(job->change.done);
      delete job;
      done(ChangeOutcome{500, Error{"", "", std::string("cannot start the change: ") + uv_strerror(rc)}, {},
                         config_generation_});
      continue;
    }
    return;
  }
}

// On a thread-pool thread: reading, loading and writing never touch the control loop.
void Daemon::change_work(uv_work_t* req) {
  auto* job = static_cast<ChangeJob*>(req->data);
  job->result = prepare_change(job->path, job->change.batch);
  auto* prepared = std::get_if<PreparedChange>(&job->result);
  if (prepared == nullptr) return;
  if (auto w = write_change(*prepared); !w) {
    job->result = ChangeFailure{500, w.error()};
    return;
  }
  job->written = true;
}

void Daemon::change_done(uv_work_t* req, int /*status*/) {
  std::unique_ptr<ChangeJob> job(static_cast<ChangeJob*>(req->data));
  Daemon* self = job->daemon;
  self->reloading_ = false;
  ChangeOutcome out;
  out.config_generation = self->config_generation_;
  if (self->stopping_) {
    // Written files were checked by a full load: the next start serves them.
    out.status = 503;
    out.error.message = job->written ? "pharosd is stopping: the change is written and applies at the next start"
                                     : "pharosd is stopping: nothing was changed";
    job->change.done(out);
    self->fail_changes("pharosd is stopping");
    return;
  }
  if (auto* f = std::get_if<ChangeFailure>(&job->result)) {
    out.status = f->status;
    out.error = f->error;
    log_warn("config change refused", {{"by", job->change.by}, {"status", std::to_string(f->status)},
                                       {"error", f->error.to_string()}});
  } else {
    self->apply_change(std::move(std::get<PreparedChange>(job->result)), job->change.by, out);
  }
  job->change.done(out);
  self->after_load();
}

void Daemon::apply_change(PreparedChange&& change, const std::string& by, ChangeOutcome& out) {
  const std::uint64_t before = config_generation_;
  apply_reload(std::move(change.load));  // publishes, bumps config_generation_
  out.config_generation = config_generation_;
  out.applied = std::move(change.applied);
  const auto now = std::chrono::system_clock::now();
  const std::string generations = "generation " + std::to_string(before) + " -> " + std::to_string(config_generation_);
  for (const AppliedChange& a : out.applied) {
    log_info("config changed", {{"op", to_string(a.op)}, {"kind", to_string(a.kind)}, {"id", a.id}, {"file", a.file},
                                {"by", by}, {"config_generation", std::to_string(config_generation_)}});
    audit_->append(AuditEntry{now, "config", std::string(to_string(a.kind)) + " " + a.id, "", a.before, a.after,
                              std::string(to_string(a.op)) + " in " + a.file + ", " + generations, by});
  }
  if (out.applied.empty()) return;
  const AppliedChange& first = out.applied.front();
  std::string summary = std::string(to_string(first.op)) + " " + to_string(first.kind) + " " + first.id;
  if (out.applied.size() > 1) summary += " and " + std::to_string(out.applied.size() - 1) + " more";
  last_change_ = ConfigChangeNote{now, by, config_generation_, summary};
  // systemd's status line (systemctl status) tells of it as it tells of a reload.
  notify_.status("serving; config changed by " + by + " (" + summary + "), config generation " +
                 std::to_string(config_generation_));
}

void Daemon::fail_changes(const std::string& why) {
  auto pending = std::move(changes_);
  changes_.clear();
  for (auto& p : pending) p.done(ChangeOutcome{503, Error{"", "", why}, {}, config_generation_});
}

}  // namespace pharos::app
