// config_test.cc: reading data centers and checks from scenario files: every check type, DC
// defaults passed to targets, and errors at exact JSON Pointers.
#include "scenario/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pharos::scenario {
namespace {

using health::CheckType;
using health::Dimension;

constexpr const char* kExample = R"({
  "datacenters": {
    "dc1": {
      "accessPeriod": "2s", "requiredSuccess": 3, "requiredFailure": 2, "timeout": "1s",
      "wanAccess": [ { "type": "tcp", "target": "127.0.0.1:8081" }, { "type": "icmp", "target": "::1" } ],
      "lanAccess": [ { "type": "http", "url": "http://127.0.0.1:8082/health", "expectStatus": [200, 204] } ],
      "access":    { "minUp": 1, "targets": [ { "type": "tcp", "target": "[::1]:8083", "accessPeriod": "10s" } ] },
      "internet":  [ { "type": "dns", "server": "127.0.0.1:5399", "query": "probe.example. AAAA" } ],
      "maintenanceMode": false
    },
    "dc2": { "access": [ { "type": "tcp", "target": "127.0.0.1:8084" } ], "maintenanceMode": true }
  },
  "checks": {
    "web1": { "type": "https", "url": "https://127.0.0.1:8443/health", "expectStatus": [200],
              "tlsVerify": false, "accessPeriod": "5s", "expectBodyRegex": "^ok" },
    "script": { "type": "exec", "command": ["/bin/true"], "timeout": "500ms", "accessPeriod": 1 },
    "flag": { "type": "file", "path": "state/web.flag" },
    "uplink": { "type": "link", "interface": "eth0" },
    "gw6": { "type": "gateway", "family": "ipv6" }
  }
})";

const health::CheckSpec& check(const ScenarioConfig& c, const std::string& id) {
  static const health::CheckSpec kNone;
  auto it = c.health.checks.find(id);
  EXPECT_NE(it, c.health.checks.end()) << id;
  return it == c.health.checks.end() ? kNone : it->second;
}

TEST(ScenarioConfig, ReadsDataCentersAndChecks) {
  auto c = parse_scenario_text(kExample, "/etc/pharos/gtm.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->health.datacenters.size(), 2u);
  const health::DcSpec& dc1 = c->health.datacenters[0];
  EXPECT_EQ(dc1.name, "dc1");
  EXPECT_EQ(dc1.dimensions[health::index(Dimension::kWanAccess)].targets,
            (std::vector<std::string>{"auto|dc1|wanAccess|0", "auto|dc1|wanAccess|1"}));
  EXPECT_TRUE(c->health.datacenters[1].maintenance);

  const auto& wan0 = check(*c, "auto|dc1|wanAccess|0");
  EXPECT_EQ(wan0.type, CheckType::kTcp);
  EXPECT_EQ(std::get<health::TcpParams>(wan0.params).port, 8081);
  EXPECT_EQ(wan0.interval, health::Millis(2000));  // the DC's accessPeriod
  EXPECT_EQ(wan0.timeout, health::Millis(1000));
  EXPECT_EQ(wan0.thresholds.required_success, 3);
  const auto& access = check(*c, "auto|dc1|access|0");
  EXPECT_EQ(access.interval, health::Millis(10000));  // overridden per target
  EXPECT_EQ(std::get<health::TcpParams>(access.params).host, "::1");
  const auto& lan = check(*c, "auto|dc1|lanAccess|0");
  EXPECT_EQ(std::get<health::HttpParams>(lan.params).expect_status, (std::vector<int>{200, 204}));
  const auto& internet = check(*c, "auto|dc1|internet|0");
  EXPECT_EQ(std::get<health::DnsParams>(internet.params).qtype, 28);
  EXPECT_EQ(std::get<health::DnsParams>(internet.params).server, "127.0.0.1:5399");

  const auto& web1 = check(*c, "web1");
  EXPECT_EQ(web1.type, CheckType::kHttps);
  EXPECT_FALSE(std::get<health::HttpParams>(web1.params).tls_verify);
  EXPECT_EQ(web1.timeout, health::Millis(2000));  // default: half the interval, at most 2 s
  EXPECT_EQ(check(*c, "script").timeout, health::Millis(500));
  EXPECT_EQ(check(*c, "script").interval, health::Millis(1000));
  EXPECT_EQ(std::get<health::FileParams>(check(*c, "flag").params).path, "/etc/pharos/state/web.flag");
  EXPECT_EQ(std::get<health::GatewayParams>(check(*c, "gw6").params).family, 6);
  EXPECT_EQ(check(*c, "uplink").thresholds.required_failure, 2);
}

struct Bad {
  const char* json;
  const char* where;
  const char* message_part;
};

TEST(ScenarioConfig, ErrorsNameTheExactPointer) {
  const Bad cases[] = {
      {R"({"checks": {"a": {"type": "tcp"}}})", "/checks/a", "missing \"target\""},
      {R"({"checks": {"a": {"type": "tcp", "target": "localhost"}}})", "/checks/a/target", "is not host:port"},
      {R"({"checks": {"a": {"type": "smtp"}}})", "/checks/a/type", "unknown check type"},
      {R"({"checks": {"a": {"type": "tcp", "target": "h:1", "tagret": 1}}})", "/checks/a/tagret", "unknown key"},
      {R"({"checks": {"a": {"type": "http", "url": "https://x/"}}})", "/checks/a/url", "must start with http://"},
      {R"({"checks": {"a": {"type": "http", "url": "http://x/", "tlsVerify": false}}})", "/checks/a", "TLS settings"},
      {R"({"checks": {"a": {"type": "https", "url": "https://x/", "expectBodyRegex": "("}}})", "/checks/a/expectBodyRegex", "not a valid regular expression"},
      {R"({"checks": {"a": {"type": "dns", "server": "127.0.0.1", "query": "x. BOGUS"}}})", "/checks/a/query", "unknown type"},
      {R"({"checks": {"a": {"type": "dns", "server": "127.0.0.1", "query": "x.", "expectRcode": "OK"}}})", "/checks/a/expectRcode", "is not one of"},
      {R"({"checks": {"a": {"type": "tcp", "target": "h:1", "accessPeriod": "1s", "timeout": "1s"}}})", "/checks/a/timeout", "must be below accessPeriod"},
      {R"({"checks": {"a": {"type": "tcp", "target": "h:1", "requiredFailure": 0}}})", "/checks/a/requiredFailure", "out of range"},
      {R"({"checks": {"auto|x": {"type": "tcp", "target": "h:1"}}})", "/checks/auto|x", "reserved"},
      {R"({"checks": {"a!": {"type": "tcp", "target": "h:1"}}})", "/checks/a!", "must be non-empty"},
      {R"({"checks": {"a": {"type": "exec", "command": []}}})", "/checks/a/command", "must name the program"},
      {R"({"checks": {"a": {"type": "gateway", "family": "ipv4", "address": "fe80::1"}}})", "/checks/a/address", "is not an IPv4 address"},
      {R"({"datacenters": {"dc1": {"wanAccess": {"minUp": 3, "targets": [{"type": "icmp", "target": "::1"}]}}}})", "/datacenters/dc1/wanAccess/minUp", "more than the 1 targets"},
      {R"({"datacenters": {"dc1": {"wanAccess": [{"type": "tcp", "target": "1.2.3.4:99999"}]}}})", "/datacenters/dc1/wanAccess/0/target", "is not host:port"},
      {R"({"datacenters": {"dc1": {"accessPeriod": "fast"}}})", "/datacenters/dc1/accessPeriod", "is not a duration"},
      {R"({"datacenters": {"dc1": {"lan": []}}})", "/datacenters/dc1/lan", "unknown key"},
      {R"({"datacenters": {"d|c": {}}})", "/datacenters/d|c", "must be non-empty"},
      {R"({"record": []})", "/record", "unknown key"},
  };
  for (const Bad& b : cases) {
    auto c = parse_scenario_text(b.json, "gtm.json");
    ASSERT_FALSE(c.ok()) << b.json;
    EXPECT_EQ(c.error().file, "gtm.json");
    EXPECT_EQ(c.error().where, b.where) << b.json << " -> " << c.error().to_string();
    EXPECT_NE(c.error().message.find(b.message_part), std::string::npos) << c.error().to_string();
  }
}

TEST(ScenarioConfig, SyntaxErrorNamesTheLine) {
  auto c = parse_scenario_text("{\n  \"checks\": {\n    \"a\": \n  }\n}\n", "gtm.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().where, "4");
}

TEST(ScenarioConfig, NamesMustBeUniqueAcrossFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("pharos-scn-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto a = (dir / "a.json").string(), b = (dir / "b.json").string();
  std::ofstream(a) << R"({"checks": {"web": {"type": "tcp", "target": "h:1"}}, "datacenters": {"dc1": {}}})";
  std::ofstream(b) << R"({"checks": {"web": {"type": "tcp", "target": "h:2"}}})";
  auto c = load_scenario_files({a, b});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().file, b);
  EXPECT_EQ(c.error().where, "/checks/web");
  EXPECT_NE(c.error().message.find("also defined in " + a), std::string::npos);
  std::ofstream(b) << R"({"checks": {"web2": {"type": "tcp", "target": "h:2"}}})";
  auto ok = load_scenario_files({a, b});
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->health.checks.size(), 2u);
  auto missing = load_scenario_files({(dir / "none.json").string()});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pharos::scenario
