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
#include "scenario/selection.h"

namespace pharos::scenario {
struct AnswerChange;
class AnswerRound;
}  // namespace pharos::scenario

namespace pharos::app {

class BackgroundWriter;

struct AuditEntry {
  scenario::SystemTime at{};
  std::string kind;     // "answer", "maintenance", "force", "resume", "reload", "config"
  std::string subject;  // the record key, DC, check ID, ...
  std::string region;   // answers only: "" for clients in no region
  std::string from;     // answers: what it answered before; actions: the previous setting
  std::string to;
  std::string reason;
  std::string by;       // "health", "operator", a token's name, "sighup", ...
};

// An answer change as the journal writes it (kind "answer", by "pipeline").
AuditEntry answer_entry(const scenario::AnswerChange& c);

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
  // Appends several entries (one selection round) with a single write(2): the same lines as
  // append() of each in turn.
  void append(std::vector<AuditEntry> entries);
  // Appends lines that are to_json() of entries, one per line, with a single write(2) (rotating
  // like append()), to the file only: for a round of thousands of answer changes formatted from
  // shared parts, whose entries remember_round() keeps in memory.
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
  // An entry, or a change of a round that becomes one when read: a round of 30,000 answer
  // changes is remembered without building 1,000 entries on the control loop.
  struct Recent {
    AuditEntry entry;
    std::shared_ptr<const scenario::AnswerRound> round;
    std::uint32_t index = 0;
  };
  std::deque<Recent> recent_;
  mutable std::mutex error_mutex_;
  std::optional<std::string> write_error_;
};

}  // namespace pharos::app
