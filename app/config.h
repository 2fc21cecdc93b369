// config.h: the main configuration file (pharos.json), parsed with RapidJSON and validated; every
// error names the file and a JSON Pointer: `pharos.json: /listen/1: "1.2.3.4:x" is not addr:port`.
//
//   Result<Config> c = load_config("/etc/pharos/pharos.json");
//   if (!c) { log(c.error().to_string()); return 1; }
//   dns::ServerOptions so = c->server_options();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/privileges.h"
#include "dns/answer_table.h"
#include "dns/listen_socket.h"
#include "dns/result.h"
#include "dns/server.h"
#include "scenario/json_reader.h"

namespace pharos::app {

struct ZoneConfig {
  std::string name;  // presentation form, always with the trailing dot
  std::string file;  // resolved: relative paths are taken from the config file's directory
};

struct TcpConfig {
  std::uint64_t idle_timeout_ms = 10'000;
  std::uint64_t message_timeout_ms = 5'000;
  std::uint32_t max_connections = 1024;  // server-wide

  bool operator==(const TcpConfig&) const = default;
};

// How answers start when there is no usable saved state (DOMAIN.md §6).
enum class StartupPolicy : std::uint8_t {
  kWait,      // checks start unknown; GTM answers the preferred entry until results arrive
  kAssumeUp,  // every probed check starts up: answers start on the healthy path
};
const char* to_string(StartupPolicy p);  // "wait", "assumeUp"

// "control": { "listen": "127.0.0.1:8053", "tokens": "tokens.json", "public": true } (docs/api.md).
struct ControlConfig {
  bool enabled = false;                    // true when the "control" key is present
  std::string listen = "127.0.0.1:8053";   // addr:port, IPv4 or [IPv6]; port 0 = ephemeral (tests)
  std::string tokens;                      // resolved like zone files; required when enabled
  bool public_read = true;                 // "public": routes open to all stay open; false = they need a read token
  std::size_t max_body = 1 << 20;          // "max_body": request bodies above this get 413
  std::uint64_t loop_timeout_ms = 10'000;  // a handler the control loop has not answered by then gets 503
};

struct Config {
  std::string file;                         // the path it was read from, as given
  std::vector<std::string> listen_text;     // as written, for messages
  std::vector<dns::ListenAddress> listen;
  unsigned workers = 0;                     // 0 = one per CPU
  std::vector<ZoneConfig> zones;
  dns::TableOptions table;                  // edns.max_udp_payload and identity
  TcpConfig tcp;
  std::vector<std::string> scenarios;       // resolved like zone files
  std::string state_dir;                    // resolved like zone files; empty = nothing persisted
  std::uint64_t state_max_age_ms = 600'000; // an older saved state is not restored
  StartupPolicy startup_policy = StartupPolicy::kWait;
  std::optional<std::uint64_t> debounce_ms;
  ControlConfig control;
  std::string geoip_database;               // "geoip": { "database" }, resolved like zone files; empty = none
  RunAs run_as;                             // "user" / "group": who to become after binding (app/privileges.h)
  std::uint64_t stop_timeout_ms = 5'000;    // "stop_timeout": how long TCP answers may take to flush on stop

  dns::ServerOptions server_options() const;
};

// Reads and validates `path`.
Result<Config> load_config(const std::string& path);
// Validates JSON text; `path` names it in errors and anchors relative file paths.
Result<Config> parse_config(std::string_view text, const std::string& path);

// "500ms", "2s", "5m", "1h" or a plain number of seconds (JSON number or numeric string).
using scenario::parse_duration_ms;

}  // namespace pharos::app
