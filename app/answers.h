// answers.h: what pharosd does with the answer changes of one selection round, after the new
// answers are published: one log write (a line per change, after a summary line when there are
// several) and one write to the audit journal. A verdict that moves 10,000 answers thus costs
// two write(2) calls, not 20,000, and none of it delays the publish.
//
//   gtm.on_audit([&](const std::vector<scenario::AnswerChange>& c) { record_answer_changes(c, &journal); });
#pragma once

#include <string>
#include <vector>

#include "app/audit.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

// The log lines of one round: `msg="answers changed" count=N` when N > 1, then one
// `msg="answer changed"` line per change (record, region, from, to, reason).
std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes);
// The audit entries of one round (kind "answer", by "pipeline").
std::vector<AuditEntry> answer_audit_entries(const std::vector<scenario::AnswerChange>& changes);
// Logs them with one write and appends them to `journal` (if not null) with one write.
void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal);

}  // namespace pharos::app
