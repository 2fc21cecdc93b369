// audit.h: the audit journal: every answer change with its cause, and every operator action with
// who did it, one JSON object per line (docs/api.md has the fields). Kept in memory for the API
// (the most recent entries) and appended to a file when one is configured; the file is rotated
// to "<file>.1" when it passes its size limit, so it never fills the disk. On start the recent
// entries are read back from the file, so `pharosctl audit` survives a restart.
//
//   AuditJournal audit(state_dir + "/audit.jsonl");
//   if (auto e = audit.open()) log_warn(...);              // still usable in memory
//   audit.append({.at = now, .kind = "answer", .subject = "www.example.com./A", ...});
//   for (const auto& e : audit.recent(50)) ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"
#include "scenario/gtm_engine.h"
#include "scenario/selection.h"

namespace pharos::app {

class BackgroundWriter;

struct AuditEntry {
  scenario::SystemTime at{};
  std::string kind;     // "answer", "maintenance", "force", "resume", "reload", "config"
  std::string subject;  // the record key, DC, check ID, ...; a group: "<first record> and N more"
  std::string region;   // answers only: "" for clients in no region
  std::string from;     // answers: what it answered before; actions: the previous setting
  std::string to;
  std::string reason;
  std::string by;       // "health", "operator", a token's name, "sighup", ...
  // A group of answer changes (records that moved alike in one round): how many, and their
  // records. The file lists every record; in memory only the first kKeptRecords are kept.
  std::size_t count = 0;
  std::vector<std::string> records;
};

// A group of more answer changes than this (records that moved alike, in one region, in one
// round) is one log line and one journal entry; a smaller group is a line and an entry per
// change. A DC failure that moves 10,000 records is then one line, not 10,000: journald's
// default rate limit (10,000 lines in 30 s) would drop most of them, and the journal's
// in-memory window (1,000 entries) would lose every operator action.
constexpr std::size_t kGroupAbove = 16;
// The records of a group entry that memory (the API's window) keeps.
constexpr std::size_t kKeptRecords = 100;
// The log lines of a group name this many of its records (the journal names all).
constexpr std::size_t kLoggedRecords = 8;

// An answer change as the journal writes it (kind "answer", by "pipeline").
AuditEntry answer_entry(const scenario::AnswerChange& c);
// The changes [begin, end) of one group of `round` as one entry: answer_entry() of the change
// when there is one, else a group entry (its first kKeptRecords records).
AuditEntry answer_entry(const scenario::AnswerRound& round, std::uint32_t begin, std::uint32_t end);
// "www.example.com./A and 9999 more": a group entry's subject.
std::string group_subject(std::string_view first, std::size_t count);
// Calls f(begin, end) for each journal entry of `round` in order: a change of a group of up to
// kGroupAbove, or a whole bigger group.
template <typename F>
void for_each_answer_entry(const scenario::AnswerRound& round, F&& f);

class AuditJournal {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 16u << 20;
  static constexpr std::size_t kDefaultRecent = 1000;

  // An empty path keeps the journal in memory only.
  explicit AuditJournal(std::string path = {}, std::size_t max_bytes = kDefaultMaxBytes,
                        std::size_t keep_recent = kDefaultRecent);
  ~AuditJournal();
  AuditJournal(const AuditJournal&) = delete;
  AuditJournal& operator=(const AuditJournal&) = delete;

  // Opens (creating) the file and reads its last entries back. On error the journal still
  // works in memory; the error says which file and why.
  std::optional<Error> open();
  // Appends one entry: to memory, and to the file with a single write(2). A failed write is
  // reported once (`write_error()`), then retried with the next entry.
  void append(AuditEntry entry);
  // Appends lines that are to_json() of entries, one per line, to the file only (rotating like
  // append(), never between two of these lines; write(2)s of at most 64 KiB): for a round of
  // thousands of answer changes formatted from shared parts, whose entries remember_round()
  // keeps in memory.
  void append_lines(std::string_view lines);
  // Keeps a selection round's answer changes in memory (answer_entry() of each): the newest
  // keep_recent() of them, as references into the round until read or until the next round
  // comes (only the newest round is referenced).
  void remember_round(const std::shared_ptr<const scenario::AnswerRound>& round);
  std::size_t keep_recent() const { return keep_recent_; }
  // From now on the file writes (and rotations) run on `writer`'s thread, in the order they
  // are asked for; the in-memory window is still updated at once. Null: write directly again
  // (after the writer has done what it had). Set it after open().
  void set_writer(BackgroundWriter* writer);
  // The newest `limit` entries, oldest first.
  std::vector<AuditEntry> recent(std::size_t limit) const;
  std::size_t size() const { return recent_.size(); }
  const std::string& path() const { return path_; }
  std::optional<std::string> write_error() const;

  static std::string to_json(const AuditEntry& e);
  static std::optional<AuditEntry> from_json(std::string_view line);

 private:
  void rotate();
  void write_lines(std::string_view lines);  // now, or through writer_
  void write_now(std::string_view lines);
  void remember(AuditEntry&& entry);
  void trim();

  std::string path_;
  std::size_t max_bytes_;
  std::size_t keep_recent_;
  bool to_file_ = false;                     // open() opened the file
  BackgroundWriter* writer_ = nullptr;
  int fd_ = -1;                              // with a writer: its thread's alone
  std::size_t file_bytes_ = 0;               // ditto
  // An entry, or the changes [begin, end) of a round that become one when read: a round of
  // 30,000 answer changes is remembered without building entries on the control loop.
  struct Recent {
    AuditEntry entry;
    std::shared_ptr<const scenario::AnswerRound> round;
    std::uint32_t begin = 0, end = 0;
  };
  std::deque<Recent> recent_;
  mutable std::mutex error_mutex_;
  std::optional<std::string> write_error_;
};

template <typename F>
void for_each_answer_entry(const scenario::AnswerRound& round, F&& f) {
  for (const scenario::AnswerRound::Group& g : round.groups()) {
    if (g.size() > kGroupAbove) {
      f(g.begin, g.end);
      continue;
    }
    for (std::uint32_t i = g.begin; i < g.end; ++i) f(i, i + 1);
  }
}

}  // namespace pharos::app
