// config_change.h: configuration changes as operations -- insert, update, upsert or delete of a
// datacenter, check, scenario, region or record -- applied all or nothing to the scenario files:
// edited as JSON documents, checked by the very load a reload runs, then written atomically.
// An operation is plain JSON data, so the HA module can send it to a peer as is (docs/api.md).
//
//   auto batch = parse_change_batch(body);                 // {"changes": [...], "if_generation": 7}
//   auto prepared = prepare_change("pharos.json", std::get<ChangeBatch>(batch));   // off the loop
//   if (auto* p = std::get_if<PreparedChange>(&prepared)) {
//     if (auto w = write_change(*p); w) publish(std::move(p->load));               // as a reload does
//   }
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "app/config_docs.h"
#include "app/loader.h"
#include "dns/result.h"

namespace pharos::app {

enum class ChangeOp : std::uint8_t {
  kInsert,  // the ID must be new
  kUpdate,  // the ID must exist; the object is replaced where it is
  kUpsert,  // update if it exists, else insert (what PUT does)
  kDelete,  // the ID must exist
};
const char* to_string(ChangeOp op);  // "insert", ...

struct ConfigChange {
  ChangeOp op = ChangeOp::kInsert;
  ConfigKind kind = ConfigKind::kDatacenter;
  std::string id;     // a DC, check, scenario or region name; a record's "www.example.com./A"
  std::string file;   // inserts: the scenario file to put it in; empty = the first one in pharos.json
  std::string value;  // the object as in the file, compact JSON; empty for a delete
};

struct ChangeBatch {
  std::vector<ConfigChange> changes;
  std::optional<std::uint64_t> if_generation;  // apply only at this config generation
};

// A batch {"changes": [op, ...], "if_generation": 7}, or one operation object
// {"op", "kind", "id", "file", "value", "if_generation"}. The error (a 400) points into `body`.
std::variant<ChangeBatch, Error> parse_change_batch(const rapidjson::Value& body);
// One operation at `where` ("/changes/2"); "if_generation" is the batch's, not read here.
std::variant<ConfigChange, Error> parse_change(const rapidjson::Value& v, const std::string& where);
// A generation as the API takes it: a JSON number or a decimal string (query parameter).
std::optional<std::uint64_t> parse_generation(const rapidjson::Value& v);
std::optional<std::uint64_t> parse_generation(const std::string& text);

struct ChangeFailure {
  int status = 422;  // 400 malformed, 404 unknown ID, 409 already there, 422 invalid, 500 not written
  Error error;       // file and JSON Pointer where the loader says so
};

struct AppliedChange {
  ChangeOp op = ChangeOp::kInsert;  // upserts resolved to insert or update
  ConfigKind kind = ConfigKind::kDatacenter;
  std::string id;
  std::string file;
  std::string pointer;  // where it is now (inserts, updates) or was (deletes)
  std::string before;   // compact JSON, shortened for the audit journal; empty for an insert
  std::string after;    // empty for a delete
};

struct PreparedChange {
  std::vector<AppliedChange> applied;
  std::vector<std::pair<std::string, std::string>> files;  // (path, new text) of each changed file
  LoadResult load;                                         // the new configuration, loaded
};

// Reads pharos.json and its scenario files as they are on disk, applies the operations in order
// (each sees the ones before it), and loads the result exactly as a reload would. Writes
// nothing. Slow for large zones (it builds the answer table): run it off the control loop.
std::variant<PreparedChange, ChangeFailure> prepare_change(const std::string& config_path, const ChangeBatch& batch);

// Writes each changed file to a temporary file beside it, then renames them in turn. A file
// is never seen half written; a crash between the renames of a change that touches several
// files can leave some of them changed (docs/api.md).
Result<void> write_change(const PreparedChange& change);

// What a daemon answers for a batch.
struct ChangeOutcome {
  int status = 200;  // 200, or a ChangeFailure's status, 409 for a generation mismatch, 503 stopping
  Error error;
  std::vector<AppliedChange> applied;
  std::uint64_t config_generation = 0;  // after the change (or the current one when refused)
};

}  // namespace pharos::app
