// status_page.h: the status page at "/" (docs/api.md): one self-contained HTML document with
// inline CSS and an inline SVG timeline, no script and no external asset, rendered on the control
// loop from what the engines hold and refreshed by the browser every few seconds.
//
//   StatusView v = collect_status(context, std::chrono::system_clock::now());   // on the loop
//   std::string html = render_status_page(v, now);                            // pure
//
// The renderer is a pure function of a StatusView and a time, so tests build views by hand.
// Every string from the configuration, a probe or an operator is escaped for HTML.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/control_api.h"
#include "app/health_history.h"
#include "health/health_state.h"

namespace pharos::app {

struct StatusView {
  struct Dc {
    std::string name;
    health::DcStatus status = health::DcStatus::kUnknown;
    SystemTime since{};
    std::string reason;
    bool maintenance = false;             // effective
    bool configured_maintenance = false;  // set in the scenario file
    std::optional<SystemTime> until;
    std::string by, note;                 // who set the runtime maintenance, and why
  };
  struct Check {
    std::string id;
    bool automatic = false;
    std::string type;                     // "tcp", "http", ...; "" for automatic checks
    health::State state = health::State::kUnknown;  // effective
    health::State measured = health::State::kUnknown;
    std::optional<health::State> forced;
    SystemTime since{};
    std::string reason;
    bool has_last = false;
    bool last_ok = false;
    std::string last_reason;
    SystemTime last_at{};
    double last_latency_ms = 0;
    std::uint64_t probes = 0, failures = 0, transitions = 0;
  };
  struct Answer {
    std::string region;                   // "" for clients in no region
    std::string source;                   // "chain", "dr", "fallback", "failOpen", "nodata", ...
    std::string dc;                       // the serving chain entry's DC, "" when none
    int entry = -1;
    std::vector<std::string> rdata;
    std::string reason;
    SystemTime since{};
  };
  struct Record {
    std::string name, type;
    std::uint32_t ttl = 0;
    std::vector<std::string> chain;       // DCs in chain order
    std::vector<Answer> answers;          // one per region (one in all when the record has no geo order)
  };
  struct Event {
    SystemTime at{};
    std::string kind;                     // "answer", "maintenance", ... (audit), "check", "dc"
    std::string subject, region, from, to, reason, by;
  };
  struct Timeline {
    std::string dc;
    std::vector<HealthHistory::Segment> segments;  // oldest first
  };

  std::string version, hostname;
  std::uint64_t uptime_s = 0;
  std::uint64_t config_generation = 0;
  std::optional<ReloadOutcome> last_reload;
  std::optional<ConfigChangeNote> last_change;  // the last config change through the API
  std::int64_t watchdog_age_ms = 0;
  bool pending_selection = false;
  std::uint64_t zones = 0, workers = 0;
  std::vector<Dc> dcs;
  std::vector<Check> checks;              // probed first, then automatic
  std::vector<Record> records;
  std::vector<Event> events;              // newest first
  std::vector<Timeline> timelines;        // one per DC, in the order of `dcs`
};

struct PageOptions {
  std::chrono::seconds refresh{10};                 // <meta http-equiv="refresh">
  std::chrono::system_clock::duration span = std::chrono::hours(6);  // the timeline's width
  std::size_t max_rows = 500;                       // per table; the rest is counted, not shown
  std::size_t max_events = 60;
};

// Reads the engines (on the control loop) into a view; `c.history` may be null.
StatusView collect_status(const ApiContext& c, SystemTime now, const PageOptions& options = {});
std::string render_status_page(const StatusView& view, SystemTime now, const PageOptions& options = {});

// Text for HTML content and quoted attribute values: & < > " ' escaped, control characters
// dropped, bytes that are not UTF-8 replaced by U+FFFD.
std::string html_escape(std::string_view s);

// The timeline geometry of one DC: a band per segment that overlaps [from, to), in the
// horizontal range [x0, x0 + width). A band that would be thinner than one unit is widened to
// one (kept inside the range), so a short outage stays visible.
struct Band {
  std::optional<health::DcStatus> status;  // none: pharosd was not running
  double x = 0, width = 0;
  SystemTime from{}, to{};
  std::string reason;
};
std::vector<Band> timeline_bands(const std::vector<HealthHistory::Segment>& segments, SystemTime from, SystemTime to,
                                 double x0, double width);

}  // namespace pharos::app
