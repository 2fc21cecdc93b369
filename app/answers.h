// answers.h: what pharosd does with the answer changes of one selection round, after the new
// answers are published: log lines and audit journal lines, written in chunks of about 64 KiB
// of whole lines. A group of up to kGroupAbove changes (records that moved alike, in one region)
// is a line and an entry per change; a bigger group is one log line (its count and first
// records) and one journal entry (every record). The texts a round's changes share are
// formatted once. With a background writer the control loop only hands the round over (a
// reference) and the writer thread formats and writes it, so a verdict that moves 30,000
// answers costs the control loop a few microseconds after the publish.
//
//   gtm.on_audit([&](const std::shared_ptr<const scenario::AnswerRound>& r) { record_answer_changes(r, &journal, &writer); });
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/audit.h"
#include "scenario/gtm_engine.h"

namespace pharos::app {

class BackgroundWriter;

// The log lines of one round (its changes grouped as AnswerRound::copy_of() groups them): a
// `msg="answer changed"` line per change (record, region, from, to, reason) of a small group,
// a `msg="answers changed"` line (count, records: the first kLoggedRecords, more, region,
// from, to, reason) per bigger group.
std::string format_answer_changes(const std::vector<scenario::AnswerChange>& changes);
// The audit journal's lines of one round, as the file gets them: a to_json() line per entry,
// every record of a group entry listed.
std::string format_answer_journal(const std::vector<scenario::AnswerChange>& changes);
// Logs them and appends them to `journal` (if not null), a write(2) per ~64 KiB of lines. With a
// `writer`, they are formatted and written on the writer's thread, after what was posted before
// them; the journal's in-memory window takes the newest of them at once.
void record_answer_changes(const std::shared_ptr<const scenario::AnswerRound>& round, AuditJournal* journal,
                           BackgroundWriter* writer = nullptr);
// The same for changes not made by the engine (copied into a round).
void record_answer_changes(const std::vector<scenario::AnswerChange>& changes, AuditJournal* journal,
                           BackgroundWriter* writer = nullptr);

}  // namespace pharos::app
