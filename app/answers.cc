// answers.cc: see answers.h.
#include "app/answers.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <utility>

#include "app/background_writer.h"
#include "app/log.h"

namespace pharos::app {

namespace {

// A round's changes repeat their texts: every record of one engine unit moves from the same
// answer to the same answer for the same reason, only the record differs. The parts after the
// record (log line) and after the subject (journal line) are formatted once per distinct
// combination and copied for each entry; the result is the same text as one append_log_line()
// and one AuditJournal::to_json() per entry (a change, or a group with every record listed).
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

class RoundFormatter {
 public:
  explicit RoundFormatter(bool journal) : journal_(journal) {
    append_log_line(head_, LogLevel::kInfo, "answer changed", {});
    head_.pop_back();  // the newline
    head_ += " record=";
    append_log_line(group_head_, LogLevel::kInfo, "answers changed", {});
    group_head_.pop_back();
    group_head_ += " count=";
  }

  // The lines of the journal entry of changes [begin, end) of `round` (see for_each_answer_entry).
  void add(const scenario::AnswerRound& round, std::uint32_t begin, std::uint32_t end, std::string& log,
           std::string& json) {
    const scenario::AnswerChange c = round[begin];
    const Shared& s = shared(c);
    if (end - begin == 1) {
      log += head_;
      append_log_value(log, c.record);
      log += s.log_tail;
      if (!journal_) return;
      json += s.json_head;
      append_json_string(json, c.record);
      json += s.json_tail;
      return;
    }
    // A group: count, its first records and how many more, then what they share.
    const std::uint32_t count = end - begin;
    const std::uint32_t logged = std::min<std::uint32_t>(count, kLoggedRecords);
    log += group_head_;
    log += std::to_string(count);
    log += " records=";
    names_.clear();
    for (std::uint32_t i = begin; i < begin + logged; ++i) {
      if (i > begin) names_ += ' ';
      names_ += round[i].record;
    }
    append_log_value(log, names_);
    if (count > logged) {
      log += " more=";
      log += std::to_string(count - logged);
    }
    log += s.log_tail;
    if (!journal_) return;
    json += s.json_head;
    append_json_string(json, group_subject(c.record, count));
    json += ",\"count\":";
    json += std::to_string(count);
    json += ",\"records\":[";
    for (std::uint32_t i = begin; i < end; ++i) {
      if (i > begin) json += ',';
      append_json_string(json, round[i].record);
    }
    json += ']';
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
      AuditEntry e = answer_entry(c);
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
  std::string group_head_;           // "level=info msg=\"answers changed\" count="
  std::string names_;                // scratch: a group line's records
  std::vector<Shared> cache_;
};

// The log lines and (with `journal`) the journal lines of `changes` as one round.
std::pair<std::string, std::string> format_round(const std::vector<scenario::AnswerChange>& changes, bool journal) {
  std::pair<std::string, std::string> out;
  if (changes.empty()) return out;
  const auto round = scenario::AnswerRound::copy_of(changes);
  RoundFormatter f(journal);
  for_each_answer_entry(*round, [&](std::uint32_t begin, std::uint32_t end) { f.add(*round, begin, end, out.first, out.second); });
  return out;
}

}  // namespace

std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes) {
  return format_round(changes, false).first;
}

std::string format_answer_journal(const std::vector<scenario::AnswerChange>& changes) {
  return format_round(changes, true).second;
}

namespace {

// Writes a round's lines in chunks of about 64 KiB of whole lines (a group's journal line, which
// lists every record, can be bigger) from buffers this thread keeps: a round of 30,000 changes
// neither holds its whole text in memory nor faults in fresh pages for it every time. Each
// write(2) takes at most 64 KiB: the kernel (without preemption in system calls on Debian's
// default) gives the CPU to a waking DNS worker only when the writer's system call returns.
void write_round(const scenario::AnswerRound& changes, AuditJournal* journal) {
  constexpr std::size_t kChunk = 64u << 10;
  static thread_local std::string log, json;
  if (log.capacity() < kChunk + 4096) log.reserve(kChunk + 4096);
  log.clear();
  json.clear();
  const bool to_file = journal != nullptr && !journal->path().empty();
  if (to_file && json.capacity() < kChunk + 4096) json.reserve(kChunk + 4096);
  RoundFormatter f(to_file);
  for_each_answer_entry(changes, [&](std::uint32_t begin, std::uint32_t end) {
    f.add(changes, begin, end, log, json);
    if (log.size() >= kChunk) {
      write_log(log);
      log.clear();
    }
    if (json.size() >= kChunk) {  // whole lines: a group's entry (every record) is one line
      journal->append_lines(json);
      json.clear();
    }
  });
  write_log(log);
  if (to_file) journal->append_lines(json);
}

}  // namespace

void record_answer_changes(const std::shared_ptr<const scenario::AnswerRound>& round, AuditJournal* journal,
                           BackgroundWriter* writer) {
  if (round->empty()) return;
  // The newest entries stay in the journal's memory at once (for the API), as references.
  if (journal != nullptr) journal->remember_round(round);
  if (writer == nullptr || writer->on_writer_thread()) {
    write_round(*round, journal);
    return;
  }
  // An engine's round stays the engine's: it reuses the memory once this job has dropped it,
  // and frees it on the control loop (a free on this low-priority thread would take the control
  // loop's malloc arena lock, and the control loop could then wait for a thread without CPU).
  // The queue's bound counts what the round holds: about 64 bytes per change.
  writer->post([round, journal] { write_round(*round, journal); }, round->size() * 64);
}

void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal,
                           BackgroundWriter* writer) {
  if (!changes.empty()) record_answer_changes(scenario::AnswerRound::copy_of(changes), journal, writer);
}

}  // namespace pharos::app
