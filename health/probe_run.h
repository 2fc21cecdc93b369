// probe_run.h: the lifetime of one probe in flight, shared by the tcp, exec, file and link probers.
// A run is a heap object that owns its libuv handles and requests, reports at most once, and deletes
// itself when libuv no longer references it, so a prober may be cancelled or destroyed at any time.
//
//   class PingRun final : public ProbeRun {
//     void begin() override {
//       uv_udp_init(loop(), &udp_); attach(&udp_); hold();   // the hold is released on close
//       ...                                                  // may report() at once
//     }
//     void on_timeout() override { report(false, timeout_reason("waiting for a reply")); }
//     void on_end() override { uv_close(reinterpret_cast<uv_handle_t*>(&udp_), release_on_close); }
//   };
//   class PingProber final : public RunProber {
//     ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) override {
//       return new PingRun(loop_, timeout_, std::move(done), slot);
//     }
//   };
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "health/check.h"
#include "health/prober.h"

namespace pharos::health {

class ProbeRun {
 public:
  ProbeRun(const ProbeRun&) = delete;
  ProbeRun& operator=(const ProbeRun&) = delete;

  // Arms the hard timeout and calls begin(). A result reported inside begin() is delivered from the
  // timer on the next loop iteration: `done` is never called from inside Prober::start().
  void launch();
  // The owner gives up on the run: `done` is never called, work stops, memory goes when libuv is done.
  void abandon();

 protected:
  // `slot` is the owner's pointer to this run; the run clears it when it ends, so the owner never
  // reaches a run that is only waiting for its close callbacks.
  ProbeRun(uv_loop_t* loop, Millis timeout, ProbeCallback&& done, ProbeRun** slot);
  virtual ~ProbeRun();

  // Starts the work. Every handle initialised and every request started takes a hold().
  virtual void begin() = 0;
  // The hard timeout expired before a result: report(false, ...) saying what was being waited for.
  virtual void on_timeout() = 0;
  // The run ended (reported or abandoned): stop and close everything; each close callback (or
  // request completion) releases its hold. Callbacks arriving later see ended() and only release.
  virtual void on_end() = 0;

  // Reports once; later calls, and calls after abandon(), are ignored.
  void report(bool up, std::string reason);
  bool ended() const { return ended_; }
  void hold() { ++holds_; }
  // Drops a hold; frees the run when it has ended and nothing holds it. Must be the last thing a
  // callback does with the run.
  void release();

  uv_loop_t* loop() const { return loop_; }
  Millis timeout() const { return timeout_; }
  // "timeout after 2000 ms connecting"
  std::string timeout_reason(std::string_view doing) const;

  // Marks a handle or request as this run's (its data pointer), for run_of() in callbacks.
  template <class T>
  void attach(T* handle_or_req) {
    handle_or_req->data = static_cast<ProbeRun*>(this);
  }
  template <class Run, class T>
  static Run* run_of(T* handle_or_req) {
    return static_cast<Run*>(static_cast<ProbeRun*>(handle_or_req->data));
  }
  // A close callback that releases the hold the handle took.
  static void release_on_close(uv_handle_t* handle);

 private:
  static void on_timer(uv_timer_t* timer);
  void deliver(ProbeResult&& result);
  void end();

  uv_loop_t* loop_;
  Millis timeout_;
  ProbeCallback done_;
  ProbeRun** slot_;
  uv_timer_t timer_{};
  std::uint64_t started_ns_ = 0;
  int holds_ = 0;
  bool ended_ = false;
  bool in_begin_ = false;
  std::optional<ProbeResult> pending_;   // reported inside begin(), delivered by the timer
};

// A prober that runs one ProbeRun at a time; cancel() and the destructor abandon the run in flight.
class RunProber : public Prober {
 public:
  ~RunProber() override { cancel(); }
  void start(ProbeCallback done) final;
  void cancel() final;

 protected:
  virtual ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) = 0;

 private:
  ProbeRun* run_ = nullptr;
};

// Text from a target or a file made safe for a reason string: control bytes become spaces,
// surrounding whitespace goes, and it is cut to `max` bytes.
std::string printable(std::string_view text, std::size_t max = 200);

}  // namespace pharos::health
