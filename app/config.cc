// config.cc: parsing and validating pharos.json. Each key has one small reader that knows its JSON
// Pointer, so every message says exactly where the problem is.
#include "app/config.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "dns/zone.h"

namespace pharos::app {
namespace {

using rapidjson::Value;

constexpr std::uint64_t kMaxDurationMs = 24ull * 3600 * 1000;
constexpr unsigned kMaxWorkers = 1024;
constexpr std::uint32_t kMaxTcpConnections = 1'000'000;
constexpr std::size_t kMaxTxtString = 255;  // one character-string in a CHAOS TXT answer

// RFC 6901: '~' and '/' inside a key are escaped.
std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
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

// Reads one JSON object: each known key has a handler; anything else is an error at its pointer.
class Reader {
 public:
  Reader(const std::string& file, Config& config) : file_(file), config_(config) {}

  std::optional<Error> err;

  bool fail(const std::string& where, std::string message) {
    if (!err) err = Error{file_, where, std::move(message)};
    return false;
  }

  using Handler = std::function<bool(const Value&, const std::string&)>;

  bool object(const Value& v, const std::string& where, const std::map<std::string, Handler>& keys) {
    if (!v.IsObject()) return fail(where, "must be an object");
    std::set<std::string> seen;
    for (const auto& m : v.GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      const std::string at = where + "/" + pointer_token(key);
      if (!seen.insert(key).second) return fail(at, "duplicate key " + in_quotes(key));
      const auto it = keys.find(key);
      if (it == keys.end()) return fail(at, "unknown key " + in_quotes(key));
      if (!it->second(m.value, at)) return false;
    }
    return true;
  }

  bool string(const Value& v, const std::string& where, std::string& out) {
    if (!v.IsString()) return fail(where, "must be a string");
    out.assign(v.GetString(), v.GetStringLength());
    return true;
  }

  bool integer(const Value& v, const std::string& where, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    if (!v.IsInt64()) return fail(where, "must be an integer");
    out = v.GetInt64();
    if (out < lo || out > hi) {
      return fail(where, std::to_string(out) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    return true;
  }

  bool duration(const Value& v, const std::string& where, std::uint64_t& out) {
    std::optional<std::uint64_t> ms;
    if (v.IsNumber()) {
      const double s = v.GetDouble();
      if (s >= 0 && std::isfinite(s) && s * 1000 <= static_cast<double>(kMaxDurationMs)) {
        ms = static_cast<std::uint64_t>(std::llround(s * 1000));
      }
    } else if (v.IsString()) {
      ms = parse_duration_ms(std::string_view(v.GetString(), v.GetStringLength()));
    } else {
      return fail(where, "must be a duration such as \"500ms\", \"2s\", \"5m\" or a number of seconds");
    }
    if (!ms) return fail(where, json_text(v) + " is not a duration (\"500ms\", \"2s\", \"5m\", seconds)");
    if (*ms == 0) return fail(where, "must be greater than zero");
    if (*ms > kMaxDurationMs) return fail(where, json_text(v) + " is longer than a day");
    out = *ms;
    return true;
  }

  // Relative paths are taken from the directory of the config file.
  std::string resolve(const std::string& p) const {
    const std::filesystem::path path(p);
    if (path.is_absolute()) return p;
    const auto dir = std::filesystem::path(file_).parent_path();
    return dir.empty() ? p : (dir / path).string();
  }

  bool path(const Value& v, const std::string& where, std::string& out) {
    if (!string(v, where, out)) return false;
    if (out.empty()) return fail(where, "must not be empty");
    out = resolve(out);
    return true;
  }

  bool listen(const Value& v, const std::string& where) {
    if (!v.IsArray()) return fail(where, "must be an array of \"addr:port\" strings");
    if (v.Empty()) return fail(where, "must list at least one address");
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      const std::string at = where + "/" + std::to_string(i);
      std::string text;
      if (!string(v[i], at, text)) return false;
      dns::ListenAddress a;
      if (!dns::parse_listen_address(text, a)) {
        return fail(at, in_quotes(text) + " is not addr:port");
      }
      for (std::size_t j = 0; j < config_.listen.size(); ++j) {
        if (config_.listen[j] == a && a.port() != 0) return fail(at, in_quotes(text) + " is listed twice");
      }
      config_.listen_text.push_back(text);
      config_.listen.push_back(a);
    }
    return true;
  }

  bool zones(const Value& v, const std::string& where) {
    if (!v.IsArray()) return fail(where, "must be an array of { \"name\", \"file\" }");
    std::set<std::string> names;  // wire form: catches "Example.com" vs "example.com."
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      const std::string at = where + "/" + std::to_string(i);
      ZoneConfig z;
      bool has_name = false, has_file = false;
      const bool ok = object(v[i], at, {
          {"name", [&](const Value& x, const std::string& w) { has_name = true; return string(x, w, z.name); }},
          {"file", [&](const Value& x, const std::string& w) { has_file = true; return path(x, w, z.file); }},
      });
      if (!ok) return false;
      if (!has_name) return fail(at, "missing \"name\"");
      if (!has_file) return fail(at, "missing \"file\"");
      if (z.name.empty() || z.name.back() != '.') z.name += '.';
      std::vector<std::uint8_t> wire;
      if (!dns::name_to_wire(z.name, wire)) return fail(at + "/name", in_quotes(z.name) + " is not a domain name");
      if (!names.insert(std::string(wire.begin(), wire.end())).second) return fail(at + "/name", "zone " + in_quotes(z.name) + " is listed twice");
      config_.zones.push_back(std::move(z));
    }
    return true;
  }

  bool identity_string(const Value& v, const std::string& where, std::string& out) {
    if (!string(v, where, out)) return false;
    if (out.size() > kMaxTxtString) return fail(where, "is longer than 255 characters");
    return true;
  }

  bool top(const Value& root) {
    bool has_listen = false;
    auto& t = config_.table;
    return object(root, "", {
        {"listen", [&](const Value& v, const std::string& w) { has_listen = true; return listen(v, w); }},
        {"workers", [&](const Value& v, const std::string& w) {
           std::int64_t n = 0;
           if (!integer(v, w, 0, kMaxWorkers, n)) return false;
           config_.workers = static_cast<unsigned>(n);
           return true;
         }},
        {"zones", [&](const Value& v, const std::string& w) { return zones(v, w); }},
        {"edns", [&](const Value& v, const std::string& w) {
           return object(v, w, {{"max_udp_payload", [&](const Value& x, const std::string& at) {
                                  std::int64_t n = 0;
                                  if (!integer(x, at, 512, 4096, n)) return false;
                                  t.max_udp_payload = static_cast<std::uint16_t>(n);
                                  return true;
                                }}});
         }},
        {"identity", [&](const Value& v, const std::string& w) {
           return object(v, w, {
               {"id_server", [&](const Value& x, const std::string& at) { return identity_string(x, at, t.id_server); }},
               {"hostname_bind", [&](const Value& x, const std::string& at) { return identity_string(x, at, t.hostname_bind); }},
               {"version_bind", [&](const Value& x, const std::string& at) { return identity_string(x, at, t.version_bind); }},
               {"nsid", [&](const Value& x, const std::string& at) { return identity_string(x, at, t.nsid); }},
           });
         }},
        {"tcp", [&](const Value& v, const std::string& w) {
           auto& tc = config_.tcp;
           return object(v, w, {
               {"idle_timeout", [&](const Value& x, const std::string& at) { return duration(x, at, tc.idle_timeout_ms); }},
               {"message_timeout", [&](const Value& x, const std::string& at) { return duration(x, at, tc.message_timeout_ms); }},
               {"max_connections", [&](const Value& x, const std::string& at) {
                  std::int64_t n = 0;
                  if (!integer(x, at, 1, kMaxTcpConnections, n)) return false;
                  tc.max_connections = static_cast<std::uint32_t>(n);
                  return true;
                }},
           });
         }},
        {"scenarios", [&](const Value& v, const std::string& w) {
           if (!v.IsArray()) return fail(w, "must be an array of file paths");
           for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
             std::string p;
             if (!path(v[i], w + "/" + std::to_string(i), p)) return false;
             config_.scenarios.push_back(std::move(p));
           }
           return true;
         }},
        {"state_dir", [&](const Value& v, const std::string& w) { return path(v, w, config_.state_dir); }},
        {"debounce", [&](const Value& v, const std::string& w) {
           std::uint64_t ms = 0;
           if (!duration(v, w, ms)) return false;
           config_.debounce_ms = ms;
           return true;
         }},
        {"control", [&](const Value& v, const std::string& w) {
           if (!v.IsString() && !v.IsObject()) return fail(w, "must be a string or an object");
           config_.control = json_text(v);
           return true;
         }},
    }) && (has_listen || fail("/listen", "missing: list at least one \"addr:port\""));
  }

 private:
  const std::string& file_;
  Config& config_;
};

// RapidJSON reports a byte offset; people want a line.
std::string line_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return std::to_string(line);
}

}  // namespace

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

dns::ServerOptions Config::server_options() const {
  dns::ServerOptions o;
  o.listen = listen;
  o.workers = workers;
  o.tcp_idle_timeout_ms = tcp.idle_timeout_ms;
  o.tcp_message_timeout_ms = tcp.message_timeout_ms;
  o.tcp_max_connections = tcp.max_connections;
  return o;
}

Result<Config> parse_config(std::string_view text, const std::string& path) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Error{path, line_of(text, doc.GetErrorOffset()),
                 std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError())};
  }
  Config config;
  config.file = path;
  Reader reader(path, config);
  if (!reader.top(doc)) return *reader.err;
  return config;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path, "", std::string("cannot read: ") + std::strerror(errno)};
  std::ostringstream s;
  s << in.rdbuf();
  return parse_config(s.str(), path);
}

}  // namespace pharos::app
