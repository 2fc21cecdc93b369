// json_reader.h: reading users' JSON files (pharos.json, scenario files) with RapidJSON so that
// every error names the file and a JSON Pointer: `gtm.json: /checks/web1/url: must be a string`.
// Each key of an object has a handler; a key without one is an error at its own pointer.
//
//   JsonReader r(path);
//   bool ok = r.object(doc, "", {
//       {"listen", [&](const Value& v, const std::string& at) { return r.string(v, at, out); }},
//   });
//   if (!ok) return *r.err;
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"

namespace pharos::scenario {

using rapidjson::Value;

inline constexpr std::uint64_t kMaxDurationMs = 24ull * 3600 * 1000;

// "500ms", "2s", "5m", "1h" or a plain number of seconds.
std::optional<std::uint64_t> parse_duration_ms(std::string_view text);
// RFC 6901 escaping of one reference token ('~' -> "~0", '/' -> "~1").
std::string pointer_token(std::string_view key);
std::string in_quotes(std::string_view s);
// A JSON value as compact text, for messages.
std::string json_text(const Value& v);

// Parses JSON text; a syntax error names the line.
Result<rapidjson::Document> parse_json(std::string_view text, const std::string& path);
// Reads a whole file.
Result<std::string> read_text_file(const std::string& path);

class JsonReader {
 public:
  using Handler = std::function<bool(const Value&, const std::string&)>;

  explicit JsonReader(std::string file) : file_(std::move(file)) {}

  std::optional<Error> err;  // the first error; later ones are not recorded
  const std::string& file() const { return file_; }

  bool fail(const std::string& where, std::string message);

  bool object(const Value& v, const std::string& where, const std::map<std::string, Handler>& keys);
  // Every member of an object, in order, with its key (for maps keyed by user names).
  bool members(const Value& v, const std::string& where,
               const std::function<bool(const std::string& key, const Value&, const std::string& at)>& each);
  bool array(const Value& v, const std::string& where,
             const std::function<bool(const Value&, const std::string& at)>& each);
  bool string(const Value& v, const std::string& where, std::string& out);
  bool nonempty_string(const Value& v, const std::string& where, std::string& out);
  bool strings(const Value& v, const std::string& where, std::vector<std::string>& out);
  bool boolean(const Value& v, const std::string& where, bool& out);
  bool integer(const Value& v, const std::string& where, std::int64_t lo, std::int64_t hi, std::int64_t& out);
  // A positive duration; `allow_zero` for settings where 0 means "at once" (debounce).
  bool duration(const Value& v, const std::string& where, std::uint64_t& out_ms, bool allow_zero = false);
  // A file path; relative paths start at the directory of the file being read.
  bool path(const Value& v, const std::string& where, std::string& out);
  std::string resolve(const std::string& p) const;

 private:
  std::string file_;
};

}  // namespace pharos::scenario
