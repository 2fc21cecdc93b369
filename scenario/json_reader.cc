// json_reader.cc: see json_reader.h.
#include "scenario/json_reader.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace pharos::scenario {

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  double value = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{} || p != text.data() + digits) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  double scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s" || unit.empty()) {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double ms = value * scale;
  if (!std::isfinite(ms) || ms > static_cast<double>(kMaxDurationMs) * 2) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(ms));
}

std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string json_text(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

Result<rapidjson::Document> parse_json(std::string_view text, const std::string& path) {
  rapidjson::Document doc;
  // Normal precision (within 3 ULP) is plenty for seconds and counts, and RapidJSON 1.1.0's
  // full-precision path calls clz(0) on inputs such as "0E262" (undefined behaviour, found by
  // the scenario_load fuzzer).
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    // RapidJSON reports a byte offset; people want a line.
    std::size_t line = 1;
    for (std::size_t i = 0; i < doc.GetErrorOffset() && i < text.size(); ++i) line += text[i] == '\n';
    return Error{path, std::to_string(line), std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError())};
  }
  return doc;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path, "", std::string("cannot read: ") + std::strerror(errno)};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool JsonReader::fail(const std::string& where, std::string message) {
  if (!err) err = Error{file_, where, std::move(message)};
  return false;
}

bool JsonReader::object(const Value& v, const std::string& where, const std::map<std::string, Handler>& keys) {
  return members(v, where, [&](const std::string& key, const Value& value, const std::string& at) {
    const auto it = keys.find(key);
    if (it == keys.end()) return fail(at, "unknown key " + in_quotes(key));
    return it->second(value, at);
  });
}

bool JsonReader::members(const Value& v, const std::string& where,
                         const std::function<bool(const std::string&, const Value&, const std::string&)>& each) {
  if (!v.IsObject()) return fail(where, "must be an object");
  std::set<std::string> seen;
  for (const auto& m : v.GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    const std::string at = where + "/" + pointer_token(key);
    if (!seen.insert(key).second) return fail(at, "duplicate key " + in_quotes(key));
    if (!each(key, m.value, at)) return false;
  }
  return true;
}

bool JsonReader::array(const Value& v, const std::string& where,
                       const std::function<bool(const Value&, const std::string&)>& each) {
  if (!v.IsArray()) return fail(where, "must be an array");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
    if (!each(v[i], where + "/" + std::to_string(i))) return false;
  return true;
}

bool JsonReader::string(const Value& v, const std::string& where, std::string& out) {
  if (!v.IsString()) return fail(where, "must be a string");
  out.assign(v.GetString(), v.GetStringLength());
  return true;
}

bool JsonReader::nonempty_string(const Value& v, const std::string& where, std::string& out) {
  if (!string(v, where, out)) return false;
  if (out.empty()) return fail(where, "must not be empty");
  return true;
}

bool JsonReader::strings(const Value& v, const std::string& where, std::vector<std::string>& out) {
  out.clear();
  return array(v, where, [&](const Value& x, const std::string& at) {
    std::string s;
    if (!string(x, at, s)) return false;
    out.push_back(std::move(s));
    return true;
  });
}

bool JsonReader::boolean(const Value& v, const std::string& where, bool& out) {
  if (!v.IsBool()) return fail(where, "must be true or false");
  out = v.GetBool();
  return true;
}

bool JsonReader::integer(const Value& v, const std::string& where, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  if (!v.IsInt64()) return fail(where, "must be an integer");
  out = v.GetInt64();
  if (out < lo || out > hi)
    return fail(where, std::to_string(out) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return true;
}

bool JsonReader::duration(const Value& v, const std::string& where, std::uint64_t& out, bool allow_zero) {
  std::optional<std::uint64_t> ms;
  if (v.IsNumber()) {
    const double s = v.GetDouble();
    if (s >= 0 && std::isfinite(s) && s * 1000 <= static_cast<double>(kMaxDurationMs))
      ms = static_cast<std::uint64_t>(std::llround(s * 1000));
  } else if (v.IsString()) {
    ms = parse_duration_ms(std::string_view(v.GetString(), v.GetStringLength()));
  } else {
    return fail(where, "must be a duration such as \"500ms\", \"2s\", \"5m\" or a number of seconds");
  }
  if (!ms) return fail(where, json_text(v) + " is not a duration (\"500ms\", \"2s\", \"5m\", seconds)");
  if (*ms == 0 && !allow_zero) return fail(where, "must be greater than zero");
  if (*ms > kMaxDurationMs) return fail(where, json_text(v) + " is longer than a day");
  out = *ms;
  return true;
}

std::string JsonReader::resolve(const std::string& p) const {
  const std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  const auto dir = std::filesystem::path(file_).parent_path();
  return dir.empty() ? p : (dir / path).string();
}

bool JsonReader::path(const Value& v, const std::string& where, std::string& out) {
  if (!nonempty_string(v, where, out)) return false;
  out = resolve(out);
  return true;
}

}  // namespace pharos::scenario
