// window_timer.h: a coalescing window on a libuv loop. The first open() in a quiet period starts
// the window; open()s while it is running join it; when it ends, `fire` runs once. The GTM
// debounce and the state writer both use it, so a burst of changes costs one pass.
//
//   WindowTimer window(loop, [this] { flush(); });
//   window.open(std::chrono::milliseconds(200));   // on every change
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

namespace pharos::scenario {

class WindowTimer {
 public:
  WindowTimer(uv_loop_t* loop, std::function<void()> fire);
  ~WindowTimer() { close(); }
  WindowTimer(const WindowTimer&) = delete;
  WindowTimer& operator=(const WindowTimer&) = delete;

  // Starts a window of `length` unless one is running. False once closed.
  bool open(std::chrono::milliseconds length);
  bool running() const { return running_; }
  // Stops it for good; the handle is freed in its close callback, so run the loop afterwards.
  void close();

 private:
  uv_timer_t* timer_;   // heap: libuv may still hold it after we are gone
  std::function<void()> fire_;
  bool running_ = false;
};

}  // namespace pharos::scenario
