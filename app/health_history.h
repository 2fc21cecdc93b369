// health_history.h: what health did lately, for the status page: each DC's status over the last
// hours (a timeline) and the most recent check transitions. Bounded in memory, fed by the health
// engine's changes, and kept across a restart in "<state_dir>/health_history.jsonl".
//
//   HealthHistory history(state_dir + "/health_history.jsonl");
//   if (auto e = history.open(now)) log_warn(...);        // still usable in memory
//   engine.subscribe([&](const Changes& c) { history.record(c); });
//   history.sync(engine.state().datacenters(), now);      // after start and every reload
//   for (const auto& s : history.timeline("dc1")) ...      // oldest first
//   history.close(now);                                     // graceful stop: marks the gap
//
// Time is an argument everywhere (tests run on a fixed clock). A graceful stop is written down, so
// the timeline shows the time pharosd was not running as a gap; after a crash the last status
// runs on until the restart, because nothing knows when the crash happened.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "health/health_state.h"

namespace pharos::app {

using health::SystemTime;

struct HealthHistoryLimits {
  // How far back the timeline goes; the page shows a part of it.
  std::chrono::system_clock::duration window = std::chrono::hours(24);
  // A DC that flaps all day keeps this many status changes (the newest).
  std::size_t max_per_dc = 500;
  std::size_t max_checks = 200;  // check transitions kept, the newest
};

class HealthHistory {
 public:
  using Limits = HealthHistoryLimits;

  // A status from `at` until the next segment's `at` (or now). No status: pharosd was not running.
  struct Segment {
    SystemTime at{};
    std::optional<health::DcStatus> status;
    std::string reason;
  };
  struct CheckTransition {
    SystemTime at{};
    std::string id;
    health::State from = health::State::kUnknown;
    health::State to = health::State::kUnknown;
    std::string reason;
    bool hidden_by_force = false;
  };
  // An empty path keeps the history in memory only.
  explicit HealthHistory(std::string path = {}, Limits limits = {});
  ~HealthHistory();
  HealthHistory(const HealthHistory&) = delete;
  HealthHistory& operator=(const HealthHistory&) = delete;

  // Reads the file back (lines it cannot read are skipped: a torn last line after a crash),
  // keeps what is inside the window, rewrites it compacted and opens it for appending. If the
  // last run stopped gracefully, every DC gets a gap from then on. On error the history still
  // works in memory; the error says which file and why.
  std::optional<Error> open(SystemTime now);
  // Real DC status changes and check transitions; what a saved state brought back is synced
  // instead (it is not a transition).
  void record(const health::Changes& changes);
  // Makes every DC's last status the current one (new DCs start, a gap after a restart ends) and
  // forgets DCs no longer configured.
  void sync(const std::map<std::string, health::DcInfo>& dcs, SystemTime now);
  // Graceful stop: from `now` on pharosd is not running.
  void close(SystemTime now);

  // Oldest first; the first segment may start before the window (it says what held at its start).
  const std::deque<Segment>& timeline(const std::string& dc) const;
  // Newest last.
  const std::deque<CheckTransition>& checks() const { return checks_; }
  const std::map<std::string, std::deque<Segment>>& timelines() const { return dcs_; }
  const std::optional<std::string>& write_error() const { return write_error_; }
  const std::string& path() const { return path_; }

 private:
  void add_segment(const std::string& dc, Segment s);
  void add_check(CheckTransition t);
  void prune(SystemTime now);
  void append_line(std::string&& line);
  std::optional<std::string> rewrite();  // the whole history, compacted; the error if it failed
  void load_line(std::string_view line);

  std::string path_;
  Limits limits_;
  int fd_ = -1;
  std::size_t file_bytes_ = 0;
  std::size_t compacted_bytes_ = 0;   // the file's size after the last rewrite
  SystemTime newest_{};               // the latest time seen: pruning follows it
  std::map<std::string, std::deque<Segment>> dcs_;
  std::deque<CheckTransition> checks_;
  std::optional<std::string> write_error_;
};

// "ok", "noAccess", ... back to a status; nothing for an unknown word.
std::optional<health::DcStatus> dc_status_from(std::string_view s);
std::optional<health::State> state_from(std::string_view s);

}  // namespace pharos::app
