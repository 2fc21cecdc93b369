// config_test.cc: pharos.json parsing: defaults, path resolution, durations, and errors that name
// the file and the JSON Pointer of the offending value.
#include "app/config.h"

#include <gtest/gtest.h>

#include "app/log.h"

namespace pharos::app {
namespace {

std::string error_of(const std::string& json) {
  auto c = parse_config(json, "pharos.json");
  return c.ok() ? std::string("(no error)") : c.error().to_string();
}

TEST(Config, MinimalConfigGetsDefaults) {
  auto c = parse_config(R"({"listen": ["127.0.0.1:53"]})", "pharos.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->listen.size(), 1u);
  EXPECT_EQ(c->workers, 0u);
  EXPECT_TRUE(c->zones.empty());
  EXPECT_EQ(c->table.max_udp_payload, 1232);
  EXPECT_TRUE(c->table.id_server.empty());
  EXPECT_EQ(c->tcp.idle_timeout_ms, 10'000u);
  EXPECT_EQ(c->tcp.message_timeout_ms, 5'000u);
  EXPECT_EQ(c->tcp.max_connections, 1024u);
}

TEST(Config, ReadsTheShippedExample) {
  const std::string path = std::string(PHAROS_SOURCE_DIR) + "/zones/pharos.json";
  auto c = load_config(path);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(dns::format_address(c->listen[1].sa()), "[::1]:5353");
  ASSERT_EQ(c->zones.size(), 1u);
  EXPECT_EQ(c->zones[0].name, "example.com.");
  EXPECT_EQ(c->zones[0].file, std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
}

TEST(Config, ReadsEveryKey) {
  auto c = parse_config(R"({
    "listen": ["[::1]:5353", "0.0.0.0:0"], "workers": 3,
    "zones": [{"name": "Example.COM", "file": "/abs/example.zone"}, {"name": "b.test.", "file": "b.zone"}],
    "edns": {"max_udp_payload": 4096},
    "identity": {"id_server": "ns1", "hostname_bind": "h", "version_bind": "v", "nsid": "n1"},
    "tcp": {"idle_timeout": "500ms", "message_timeout": 2, "max_connections": 10},
    "scenarios": ["gtm.json"], "state_dir": "/var/lib/pharos", "debounce": "1.5s",
    "state_max_age": "1h", "startup_policy": "assumeUp",
    "control": {"listen": "[::1]:8053", "tokens": "tokens.json", "public": false, "max_body": 4096}
  })", "/etc/pharos/pharos.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->zones[0].name, "Example.COM.");
  EXPECT_EQ(c->zones[0].file, "/abs/example.zone");
  EXPECT_EQ(c->zones[1].file, "/etc/pharos/b.zone");
  EXPECT_EQ(c->table.max_udp_payload, 4096);
  EXPECT_EQ(c->table.id_server, "ns1");
  EXPECT_EQ(c->table.nsid, "n1");
  EXPECT_EQ(c->tcp.idle_timeout_ms, 500u);
  EXPECT_EQ(c->tcp.message_timeout_ms, 2000u);
  EXPECT_EQ(c->scenarios, std::vector<std::string>{"/etc/pharos/gtm.json"});
  EXPECT_EQ(c->state_dir, "/var/lib/pharos");
  EXPECT_EQ(c->debounce_ms, 1500u);
  EXPECT_EQ(c->state_max_age_ms, 3'600'000u);
  EXPECT_EQ(c->startup_policy, StartupPolicy::kAssumeUp);
  EXPECT_TRUE(c->control.enabled);
  EXPECT_EQ(c->control.listen, "[::1]:8053");
  EXPECT_EQ(c->control.tokens, "/etc/pharos/tokens.json");
  EXPECT_FALSE(c->control.public_read);
  EXPECT_EQ(c->control.max_body, 4096u);
  const dns::ServerOptions so = c->server_options();
  EXPECT_EQ(so.workers, 3u);
  EXPECT_EQ(so.tcp_max_connections, 10u);
  EXPECT_EQ(so.tcp_idle_timeout_ms, 500u);
}

TEST(Config, BadListenAddressNamesItsPointer) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53", "1.2.3.4:x"]})"),
            R"(pharos.json: /listen/1: "1.2.3.4:x" is not addr:port)");
}

TEST(Config, UnknownKeysAreErrorsAtTheirPointer) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "bogus": 1})"), R"(pharos.json: /bogus: unknown key "bogus")");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "tcp": {"idle": "1s"}})"),
            R"(pharos.json: /tcp/idle: unknown key "idle")");
  // RFC 6901 escaping of '/' and '~' in keys.
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "a/b~c": 1})"), R"(pharos.json: /a~1b~0c: unknown key "a/b~c")");
}

TEST(Config, ValuesOutOfRangeOrOfWrongType) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "edns": {"max_udp_payload": 100}})"),
            "pharos.json: /edns/max_udp_payload: 100 is out of range 512..4096");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "workers": "two"})"), "pharos.json: /workers: must be an integer");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "tcp": {"max_connections": 0}})"),
            "pharos.json: /tcp/max_connections: 0 is out of range 1..1000000");
  EXPECT_EQ(error_of(R"({"listen": "127.0.0.1:53"})"),
            R"(pharos.json: /listen: must be an array of "addr:port" strings)");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "identity": {"nsid": 5}})"),
            "pharos.json: /identity/nsid: must be a string");
}

TEST(Config, ControlIsOffUnlessConfigured) {
  auto c = parse_config(R"({"listen": ["127.0.0.1:53"]})", "pharos.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_FALSE(c->control.enabled);
  auto d = parse_config(R"({"listen": ["127.0.0.1:53"], "control": {"tokens": "t.json"}})", "/etc/pharos.json");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_TRUE(d->control.enabled);
  EXPECT_EQ(d->control.listen, "127.0.0.1:8053");
  EXPECT_TRUE(d->control.public_read);
}

TEST(Config, ControlErrorsNameTheirPointer) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "control": {"listen": "127.0.0.1:8053"}})"),
            R"(pharos.json: /control: missing "tokens": the file of API tokens (docs/api.md))");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "control": {"listen": "localhost", "tokens": "t"}})"),
            R"(pharos.json: /control/listen: "localhost" is not addr:port)");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "control": "127.0.0.1:8053"})"),
            "pharos.json: /control: must be an object");
}

TEST(Config, BadDurationsNameTheirPointer) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "tcp": {"idle_timeout": "10 parsecs"}})"),
            R"(pharos.json: /tcp/idle_timeout: "10 parsecs" is not a duration ("500ms", "2s", "5m", seconds))");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "tcp": {"message_timeout": 0}})"),
            "pharos.json: /tcp/message_timeout: must be greater than zero");
}

TEST(Config, ZoneEntriesAreChecked) {
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "zones": [{"name": "a.test"}]})"),
            R"(pharos.json: /zones/0: missing "file")");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "zones": [{"name": "a..test", "file": "x"}]})"),
            R"(pharos.json: /zones/0/name: "a..test." is not a domain name)");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "zones": [{"name": "a.test", "file": "x"}, {"name": "A.test.", "file": "y"}]})"),
            R"(pharos.json: /zones/1/name: zone "A.test." is listed twice)");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "zones": [{"name": "a.test", "file": "x", "type": "master"}]})"),
            R"(pharos.json: /zones/0/type: unknown key "type")");
}

TEST(Config, StructuralErrors) {
  EXPECT_EQ(error_of(R"({"zones": []})"), R"(pharos.json: /listen: missing: list at least one "addr:port")");
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:53"], "listen": ["127.0.0.1:54"]})"),
            R"(pharos.json: /listen: duplicate key "listen")");
  EXPECT_EQ(error_of("[]"), "pharos.json: must be an object");
  // Broken JSON is reported by line.
  EXPECT_EQ(error_of("{\n  \"listen\": [\"127.0.0.1:53\",]\n}"),
            "pharos.json:2: invalid JSON: Invalid value.");
}

TEST(Config, MissingFileIsAnError) {
  auto c = load_config("/nonexistent/pharos.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, "/nonexistent/pharos.json");
}

TEST(Config, DurationNotations) {
  EXPECT_EQ(parse_duration_ms("500ms"), 500u);
  EXPECT_EQ(parse_duration_ms("2s"), 2000u);
  EXPECT_EQ(parse_duration_ms("5m"), 300'000u);
  EXPECT_EQ(parse_duration_ms("1h"), 3'600'000u);
  EXPECT_EQ(parse_duration_ms("1.5s"), 1500u);
  EXPECT_EQ(parse_duration_ms("3"), 3000u);
  for (const char* bad : {"", "s", "5x", "5 s", "-1s", "1e3s", "ms"}) {
    EXPECT_FALSE(parse_duration_ms(bad).has_value()) << bad;
  }
}

TEST(Log, LinesAreLogfmtWithQuotedMessage) {
  EXPECT_EQ(format_log_line(LogLevel::kInfo, "listening udp 127.0.0.1:53", {{"proto", "udp"}, {"addr", "127.0.0.1:53"}}),
            "level=info msg=\"listening udp 127.0.0.1:53\" proto=udp addr=127.0.0.1:53\n");
  EXPECT_EQ(format_log_line(LogLevel::kError, "reload failed", {{"error", "z.zone:7: bad \"x\""}, {"empty", ""}}),
            "level=error msg=\"reload failed\" error=\"z.zone:7: bad \\\"x\\\"\" empty=\"\"\n");
}

}  // namespace
}  // namespace pharos::app

namespace pharos::app {
namespace {

TEST(Config, DebounceZeroMeansAtOnceButOtherDurationsMustBePositive) {
  auto c = parse_config(R"({"listen": ["127.0.0.1:0"], "debounce": 0})", "p.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_TRUE(c->debounce_ms.has_value());
  EXPECT_EQ(*c->debounce_ms, 0u);
  auto bad = parse_config(R"({"listen": ["127.0.0.1:0"], "tcp": {"idle_timeout": 0}})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "/tcp/idle_timeout");
}

TEST(Config, StatePersistenceDefaultsAndErrors) {
  auto c = parse_config(R"({"listen": ["127.0.0.1:0"]})", "p.json");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state_dir, "");
  EXPECT_EQ(c->state_max_age_ms, 600'000u);
  EXPECT_EQ(c->startup_policy, StartupPolicy::kWait);
  auto bad = parse_config(R"({"listen": ["127.0.0.1:0"], "startup_policy": "optimistic"})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().to_string(), R"(p.json: /startup_policy: "optimistic" is not a startup policy ("wait" or "assumeUp"))");
  bad = parse_config(R"({"listen": ["127.0.0.1:0"], "state_max_age": 0})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().to_string(), "p.json: /state_max_age: must be greater than zero");
  bad = parse_config(R"({"listen": ["127.0.0.1:0"], "state_max_age": "soon"})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "/state_max_age");
}

}  // namespace
}  // namespace pharos::app
