// status_page.cc: see status_page.h. The page is written as plain strings: a handful of tables and
// one SVG, small enough that a template engine would add more than it saves. Times are UTC.
#include "app/status_page.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include "scenario/explain.h"

namespace pharos::app {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (overlong forms and surrogates are invalid).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

// At most `max` characters (code points) of valid text, with an ellipsis when cut.
std::string shorten(std::string_view s, std::size_t max) {
  std::size_t i = 0, chars = 0;
  while (i < s.size() && chars < max) {
    const std::size_t n = static_cast<unsigned char>(s[i]) < 0x80 ? 1 : std::max<std::size_t>(1, utf8_length(s, i));
    i += n;
    ++chars;
  }
  if (i >= s.size()) return std::string(s);
  return std::string(s.substr(0, i)) + "\u2026";
}

std::string esc(std::string_view s) { return html_escape(s); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::tm utc(SystemTime t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

std::string strftime_utc(SystemTime t, const char* format) {
  const std::tm tm = utc(t);
  char buf[48];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// "42s", "5m 3s", "2h 5m", "3d 4h".
std::string duration_text(std::chrono::seconds d) {
  const long long s = std::max<long long>(0, d.count());
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600) + "h";
}

// A time as "14:05:07" (with the date when it is not within the last day), the full time on
// hover, and how long ago.
std::string time_cell(SystemTime t, SystemTime now, bool ago = true) {
  if (t == SystemTime{}) return "<span class=\"muted\">never</span>";
  const bool recent = now - t < std::chrono::hours(20) && t - now < std::chrono::hours(1);
  std::string out = "<time datetime=\"" + scenario::rfc3339(t) + "\" title=\"" + scenario::rfc3339(t) + "\">" +
                    strftime_utc(t, recent ? "%H:%M:%S" : "%Y-%m-%d %H:%M") + "</time>";
  if (ago && t <= now)
    out += " <span class=\"ago\">" +
           duration_text(std::chrono::duration_cast<std::chrono::seconds>(now - t)) + " ago</span>";
  return out;
}

// The CSS class of a DC status: one colour per kind of trouble.
const char* dc_class(std::optional<health::DcStatus> s) {
  if (!s) return "s-stopped";
  switch (*s) {
    case health::DcStatus::kOk: return "s-ok";
    case health::DcStatus::kUnknown: return "s-unknown";
    case health::DcStatus::kMaintenance: return "s-maint";
    case health::DcStatus::kNoAccess: return "s-down";
    case health::DcStatus::kNoWan:
    case health::DcStatus::kNoLan:
    case health::DcStatus::kNoInternet: return "s-degraded";
  }
  return "s-unknown";
}

const char* dc_fill(std::optional<health::DcStatus> s) {
  if (!s) return "url(#gap)";
  switch (*s) {
    case health::DcStatus::kOk: return "#2f9e5a";
    case health::DcStatus::kUnknown: return "#a9b1ba";
    case health::DcStatus::kMaintenance: return "#3d7fc4";
    case health::DcStatus::kNoAccess: return "#d2433f";
    case health::DcStatus::kNoWan:
    case health::DcStatus::kNoLan:
    case health::DcStatus::kNoInternet: return "#e58a26";
  }
  return "#a9b1ba";
}

const char* state_class(health::State s) {
  switch (s) {
    case health::State::kUp: return "s-ok";
    case health::State::kDown: return "s-down";
    case health::State::kUnknown: return "s-unknown";
  }
  return "s-unknown";
}

std::string pill(const char* css, std::string_view text) {
  return "<span class=\"pill " + std::string(css) + "\">" + esc(text) + "</span>";
}

std::string status_name(std::optional<health::DcStatus> s) { return s ? health::to_string(*s) : "not running"; }

constexpr const char* kStyle = R"CSS(
:root{--fg:#1d2430;--muted:#667085;--line:#e3e7ec;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1f2a37;color:#fff;padding:14px 24px;display:flex;flex-wrap:wrap;gap:6px 28px;align-items:baseline}
header h1{font-size:20px;margin:0 12px 0 0;letter-spacing:.02em}
header .meta{color:#c9d2dc;font-size:13px}
header .meta b{color:#fff;font-weight:600}
header .ago{color:#c9d2dc}
main{padding:16px 24px 32px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:0 0 16px;padding:12px 16px}
h2{font-size:15px;margin:2px 0 10px;display:flex;gap:10px;align-items:baseline}
h2 .count{color:var(--muted);font-weight:400;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:150px}
.card .n{font-size:24px;font-weight:650}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.bad,section.bad{border-color:#f0b4b2;background:#fff6f5}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
tr:last-child td{border-bottom:0}
td.mono,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:13px}
.muted,.ago{color:var(--muted)}
.ago{font-size:12px}
time,.ago{white-space:nowrap}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;color:#fff}
.s-ok{background:#2f9e5a}.s-down{background:#d2433f}.s-degraded{background:#e58a26}
.s-maint{background:#3d7fc4}.s-unknown{background:#8a939d}.s-stopped{background:#5b6570}
.s-forced{background:#7a4fc4}
tr.bad td{background:#fff6f5}
.empty{color:var(--muted);font-style:italic;margin:4px 0}
summary{cursor:pointer;color:var(--muted);margin:10px 0 6px}
.note{color:var(--muted);font-size:12px;margin:8px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin:6px 0 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin-right:4px}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1d2430}
svg .tick{fill:#667085}
footer{color:var(--muted);font-size:12px;padding:0 24px 24px}
)CSS";

// ---- Sections ----

void summary(std::string& o, const StatusView& v) {
  std::size_t dcs_ok = 0, checks_down = 0, unhealthy = 0;
  for (const auto& d : v.dcs) {
    if (d.status == health::DcStatus::kOk) ++dcs_ok;
    else if (d.status != health::DcStatus::kMaintenance) ++unhealthy;
  }
  for (const auto& c : v.checks)
    if (!c.automatic && c.state == health::State::kDown) ++checks_down;
  std::size_t maint = 0;
  for (const auto& d : v.dcs) maint += d.maintenance ? 1 : 0;
  const auto card = [&o](std::size_t n, const char* label, bool bad) {
    o += "<div class=\"card" + std::string(bad ? " bad" : "") + "\"><div class=\"n\">" + std::to_string(n) +
         "</div><div class=\"l\">" + label + "</div></div>";
  };
  o += "<div class=\"cards\" id=\"summary\">";
  card(dcs_ok, ("of " + std::to_string(v.dcs.size()) + " DCs ok").c_str(), unhealthy > 0);
  card(maint, "DCs in maintenance", false);
  card(checks_down, "checks down", checks_down > 0);
  card(v.records.size(), "GTM records", false);
  o += "</div>";
}

void datacenters(std::string& o, const StatusView& v, SystemTime now) {
  o += "<section id=\"datacenters\"><h2>Data centers <span class=\"count\">" + std::to_string(v.dcs.size()) +
       "</span></h2>";
  if (v.dcs.empty()) {
    o += "<p class=\"empty\">No data centers are configured.</p></section>";
    return;
  }
  o += "<table><thead><tr><th>DC</th><th>Status</th><th>Since</th><th>Reason</th><th>Maintenance</th></tr></thead><tbody>";
  for (const auto& d : v.dcs) {
    const bool bad = d.status != health::DcStatus::kOk && d.status != health::DcStatus::kMaintenance;
    o += bad ? "<tr class=\"bad\">" : "<tr>";
    o += "<td class=\"mono\">" + esc(d.name) + "</td><td>" + pill(dc_class(d.status), health::to_string(d.status)) +
         "</td><td>" + time_cell(d.since, now) + "</td><td>" + esc(d.reason) + "</td><td>";
    if (!d.maintenance) {
      o += "<span class=\"muted\">off</span>";
    } else if (!d.by.empty() || d.until || !d.note.empty()) {
      o += "on, set by <b>" + esc(d.by.empty() ? "operator" : d.by) + "</b>";
      if (d.until) o += ", until " + time_cell(*d.until, now, false);
      if (!d.note.empty()) o += "<br><span class=\"maint-reason\">" + esc(d.note) + "</span>";
    } else {
      o += "on (scenario file)";
    }
    o += "</td></tr>";
  }
  o += "</tbody></table></section>";
}

// The SVG's coordinate system: a fixed 1000-unit width that the browser scales to the page.
constexpr double kSvgWidth = 1000, kBandX = 150, kBandWidth = 830, kRowHeight = 20, kRowStep = 28, kTop = 6;

void timeline(std::string& o, const StatusView& v, SystemTime now, const PageOptions& opt) {
  const auto hours = std::chrono::duration_cast<std::chrono::minutes>(opt.span).count() / 60.0;
  char span_text[32];
  std::snprintf(span_text, sizeof span_text, "%g", hours);
  o += "<section id=\"timeline\"><h2>DC status, last " + std::string(span_text) +
       " hours <span class=\"count\">UTC</span></h2>";
  if (v.timelines.empty()) {
    o += "<p class=\"empty\">No data centers are configured.</p></section>";
    return;
  }
  const SystemTime from = now - opt.span;
  const double rows_bottom = kTop + kRowStep * static_cast<double>(v.timelines.size());
  const double height = rows_bottom + 22;
  o += "<svg id=\"timeline-svg\" viewBox=\"0 0 " + num(kSvgWidth) + " " +
       num(height) + "\" width=\"100%\" role=\"img\" aria-label=\"DC status timeline\">";
  o += "<defs><pattern id=\"gap\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#e9ecef\"/>"
       "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#7d8791\" stroke-width=\"2\"/></pattern></defs>";
  // Ticks on whole steps of UTC time, at most about eight of them.
  using std::chrono::minutes;
  constexpr std::array<minutes, 9> kSteps = {minutes(5),   minutes(10),  minutes(15),  minutes(30), minutes(60),
                                             minutes(120), minutes(180), minutes(360), minutes(720)};
  minutes step = kSteps.back();
  for (minutes s : kSteps) {
    if (opt.span / s <= 8) {
      step = s;
      break;
    }
  }
  const auto step_ms = std::chrono::duration_cast<std::chrono::milliseconds>(step).count();
  const auto from_ms = std::chrono::duration_cast<std::chrono::milliseconds>(from.time_since_epoch()).count();
  const double span_ms = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(opt.span).count());
  for (auto t = (from_ms / step_ms + 1) * step_ms; static_cast<double>(t - from_ms) < span_ms; t += step_ms) {
    const double x = kBandX + kBandWidth * static_cast<double>(t - from_ms) / span_ms;
    const SystemTime at = SystemTime{} + std::chrono::milliseconds(t);
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(kTop - 2) + "\" x2=\"" + num(x) + "\" y2=\"" + num(rows_bottom) +
         "\" stroke=\"#c3c9d0\" stroke-width=\"1\"/>";
    if (x < kBandX + kBandWidth - 45)  // leave room for "now"
      o += "<text class=\"tick\" x=\"" + num(x) + "\" y=\"" + num(rows_bottom + 14) + "\" text-anchor=\"middle\">" +
           strftime_utc(at, "%H:%M") + "</text>";
  }
  o += "<text class=\"tick\" x=\"" + num(kBandX + kBandWidth) + "\" y=\"" + num(rows_bottom + 14) +
       "\" text-anchor=\"end\">now</text>";
  double y = kTop;
  for (const auto& t : v.timelines) {
    o += "<g class=\"dc-row\" data-dc=\"" + esc(t.dc) + "\"><text x=\"" + num(kBandX - 8) + "\" y=\"" +
         num(y + kRowHeight - 6) + "\" text-anchor=\"end\"><title>" + esc(t.dc) + "</title>" + esc(shorten(t.dc, 18)) +
         "</text>";
    o += "<rect x=\"" + num(kBandX) + "\" y=\"" + num(y) + "\" width=\"" + num(kBandWidth) + "\" height=\"" +
         num(kRowHeight) + "\" fill=\"#f1f3f5\"><title>no data</title></rect>";
    for (const Band& b : timeline_bands(t.segments, from, now, kBandX, kBandWidth)) {
      o += "<rect class=\"band\" data-status=\"" + status_name(b.status) + "\" x=\"" + num(b.x) + "\" y=\"" + num(y) +
           "\" width=\"" + num(b.width) + "\" height=\"" + num(kRowHeight) + "\" fill=\"" + dc_fill(b.status) +
           "\"><title>" + esc(t.dc) + ": " + status_name(b.status) + ", " + strftime_utc(b.from, "%H:%M:%S") +
           "\u2013" + strftime_utc(b.to, "%H:%M:%S") + (b.reason.empty() ? "" : "\n" + esc(b.reason)) +
           "</title></rect>";
    }
    o += "</g>";
    y += kRowStep;
  }
  o += "</svg><div class=\"legend\">";
  const auto legend = [&o](const char* fill, const char* label) {
    o += "<span><i style=\"background:" + std::string(fill) + "\"></i>" + label + "</span>";
  };
  legend("#2f9e5a", "ok");
  legend("#d2433f", "noAccess");
  legend("#e58a26", "noWan / noLan / noInternet");
  legend("#3d7fc4", "maintenance");
  legend("#a9b1ba", "unknown");
  legend("repeating-linear-gradient(45deg,#e9ecef 0 3px,#7d8791 3px 5px)", "pharosd not running");
  legend("#f1f3f5;border:1px solid #d5dae0", "no data");
  o += "</div></section>";
}

void records(std::string& o, const StatusView& v, SystemTime now, const PageOptions& opt) {
  o += "<section id=\"records\"><h2>GTM records <span class=\"count\">" + std::to_string(v.records.size()) +
       "</span></h2>";
  if (v.records.empty()) {
    o += "<p class=\"empty\">No GTM records are configured.</p></section>";
    return;
  }
  o += "<table><thead><tr><th>Record</th><th>Chain</th><th>Region</th><th>Answer</th><th>Serving</th>"
       "<th>Since</th><th>Why</th></tr></thead><tbody>";
  std::size_t shown = 0;
  for (const auto& r : v.records) {
    if (shown == opt.max_rows) break;
    ++shown;
    std::string chain;
    for (const auto& dc : r.chain) chain += (chain.empty() ? "" : " \u2192 ") + esc(dc);
    const std::size_t rows = std::max<std::size_t>(1, r.answers.size());
    const std::string span = rows > 1 ? " rowspan=\"" + std::to_string(rows) + "\"" : "";
    o += "<tr><td class=\"mono\"" + span + ">" + esc(r.name) + " " + esc(r.type) + "<br><span class=\"muted\">TTL " +
         std::to_string(r.ttl) + "</span></td><td class=\"mono\"" + span + ">" + chain + "</td>";
    if (r.answers.empty()) o += "<td colspan=\"5\" class=\"muted\">no answer yet</td></tr>";
    for (std::size_t i = 0; i < r.answers.size(); ++i) {
      const auto& a = r.answers[i];
      if (i > 0) o += "<tr>";
      const bool answering = a.source == "chain" || a.source == "dr" || a.source == "fallback" || a.source == "failOpen";
      std::string rdata;
      for (const auto& d : a.rdata) rdata += (rdata.empty() ? "" : "<br>") + esc(d);
      o += "<td>" + (a.region.empty() ? std::string("<span class=\"muted\">all clients</span>") : esc(a.region)) +
           "</td><td class=\"mono\">" + (rdata.empty() ? "<span class=\"muted\">(none)</span>" : rdata) + "</td><td>";
      if (!a.dc.empty()) o += "<b>" + esc(a.dc) + "</b> <span class=\"muted\">entry " + std::to_string(a.entry) + "</span> ";
      o += pill(answering ? (a.source == "chain" ? "s-ok" : "s-degraded") : "s-down", a.source) + "</td><td>" +
           time_cell(a.since, now) + "</td><td>" + esc(a.reason) + "</td></tr>";
    }
  }
  o += "</tbody></table>";
  if (shown < v.records.size())
    o += "<p class=\"note\">" + std::to_string(v.records.size() - shown) +
         " more records are not shown: <span class=\"mono\">pharosctl records</span> lists them all.</p>";
  o += "</section>";
}

// A maintenanceMode check is "down" while its DC is not in maintenance: that is not trouble.
bool is_maintenance_check(const StatusView::Check& c) {
  constexpr std::string_view kSuffix = "|maintenanceMode";
  return c.automatic && c.id.size() > kSuffix.size() && c.id.compare(c.id.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// A table of checks; returns how many it left out.
std::size_t check_table(std::string& o, const std::vector<const StatusView::Check*>& list, SystemTime now,
                        std::size_t max_rows) {
  o += "<table><thead><tr><th>Check</th><th>Type</th><th>State</th><th>Since</th><th>Reason</th><th>Last result</th>"
       "<th>Probes</th><th>Failures</th><th>Transitions</th></tr></thead><tbody>";
  std::size_t shown = 0;
  for (const StatusView::Check* p : list) {
    if (shown == max_rows) break;
    ++shown;
    const StatusView::Check& c = *p;
    const bool maintenance = is_maintenance_check(c);
    o += c.state == health::State::kDown && !maintenance ? "<tr class=\"bad\">" : "<tr>";
    const char* css = maintenance ? (c.state == health::State::kUp ? "s-maint" : "s-unknown") : state_class(c.state);
    o += "<td class=\"mono\">" + esc(c.id) + "</td><td>" +
         (c.automatic ? std::string("<span class=\"muted\">automatic</span>") : esc(c.type)) + "</td><td>" +
         pill(css, health::to_string(c.state));
    if (c.forced) {
      o += " " + pill("s-forced", std::string("forced ") + health::to_string(*c.forced)) +
           " <span class=\"muted\">measured " + std::string(health::to_string(c.measured)) + "</span>";
    }
    o += "</td><td>" + time_cell(c.since, now) + "</td><td>" + esc(c.reason) + "</td><td>";
    if (!c.has_last) {
      o += c.automatic ? "<span class=\"muted\">computed</span>" : "<span class=\"muted\">no result yet</span>";
    } else {
      o += pill(c.last_ok ? "s-ok" : "s-down", c.last_ok ? "ok" : "failed") + " " + esc(c.last_reason) +
           " <span class=\"muted\">" + num(c.last_latency_ms) + " ms, " + time_cell(c.last_at, now) + "</span>";
    }
    o += "</td><td>" + std::to_string(c.probes) + "</td><td>" + std::to_string(c.failures) + "</td><td>" +
         std::to_string(c.transitions) + "</td></tr>";
  }
  o += "</tbody></table>";
  return list.size() - shown;
}

// Probed checks first; the automatic ones (per DC dimension and maintenance, computed from the
// probed ones) folded away, since the DC table already says what they add up to.
void checks(std::string& o, const StatusView& v, SystemTime now, const PageOptions& opt) {
  std::vector<const StatusView::Check*> probed, automatic;
  std::size_t automatic_down = 0;
  for (const auto& c : v.checks) {
    (c.automatic ? automatic : probed).push_back(&c);
    if (c.automatic && c.state == health::State::kDown && !is_maintenance_check(c)) ++automatic_down;
  }
  o += "<section id=\"checks\"><h2>Checks <span class=\"count\">" + std::to_string(probed.size()) + " probed, " +
       std::to_string(automatic.size()) + " automatic</span></h2>";
  if (v.checks.empty()) {
    o += "<p class=\"empty\">No checks are configured.</p></section>";
    return;
  }
  std::size_t left = 0;
  if (!probed.empty()) left += check_table(o, probed, now, opt.max_rows);
  if (!automatic.empty()) {
    o += "<details><summary>Automatic checks: " + std::to_string(automatic.size()) + ", " +
         std::to_string(automatic_down) + " down</summary>";
    left += check_table(o, automatic, now, opt.max_rows);
    o += "</details>";
  }
  if (left > 0)
    o += "<p class=\"note\">" + std::to_string(left) +
         " more checks are not shown: <span class=\"mono\">pharosctl checks</span> lists them all.</p>";
  o += "</section>";
}

void events(std::string& o, const StatusView& v, SystemTime now, const PageOptions& opt) {
  o += "<section id=\"transitions\"><h2>Recent transitions <span class=\"count\">newest first</span></h2>";
  if (v.events.empty()) {
    o += "<p class=\"empty\">Nothing has changed yet.</p></section>";
    return;
  }
  o += "<table><thead><tr><th>When</th><th>What</th><th>Subject</th><th>Change</th><th>Why</th><th>By</th></tr>"
       "</thead><tbody>";
  std::size_t shown = 0;
  for (const auto& e : v.events) {
    if (shown++ == opt.max_events) break;
    o += "<tr><td>" + time_cell(e.at, now) + "</td><td>" + esc(e.kind) + "</td><td class=\"mono\">" + esc(e.subject) +
         (e.region.empty() ? "" : " <span class=\"muted\">" + esc(e.region) + "</span>") + "</td><td>" + esc(e.from) +
         " \u2192 <b>" + esc(e.to) + "</b></td><td>" + esc(e.reason) + "</td><td>" + esc(e.by) + "</td></tr>";
  }
  o += "</tbody></table></section>";
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\uFFFD";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\n': case '\t': out += static_cast<char>(c); break;
      default:
        if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);  // other control characters are dropped
    }
    ++i;
  }
  return out;
}

std::vector<Band> timeline_bands(const std::vector<HealthHistory::Segment>& segments, SystemTime from, SystemTime to,
                                 double x0, double width) {
  std::vector<Band> out;
  if (to <= from || width <= 0) return out;
  const double span = std::chrono::duration<double>(to - from).count();
  const auto x_of = [&](SystemTime t) { return x0 + width * std::chrono::duration<double>(t - from).count() / span; };
  for (std::size_t i = 0; i < segments.size(); ++i) {
    // A segment ends where the next one starts; a clock stepped back must not end it before it began.
    const SystemTime start = std::max(segments[i].at, from);
    SystemTime end = i + 1 < segments.size() ? std::max(segments[i + 1].at, segments[i].at) : to;
    end = std::min(end, to);
    if (end <= start) continue;
    Band b;
    b.status = segments[i].status;
    b.from = start;
    b.to = end;
    b.reason = segments[i].reason;
    b.x = x_of(start);
    b.width = x_of(end) - b.x;
    if (b.width < 1) {
      b.width = std::min(1.0, width);
      b.x = std::min(b.x, x0 + width - b.width);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::string render_status_page(const StatusView& v, SystemTime now, const PageOptions& opt) {
  std::string o;
  o.reserve(16384);
  const std::string host = v.hostname.empty() ? "pharos" : v.hostname;
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  if (opt.refresh.count() > 0) o += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(opt.refresh.count()) + "\">";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" + esc(host) +
       " \u2014 pharos status</title><style>";
  o += kStyle;
  o += "</style></head><body><header><h1>pharos</h1>";
  const auto meta = [&o](const char* label, const std::string& value_html) {
    o += "<span class=\"meta\">" + std::string(label) + " <b>" + value_html + "</b></span>";
  };
  meta("host", esc(host));
  meta("version", esc(v.version.empty() ? "?" : v.version));
  meta("up", duration_text(std::chrono::seconds(v.uptime_s)));
  meta("config generation", std::to_string(v.config_generation));
  if (v.last_reload) {
    const ReloadOutcome& r = *v.last_reload;
    meta("last reload", pill(r.ok ? "s-ok" : "s-down", r.ok ? "ok" : "failed") + " " + time_cell(r.at, now));
  } else {
    meta("last reload", "none");
  }
  if (v.last_change) {
    const ConfigChangeNote& c = *v.last_change;
    meta("last config change", time_cell(c.at, now) + " by " + esc(c.by) + " <span class=\"mono\">(" + esc(c.summary) +
                                   ", generation " + std::to_string(c.config_generation) + ")</span>");
  } else {
    meta("last config change", "none");
  }
  meta("as of", strftime_utc(now, "%H:%M:%S") + " UTC");
  o += "</header><main>";
  if (v.last_reload && !v.last_reload->ok) {
    o += "<section id=\"reload-error\" class=\"bad\"><h2>Last reload failed; still serving the previous "
         "configuration</h2><p class=\"mono\">" + esc(v.last_reload->error) + "</p></section>";
  }
  if (v.watchdog_age_ms > 0) {
    o += "<section id=\"watchdog\"><h2>Health checks are running late</h2><p>The oldest overdue probe is " +
         std::to_string(v.watchdog_age_ms) + " ms late.</p></section>";
  }
  summary(o, v);
  datacenters(o, v, now);
  timeline(o, v, now, opt);
  records(o, v, now, opt);
  checks(o, v, now, opt);
  events(o, v, now, opt);
  o += "</main><footer>Refreshes every " + std::to_string(opt.refresh.count()) +
       " s. The same data as JSON: <span class=\"mono\">/v1/status</span>, <span class=\"mono\">/v1/datacenters</span>, "
       "<span class=\"mono\">/v1/checks</span>, <span class=\"mono\">/v1/records</span>, "
       "<span class=\"mono\">/v1/audit</span> (docs/api.md).</footer></body></html>\n";
  return o;
}

}  // namespace pharos::app
