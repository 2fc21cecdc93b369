// config.cc: parsing and validating pharos.json. Each key has one small reader that knows its JSON
// Pointer, so every message says exactly where the problem is.
#include "app/config.h"

#include <set>

#include "dns/zone.h"
#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

using scenario::in_quotes;
using scenario::Value;

constexpr unsigned kMaxWorkers = 1024;
constexpr std::uint32_t kMaxTcpConnections = 1'000'000;
constexpr std::size_t kMaxTxtString = 255;  // one character-string in a CHAOS TXT answer
constexpr std::int64_t kMaxControlBody = 64 << 20;  // API bodies are small JSON objects

// The keys of pharos.json; the generic reading (pointers, types, durations) is JsonReader's.
class Reader : public scenario::JsonReader {
 public:
  Reader(const std::string& file, Config& config) : JsonReader(file), config_(config) {}

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

  bool control(const Value& v, const std::string& where) {
    ControlConfig& cc = config_.control;
    cc.enabled = true;
    bool has_tokens = false;
    const bool ok = object(v, where, {
        {"listen", [&](const Value& x, const std::string& at) {
           if (!string(x, at, cc.listen)) return false;
           dns::ListenAddress a;
           if (!dns::parse_listen_address(cc.listen, a)) return fail(at, in_quotes(cc.listen) + " is not addr:port");
           return true;
         }},
        {"tokens", [&](const Value& x, const std::string& at) { has_tokens = true; return path(x, at, cc.tokens); }},
        {"public", [&](const Value& x, const std::string& at) { return boolean(x, at, cc.public_read); }},
        {"max_body", [&](const Value& x, const std::string& at) {
           std::int64_t n = 0;
           if (!integer(x, at, 1024, kMaxControlBody, n)) return false;
           cc.max_body = static_cast<std::size_t>(n);
           return true;
         }},
    });
    return ok && (has_tokens || fail(where, "missing \"tokens\": the file of API tokens (docs/api.md)"));
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
        {"state_max_age", [&](const Value& v, const std::string& w) { return duration(v, w, config_.state_max_age_ms); }},
        {"startup_policy", [&](const Value& v, const std::string& w) {
           std::string p;
           if (!string(v, w, p)) return false;
           if (p == to_string(StartupPolicy::kWait)) config_.startup_policy = StartupPolicy::kWait;
           else if (p == to_string(StartupPolicy::kAssumeUp)) config_.startup_policy = StartupPolicy::kAssumeUp;
           else return fail(w, in_quotes(p) + " is not a startup policy (\"wait\" or \"assumeUp\")");
           return true;
         }},
        {"debounce", [&](const Value& v, const std::string& w) {
           std::uint64_t ms = 0;
           if (!duration(v, w, ms, /*allow_zero=*/true)) return false;  // 0: publish at once
           config_.debounce_ms = ms;
           return true;
         }},
        {"geoip", [&](const Value& v, const std::string& w) {
           bool has_database = false;
           return object(v, w, {{"database", [&](const Value& x, const std::string& at) {
                                   has_database = true;
                                   return path(x, at, config_.geoip_database);
                                 }}}) &&
                  (has_database || fail(w, "missing \"database\": the GeoIP2 country or city database file"));
         }},
        {"control", [&](const Value& v, const std::string& w) { return control(v, w); }},
        {"user", [&](const Value& v, const std::string& w) { return account(v, w, config_.run_as.user); }},
        {"group", [&](const Value& v, const std::string& w) { return account(v, w, config_.run_as.group); }},
        {"stop_timeout", [&](const Value& v, const std::string& w) { return duration(v, w, config_.stop_timeout_ms); }},
    }) && (has_listen || fail("/listen", "missing: list at least one \"addr:port\"")) && run_as();
  }

  bool account(const Value& v, const std::string& where, std::string& out) {
    if (!string(v, where, out)) return false;
    return !out.empty() || fail(where, "must not be empty");
  }

  // The names must exist here and now: --check catches a typo before a restart does.
  bool run_as() {
    RunAs& r = config_.run_as;
    if (r.user.empty()) return r.group.empty() || fail("/group", "needs \"user\": a group alone is not switched to");
    if (auto e = resolve_run_as(r)) return fail(e->where, e->message);
    return true;
  }

 private:
  Config& config_;
};

}  // namespace

const char* to_string(StartupPolicy p) { return p == StartupPolicy::kAssumeUp ? "assumeUp" : "wait"; }

dns::ServerOptions Config::server_options() const {
  dns::ServerOptions o;
  o.listen = listen;
  o.workers = workers;
  o.tcp_idle_timeout_ms = tcp.idle_timeout_ms;
  o.tcp_message_timeout_ms = tcp.message_timeout_ms;
  o.tcp_max_connections = tcp.max_connections;
  o.drain_timeout_ms = stop_timeout_ms;
  return o;
}

Result<Config> parse_config(std::string_view text, const std::string& path) {
  Result<rapidjson::Document> doc = scenario::parse_json(text, path);
  if (!doc) return doc.error();
  Config config;
  config.file = path;
  Reader reader(path, config);
  if (!reader.top(*doc)) return *reader.err;
  return config;
}

Result<Config> load_config(const std::string& path) {
  Result<std::string> text = scenario::read_text_file(path);
  if (!text) return text.error();
  return parse_config(*text, path);
}

}  // namespace pharos::app
