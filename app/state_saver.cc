// state_saver.cc: see state_saver.h.
#include "app/state_saver.h"

#include <memory>
#include <optional>

#include "app/log.h"

namespace pharos::app {

struct StateSaver::Job {
  uv_work_t req{};
  StateSaver* saver = nullptr;
  std::string dir;
  scenario::StateFile state;      // collected on the loop
  std::optional<Error> error;     // set on the pool
};

StateSaver::StateSaver(uv_loop_t* loop, Collect collect, std::chrono::milliseconds coalesce)
    : loop_(loop), collect_(std::move(collect)), coalesce_(coalesce), window_(loop, [this] { start_write(); }) {}

StateSaver::~StateSaver() = default;

void StateSaver::changed() {
  if (dir_.empty() || closing_) return;
  if (in_flight_) {
    again_ = true;  // the write in flight may have collected the state before this change
    return;
  }
  window_.open(coalesce_);  // a change inside an open window joins it
}

void StateSaver::close() {
  if (closing_) return;
  closing_ = true;
  window_.close();
  if (dir_.empty()) return;
  if (in_flight_) {
    again_ = true;
  } else {
    start_write();
  }
}

void StateSaver::start_write() {
  if (dir_.empty()) return;
  auto job = std::make_unique<Job>();
  job->req.data = job.get();
  job->saver = this;
  job->dir = dir_;
  job->state = collect_();  // a copy: the engines keep running while the pool writes
  const int rc = uv_queue_work(
      loop_, &job->req,
      [](uv_work_t* req) {
        // On a pool thread: serialize and write; nothing here touches the loop.
        auto* j = static_cast<Job*>(req->data);
        j->error = scenario::make_state_dir(j->dir);
        if (!j->error) j->error = scenario::write_state_file(j->dir, scenario::to_json(j->state));
      },
      [](uv_work_t* req, int status) {
        std::unique_ptr<Job> j(static_cast<Job*>(req->data));
        if (status != 0 && !j->error) j->error = Error{j->dir, "", std::string("write cancelled: ") + uv_strerror(status)};
        j->saver->finished(*j);
      });
  if (rc != 0) {
    ++failures_;
    log_error("state write failed", {{"dir", dir_}, {"error", uv_strerror(rc)}});
    return;
  }
  in_flight_ = true;
  job.release();  // owned by the request until its completion callback
}

void StateSaver::finished(Job& job) {
  in_flight_ = false;
  if (job.error) {
    ++failures_;
    // A full disk fails every write: say it once, and again only if the cause changes.
    const std::string message = job.error->to_string();
    if (message != last_error_) log_error("state write failed", {{"dir", job.dir}, {"error", message}});
    last_error_ = message;
  } else {
    ++writes_;
    if (!last_error_.empty()) log_info("state written again", {{"dir", job.dir}});
    last_error_.clear();
  }
  if (!again_) return;
  again_ = false;
  if (closing_) {
    start_write();  // the last write of a graceful stop
  } else {
    changed();
  }
}

}  // namespace pharos::app
