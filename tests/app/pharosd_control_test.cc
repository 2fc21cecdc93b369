// pharosd_control_test.cc: the control API of the real pharosd, driven with the real pharosctl:
// explain, maintenance with an expiry that applies at once (inside a long debounce) and shows in
// DNS answers, the audit journal, roles, reload good and bad, and maintenance that survives a
// restart through the state file.
#include <stdio.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>

#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

const std::string kDc1 = "192.0.2.1", kDc2 = "192.0.2.2";

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

  void write_scenarios(const std::string& extra = "") {
    std::string dcs;
    for (int i = 0; i < 2; ++i)
      dcs += std::string(i ? ",\n" : "") + "\"dc" + std::to_string(i + 1) +
             R"(": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
               "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(targets_[i].port()) + "\" } ] }";
    dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + R"(},
      "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30, "chain": [
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
    CtlResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
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

}  // namespace
}  // namespace pharos::test
