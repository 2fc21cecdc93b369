// window_timer.cc: see window_timer.h.
#include "scenario/window_timer.h"

namespace pharos::scenario {

WindowTimer::WindowTimer(uv_loop_t* loop, std::function<void()> fire) : timer_(new uv_timer_t), fire_(std::move(fire)) {
  uv_timer_init(loop, timer_);
  timer_->data = this;
}

bool WindowTimer::open(std::chrono::milliseconds length) {
  if (timer_ == nullptr) return false;
  if (running_) return true;  // this change joins the open window
  running_ = true;
  uv_timer_start(
      timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<WindowTimer*>(t->data);
        self->running_ = false;
        self->fire_();
      },
      static_cast<std::uint64_t>(length.count()), 0);
  return true;
}

void WindowTimer::close() {
  if (timer_ == nullptr) return;
  uv_timer_stop(timer_);
  running_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

}  // namespace pharos::scenario
