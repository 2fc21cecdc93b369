// small_file.h: reads the start of a small file on the libuv threadpool (open, read, close), for the
// file and link probers: a state file on NFS, a FIFO or a slow sysfs attribute never blocks the loop.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <string>

namespace pharos::health {

class SmallFileRead {
 public:
  // status is 0 or the libuv error of the step that failed (UV_ENOENT when opening, UV_EINVAL when
  // reading a sysfs attribute that has no value, ...). Runs once, on the loop thread.
  using Done = std::function<void(int status, std::string data)>;

  SmallFileRead() = default;
  SmallFileRead(const SmallFileRead&) = delete;
  SmallFileRead& operator=(const SmallFileRead&) = delete;

  // Reads at most `limit` bytes from the start of `path`. The object must stay alive until `done`
  // has run: threadpool requests cannot be taken back once started. Returns a libuv error, and
  // never calls `done`, if the read could not even be queued.
  int start(uv_loop_t* loop, const std::string& path, std::size_t limit, Done done);

 private:
  static void on_open(uv_fs_t* req);
  static void on_read(uv_fs_t* req);
  static void on_close(uv_fs_t* req);
  void close_file();

  uv_loop_t* loop_ = nullptr;
  uv_fs_t req_{};
  uv_file file_ = -1;
  int status_ = 0;
  std::string data_;
  Done done_;
};

}  // namespace pharos::health
