// audit.cc: see audit.h.
#include "app/audit.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "app/background_writer.h"
#include "scenario/explain.h"
#include "scenario/gtm_engine.h"
#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

void put(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, const std::string& value, bool always = false) {
  if (value.empty() && !always) return;
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// "2026-11-23T10:00:00.123Z" back to a time; nullopt if it is not that shape.
std::optional<scenario::SystemTime> parse_rfc3339(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  char z = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z) != 8 || z != 'Z')
    return std::nullopt;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const time_t t = timegm(&tm);
  return scenario::SystemTime{} + std::chrono::seconds(t) + std::chrono::milliseconds(ms);
}

}  // namespace

AuditEntry answer_entry(const scenario::AnswerChange& c) {
  return AuditEntry{c.at, "answer", std::string(c.record), std::string(c.region), std::string(c.from),
                    std::string(c.to), c.full_reason(), "pipeline"};
}

std::string group_subject(std::string_view first, std::size_t count) {
  std::string out(first);
  out += " and ";
  out += std::to_string(count - 1);
  out += " more";
  return out;
}

AuditEntry answer_entry(const scenario::AnswerRound& round, std::uint32_t begin, std::uint32_t end) {
  AuditEntry e = answer_entry(round[begin]);
  if (end - begin == 1) return e;
  e.count = end - begin;
  e.subject = group_subject(e.subject, e.count);
  const std::uint32_t kept = begin + static_cast<std::uint32_t>(std::min<std::size_t>(e.count, kKeptRecords));
  e.records.reserve(kept - begin);
  for (std::uint32_t i = begin; i < kept; ++i) e.records.emplace_back(round[i].record);
  return e;
}

AuditJournal::AuditJournal(std::string path, std::size_t max_bytes, std::size_t keep_recent)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_recent_(keep_recent) {}

AuditJournal::~AuditJournal() {
  if (writer_ != nullptr) writer_->flush();
  if (fd_ >= 0) ::close(fd_);
}

void AuditJournal::set_writer(BackgroundWriter* writer) {
  if (writer_ != nullptr) writer_->flush();
  writer_ = writer;
}

std::optional<std::string> AuditJournal::write_error() const {
  std::lock_guard lock(error_mutex_);
  return write_error_;
}

namespace {

void write_entry(rapidjson::Writer<rapidjson::StringBuffer>& w, const AuditEntry& e, const std::string& at) {
  w.StartObject();
  put(w, "at", at, true);
  put(w, "kind", e.kind, true);
  put(w, "subject", e.subject, true);
  if (e.count > 0) {
    w.Key("count");
    w.Uint64(e.count);
    w.Key("records");
    w.StartArray();
    for (const std::string& r : e.records) w.String(r.data(), static_cast<rapidjson::SizeType>(r.size()));
    w.EndArray();
  }
  if (e.kind == "answer") put(w, "region", e.region, true);
  put(w, "from", e.from);
  put(w, "to", e.to);
  put(w, "reason", e.reason);
  put(w, "by", e.by);
  w.EndObject();
}

}  // namespace

std::string AuditJournal::to_json(const AuditEntry& e) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  write_entry(w, e, scenario::rfc3339(e.at));
  return std::string(b.GetString(), b.GetSize());
}

std::optional<AuditEntry> AuditJournal::from_json(std::string_view line) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  AuditEntry e;
  auto text = [&d](const char* key, std::string& out) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd()) return true;
    if (!it->value.IsString()) return false;
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  std::string at;
  if (!text("at", at) || !text("kind", e.kind) || !text("subject", e.subject) || !text("region", e.region) ||
      !text("from", e.from) || !text("to", e.to) || !text("reason", e.reason) || !text("by", e.by))
    return std::nullopt;
  if (auto it = d.FindMember("count"); it != d.MemberEnd()) {
    if (!it->value.IsUint64() || it->value.GetUint64() < 2) return std::nullopt;
    e.count = static_cast<std::size_t>(it->value.GetUint64());
  }
  if (auto it = d.FindMember("records"); it != d.MemberEnd()) {
    if (!it->value.IsArray() || e.count == 0) return std::nullopt;
    for (const auto& r : it->value.GetArray()) {
      if (!r.IsString()) return std::nullopt;
      e.records.emplace_back(r.GetString(), r.GetStringLength());
    }
    if (e.records.size() > e.count) return std::nullopt;
  }
  auto t = parse_rfc3339(at);
  if (!t || e.kind.empty()) return std::nullopt;
  e.at = *t;
  return e;
}

std::optional<Error> AuditJournal::open() {
  if (path_.empty()) return std::nullopt;
  // Read back the newest entries; a torn last line (a crash mid-write) is skipped.
  if (auto text = scenario::read_text_file(path_)) {
    std::size_t end = text->size();
    std::deque<AuditEntry> back;
    while (end > 0 && back.size() < keep_recent_) {
      std::size_t start = text->rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      if (start < end)
        if (auto e = from_json(std::string_view(*text).substr(start, end - start))) {
          if (e->records.size() > kKeptRecords) e->records.resize(kKeptRecords);
          back.push_front(std::move(*e));
        }
      if (start == 0) break;
      end = start - 1;
    }
    for (auto& e : back) recent_.push_back(Recent{std::move(e), nullptr, 0});
    trim();
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return Error{path_, "", std::string("cannot open the audit journal: ") + std::strerror(errno)};
  struct stat st {};
  file_bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
  to_file_ = true;
  return std::nullopt;
}

void AuditJournal::rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string old = path_ + ".1";
  std::optional<std::string> error;
  if (::rename(path_.c_str(), old.c_str()) != 0) error = "cannot rotate " + path_ + ": " + std::strerror(errno);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  file_bytes_ = 0;
  if (fd_ < 0) error = "cannot reopen " + path_ + ": " + std::strerror(errno);
  if (error) {
    std::lock_guard lock(error_mutex_);
    write_error_ = std::move(error);
  }
}

void AuditJournal::write_lines(std::string_view lines) {
  if (!to_file_ || lines.empty()) return;
  if (writer_ != nullptr && !writer_->on_writer_thread()) {
    writer_->post([this, text = std::string(lines)] { write_now(text); }, lines.size());
    return;
  }
  write_now(lines);
}

void AuditJournal::write_now(std::string_view lines) {
  if (fd_ < 0 || lines.empty()) return;
  if (file_bytes_ + lines.size() > max_bytes_ && file_bytes_ > 0) rotate();
  if (fd_ < 0) return;
  // At most 64 KiB per write(2), whatever was asked (a group's entry lists every record): the
  // kernel gives the CPU to a waking DNS worker only between system calls.
  constexpr std::size_t kMaxWrite = 64u << 10;
  std::size_t off = 0;
  while (off < lines.size()) {
    const ssize_t n = ::write(fd_, lines.data() + off, std::min(lines.size() - off, kMaxWrite));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::lock_guard lock(error_mutex_);
      write_error_ = "cannot write " + path_ + ": " + (n < 0 ? std::strerror(errno) : "short write");
      return;
    }
    off += static_cast<std::size_t>(n);
  }
  file_bytes_ += lines.size();
  std::lock_guard lock(error_mutex_);
  write_error_.reset();
}

void AuditJournal::trim() {
  while (recent_.size() > keep_recent_) recent_.pop_front();
}

void AuditJournal::remember(AuditEntry&& entry) {
  recent_.push_back(Recent{std::move(entry), nullptr, 0});
  trim();
}

void AuditJournal::remember_round(const std::shared_ptr<const scenario::AnswerRound>& round) {
  // The round's newest keep_recent_ entries, found from its end.
  const auto& groups = round->groups();
  std::size_t newest = 0, g = groups.size(), skip = 0;  // skip: group g's older entries that do not fit
  while (g > 0 && newest < keep_recent_) {
    const scenario::AnswerRound::Group& group = groups[--g];
    const std::size_t entries = group.size() > kGroupAbove ? 1 : group.size();
    const std::size_t take = std::min(entries, keep_recent_ - newest);
    skip = entries - take;
    newest += take;
  }
  for (; g < groups.size(); ++g) {
    const scenario::AnswerRound::Group& group = groups[g];
    if (group.size() > kGroupAbove) {
      recent_.push_back(Recent{AuditEntry{}, round, group.begin, group.end});
      continue;
    }
    for (std::uint32_t i = group.begin + static_cast<std::uint32_t>(skip); i < group.end; ++i)
      recent_.push_back(Recent{AuditEntry{}, round, i, i + 1});
    skip = 0;
  }
  trim();
  // Only the newest round stays referenced: the entries of an older one still in the window
  // become entries now. The journal then never pins more than one round (and the names of its
  // configuration, which a reload may have replaced), whatever mix of rounds comes.
  for (Recent& r : recent_) {
    if (r.round == round) break;
    if (!r.round) continue;
    r.entry = answer_entry(*r.round, r.begin, r.end);
    r.round.reset();
  }
}

void AuditJournal::append(AuditEntry entry) {
  if (to_file_) {
    std::string line = to_json(entry);
    line += '\n';
    write_lines(line);
  }
  remember(std::move(entry));
}

void AuditJournal::append_lines(std::string_view lines) { write_lines(lines); }

std::vector<AuditEntry> AuditJournal::recent(std::size_t limit) const {
  const std::size_t n = std::min(limit, recent_.size());
  std::vector<AuditEntry> out;
  out.reserve(n);
  for (auto it = recent_.end() - static_cast<std::ptrdiff_t>(n); it != recent_.end(); ++it)
    out.push_back(it->round ? answer_entry(*it->round, it->begin, it->end) : it->entry);
  return out;
}

}  // namespace pharos::app
