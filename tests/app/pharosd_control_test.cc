// pharosd_control_test.cc: the control API of the real pharosd, driven with the real pharosctl
// and over HTTP: explain, maintenance with an expiry that applies at once (inside a long debounce)
// and shows in DNS answers, the audit journal, roles, reload good and bad, maintenance that
// survives a restart through the state file; every endpoint with no token, a wrong token, each
// role; malformed and invalid requests that change nothing; resuming an onlyNew-held entry; and
// pharosctl's tables on the daemon's real answers.
#include <stdio.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "tests/app/control_fixture.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

const std::string kDc1 = "192.0.2.1", kDc2 = "192.0.2.2";
const std::string kAlice = "alice-0123456789abcdef", kBob = "bob-0123456789abcdef01", kWrong = "nobody-0123456789abcdef";

struct CtlResult {
  int exit_code = -1;
  std::string out;
  rapidjson::Document json() const {
    rapidjson::Document d;
    d.Parse(out.c_str());
    return d;
  }
};

class PharosdControl : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("t.zone", "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n");
    dir_.write("tokens.json", R"({ "tokens": [
      { "name": "alice", "role": "operator", "token": "alice-0123456789abcdef" },
      { "name": "bob", "role": "read", "token": "bob-0123456789abcdef01" } ] })");
    chmod(dir_.file("tokens.json").c_str(), 0600);
    dir_.write("alice", "alice-0123456789abcdef");
    dir_.write("bob", "bob-0123456789abcdef01");
    dir_.write("wrong", "nobody-0123456789abcdef");
    // A long debounce: health changes wait 30 s, so anything that moves within the test's bounded
    // waits was applied at once, as operator actions must be.
    dir_.write("p.json", R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": "30s", "state_dir": "state",
      "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json" } })");
    write_scenarios();
  }

  void write_scenarios(const std::string& extra = "", const std::string& record_extra = "") {
    std::string dcs;
    for (int i = 0; i < 2; ++i)
      dcs += std::string(i ? ",\n" : "") + "\"dc" + std::to_string(i + 1) +
             R"(": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
               "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(targets_[i].port()) + "\" } ] }";
    dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + R"(},
      "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30, )" + record_extra + R"( "chain": [
        { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + "\"] } ] } ]" +
                              extra + "\n}\n");
  }

  ::testing::AssertionResult start() {
    daemon_ = std::make_unique<Daemon>(dir_.file("p.json"));
    if (!daemon_->wait_for("control API ready")) return ::testing::AssertionFailure() << daemon_->log();
    const std::string l = daemon_->log();
    const auto ready = l.find("control API ready");
    const auto port = l.find(" port=", ready);
    const auto eol = l.find('\n', port);
    if (port == std::string::npos || eol == std::string::npos) return ::testing::AssertionFailure() << l;
    api_port_ = l.substr(port + 6, eol - port - 6);
    dns_port_ = daemon_->udp_port();
    return ::testing::AssertionSuccess();
  }

  CtlResult ctl(const std::string& token, const std::string& args) {
    const std::string cmd = std::string(PHAROSCTL_PATH) + " --server 127.0.0.1:" + api_port_ + " --token-file " +
                            dir_.file(token) + " " + args + " 2>&1";
    RunResult run = run_shell(cmd);
    return CtlResult{run.exit_code, std::move(run.out)};
  }

  HttpResult call(const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt,
                  std::optional<std::string> token = kAlice, const std::string& content_type = "application/json") {
    HttpOptions o;
    o.method = method;
    o.path = path;
    o.body = std::move(body);
    o.token = std::move(token);
    o.content_type = content_type;
    return http(static_cast<std::uint16_t>(std::stoi(api_port_)), o);
  }
  // What an operator can change: maintenance, forced states, the generation, the journal's
  // operator entries. (Check and DC states move by themselves as probes report.)
  std::string state() {
    std::string out;
    const auto dcs = parse_json(call("GET", "/v1/datacenters").body);
    for (const auto& e : dcs["datacenters"].GetArray())
      out += std::string(e["name"].GetString()) + (e["maintenance"]["on"].GetBool() ? " in maintenance; " : "; ");
    const auto checks = parse_json(call("GET", "/v1/checks").body);
    for (const auto& e : checks["checks"].GetArray())
      if (!e["forced"].IsNull()) out += std::string(e["id"].GetString()) + " forced " + e["forced"].GetString() + "; ";
    out += "generation " + std::to_string(parse_json(call("GET", "/v1/status").body)["config_generation"].GetUint64());
    const auto journal = parse_json(call("GET", "/v1/audit?limit=1000").body);  // outlives the loop
    for (const auto& e : journal["entries"].GetArray())
      if (std::string(e["kind"].GetString()) != "answer") out += "; journal: " + std::string(e["kind"].GetString());
    return out;
  }
  static rapidjson::Document parse_json(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    return d;
  }

  std::set<std::string> answer(const std::string& name = "www.t.example.") {
    const sockaddr_in to = loopback(dns_port_);
    Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    const auto wire = udp_exchange(s.fd(), make_query(++id_, name, 1));
    return wire ? parse_response(*wire).addresses : std::set<std::string>{};
  }
  // The answer once it equals `want`, else the last one after a bounded wait.
  std::set<std::string> answer_when(const std::string& want) {
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    auto a = answer();
    while (a != std::set<std::string>{want} && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      a = answer();
    }
    return a;
  }

  TempDir dir_;
  Target targets_[2];
  std::unique_ptr<Daemon> daemon_;
  std::string api_port_;
  std::uint16_t dns_port_ = 0;
  std::uint16_t id_ = 0;
};

TEST_F(PharosdControl, MaintenanceCutsOverAtOnceIsExplainedAuditedAndSurvivesRestart) {
  ASSERT_TRUE(start());
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});

  CtlResult x = ctl("bob", "--json explain www.t.example A --client 198.51.100.7");
  ASSERT_EQ(x.exit_code, 0) << x.out;
  auto d = x.json();
  ASSERT_TRUE(d.IsObject()) << x.out;
  EXPECT_STREQ(d["dc"].GetString(), "dc1");
  EXPECT_TRUE(d["gtm"].GetBool());
  EXPECT_EQ(d["rto"]["debounce_ms"].GetInt64(), 30'000);
  EXPECT_EQ(std::string(d["answer"]["answer"][0].GetString()), "www.t.example. 30 IN A " + kDc1);

  // A read token cannot act; a wrong token cannot read.
  CtlResult denied = ctl("bob", "maintenance on dc1");
  EXPECT_EQ(denied.exit_code, 1) << denied.out;
  EXPECT_EQ(ctl("wrong", "status").exit_code, 1);
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});

  CtlResult on = ctl("alice", "maintenance on dc1 --for 2h --reason \"kernel upgrade\"");
  ASSERT_EQ(on.exit_code, 0) << on.out;
  // Inside the 30 s debounce: an operator action applies at once.
  EXPECT_EQ(answer_when(kDc2), std::set<std::string>{kDc2});

  d = ctl("bob", "--json explain www.t.example A").json();
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["dc"].GetString(), "dc2");
  const std::string why = d["entries"][0]["why"].GetString();
  EXPECT_NE(why.find("DC dc1 is in maintenance (set by alice) until "), std::string::npos) << why;
  EXPECT_NE(why.find("kernel upgrade"), std::string::npos) << why;

  d = ctl("bob", "--json dcs").json();
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["datacenters"][0]["status"].GetString(), "maintenance");
  EXPECT_TRUE(d["datacenters"][0]["maintenance"]["until"].IsString());

  d = ctl("bob", "--json audit --limit 20").json();
  ASSERT_TRUE(d.IsObject());
  bool action = false, change = false;
  for (const auto& e : d["entries"].GetArray()) {
    const std::string kind = e["kind"].GetString();
    if (kind == "maintenance" && std::string(e["by"].GetString()) == "alice") action = true;
    if (kind == "answer" && std::string(e["subject"].GetString()) == "www.t.example./A" &&
        std::string(e["to"].GetString()) == "entry 1 (dc2)")
      change = true;
  }
  EXPECT_TRUE(action) << ctl("bob", "--json audit").out;
  EXPECT_TRUE(change) << ctl("bob", "--json audit").out;

  // Restart: the maintenance, its author and expiry come back from the state file.
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(10'000), 0) << daemon_->log();
  ASSERT_TRUE(start());
  EXPECT_EQ(answer(), std::set<std::string>{kDc2});
  d = ctl("bob", "--json dcs").json();
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["datacenters"][0]["maintenance"]["by"].GetString(), "alice");
  // The journal was read back too.
  EXPECT_NE(ctl("bob", "--json audit").out.find("\"kind\":\"maintenance\""), std::string::npos);

  ASSERT_EQ(ctl("alice", "maintenance off dc1").exit_code, 0);
  EXPECT_EQ(answer_when(kDc1), std::set<std::string>{kDc1});
}

// A DC that 40 records answer from goes into maintenance: the 40 move at once, as one group.
// The log has one line for them (count, the first records, how many more), the journal one
// entry that lists all 40 (over the API, in pharosctl's table, and read back after a restart),
// and the operator's entry is still in the window next to it.
TEST_F(PharosdControl, ABigGroupOfAnswerChangesIsOneLineAndOneJournalEntry) {
  std::string records;
  for (int i = 0; i < 40; ++i)
    records += std::string(i ? ",\n" : "") + R"({ "name": "r)" + std::to_string(i) + R"(.t.example.", "type": "A", "ttl": 30,
        "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + "\"] } ] }";
  std::string dcs;
  for (int i = 0; i < 2; ++i)
    dcs += std::string(i ? ",\n" : "") + "\"dc" + std::to_string(i + 1) +
           R"(": { "accessPeriod": "100ms", "timeout": "50ms", "access": [ { "type": "tcp", "target": "127.0.0.1:)" +
           std::to_string(targets_[i].port()) + "\" } ] }";
  dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + "},\n\"records\": [\n" + records + "\n] }\n");
  ASSERT_TRUE(start());
  ASSERT_TRUE(daemon_->wait_for("dc=dc2 from=unknown to=ok")) << daemon_->log();
  EXPECT_EQ(answer("r39.t.example."), std::set<std::string>{kDc1});

  ASSERT_EQ(ctl("alice", "maintenance on dc1 --reason swap").exit_code, 0);
  ASSERT_TRUE(daemon_->wait_for("msg=\"answers changed\" count=40 ")) << daemon_->log();
  const std::string log = daemon_->log();
  const auto line_at = log.find("msg=\"answers changed\" count=40 ");
  const std::string line = log.substr(line_at, log.find('\n', line_at) - line_at);
  EXPECT_NE(line.find(" records=\"r0.t.example./A r1.t.example./A r2.t.example./A r3.t.example./A r4.t.example./A "
                      "r5.t.example./A r6.t.example./A r7.t.example./A\" more=32 region=- from=\"entry 0 (dc1)\" "
                      "to=\"entry 1 (dc2)\" reason="),
            std::string::npos)
      << line;
  EXPECT_EQ(daemon_->count("msg=\"answer changed\""), 0) << log;
  for (int i = 0; i < 40; i += 13) EXPECT_EQ(answer("r" + std::to_string(i) + ".t.example."), std::set<std::string>{kDc2});

  // The group's entry, checked over the API now and after a restart (read back from the file).
  auto check_journal = [&] {
    const auto d = parse_json(call("GET", "/v1/audit?limit=10").body);
    ASSERT_TRUE(d.IsObject());
    const auto& entries = d["entries"];
    ASSERT_EQ(entries.Size(), 2u) << call("GET", "/v1/audit?limit=10").body;  // the action and the group
    for (const auto& e : entries.GetArray()) {
      if (std::string(e["kind"].GetString()) == "maintenance") {
        EXPECT_STREQ(e["subject"].GetString(), "dc1");
        continue;
      }
      EXPECT_STREQ(e["kind"].GetString(), "answer");
      EXPECT_STREQ(e["subject"].GetString(), "r0.t.example./A and 39 more");
      ASSERT_TRUE(e.HasMember("count") && e.HasMember("records"));
      EXPECT_EQ(e["count"].GetUint64(), 40u);
      ASSERT_EQ(e["records"].Size(), 40u);
      EXPECT_STREQ(e["records"][39].GetString(), "r39.t.example./A");
      EXPECT_STREQ(e["to"].GetString(), "entry 1 (dc2)");
    }
  };
  check_journal();
  const CtlResult table = ctl("bob", "audit --limit 3");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("r0.t.example./A and 39 more"), std::string::npos) << table.out;

  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(10'000), 0) << daemon_->log();
  ASSERT_TRUE(start());
  check_journal();
  EXPECT_EQ(answer("r39.t.example."), std::set<std::string>{kDc2});
}

TEST_F(PharosdControl, ForceAndReloadGoodAndBad) {
  ASSERT_TRUE(start());
  ASSERT_EQ(answer(), std::set<std::string>{kDc1});
  CtlResult f = ctl("alice", "force 'auto|dc1|access' down");
  ASSERT_EQ(f.exit_code, 0) << f.out;
  EXPECT_EQ(answer_when(kDc2), std::set<std::string>{kDc2});
  EXPECT_EQ(ctl("alice", "force nosuchcheck down").exit_code, 1);
  ASSERT_EQ(ctl("alice", "force 'auto|dc1|access' clear").exit_code, 0);
  EXPECT_EQ(answer_when(kDc1), std::set<std::string>{kDc1});

  CtlResult r = ctl("alice", "--json reload");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto d = r.json();
  ASSERT_TRUE(d.IsObject()) << r.out;
  EXPECT_TRUE(d["ok"].GetBool());
  EXPECT_EQ(d["config_generation"].GetUint64(), 2u);

  // A broken scenario file: the reload says why, and the answers stay.
  dir_.write("gtm.json", "{ \"datacenters\": { \"dc1\": 12 } }");
  r = ctl("alice", "--json reload");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("gtm.json"), std::string::npos) << r.out;
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});
  d = ctl("bob", "--json status").json();
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["config_generation"].GetUint64(), 2u);
  EXPECT_FALSE(d["last_reload"]["ok"].GetBool());
  EXPECT_EQ(ctl("bob", "--json explain nosuch.t.example A").exit_code, 0);  // still answering
}

// Every endpoint of the daemon: no token, a wrong token, the read role and the operator role each
// get what docs/api.md says, every refusal is a JSON error, and nothing a refused request asked
// for happened.
TEST_F(PharosdControl, EveryEndpointAnswersEachRoleAsDocumented) {
  ASSERT_TRUE(start());
  enum Need { kPublic, kRead, kOperator };
  struct Endpoint {
    std::string method, path;
    std::optional<std::string> body;
    Need need;
    int status;  // for the operator, in this order
  };
  const std::string www = R"({ "name": "www.t.example.", "type": "A", "ttl": 30, "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 +
                          R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ] })";
  const std::vector<Endpoint> endpoints = {
      {"GET", "/", {}, kPublic, 200},
      {"GET", "/status", {}, kPublic, 200},
      {"GET", "/metrics", {}, kPublic, 200},
      {"GET", "/v1/status", {}, kRead, 200},
      {"GET", "/v1/datacenters", {}, kRead, 200},
      {"GET", "/v1/checks", {}, kRead, 200},
      {"GET", "/v1/checks/auto%7Cdc1%7Caccess%7C0", {}, kRead, 200},
      {"GET", "/v1/scenarios", {}, kRead, 200},
      {"GET", "/v1/records", {}, kRead, 200},
      {"GET", "/v1/explain?name=www.t.example&type=A&client=198.51.100.7", {}, kRead, 200},
      {"GET", "/v1/audit?limit=5", {}, kRead, 200},
      {"GET", "/v1/config/generation", {}, kRead, 200},
      {"GET", "/v1/config/datacenters", {}, kRead, 200},
      {"GET", "/v1/config/datacenters/dc1", {}, kRead, 200},
      {"GET", "/v1/config/checks", {}, kRead, 200},
      {"GET", "/v1/config/scenarios", {}, kRead, 200},
      {"GET", "/v1/config/regions", {}, kRead, 200},
      {"GET", "/v1/config/records", {}, kRead, 200},
      {"GET", "/v1/config/records/www.t.example./A", {}, kRead, 200},
      {"POST", "/v1/datacenters/dc2/maintenance", R"({ "for": "1h", "reason": "test" })", kOperator, 200},
      {"DELETE", "/v1/datacenters/dc2/maintenance", {}, kOperator, 200},
      {"POST", "/v1/checks/auto%7Cdc2%7Caccess/force", R"({ "state": "up" })", kOperator, 200},
      {"DELETE", "/v1/checks/auto%7Cdc2%7Caccess/force", {}, kOperator, 200},
      {"POST", "/v1/records/www.t.example./A/resume", R"({ "dc": "dc2" })", kOperator, 409},  // nothing is held
      {"POST", "/v1/reload", {}, kOperator, 200},
      {"PUT", "/v1/config/checks/flag", R"({ "value": { "type": "file", "path": "flag.state" } })", kOperator, 200},
      {"DELETE", "/v1/config/checks/flag", {}, kOperator, 200},
      {"PUT", "/v1/config/datacenters/dc3",
       R"({ "value": { "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(targets_[1].port()) + R"(" } ] } })",
       kOperator, 200},
      {"DELETE", "/v1/config/datacenters/dc3", {}, kOperator, 200},
      {"PUT", "/v1/config/scenarios/s1", R"({ "value": [ [ "auto|dc1|access" ] ] })", kOperator, 200},
      {"DELETE", "/v1/config/scenarios/s1", {}, kOperator, 200},
      {"PUT", "/v1/config/regions/eu", R"({ "value": [ "10.1.0.0/16" ] })", kOperator, 200},
      {"DELETE", "/v1/config/regions/eu", {}, kOperator, 200},
      {"PUT", "/v1/config/records/www.t.example./A", R"({ "value": )" + www + " }", kOperator, 200},
      {"POST", "/v1/config/changes", R"({ "op": "insert", "kind": "check", "id": "c2", "value": { "type": "file", "path": "x" } })",
       kOperator, 200},
      {"DELETE", "/v1/config/checks/c2", {}, kOperator, 200},
  };
  const auto is_json_error = [](const HttpResult& r) {
    const auto d = parse_json(r.body);
    return d.IsObject() && d.HasMember("error") && d["error"].IsString() &&
           r.header("content-type").rfind("application/json", 0) == 0;
  };
  const std::string before = state();
  for (const auto& e : endpoints) {
    SCOPED_TRACE(e.method + " " + e.path);
    const HttpResult none = call(e.method, e.path, e.body, std::nullopt);
    EXPECT_EQ(none.status, e.need == kPublic ? 200 : 401) << none.body;
    if (e.need != kPublic) {
      EXPECT_TRUE(is_json_error(none)) << none.body;
      EXPECT_NE(none.header("www-authenticate").find("Bearer"), std::string::npos);
    }
    const HttpResult wrong = call(e.method, e.path, e.body, kWrong);  // even where no token is needed
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_TRUE(is_json_error(wrong)) << wrong.body;
    const HttpResult read = call(e.method, e.path, e.body, kBob);
    EXPECT_EQ(read.status, e.need == kOperator ? 403 : 200) << read.body;
    if (e.need == kOperator) {
      EXPECT_TRUE(is_json_error(read)) << read.body;
      EXPECT_NE(parse_json(read.body)["error"].GetString(), std::string()) << read.body;
    }
  }
  // Not one refused request acted, and DNS answers as before.
  EXPECT_EQ(state(), before);
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});

  for (const auto& e : endpoints) {
    SCOPED_TRACE(e.method + " " + e.path);
    const HttpResult r = call(e.method, e.path, e.body, kAlice);
    EXPECT_EQ(r.status, e.status) << r.body;
    if (e.path == "/" || e.path == "/status") {
      EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
      EXPECT_NE(r.body.find("www.t.example."), std::string::npos);
    } else if (e.path == "/metrics") {
      EXPECT_NE(r.body.find("pharos_dc_status{dc=\"dc1\",status=\"ok\"}"), std::string::npos);
    } else {
      EXPECT_TRUE(parse_json(r.body).IsObject()) << r.body;
    }
  }
  // What the operator did: a reload and eleven config changes, every action in the journal.
  const auto status = parse_json(call("GET", "/v1/status").body);
  EXPECT_EQ(status["config_generation"].GetUint64(), 1u + 1u + 11u);
  EXPECT_STREQ(status["last_config_change"]["by"].GetString(), "alice");
  EXPECT_STREQ(status["last_config_change"]["summary"].GetString(), "delete check c2");
  std::map<std::string, int> kinds;
  const auto journal = parse_json(call("GET", "/v1/audit?limit=1000").body);
  for (const auto& a : journal["entries"].GetArray())
    if (std::string(a["by"].GetString()) == "alice") ++kinds[a["kind"].GetString()];
  EXPECT_EQ(kinds, (std::map<std::string, int>{{"config", 11}, {"force", 2}, {"maintenance", 2}, {"reload", 1}}));
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});
}

// Malformed and invalid operator requests: a clear 4xx as JSON, nothing changed, and the next
// good request still works.
TEST_F(PharosdControl, MalformedAndInvalidRequestsAreRefusedAndChangeNothing) {
  ASSERT_TRUE(start());
  struct Bad {
    std::string method, path, body;
    int status;
    std::string says;
    std::string content_type = "application/json";
  };
  const std::vector<Bad> bad = {
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "for": "2h", )", 400, "JSON"},
      {"POST", "/v1/datacenters/dc1/maintenance", R"([ "2h" ])", 400, "object"},
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "for": "soon" })", 400, "\"for\" must be a duration"},
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "for": "9999d" })", 400, "at most a year"},
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "reason": 5 })", 400, "\"reason\" must be a string"},
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "fro": "2h" })", 400, "unknown key \"fro\""},
      {"POST", "/v1/datacenters/dc1/maintenance", R"({ "for": "2h" })", 415, "application/json", "text/plain"},
      {"POST", "/v1/datacenters/dc9/maintenance", "{}", 404, "no data center \"dc9\""},
      {"POST", "/v1/checks/auto%7Cdc1%7Caccess/force", R"({ "state": "sideways" })", 400, "\"state\" must be"},
      {"POST", "/v1/checks/auto%7Cdc1%7Caccess/force", "", 400, ""},
      {"POST", "/v1/checks/nosuch/force", R"({ "state": "down" })", 404, "no check \"nosuch\""},
      {"GET", "/v1/checks/nosuch", "", 404, "no check \"nosuch\""},
      {"POST", "/v1/records/www.t.example./BOGUS/resume", R"({ "dc": "dc1" })", 400, "unknown record type"},
      {"POST", "/v1/records/nosuch.t.example./A/resume", R"({ "dc": "dc1" })", 404, "no GTM record"},
      {"POST", "/v1/records/www.t.example./A/resume", R"({ })", 400, "\"dc\" must name"},
      {"GET", "/v1/explain?type=A", "", 400, "missing query parameter \"name\""},
      {"GET", "/v1/explain?name=www.t.example&type=NOPE", "", 400, "unknown record type"},
      {"GET", "/v1/explain?name=www.t.example&client=300.1.1.1", "", 400, "is not an IPv4 or IPv6 address"},
      {"GET", "/v1/audit?limit=0", "", 400, "limit must be a number"},
      {"GET", "/v1/reload", "", 405, ""},
      {"GET", "/v1/nosuch", "", 404, ""},
      {"PUT", "/v1/config/datacenters/dc1", R"({ "value": { "accessPeriod": "soon", "access": [] } })", 422,
       "/datacenters/dc1/accessPeriod: \"soon\" is not a duration"},
  };
  const std::string before = state();
  for (const auto& b : bad) {
    SCOPED_TRACE(b.method + " " + b.path + " " + b.body);
    const HttpResult r = call(b.method, b.path, b.body.empty() ? std::nullopt : std::optional<std::string>(b.body), kAlice,
                              b.content_type);
    EXPECT_EQ(r.status, b.status) << r.body;
    const auto d = parse_json(r.body);
    ASSERT_TRUE(d.IsObject() && d.HasMember("error") && d["error"].IsString()) << r.body;
    EXPECT_NE(std::string(d["error"].GetString()).find(b.says), std::string::npos) << r.body;
    EXPECT_EQ(answer(), std::set<std::string>{kDc1});
  }
  EXPECT_EQ(state(), before);
  // The same requests done right work.
  ASSERT_EQ(call("POST", "/v1/datacenters/dc1/maintenance", R"({ "for": "2h", "reason": "test" })").status, 200);
  EXPECT_EQ(answer_when(kDc2), std::set<std::string>{kDc2});
  EXPECT_EQ(call("GET", "/v1/explain?name=www.t.example&type=A&client=198.51.100.7").status, 200);
}

// An onlyNew entry back from an outage waits for an operator: `pharosctl resume` lets it serve.
TEST_F(PharosdControl, ResumeLetsAHeldEntryServeAgain) {
  write_scenarios("", R"("backupBehavior": "onlyNew", "staleAfter": "10ms",)");
  ASSERT_TRUE(start());
  ASSERT_EQ(answer(), std::set<std::string>{kDc1});
  // Both DCs have reported: an outage that starts before dc2 is known leaves the choice waiting
  // for dc2's first result, and no outage of dc1 is remembered.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::string dcs = call("GET", "/v1/datacenters").body;
  while (!std::regex_search(dcs, std::regex(R"("name":"dc1","status":"ok".*"name":"dc2","status":"ok")")) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    dcs = call("GET", "/v1/datacenters").body;
  }
  ASSERT_NE(dcs.find(R"("name":"dc2","status":"ok")"), std::string::npos) << dcs;
  ASSERT_EQ(ctl("alice", "force 'auto|dc1|access' down").exit_code, 0);
  ASSERT_EQ(answer_when(kDc2), std::set<std::string>{kDc2});
  ASSERT_EQ(ctl("alice", "force 'auto|dc1|access' clear").exit_code, 0);
  // dc1 is healthy again but held: dc2 keeps serving, and explain says why.
  auto d = ctl("bob", "--json explain www.t.example A").json();
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["dc"].GetString(), "dc2");
  EXPECT_TRUE(d["entries"][0]["held"].GetBool()) << ctl("bob", "--json explain www.t.example A").out;
  EXPECT_EQ(answer(), std::set<std::string>{kDc2});
  CtlResult table = ctl("bob", "explain www.t.example A");
  EXPECT_NE(table.out.find("held after an outage longer than staleAfter"), std::string::npos) << table.out;

  EXPECT_EQ(ctl("bob", "resume www.t.example A dc1").exit_code, 1);  // a read token cannot
  CtlResult r = ctl("alice", "resume www.t.example A dc1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed: yes"), std::string::npos) << r.out;
  EXPECT_EQ(answer_when(kDc1), std::set<std::string>{kDc1});
  // Nothing is held any more: a second resume is refused with the reason.
  r = ctl("alice", "resume www.t.example A dc1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("409 Conflict: nothing of dc1 is held for www.t.example./A"), std::string::npos) << r.out;
  EXPECT_NE(ctl("bob", "--json audit").out.find(R"("kind":"resume","subject":"www.t.example./A")"), std::string::npos);
  EXPECT_EQ(answer(), std::set<std::string>{kDc1});
}

// pharosctl's tables read the real daemon's fields (a renamed field would print "-").
TEST_F(PharosdControl, PharosctlTablesShowTheDaemonsFields) {
  ASSERT_TRUE(start());
  // Wait for both DCs' first probe results, so that the counters and the explanation are settled.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  CtlResult checks = ctl("bob", "checks");
  const auto both = [](const std::string& out) {
    return std::regex_search(out, std::regex(R"(auto\|dc1\|access\|0 .* connected [^]*auto\|dc2\|access\|0 .* connected )"));
  };
  while (!both(checks.out) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    checks = ctl("bob", "checks");
  }
  ASSERT_EQ(checks.exit_code, 0) << checks.out;
  EXPECT_TRUE(std::regex_search(checks.out, std::regex(
      R"((?:^|\n)CHECK +STATE +MEASURED +FORCED +SINCE +LAST OK +LATENCY MS +LAST REASON +PROBES +FAILURES +TRANSITIONS\n)")))
      << checks.out;
  EXPECT_TRUE(std::regex_search(checks.out, std::regex(R"(\nauto\|dc1\|access\|0 +up +up +- +\S+ +yes +[0-9.]+ +connected +[1-9][0-9]* +0 +1\n)")))
      << checks.out;

  // One check: its fields and its recent results.
  CtlResult one = ctl("bob", "checks 'auto|dc1|access|0'");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  EXPECT_NE(one.out.find("id: auto|dc1|access|0\nautomatic: no\nstate: up\n"), std::string::npos) << one.out;
  EXPECT_TRUE(std::regex_search(one.out, std::regex(R"(\n\nAT +OK +LATENCY MS +REASON\n\S+ +yes +[0-9.]+ +connected\n)"))) << one.out;
  auto c = ctl("bob", "--json checks 'auto|dc1|access|0'").json();
  ASSERT_TRUE(c.IsObject());
  EXPECT_GE(c["recent"].Size(), 1u);
  EXPECT_LE(c["recent"].Size(), 10u);
  EXPECT_EQ(c["recent"][c["recent"].Size() - 1], c["last"]);

  CtlResult dcs = ctl("alice", "maintenance on dc1 --reason test");  // prints the DCs after the change
  ASSERT_EQ(dcs.exit_code, 0) << dcs.out;
  EXPECT_TRUE(std::regex_search(dcs.out, std::regex(R"(\ndc1 +maintenance +.* on by alice: test\n)"))) << dcs.out;
  CtlResult x = ctl("bob", "explain www.t.example A");
  EXPECT_TRUE(std::regex_search(x.out, std::regex(R"(\nENTRY +DC +HEALTHY +SERVING +HELD +WHY\n0 +dc1 +no +no +no +DC dc1 is in maintenance \(set by alice\))")))
      << x.out;
  EXPECT_TRUE(std::regex_search(x.out, std::regex(R"(\n1 +dc2 +yes +yes +no +)"))) << x.out;
  dcs = ctl("alice", "maintenance off dc1");
  EXPECT_TRUE(std::regex_search(dcs.out, std::regex(R"(\ndc1 +(ok|unknown) +.* -\n)"))) << dcs.out;

  CtlResult rec = ctl("bob", "records");
  EXPECT_TRUE(std::regex_search(rec.out, std::regex(R"(\nwww\.t\.example\. +A +30 +chain +0 +dc1 +192\.0\.2\.1 +)"))) << rec.out;
  CtlResult scen = ctl("bob", "scenarios");
  EXPECT_EQ(scen.exit_code, 0) << scen.out;
  EXPECT_EQ(scen.out.rfind("SCENARIO", 0), 0u) << scen.out;
  CtlResult st = ctl("bob", "status");
  EXPECT_NE(st.out.find("config_generation: 1\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("last_config_change: -\n"), std::string::npos) << st.out;
  CtlResult g = ctl("bob", "config generation");
  EXPECT_EQ(g.out, "config_generation: 1\n");
  EXPECT_EQ(ctl("bob", "--json config generation").out, "{\"config_generation\":1}\n");

  // metrics: the Prometheus text, filtered by name, or as JSON.
  CtlResult m = ctl("bob", "metrics pharos_dc_status pharos_config_generation");
  ASSERT_EQ(m.exit_code, 0) << m.out;
  EXPECT_NE(m.out.find("pharos_config_generation 1\n"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("pharos_dc_status{dc=\"dc2\",status=\"ok\"} "), std::string::npos) << m.out;
  EXPECT_EQ(m.out.find("# HELP"), std::string::npos) << m.out;
  EXPECT_EQ(m.out.find("pharos_dns_"), std::string::npos) << m.out;
  auto j = ctl("bob", "--json metrics pharos_config_generation").json();
  ASSERT_TRUE(j.IsObject());
  ASSERT_EQ(j["samples"].Size(), 1u);
  EXPECT_STREQ(j["samples"][0]["name"].GetString(), "pharos_config_generation");
  EXPECT_EQ(j["samples"][0]["value"].GetInt64(), 1);
  j = ctl("bob", "--json metrics pharos_dc_maintenance").json();
  ASSERT_TRUE(j.IsObject());
  ASSERT_EQ(j["samples"].Size(), 2u);
  EXPECT_STREQ(j["samples"][1]["labels"]["dc"].GetString(), "dc2");
  EXPECT_NE(ctl("bob", "metrics").out.find("# TYPE pharos_dns_queries_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace pharos::test
