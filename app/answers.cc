// answers.cc: see answers.h.
#include "app/answers.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "app/background_writer.h"
#include "app/log.h"

namespace pharos::app {

namespace {

// A round's changes repeat their texts: every record of one engine unit moves from the same
// answer to the same answer for the same reason, only the record differs. The parts after the
// record (log line) and after the subject (journal line) are formatted once per distinct
// combination and copied for each change; the result is the same text as one
// append_log_line() and one AuditJournal::to_json() per change.
struct Shared {
  std::string_view region, from, to, reason, cause;
  scenario::SystemTime at{};
  std::string log_tail;      // " region=... from=... to=... reason=...\n"
  std::string json_head;     // {"at":"...","kind":"answer","subject":
  std::string json_tail;     // ,"region":"...",...}\n
  bool same(const scenario::AnswerChange& c) const {
    return c.at == at && c.region == region && c.from == from && c.to == to && c.reason == reason && c.cause == cause;
  }
};

AuditEntry audit_entry(const scenario::AnswerChange& c) {
  return AuditEntry{c.at, "answer", std::string(c.record), std::string(c.region), std::string(c.from),
                    std::string(c.to), c.full_reason(), "pipeline"};
}

class RoundFormatter {
 public:
  explicit RoundFormatter(bool journal) : journal_(journal) {
    append_log_line(head_, LogLevel::kInfo, "answer changed", {});
    head_.pop_back();  // the newline
    head_ += " record=";
  }

  void add(const scenario::AnswerChange& c, std::string& log, std::string& json) {
    const Shared& s = shared(c);
    log += head_;
    append_log_value(log, c.record);
    log += s.log_tail;
    if (!journal_) return;
    json += s.json_head;
    append_json_string(json, c.record);
    json += s.json_tail;
  }

 private:
  const Shared& shared(const scenario::AnswerChange& c) {
    // Most recently used first; a round has a handful of combinations (units x regions).
    for (std::size_t i = 0; i < cache_.size(); ++i) {
      if (!cache_[i].same(c)) continue;
      if (i > 0) std::swap(cache_[i], cache_[0]);
      return cache_[0];
    }
    if (cache_.size() < kCache) cache_.emplace_back();
    Shared& s = cache_.back();
    s.region = c.region;
    s.from = c.from;
    s.to = c.to;
    s.reason = c.reason;
    s.cause = c.cause;
    s.at = c.at;
    s.log_tail.clear();
    const std::string reason = c.full_reason();
    const std::pair<const char*, std::string_view> fields[] = {
        {" region=", c.region.empty() ? std::string_view("-") : c.region}, {" from=", c.from}, {" to=", c.to}, {" reason=", reason}};
    for (const auto& [key, value] : fields) {
      s.log_tail += key;
      append_log_value(s.log_tail, value);
    }
    s.log_tail += '\n';
    if (journal_) {
      // The journal line of this change with an empty subject, cut around the subject.
      AuditEntry e = audit_entry(c);
      e.subject.clear();
      const std::string line = AuditJournal::to_json(e);
      const std::string_view marker = "\"subject\":\"\"";
      const std::size_t cut = line.find(marker);
      s.json_head = line.substr(0, cut + marker.size() - 2);
      s.json_tail = line.substr(cut + marker.size());
      s.json_tail += '\n';
    }
    if (&s != &cache_[0]) std::swap(s, cache_[0]);
    return cache_[0];
  }

  void append_json_string(std::string& out, std::string_view v) {
    bool plain = true;
    for (char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x20 || ch == '"' || ch == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      out += '"';
      out += v;
      out += '"';
      return;
    }
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    out.append(b.GetString(), b.GetSize());
  }

  static constexpr std::size_t kCache = 16;
  bool journal_;
  std::string head_;                 // "level=info msg=\"answer changed\" record="
  std::vector<Shared> cache_;
};

void append_answer_changes(std::string& out, std::string* json, const std::vector<scenario::AnswerChange>& changes) {
  if (changes.empty()) return;
  if (changes.size() > 1) {
    const std::string count = std::to_string(changes.size());
    append_log_line(out, LogLevel::kInfo, "answers changed", {{"count", count}});
  }
  std::string unused;
  RoundFormatter f(json != nullptr);
  for (const auto& c : changes) f.add(c, out, json != nullptr ? *json : unused);
}

}  // namespace

std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes) {
  std::string out;
  append_answer_changes(out, nullptr, changes);
  return out;
}

std::vector<AuditEntry> answer_audit_entries(const std::vector<scenario::AnswerChange>& changes) {
  std::vector<AuditEntry> out;
  out.reserve(changes.size());
  for (const auto& c : changes) out.push_back(audit_entry(c));
  return out;
}

namespace {

// Writes a round's lines in chunks of about 1 MiB (whole lines, one write(2) each) from buffers
// this thread keeps: a round of 30,000 changes (~10 MB) neither holds its whole text in memory
// nor faults in fresh pages for it every time.
void write_round(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal) {
  constexpr std::size_t kChunk = 1u << 20;
  static thread_local std::string log, json;
  if (log.capacity() < kChunk + 4096) log.reserve(kChunk + 4096);
  log.clear();
  json.clear();
  const bool to_file = journal != nullptr && !journal->path().empty();
  if (to_file && json.capacity() < kChunk + 4096) json.reserve(kChunk + 4096);
  if (changes.size() > 1) {
    const std::string count = std::to_string(changes.size());
    append_log_line(log, LogLevel::kInfo, "answers changed", {{"count", count}});
  }
  RoundFormatter f(to_file);
  for (const auto& c : changes) {
    f.add(c, log, json);
    if (log.size() >= kChunk) {
      write_log(log);
      log.clear();
    }
    if (json.size() >= kChunk) {
      journal->append_lines(json, {});
      json.clear();
    }
  }
  write_log(log);
  if (to_file) journal->append_lines(json, {});
}

// A round's changes copied for the writer thread (the engine's texts live only during the
// audit callback): the record names in one string and each distinct text once.
struct RoundCopy {
  struct Item {
    std::uint32_t name, name_size;
    std::uint32_t region, from, to, reason, cause;
    scenario::SystemTime at;
  };
  std::string names;
  std::vector<std::string> texts;
  std::vector<Item> items;

  void fill(const std::vector<scenario::AnswerChange>& changes) {
    names.clear();
    texts.clear();
    items.clear();
    items.reserve(changes.size());
    std::size_t total = 0;
    for (const auto& c : changes) total += c.record.size();
    names.reserve(total);
    // The texts repeat, as the same views from the engine: the last few are looked up by
    // address first, by content otherwise.
    std::vector<std::pair<std::string_view, std::uint32_t>> seen;
    auto text = [&](std::string_view v) -> std::uint32_t {
      for (auto it = seen.rbegin(); it != seen.rend(); ++it)
        if (it->first.data() == v.data() && it->first.size() == v.size()) return it->second;
      for (auto it = seen.rbegin(); it != seen.rend(); ++it)
        if (it->first == v) return it->second;
      const auto id = static_cast<std::uint32_t>(texts.size());
      texts.emplace_back(v);
      if (seen.size() == 64) seen.erase(seen.begin());
      seen.emplace_back(v, id);
      return id;
    };
    for (const auto& c : changes) {
      Item it{static_cast<std::uint32_t>(names.size()), static_cast<std::uint32_t>(c.record.size()),
              text(c.region), text(c.from), text(c.to), text(c.reason), text(c.cause), c.at};
      names.append(c.record);
      items.push_back(it);
    }
  }
  std::size_t bytes() const {
    std::size_t b = names.size() + items.size() * sizeof(Item);
    for (const auto& t : texts) b += t.size() + sizeof t;
    return b;
  }
  void views(std::vector<scenario::AnswerChange>& out) const {
    out.clear();
    out.reserve(items.size());
    for (const Item& it : items)
      out.push_back(scenario::AnswerChange{std::string_view(names).substr(it.name, it.name_size), texts[it.region],
                                           texts[it.from], texts[it.to], texts[it.reason], texts[it.cause], it.at});
  }
};

// Copies the writer is done with go back to the control loop, which reuses them (their memory
// stays faulted in) or frees them itself: a free of the control loop's memory on the writer
// thread would take the control loop's malloc arena lock at the lowest priority, and the control
// loop could then wait for a thread that does not get the CPU.
class CopyPool {
 public:
  std::shared_ptr<RoundCopy> take() {
    std::vector<std::shared_ptr<RoundCopy>> done;
    {
      std::lock_guard lock(mutex_);
      done.swap(done_);
    }
    // One is reused; the rest are freed here, on this thread, when `done` goes.
    if (done.empty()) return std::make_shared<RoundCopy>();
    return std::move(done.front());
  }
  void give_back(std::shared_ptr<RoundCopy>&& c) {
    std::lock_guard lock(mutex_);
    done_.push_back(std::move(c));
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<RoundCopy>> done_;  // at most what the queue held
};

CopyPool& copy_pool() {
  static CopyPool pool;
  return pool;
}

}  // namespace

void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal,
                           BackgroundWriter* writer) {
  if (changes.empty()) return;
  // Only the newest entries stay in the journal's memory (at once, for the API): only those
  // become AuditEntry values.
  if (journal != nullptr) {
    const std::size_t keep = std::min(changes.size(), journal->keep_recent());
    std::vector<AuditEntry> newest;
    newest.reserve(keep);
    for (std::size_t i = changes.size() - keep; i < changes.size(); ++i) newest.push_back(audit_entry(changes[i]));
    journal->remember_newest(std::move(newest));
  }
  if (writer == nullptr || writer->on_writer_thread()) {
    write_round(changes, journal);
    return;
  }
  std::shared_ptr<RoundCopy> copy = copy_pool().take();
  copy->fill(changes);
  const std::size_t bytes = copy->bytes();
  writer->post(
      [copy = std::move(copy), journal]() mutable {
        static thread_local std::vector<scenario::AnswerChange> views;
        copy->views(views);
        write_round(views, journal);
        views.clear();
        copy_pool().give_back(std::move(copy));
      },
      bytes);
}

}  // namespace pharos::app
