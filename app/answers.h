// answers.h: what pharosd does with the answer changes of one selection round, after the new
// answers are published: log lines (a line per change, after a summary line when there are
// several) and audit journal lines, written in chunks of about 1 MiB of whole lines. The texts a
// round's changes share are formatted once, so a verdict that moves 10,000 answers costs a copy
// of its record names and a few write(2) calls, and none of it delays the publish.
//
//   gtm.on_audit([&](const std::vector<scenario::AnswerChange>& c) { record_answer_changes(c, &journal); });
#pragma once

#include <string>
#include <vector>

#include "app/audit.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class BackgroundWriter;

// The log lines of one round: `msg="answers changed" count=N` when N > 1, then one
// `msg="answer changed"` line per change (record, region, from, to, reason).
std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes);
// The audit entries of one round (kind "answer", by "pipeline").
std::vector<AuditEntry> answer_audit_entries(const std::vector<scenario::AnswerChange>& changes);
// Logs them and appends them to `journal` (if not null), a write(2) per ~1 MiB of lines. With a
// `writer`, the round is copied (record names and each distinct text once) and formatted and
// written on the writer's thread, after what was posted before it; the journal's in-memory
// window takes the newest entries at once.
void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal,
                           BackgroundWriter* writer = nullptr);

}  // namespace pharos::app
