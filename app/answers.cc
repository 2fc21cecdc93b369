// answers.cc: see answers.h.
#include "app/answers.h"

#include "app/log.h"

namespace pharos::app {

namespace {

void append_answer_changes(std::string& out, const std::vector<scenario::AnswerChange>& changes) {
  if (changes.empty()) return;
  if (changes.size() > 1) {
    const std::string count = std::to_string(changes.size());
    append_log_line(out, LogLevel::kInfo, "answers changed", {{"count", count}});
  }
  std::string reason;  // reused: no allocation per line
  for (const auto& c : changes) {
    reason.assign(c.reason).append(" (").append(c.cause).append(")");
    append_log_line(out, LogLevel::kInfo, "answer changed",
                    {{"record", c.record}, {"region", c.region.empty() ? std::string_view("-") : c.region},
                     {"from", c.from}, {"to", c.to}, {"reason", reason}});
  }
}

}  // namespace

std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes) {
  std::string out;
  append_answer_changes(out, changes);
  return out;
}

std::vector<AuditEntry> answer_audit_entries(const std::vector<scenario::AnswerChange>& changes) {
  std::vector<AuditEntry> out;
  out.reserve(changes.size());
  for (const auto& c : changes)
    out.push_back(AuditEntry{c.at, "answer", std::string(c.record), std::string(c.region), std::string(c.from),
                             std::string(c.to), c.full_reason(), "pipeline"});
  return out;
}

void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal) {
  if (changes.empty()) return;
  // The control loop's buffer, kept between rounds (up to 4 MiB, ~16,000 lines) so a burst does
  // not fault in fresh pages every time.
  static thread_local std::string buffer;
  buffer.clear();
  append_answer_changes(buffer, changes);
  write_log(buffer);
  if (buffer.capacity() > (4u << 20)) std::string().swap(buffer);
  if (journal != nullptr) journal->append(answer_audit_entries(changes));
}

}  // namespace pharos::app
