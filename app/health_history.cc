// health_history.cc: see health_history.h. The file holds one JSON object per line: a DC's new
// status ({"at_ms", "dc", "status", "reason"}, status "stopped" for a gap) or a check transition
// ({"at_ms", "check", "from", "to", "reason", "hidden"}). It is only appended to, and rewritten
// from memory when it has grown to twice its compacted size, so it stays bounded like the memory.
#include "app/health_history.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kStopped = "stopped";
constexpr std::size_t kSlackBytes = 64 * 1024;  // growth allowed over twice the compacted size

std::int64_t unix_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void put(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string dc_line(const std::string& dc, const HealthHistory::Segment& s) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("at_ms");
  w.Int64(unix_ms(s.at));
  put(w, "dc", dc);
  put(w, "status", s.status ? health::to_string(*s.status) : kStopped);
  if (!s.reason.empty()) put(w, "reason", s.reason);
  w.EndObject();
  return std::string(b.GetString(), b.GetSize()) + '\n';
}

std::string check_line(const HealthHistory::CheckTransition& t) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("at_ms");
  w.Int64(unix_ms(t.at));
  put(w, "check", t.id);
  put(w, "from", health::to_string(t.from));
  put(w, "to", health::to_string(t.to));
  if (!t.reason.empty()) put(w, "reason", t.reason);
  if (t.hidden_by_force) {
    w.Key("hidden");
    w.Bool(true);
  }
  w.EndObject();
  return std::string(b.GetString(), b.GetSize()) + '\n';
}

std::optional<std::string_view> member_string(const rapidjson::Document& d, const char* key) {
  auto it = d.FindMember(key);
  if (it == d.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<health::DcStatus> dc_status_from(std::string_view s) {
  using health::DcStatus;
  for (DcStatus d : {DcStatus::kUnknown, DcStatus::kOk, DcStatus::kNoAccess, DcStatus::kNoWan, DcStatus::kNoLan,
                     DcStatus::kNoInternet, DcStatus::kMaintenance})
    if (s == health::to_string(d)) return d;
  return std::nullopt;
}

std::optional<health::State> state_from(std::string_view s) {
  using health::State;
  for (State st : {State::kUnknown, State::kUp, State::kDown})
    if (s == health::to_string(st)) return st;
  return std::nullopt;
}

HealthHistory::HealthHistory(std::string path, Limits limits) : path_(std::move(path)), limits_(limits) {}

HealthHistory::~HealthHistory() {
  if (fd_ >= 0) ::close(fd_);
}

const std::deque<HealthHistory::Segment>& HealthHistory::timeline(const std::string& dc) const {
  static const std::deque<Segment> kNone;
  auto it = dcs_.find(dc);
  return it == dcs_.end() ? kNone : it->second;
}

void HealthHistory::load_line(std::string_view line) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject()) return;
  auto at_it = d.FindMember("at_ms");
  if (at_it == d.MemberEnd() || !at_it->value.IsInt64()) return;
  const SystemTime at = SystemTime{} + std::chrono::milliseconds(at_it->value.GetInt64());
  const std::string reason(member_string(d, "reason").value_or(""));
  if (auto dc = member_string(d, "dc")) {
    const auto status_text = member_string(d, "status");
    if (dc->empty() || !status_text) return;
    Segment s{at, std::nullopt, reason};
    if (*status_text != kStopped) {
      s.status = dc_status_from(*status_text);
      if (!s.status) return;
    }
    add_segment(std::string(*dc), std::move(s));
    return;
  }
  if (auto id = member_string(d, "check")) {
    const auto from = state_from(member_string(d, "from").value_or(""));
    const auto to = state_from(member_string(d, "to").value_or(""));
    if (id->empty() || !from || !to) return;
    auto hidden = d.FindMember("hidden");
    add_check({at, std::string(*id), *from, *to, reason, hidden != d.MemberEnd() && hidden->value.IsTrue()});
  }
}

std::optional<Error> HealthHistory::open(SystemTime now) {
  if (path_.empty()) return std::nullopt;
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    Result<std::string> text = scenario::read_text_file(path_);
    if (!text) return text.error();
    std::string_view rest = *text;
    while (!rest.empty()) {
      const std::size_t eol = rest.find('\n');
      load_line(rest.substr(0, eol));
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 1);
    }
  }
  prune(now);
  if (auto e = rewrite()) return Error{path_, "", *e};
  return std::nullopt;
}

void HealthHistory::add_segment(const std::string& dc, Segment s) {
  if (s.at > newest_) newest_ = s.at;
  dcs_[dc].push_back(std::move(s));
}

void HealthHistory::add_check(CheckTransition t) {
  if (t.at > newest_) newest_ = t.at;
  checks_.push_back(std::move(t));
}

void HealthHistory::record(const health::Changes& changes) {
  std::string lines;
  for (const auto& c : changes.datacenters) {
    if (c.restored) continue;
    Segment s{c.at, c.to, c.reason};
    lines += dc_line(c.dc, s);
    add_segment(c.dc, std::move(s));
  }
  for (const auto& c : changes.checks) {
    if (c.restored) continue;
    CheckTransition t{c.at, c.id, c.from, c.to, c.reason, c.hidden_by_force};
    lines += check_line(t);
    add_check(std::move(t));
  }
  if (lines.empty()) return;
  prune(newest_);
  append_line(std::move(lines));
}

void HealthHistory::sync(const std::map<std::string, health::DcInfo>& dcs, SystemTime now) {
  std::erase_if(dcs_, [&](const auto& kv) { return dcs.count(kv.first) == 0; });
  std::string lines;
  for (const auto& [name, info] : dcs) {
    const auto& t = timeline(name);
    if (!t.empty() && t.back().status == info.status) continue;
    Segment s{now, info.status, info.reason};
    lines += dc_line(name, s);
    add_segment(name, std::move(s));
  }
  prune(std::max(now, newest_));
  if (!lines.empty()) append_line(std::move(lines));
}

void HealthHistory::close(SystemTime now) {
  std::string lines;
  for (auto& [name, t] : dcs_) {
    if (!t.empty() && !t.back().status) continue;
    Segment s{now, std::nullopt, "pharosd stopped"};
    lines += dc_line(name, s);
    t.push_back(std::move(s));
  }
  if (!lines.empty()) append_line(std::move(lines));
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HealthHistory::prune(SystemTime now) {
  const SystemTime cutoff = now - limits_.window;
  for (auto& [name, t] : dcs_) {
    // Keep the last segment that starts before the window: it says what held at its start.
    while (t.size() >= 2 && t[1].at <= cutoff) t.pop_front();
    while (t.size() > limits_.max_per_dc) t.pop_front();
  }
  while (!checks_.empty() && (checks_.front().at < cutoff || checks_.size() > limits_.max_checks)) checks_.pop_front();
}

void HealthHistory::append_line(std::string&& lines) {
  if (fd_ < 0) return;
  if (!write_all(fd_, lines)) {
    write_error_ = "cannot write " + path_ + ": " + std::strerror(errno);
    return;
  }
  write_error_.reset();
  file_bytes_ += lines.size();
  if (file_bytes_ > 2 * compacted_bytes_ + kSlackBytes) {
    if (auto e = rewrite()) write_error_ = *e;
  }
}

std::optional<std::string> HealthHistory::rewrite() {
  // DC segments first, then checks: the order within each list is what matters on reading.
  std::string text;
  for (const auto& [name, t] : dcs_)
    for (const auto& s : t) text += dc_line(name, s);
  for (const auto& c : checks_) text += check_line(c);
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  const bool ok = write_all(fd, text);
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + std::strerror(saved);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const std::string e = "cannot replace " + path_ + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return e;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return "cannot open " + path_ + ": " + std::strerror(errno);
  file_bytes_ = compacted_bytes_ = text.size();
  return std::nullopt;
}

}  // namespace pharos::app
