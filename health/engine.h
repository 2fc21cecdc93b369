// engine.h: runs the health checks on the control loop. One prober per distinct probe (identical
// checks share it), a fixed-rate schedule with jitter, at most one probe in flight per prober, and
// every result fed to the verdict table, whose changes go to the subscribers.
//
//   HealthEngine engine(loop, services);
//   engine.subscribe([](const Changes& c) { ... });
//   engine.apply(config);            // start, and again on every reload
//   ...
//   engine.stop();                   // then let the loop run to close the handles
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "health/health_state.h"
#include "health/prober.h"

namespace pharos::health {

class ProberFactory {
 public:
  virtual ~ProberFactory() = default;
  // A prober for this spec, or nullptr with `error` set when the spec cannot be probed here.
  virtual std::unique_ptr<Prober> make(const CheckSpec& spec, std::string& error) = 0;
};

// How punctual the schedule is: lateness = actual probe start - scheduled time.
struct ScheduleStats {
  static constexpr std::array<std::uint32_t, 8> kBucketsMs = {1, 2, 5, 10, 50, 100, 1000, 0xFFFFFFFF};
  std::uint64_t probes = 0;            // probes started
  std::uint64_t skipped = 0;           // due while the previous probe was still in flight
  std::uint64_t unprobeable = 0;       // checks whose prober could not be made
  std::array<std::uint64_t, 8> lateness{};  // counts per bucket (<= kBucketsMs[i] ms)
  std::uint64_t lateness_max_ms = 0;
  std::uint64_t lateness_sum_us = 0;
};

class HealthEngine {
 public:
  using Listener = std::function<void(const Changes&)>;
  using WallClock = std::function<SystemTime()>;

  HealthEngine(uv_loop_t* loop, ProberFactory& factory, WallClock wall = [] { return std::chrono::system_clock::now(); });
  ~HealthEngine();
  HealthEngine(const HealthEngine&) = delete;
  HealthEngine& operator=(const HealthEngine&) = delete;

  // Applies a configuration: unchanged checks keep their state and their schedule; removed
  // checks stop; new ones start at a random point of their first interval.
  void apply(const HealthConfig& config);
  void subscribe(Listener listener) { listeners_.push_back(std::move(listener)); }
  // Every probe result, with the IDs of the checks that share the probe (metrics), before the
  // verdicts it causes reach the subscribers.
  using ProbeListener = std::function<void(const std::vector<std::string>& ids, const ProbeResult& result)>;
  void on_probe(ProbeListener listener) { probe_listeners_.push_back(std::move(listener)); }
  // Called after every operator action that succeeded, even one that moved no state (forcing a
  // check to the state it has still changes what must survive a restart).
  void on_operator_action(std::function<void()> f) { actions_.push_back(std::move(f)); }

  bool force(const std::string& id, std::optional<State> state);
  // Runtime maintenance of a DC. With `until` it ends by itself at that time (a timer on the
  // loop re-reads the wall clock at least once a minute, so a clock step is noticed); `by` and
  // `note` say who and why. False if there is no such DC.
  bool set_maintenance(const std::string& dc, bool on, std::optional<SystemTime> until = std::nullopt,
                       std::string by = {}, std::string note = {});
  // Ends every maintenance whose expiry has passed by the wall clock. The timer calls it; tests
  // call it after moving their clock.
  void expire_maintenance();
  // When the expiry timer fires next (for tests), or nullopt when no expiry is pending.
  std::optional<std::chrono::milliseconds> expiry_timer_due() const;

  // A saved state (HealthState::restore); call right after the first apply(), before the loop
  // runs a probe. The changes go to the subscribers, marked `restored`.
  RestoreOutcome restore(const SavedHealth& saved);
  // The "assumeUp" startup policy (HealthState::assume_up), at the same point.
  void assume_up();

  const HealthState& state() const { return state_; }
  const ScheduleStats& stats() const { return stats_; }
  std::size_t prober_count() const { return slots_.size(); }
  // Age of the oldest overdue probe: 0 when every check runs on time.
  std::chrono::milliseconds watchdog_age() const;

  // Cancels every probe and closes every timer; run the loop afterwards so the close callbacks
  // free them. The engine may be destroyed once stop() has been called.
  void stop();

 private:
  struct Slot;

  void start_probe(Slot& slot);
  void on_result(Slot& slot, ProbeResult&& result);
  void schedule_next(Slot& slot);
  void close_slot(std::unique_ptr<Slot> slot);
  void publish(const Changes& changes);
  void arm_expiry();
  std::uint64_t jitter_ms(std::uint64_t interval_ms);

  uv_loop_t* loop_;
  ProberFactory& factory_;
  WallClock wall_;
  HealthState state_;
  std::unordered_map<std::string, std::unique_ptr<Slot>> slots_;  // by probe key
  std::vector<Listener> listeners_;
  std::vector<ProbeListener> probe_listeners_;
  std::vector<std::function<void()>> actions_;
  ScheduleStats stats_;
  uv_timer_t* expiry_timer_ = nullptr;  // heap: freed in its close callback
  std::optional<std::chrono::milliseconds> expiry_due_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopped_ = false;
};

}  // namespace pharos::health
