// prober.h: the interface every check type implements. A prober runs one probe at a time on the
// control loop and reports through a callback; it never blocks the loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "health/check.h"

namespace pharos::health {

struct ProbeResult {
  bool up = false;
  std::string reason;                       // why it failed (or a short note when up)
  std::chrono::microseconds latency{0};     // time from start to result
};

using ProbeCallback = std::function<void(ProbeResult&&)>;

class Prober {
 public:
  virtual ~Prober() = default;
  // Starts one probe. `done` is called exactly once, on the loop thread, at the latest when the
  // spec's timeout expires (then with up=false and a reason saying "timeout"), unless cancel() or
  // the destructor runs first, after which it is never called. Never called from inside start().
  virtual void start(ProbeCallback done) = 0;
  // Abandons the probe in flight, if any. Handles are closed asynchronously; a prober may be
  // destroyed right after cancel() (implementations keep what libuv still references alive on
  // their own until the close callbacks have run).
  virtual void cancel() = 0;
};

}  // namespace pharos::health
