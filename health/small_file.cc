// small_file.cc: open, read and close one small file through uv_fs_* on the libuv threadpool.
#include "health/small_file.h"

#include <fcntl.h>

#include <utility>

namespace pharos::health {

int SmallFileRead::start(uv_loop_t* loop, const std::string& path, std::size_t limit, Done done) {
  loop_ = loop;
  file_ = -1;
  status_ = 0;
  data_.assign(limit, '\0');
  done_ = std::move(done);
  req_.data = this;
  // O_NONBLOCK: opening a FIFO nobody writes to would otherwise park a threadpool thread forever;
  // for regular files and sysfs it changes nothing.
  const int r = uv_fs_open(loop_, &req_, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0, on_open);
  if (r < 0) {
    uv_fs_req_cleanup(&req_);
    done_ = nullptr;
  }
  return r;
}

void SmallFileRead::on_open(uv_fs_t* req) {
  auto* self = static_cast<SmallFileRead*>(req->data);
  const auto result = req->result;
  uv_fs_req_cleanup(req);
  if (result < 0) {
    self->status_ = static_cast<int>(result);
    Done done = std::move(self->done_);
    done(self->status_, {});
    return;
  }
  self->file_ = static_cast<uv_file>(result);
  uv_buf_t buf = uv_buf_init(self->data_.data(), static_cast<unsigned>(self->data_.size()));
  // Offset -1 reads from the current position: pread() would fail on a FIFO.
  uv_fs_read(self->loop_, req, self->file_, &buf, 1, -1, on_read);
}

void SmallFileRead::on_read(uv_fs_t* req) {
  auto* self = static_cast<SmallFileRead*>(req->data);
  const auto result = req->result;
  uv_fs_req_cleanup(req);
  if (result < 0) {
    self->status_ = static_cast<int>(result);
    self->data_.clear();
  } else {
    self->data_.resize(static_cast<std::size_t>(result));
  }
  self->close_file();
}

void SmallFileRead::close_file() {
  // Queuing a request fails only on bad arguments (a null request or buffer), never here.
  uv_fs_close(loop_, &req_, file_, on_close);
}

void SmallFileRead::on_close(uv_fs_t* req) {
  auto* self = static_cast<SmallFileRead*>(req->data);
  uv_fs_req_cleanup(req);
  self->file_ = -1;
  Done done = std::move(self->done_);
  done(self->status_, std::move(self->data_));
}

}  // namespace pharos::health
