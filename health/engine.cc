// engine.cc: see engine.h.
#include "health/engine.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

namespace pharos::health {

struct HealthEngine::Slot {
  HealthEngine* engine = nullptr;
  CheckSpec spec;                      // interval, timeout and the probe itself
  std::vector<std::string> ids;        // checks sharing this probe
  std::unique_ptr<Prober> prober;      // null when the spec cannot be probed here
  std::string error;                   // why prober is null
  uv_timer_t* timer = nullptr;         // heap: freed in its close callback
  std::uint64_t due_ms = 0;            // loop time of the next scheduled probe
  std::uint64_t started_ms = 0;
  bool in_flight = false;
};

namespace {

void free_timer(uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); }

}  // namespace

HealthEngine::HealthEngine(uv_loop_t* loop, ProberFactory& factory, WallClock wall)
    : loop_(loop), factory_(factory), wall_(std::move(wall)) {}

HealthEngine::~HealthEngine() { stop(); }

std::uint64_t HealthEngine::jitter_ms(std::uint64_t interval_ms) {
  // Up to ±5% of the interval (at most ±500 ms): checks configured together drift apart instead
  // of probing in bursts, while each keeps its average rate.
  const std::uint64_t span = std::min<std::uint64_t>(interval_ms / 20, 500);
  if (span == 0) return interval_ms;
  return interval_ms - span + rng_() % (2 * span + 1);
}

void HealthEngine::apply(const HealthConfig& config) {
  if (stopped_) return;
  // Group checks by probe: identical probes run once.
  std::unordered_map<std::string, std::pair<CheckSpec, std::vector<std::string>>> wanted;
  for (const auto& [id, spec] : config.checks) {
    auto& w = wanted[spec.probe_key()];
    w.first = spec;
    w.second.push_back(id);
  }
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (wanted.count(it->first) == 0) {
      close_slot(std::move(it->second));
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
  const Changes changes = state_.configure(config, wall_());
  const std::uint64_t now = uv_now(loop_);
  for (auto& [key, w] : wanted) {
    auto found = slots_.find(key);
    if (found != slots_.end()) {
      found->second->ids = std::move(w.second);
      continue;
    }
    auto slot = std::make_unique<Slot>();
    slot->engine = this;
    slot->spec = w.first;
    slot->ids = std::move(w.second);
    slot->prober = factory_.make(slot->spec, slot->error);
    if (!slot->prober) {
      ++stats_.unprobeable;
      // Visible as a failing check: an unprobeable check must not look healthy.
      Changes failed;
      for (const auto& id : slot->ids) {
        const Changes c = state_.record(id, ProbeResult{false, slot->error, {}}, wall_());
        failed.checks.insert(failed.checks.end(), c.checks.begin(), c.checks.end());
        failed.datacenters.insert(failed.datacenters.end(), c.datacenters.begin(), c.datacenters.end());
      }
      publish(failed);
      slots_.emplace(key, std::move(slot));
      continue;
    }
    slot->timer = new uv_timer_t;
    uv_timer_init(loop_, slot->timer);
    slot->timer->data = slot.get();
    const auto interval = static_cast<std::uint64_t>(std::max<std::int64_t>(1, slot->spec.interval.count()));
    slot->due_ms = now + rng_() % interval;  // spread the first probes over one interval
    uv_timer_start(
        slot->timer,
        [](uv_timer_t* t) {
          auto* s = static_cast<Slot*>(t->data);
          s->engine->start_probe(*s);
        },
        slot->due_ms - now, 0);
    slots_.emplace(key, std::move(slot));
  }
  arm_expiry();  // a changed maintenanceMode in the file drops a pending expiry
  publish(changes);
}

// The real time in the loop's clock domain: uv_now() is cached for a whole loop iteration and
// hides how late a busy loop really is.
static std::uint64_t real_now_ms() { return uv_hrtime() / 1'000'000; }

void HealthEngine::start_probe(Slot& slot) {
  const std::uint64_t now = real_now_ms();
  if (slot.in_flight) {
    // The previous probe outlived its interval (its timeout should have ended it): never stack
    // a second probe on a slow target.
    ++stats_.skipped;
    schedule_next(slot);
    return;
  }
  const std::uint64_t late = now > slot.due_ms ? now - slot.due_ms : 0;
  ++stats_.probes;
  stats_.lateness_sum_us += late * 1000;
  stats_.lateness_max_ms = std::max(stats_.lateness_max_ms, late);
  for (std::size_t i = 0; i < ScheduleStats::kBucketsMs.size(); ++i) {
    if (late <= ScheduleStats::kBucketsMs[i]) {
      ++stats_.lateness[i];
      break;
    }
  }
  slot.in_flight = true;
  slot.started_ms = now;
  schedule_next(slot);
  Slot* s = &slot;
  slot.prober->start([s](ProbeResult&& r) { s->engine->on_result(*s, std::move(r)); });
}

void HealthEngine::schedule_next(Slot& slot) {
  const std::uint64_t now = uv_now(loop_);
  const auto interval = static_cast<std::uint64_t>(std::max<std::int64_t>(1, slot.spec.interval.count()));
  slot.due_ms += jitter_ms(interval);
  if (slot.due_ms < now) slot.due_ms = now + jitter_ms(interval) % interval;  // fell behind: catch up, no burst
  uv_timer_start(
      slot.timer,
      [](uv_timer_t* t) {
        auto* s = static_cast<Slot*>(t->data);
        s->engine->start_probe(*s);
      },
      slot.due_ms - now, 0);
}

void HealthEngine::on_result(Slot& slot, ProbeResult&& result) {
  slot.in_flight = false;
  for (const auto& f : probe_listeners_) f(slot.ids, result);
  Changes all;
  const SystemTime now = wall_();
  for (const auto& id : slot.ids) {
    Changes c = state_.record(id, result, now);
    all.checks.insert(all.checks.end(), std::make_move_iterator(c.checks.begin()),
                      std::make_move_iterator(c.checks.end()));
    all.datacenters.insert(all.datacenters.end(), std::make_move_iterator(c.datacenters.begin()),
                           std::make_move_iterator(c.datacenters.end()));
  }
  publish(all);
}

bool HealthEngine::force(const std::string& id, std::optional<State> state) {
  auto c = state_.force(id, state, wall_());
  if (!c) return false;
  publish(*c);
  for (const auto& f : actions_) f();
  return true;
}

bool HealthEngine::set_maintenance(const std::string& dc, bool on, std::optional<SystemTime> until,
                                   std::string by, std::string note) {
  if (stopped_) return false;
  auto c = state_.set_maintenance(dc, on, wall_(), until, std::move(by), std::move(note));
  if (!c) return false;
  arm_expiry();
  publish(*c);
  for (const auto& f : actions_) f();
  return true;
}

void HealthEngine::expire_maintenance() {
  if (stopped_) return;
  const Changes c = state_.expire_maintenance(wall_());
  arm_expiry();
  if (c.empty()) return;
  publish(c);
  for (const auto& f : actions_) f();  // the saved state must forget the expired maintenance
}

std::optional<std::chrono::milliseconds> HealthEngine::expiry_timer_due() const { return expiry_due_; }

void HealthEngine::arm_expiry() {
  if (stopped_) return;
  const std::optional<SystemTime> next = state_.next_maintenance_expiry();
  if (!next) {
    if (expiry_timer_ != nullptr) uv_timer_stop(expiry_timer_);
    expiry_due_.reset();
    return;
  }
  if (expiry_timer_ == nullptr) {
    expiry_timer_ = new uv_timer_t;
    uv_timer_init(loop_, expiry_timer_);
    expiry_timer_->data = this;
  }
  // The wall clock may step: never sleep more than a minute on a computed delay.
  constexpr std::chrono::milliseconds kRecheck{60'000};
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - wall_());
  expiry_due_ = std::clamp(left, std::chrono::milliseconds(0), kRecheck);
  uv_timer_start(
      expiry_timer_, [](uv_timer_t* t) { static_cast<HealthEngine*>(t->data)->expire_maintenance(); },
      static_cast<std::uint64_t>(expiry_due_->count()), 0);
}

RestoreOutcome HealthEngine::restore(const SavedHealth& saved) {
  // A check that cannot be probed here is never probed again: it keeps the failure apply()
  // recorded instead of a saved verdict nothing would ever correct.
  std::unordered_set<std::string> unprobeable;
  for (const auto& [key, slot] : slots_)
    if (!slot->prober)
      for (const auto& id : slot->ids) unprobeable.insert(id);
  RestoreOutcome r;
  if (unprobeable.empty()) {
    r = state_.restore(saved, wall_());
  } else {
    SavedHealth usable = saved;
    std::erase_if(usable.checks, [&](const SavedCheck& c) { return unprobeable.count(c.id) > 0; });
    r = state_.restore(usable, wall_());
    r.skipped += saved.checks.size() - usable.checks.size();
  }
  arm_expiry();
  publish(r.changes);
  return r;
}

void HealthEngine::assume_up() { publish(state_.assume_up(wall_())); }

void HealthEngine::publish(const Changes& changes) {
  if (changes.empty()) return;
  for (const auto& l : listeners_) l(changes);
}

std::chrono::milliseconds HealthEngine::watchdog_age() const {
  const std::uint64_t now = real_now_ms();
  std::uint64_t worst = 0;
  for (const auto& [key, slot] : slots_) {
    if (!slot->prober) continue;
    std::uint64_t overdue = 0;
    if (slot->in_flight) {
      // A probe past twice its timeout (at most one second of grace) means a checker broke its
      // contract: count it as overdue.
      const auto timeout = static_cast<std::uint64_t>(slot->spec.timeout.count());
      const std::uint64_t deadline = slot->started_ms + timeout + std::min<std::uint64_t>(timeout, 1000);
      overdue = now > deadline ? now - deadline : 0;
    } else {
      overdue = now > slot->due_ms ? now - slot->due_ms : 0;
    }
    worst = std::max(worst, overdue);
  }
  return std::chrono::milliseconds(worst);
}

void HealthEngine::close_slot(std::unique_ptr<Slot> slot) {
  if (slot->prober) slot->prober->cancel();
  slot->prober.reset();
  if (slot->timer != nullptr) {
    uv_timer_stop(slot->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(slot->timer), free_timer);
    slot->timer = nullptr;
  }
}

void HealthEngine::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (expiry_timer_ != nullptr) {
    uv_timer_stop(expiry_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(expiry_timer_), free_timer);
    expiry_timer_ = nullptr;
    expiry_due_.reset();
  }
  for (auto& [key, slot] : slots_) close_slot(std::move(slot));
  slots_.clear();
}

}  // namespace pharos::health
