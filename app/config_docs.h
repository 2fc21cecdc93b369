// config_docs.h: the scenario files as JSON documents, for config changes: find an object by kind
// and ID, put or remove it while the rest of its file stays as written (key order, other objects),
// print a document back readable, and replace a file atomically.
//
//   Result<ScenarioDocs> docs = ScenarioDocs::read(config.scenarios);
//   if (auto at = docs->find(ConfigKind::kDatacenter, "dc1")) docs->remove(*at);
//   std::string text = pretty_json(docs->doc(0).doc);
//   Result<std::string> tmp = write_temp(path, text);   // then replace_file(*tmp, path)
#pragma once

#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"

namespace pharos::app {

// What a config change can name: the sections of a scenario file (docs/gtm.md).
enum class ConfigKind : std::uint8_t { kDatacenter, kCheck, kScenario, kRegion, kRecord };
inline constexpr std::array<ConfigKind, 5> kAllConfigKinds = {ConfigKind::kDatacenter, ConfigKind::kCheck,
                                                               ConfigKind::kScenario, ConfigKind::kRegion,
                                                               ConfigKind::kRecord};
const char* to_string(ConfigKind k);   // "datacenter"
const char* section_of(ConfigKind k);  // "datacenters": the key in the file, and the API's path
// "datacenter" or "datacenters", ...; nothing for anything else.
std::optional<ConfigKind> parse_kind(std::string_view text);

// A GTM record's ID, "www.example.com./A", from the name and type as written ("WWW.Example.com", "a").
// Nothing when the type is not a known record type or the name is empty.
std::optional<std::string> record_id(std::string_view name, std::string_view type);
// The ID of a record object in a file (its "name" and "type"), or nothing if it has none.
std::optional<std::string> record_id_of(const rapidjson::Value& record);

struct ScenarioDoc {
  std::string path;  // as resolved in pharos.json
  std::string text;  // as read
  rapidjson::Document doc;
  bool changed = false;
};

// Where an object is: the document, its JSON Pointer, and the object itself.
struct Located {
  std::size_t doc = 0;
  std::string pointer;  // "/datacenters/dc1", "/records/3"
  ConfigKind kind = ConfigKind::kDatacenter;
  std::string id;
  const rapidjson::Value* value = nullptr;
};

class ScenarioDocs {
 public:
  // Reads and parses every file; a syntax error names the file and line as the loader does.
  static Result<ScenarioDocs> read(const std::vector<std::string>& paths);

  std::size_t size() const { return docs_.size(); }
  ScenarioDoc& doc(std::size_t i) { return docs_[i]; }
  const ScenarioDoc& doc(std::size_t i) const { return docs_[i]; }
  // The document for a file as the operator names it: the path as resolved in pharos.json, or as
  // written there (relative to pharos.json's directory, given as `config_dir`).
  std::optional<std::size_t> index_of(const std::string& file, const std::string& config_dir) const;

  std::optional<Located> find(ConfigKind kind, const std::string& id) const;
  std::vector<Located> list(ConfigKind kind) const;

  // Edits; the caller has checked with find(). `value` is copied. An insert goes to the end of
  // its section, created at the end of the file if missing; the error is a section that is not
  // an object (an array for records).
  Result<void> insert(std::size_t doc, ConfigKind kind, const std::string& id, const rapidjson::Value& value);
  void replace(const Located& at, const rapidjson::Value& value);
  void remove(const Located& at);

 private:
  std::vector<ScenarioDoc> docs_;
};

// Readable JSON: two-space indent, keys in document order, and a value that fits on one line
// of 100 columns (a DC's target, an rdata list, a scenario's groups) kept on one line. Ends with
// a newline.
std::string pretty_json(const rapidjson::Value& v);

// Writes `text` to a new temporary file beside `path` with the same mode (and owner where
// permitted), flushed to disk: the path of the temporary file.
Result<std::string> write_temp(const std::string& path, const std::string& text);
// Renames the temporary file over `path` and flushes the directory: the replacement is atomic,
// a crash leaves the old file or the new one.
Result<void> replace_file(const std::string& temp, const std::string& path);

}  // namespace pharos::app
