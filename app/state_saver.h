// state_saver.h: writes pharosd's state file after changes without ever blocking the control loop
// on the disk. Changes within a short window become one write; the state is collected on the loop
// and serialized and written (scenario::write_state_file) on the libuv thread pool, one write at a
// time, with one more after the last if anything changed meanwhile.
//
//   StateSaver saver(loop, [&] { return StateFile{now(), health.save(), gtm.save()}; });
//   saver.set_dir(config.state_dir);
//   health.subscribe([&](const auto&) { saver.changed(); });
//   ...
//   saver.close();   // on a graceful stop: one last write, then the loop may end
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "scenario/state_file.h"
#include "scenario/window_timer.h"

namespace pharos::app {

class StateSaver {
 public:
  using Collect = std::function<scenario::StateFile()>;
  // A burst of changes (a DC going down moves a dozen checks, then its records) is one write.
  static constexpr std::chrono::milliseconds kCoalesce{200};

  StateSaver(uv_loop_t* loop, Collect collect, std::chrono::milliseconds coalesce = kCoalesce);
  ~StateSaver();
  StateSaver(const StateSaver&) = delete;
  StateSaver& operator=(const StateSaver&) = delete;

  // Where to write; empty turns persistence off. Takes effect with the next write.
  void set_dir(std::string dir) { dir_ = std::move(dir); }
  const std::string& dir() const { return dir_; }

  // Something worth keeping moved: write within the coalescing window.
  void changed();
  // Graceful stop: writes once more (after the write in flight, if any) and closes the timer. The
  // loop keeps running until that write is done.
  void close();

  std::uint64_t writes() const { return writes_; }
  std::uint64_t failures() const { return failures_; }

 private:
  struct Job;

  void start_write();
  void finished(Job& job);

  uv_loop_t* loop_;
  Collect collect_;
  std::chrono::milliseconds coalesce_;
  std::string dir_;
  scenario::WindowTimer window_;  // coalesces a burst of changes into one write
  bool in_flight_ = false;
  bool again_ = false;            // changed while a write was in flight
  bool closing_ = false;
  std::string last_error_;        // logged once until it changes or a write succeeds
  std::uint64_t writes_ = 0;
  std::uint64_t failures_ = 0;
};

}  // namespace pharos::app
