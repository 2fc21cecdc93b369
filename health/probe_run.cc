// probe_run.cc: one probe in flight: the hard timeout, report-once, and freeing after libuv is done.
#include "health/probe_run.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace pharos::health {

ProbeRun::ProbeRun(uv_loop_t* loop, Millis timeout, ProbeCallback&& done, ProbeRun** slot)
    : loop_(loop), timeout_(timeout), done_(std::move(done)), slot_(slot) {
  uv_timer_init(loop_, &timer_);
  attach(&timer_);
  hold();   // released when the timer is closed, which happens only in end()
}

ProbeRun::~ProbeRun() = default;

void ProbeRun::launch() {
  // The loop's clock was read when this iteration began; a scheduler starting many probes in one
  // iteration would otherwise give the later ones a shorter timeout than configured. Lengthen the
  // timer by that lag instead of calling uv_update_time: advancing the clock here makes more timers
  // due in the same timer phase, and a loop that is behind would then never reach its poll phase
  // (every probe times out and every check goes down although the targets are healthy).
  started_ns_ = uv_hrtime();
  const std::uint64_t now_ms = started_ns_ / 1'000'000;
  const std::uint64_t lag = now_ms > uv_now(loop_) ? now_ms - uv_now(loop_) : 0;
  const auto ms = timeout_.count() > 0 ? static_cast<std::uint64_t>(timeout_.count()) : 0;
  uv_timer_start(&timer_, on_timer, ms + lag, 0);
  in_begin_ = true;
  begin();
  in_begin_ = false;
}

void ProbeRun::abandon() {
  if (ended_) return;
  done_ = nullptr;
  pending_.reset();
  end();
}

void ProbeRun::report(bool up, std::string reason) {
  if (ended_ || pending_) return;
  ProbeResult result{up, std::move(reason), {}};
  if (in_begin_) {
    // Not from inside start(): the timer, restarted at zero, delivers it on the next iteration.
    pending_ = std::move(result);
    uv_timer_start(&timer_, on_timer, 0, 0);
    return;
  }
  deliver(std::move(result));
}

void ProbeRun::deliver(ProbeResult&& result) {
  result.latency = std::chrono::microseconds((uv_hrtime() - started_ns_) / 1000);
  ProbeCallback done = std::move(done_);
  end();
  // The callback may destroy the prober or start the next probe; this run stays valid meanwhile
  // because the hold below keeps it (and the timer's close callback has not run yet either).
  hold();
  if (done) done(std::move(result));
  release();
}

void ProbeRun::end() {
  assert(!ended_);
  ended_ = true;
  if (slot_ != nullptr && *slot_ == this) *slot_ = nullptr;
  slot_ = nullptr;
  uv_timer_stop(&timer_);
  on_end();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), release_on_close);
}

void ProbeRun::release() {
  assert(holds_ > 0);
  if (--holds_ == 0 && ended_) delete this;
}

void ProbeRun::release_on_close(uv_handle_t* handle) { run_of<ProbeRun>(handle)->release(); }

void ProbeRun::on_timer(uv_timer_t* timer) {
  ProbeRun* run = run_of<ProbeRun>(timer);
  if (run->ended_) return;
  if (run->pending_) {
    ProbeResult result = std::move(*run->pending_);
    run->pending_.reset();
    run->deliver(std::move(result));
    return;
  }
  run->on_timeout();
  // A run that forgot to report on timeout would hang its check: report a generic timeout.
  if (!run->ended_) run->report(false, run->timeout_reason("waiting"));
}

std::string ProbeRun::timeout_reason(std::string_view doing) const {
  std::string out = "timeout after " + std::to_string(timeout_.count()) + " ms";
  if (!doing.empty()) {
    out += ' ';
    out += doing;
  }
  return out;
}

void RunProber::start(ProbeCallback done) {
  // One probe at a time (the scheduler guarantees it); a second start() replaces the first.
  assert(run_ == nullptr);
  cancel();
  ProbeRun* run = make_run(std::move(done), &run_);
  run_ = run;
  run->launch();
}

void RunProber::cancel() {
  if (run_ != nullptr) run_->abandon();   // clears run_
}

std::string printable(std::string_view text, std::size_t max) {
  const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (const char c : text) {
    if (out.size() >= max) break;
    out.push_back(blank(c) ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace pharos::health
