// config_change_test.cc: configuration changes through the control API of the real pharosd: every
// kind inserted, updated and deleted; changes in real DNS answers and in the files across a
// restart; invalid changes refused with the loader's file and pointer while nothing changes;
// roles; concurrent writers with and without if_generation; and pharosctl's config commands.
#include <stdio.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "tests/app/control_fixture.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

const std::string kOp = "alice-0123456789abcdef", kRead = "bob-0123456789abcdef01";

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class ConfigChange : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("t.zone", "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n");
    dir_.write("tokens.json", R"({ "tokens": [
      { "name": "alice", "role": "operator", "token": ")" + kOp + R"(" },
      { "name": "bob", "role": "read", "token": ")" + kRead + R"(" } ] })");
    chmod(dir_.file("tokens.json").c_str(), 0600);
    dir_.write("alice", kOp);
    dir_.write("bob", kRead);
    dir_.write("p.json", R"({ "listen": ["127.0.0.1:0"], "workers": 1, "state_dir": "state",
      "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json", "more.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json" } })");
    dir_.write("gtm.json", R"({
  "datacenters": {
    "dc1": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
             "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(target_.port()) + R"(" } ] },
    "dc2": { "accessPeriod": "100ms", "timeout": "50ms",
             "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(target_.port()) + R"(" } ] }
  },
  "scenarios": { "dc1-up": [ [ "auto|dc1|access" ] ] },
  "records": [
    { "name": "www.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "scenario": "dc1-up", "rdata": [ "192.0.2.1" ] }, { "dc": "dc2", "rdata": [ "192.0.2.2" ] } ] }
  ]
}
)");
    dir_.write("more.json", "{ \"checks\": { \"flag\": { \"type\": \"file\", \"path\": \"flag.state\" } } }\n");
  }

  ::testing::AssertionResult start() {
    daemon_ = std::make_unique<Daemon>(dir_.file("p.json"));
    if (!daemon_->wait_for("control API ready")) return ::testing::AssertionFailure() << daemon_->log();
    std::smatch m;
    const std::string l = daemon_->log();
    if (!std::regex_search(l, m, std::regex("control API ready.* port=([0-9]+)")))
      return ::testing::AssertionFailure() << l;
    api_port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    dns_port_ = daemon_->udp_port();
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult restart() {
    daemon_->signal(SIGTERM);
    if (daemon_->wait_exit(10'000) != 0) return ::testing::AssertionFailure() << daemon_->log();
    return start();
  }

  HttpResult call(const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt,
                  const std::string& token = kOp, std::vector<std::string> headers = {}) {
    HttpOptions o;
    o.method = method;
    o.path = path;
    o.body = std::move(body);
    o.token = token;
    o.headers = std::move(headers);
    return http(api_port_, o);
  }

  std::uint64_t generation() {
    auto d = parse(call("GET", "/v1/config/generation").body);
    return d.IsObject() ? d["config_generation"].GetUint64() : 0;
  }

  // The A addresses of `name`, over UDP.
  std::set<std::string> answer(const std::string& name = "www.t.example.") {
    const sockaddr_in to = loopback(dns_port_);
    Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    const auto wire = udp_exchange(s.fd(), make_query(++id_, name, 1));
    return wire ? parse_response(*wire).addresses : std::set<std::string>{};
  }

  using Ctl = RunResult;
  Ctl ctl(const std::string& args, const std::string& token = "alice") {
    const std::string cmd = std::string(PHAROSCTL_PATH) + " --server 127.0.0.1:" + std::to_string(api_port_) +
                            " --token-file " + dir_.file(token) + " " + args + " 2>&1";
    return run_shell(cmd);
  }

  Target target_;
  TempDir dir_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t api_port_ = 0;
  std::uint16_t dns_port_ = 0;
  std::uint16_t id_ = 0;
};

struct KindCase {
  std::string section, id, path_id, insert, update;
};

TEST_F(ConfigChange, EveryKindInsertedUpdatedAndDeleted) {
  ASSERT_TRUE(start());
  const std::string tcp = "127.0.0.1:" + std::to_string(target_.port());
  const std::vector<KindCase> cases = {
      {"datacenters", "dc3", "dc3", R"({ "access": [ { "type": "tcp", "target": ")" + tcp + R"(" } ] })",
       R"({ "accessPeriod": "7s", "access": [ { "type": "tcp", "target": ")" + tcp + R"(" } ] })"},
      {"checks", "flag2", "flag2", R"({ "type": "file", "path": "flag2.state" })",
       R"({ "type": "file", "path": "flag2.state", "accessPeriod": "9s" })"},
      {"scenarios", "flagged", "flagged", R"([ [ "flag" ] ])", R"([ [ "flag", "auto|dc1|access" ], [ "flag" ] ])"},
      {"regions", "eu", "eu", R"([ "10.1.0.0/16" ])", R"([ "10.1.0.0/16", "10.9.0.0/16" ])"},
      {"records", "new.t.example./A", "new.t.example./A",
       R"({ "name": "new.t.example.", "type": "A", "chain": [ { "dc": "dc1", "rdata": [ "192.0.2.77" ] } ] })",
       R"({ "name": "new.t.example.", "type": "A", "chain": [ { "dc": "dc2", "rdata": [ "192.0.2.78" ] } ] })"},
  };
  std::uint64_t g = generation();
  ASSERT_EQ(g, 1u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.section);
    const std::string path = "/v1/config/" + c.section + "/" + c.path_id;
    EXPECT_EQ(call("GET", path).status, 404);
    // Insert with a batch into the second file, update with PUT, delete with DELETE.
    HttpResult r = call("POST", "/v1/config/changes",
                        R"({ "changes": [ { "op": "insert", "kind": ")" + c.section + R"(", "id": ")" + c.id +
                            R"(", "file": "more.json", "value": )" + c.insert + " } ] }");
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = parse(r.body);
    EXPECT_EQ(d["config_generation"].GetUint64(), ++g);
    EXPECT_STREQ(d["changes"][0]["op"].GetString(), "insert");
    r = call("GET", path);
    ASSERT_EQ(r.status, 200) << r.body;
    d = parse(r.body);
    EXPECT_EQ(std::string(d["file"].GetString()), dir_.file("more.json"));
    EXPECT_EQ(d["value"], parse(c.insert));
    EXPECT_EQ(r.header("etag"), "\"" + std::to_string(g) + "\"");

    r = call("PUT", path, R"({ "value": )" + c.update + " }");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_STREQ(parse(r.body)["changes"][0]["op"].GetString(), "update");
    EXPECT_EQ(parse(r.body)["config_generation"].GetUint64(), ++g);
    EXPECT_EQ(parse(call("GET", path).body)["value"], parse(c.update));
    // The running configuration has it too (not only the file).
    EXPECT_EQ(parse(call("GET", "/v1/status").body)["config_generation"].GetUint64(), g);

    r = call("DELETE", path);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r.body)["config_generation"].GetUint64(), ++g);
    EXPECT_EQ(call("GET", path).status, 404);
  }
  // The list endpoint names each object's file and pointer.
  auto d = parse(call("GET", "/v1/config/checks", std::nullopt, kRead).body);
  ASSERT_EQ(d["items"].Size(), 1u);
  EXPECT_STREQ(d["items"][0]["id"].GetString(), "flag");
  EXPECT_STREQ(d["items"][0]["pointer"].GetString(), "/checks/flag");
  // Every change is in the audit journal with who made it.
  d = parse(call("GET", "/v1/audit?limit=1000").body);
  int config_entries = 0;
  for (const auto& e : d["entries"].GetArray()) {
    if (std::string(e["kind"].GetString()) != "config") continue;
    ++config_entries;
    EXPECT_STREQ(e["by"].GetString(), "alice");
  }
  EXPECT_EQ(config_entries, 15);
}

TEST_F(ConfigChange, ChangesShowInDnsAnswersAndSurviveARestart) {
  ASSERT_TRUE(start());
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.1"});
  EXPECT_TRUE(answer("new.t.example.").empty());
  HttpResult r = call("PUT", "/v1/config/records/new.t.example./A",
                      R"({ "value": { "name": "new.t.example.", "type": "A", "ttl": 5,
                           "chain": [ { "dc": "dc1", "rdata": [ "192.0.2.77", "192.0.2.78" ] } ] } })");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(answer("new.t.example."), (std::set<std::string>{"192.0.2.77", "192.0.2.78"}));
  // A record's chain rewritten: the new address answers at once.
  r = call("PUT", "/v1/config/records/www.t.example/a",
           R"({ "value": { "name": "www.t.example.", "type": "A", "ttl": 30,
                "chain": [ { "dc": "dc1", "scenario": "dc1-up", "rdata": [ "192.0.2.11" ] }, { "dc": "dc2", "rdata": [ "192.0.2.2" ] } ] } })");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.11"});

  // The file is readable JSON, objects the change did not touch are as they were, and --check takes it.
  auto file = parse(slurp(dir_.file("gtm.json")));
  ASSERT_TRUE(file.IsObject());
  EXPECT_EQ(file["datacenters"]["dc1"]["accessPeriod"], "100ms");
  std::vector<std::string> keys;
  for (const auto& m : file.GetObject()) keys.emplace_back(m.name.GetString());
  EXPECT_EQ(keys, (std::vector<std::string>{"datacenters", "scenarios", "records"}));
  EXPECT_NE(slurp(dir_.file("gtm.json")).find("\n  \"datacenters\": {\n    \"dc1\": {\n"), std::string::npos);
  EXPECT_EQ(run_pharosd({"--check", "-c", dir_.file("p.json")}).exit_code, 0);

  ASSERT_TRUE(restart());
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.11"});
  EXPECT_EQ(answer("new.t.example."), (std::set<std::string>{"192.0.2.77", "192.0.2.78"}));
  // The journal of config changes survives too.
  EXPECT_NE(call("GET", "/v1/audit").body.find("\"subject\":\"record new.t.example./A\""), std::string::npos);
}

TEST_F(ConfigChange, InvalidChangesAreRefusedAndChangeNothing) {
  ASSERT_TRUE(start());
  const std::string gtm = slurp(dir_.file("gtm.json")), more = slurp(dir_.file("more.json"));
  const std::uint64_t g = generation();
  const std::string www = R"({ "name": "www.t.example.", "type": "A", "chain": [ { "dc": "dc1", "scenario": "SCEN", "rdata": [ "192.0.2.9" ] } ] })";
  struct Bad {
    std::string what, method, path, body;
    int status;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {"unknown scenario", "PUT", "/v1/config/records/www.t.example./A",
       R"({ "value": )" + std::string(www).replace(www.find("SCEN"), 4, "nosuch") + " }", 422,
       "gtm.json: /records/0/chain/0/scenario: unknown scenario \"nosuch\""},
      {"bad JSON", "POST", "/v1/config/changes", R"({ "changes": [ { "op": "insert", )", 400, "malformed JSON"},
      {"bad record type", "POST", "/v1/config/changes",
       R"({ "op": "insert", "kind": "record", "value": { "name": "x.t.example.", "type": "BOGUS" } })", 400,
       "/value: a record needs a \"name\" and a \"type\" (a known record type)"},
      {"bad record ID", "DELETE", "/v1/config/records/x.t.example./BOGUS", "", 400, "is not a record ID"},
      {"bad value type", "PUT", "/v1/config/datacenters/dc1", R"({ "value": { "accessPeriod": "soon", "access": [] } })", 422,
       "gtm.json: /datacenters/dc1/accessPeriod: \"soon\" is not a duration"},
      {"DC still referenced", "DELETE", "/v1/config/datacenters/dc2", "", 422, "unknown data center \"dc2\""},
      {"scenario still used", "DELETE", "/v1/config/scenarios/dc1-up", "", 422, "unknown scenario \"dc1-up\""},
      {"duplicate insert", "POST", "/v1/config/changes",
       R"({ "op": "insert", "kind": "datacenter", "id": "dc1", "value": { "access": [] } })", 409,
       "gtm.json: /datacenters/dc1: datacenter \"dc1\" already exists"},
      {"duplicate across files", "POST", "/v1/config/changes",
       R"({ "op": "insert", "kind": "check", "id": "flag", "file": "gtm.json", "value": { "type": "file", "path": "x" } })", 409,
       "more.json: /checks/flag: check \"flag\" already exists"},
      {"update of unknown", "POST", "/v1/config/changes",
       R"({ "op": "update", "kind": "check", "id": "nope", "value": { "type": "file", "path": "x" } })", 404, "no check \"nope\""},
      {"delete of unknown", "DELETE", "/v1/config/regions/nope", "", 404, "no region \"nope\""},
      {"unknown file", "POST", "/v1/config/changes",
       R"({ "op": "insert", "kind": "check", "id": "c", "file": "other.json", "value": { "type": "file", "path": "x" } })", 400,
       "\"other.json\" is not one of the scenario files"},
      {"unknown op", "POST", "/v1/config/changes", R"({ "op": "replace", "kind": "check", "id": "c" })", 400, "/op: must be"},
      {"renaming record", "PUT", "/v1/config/records/www.t.example./A", R"({ "value": { "name": "w2.t.example.", "type": "A" } })",
       400, "to rename a record, delete it and insert the new one"},
      // All or nothing: the first operation is fine, the second is not.
      {"half good batch", "POST", "/v1/config/changes",
       R"({ "changes": [ { "op": "insert", "kind": "check", "id": "ok", "value": { "type": "file", "path": "x" } },
                         { "op": "insert", "kind": "check", "id": "bad", "value": { "type": "file" } } ] })",
       422, "/checks/bad"},
      {"empty batch", "POST", "/v1/config/changes", R"({ "changes": [] })", 400, "non-empty array"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.what);
    HttpResult r = call(b.method, b.path, b.body.empty() ? std::nullopt : std::optional<std::string>(b.body));
    EXPECT_EQ(r.status, b.status) << r.body;
    auto d = parse(r.body);
    ASSERT_TRUE(d.IsObject() && d.HasMember("error")) << r.body;
    EXPECT_NE(std::string(d["error"].GetString()).find(b.says), std::string::npos) << r.body;
    // Nothing changed: the files, the generation, the answers; and the next request is served.
    EXPECT_EQ(slurp(dir_.file("gtm.json")), gtm);
    EXPECT_EQ(slurp(dir_.file("more.json")), more);
    EXPECT_EQ(generation(), g);
    EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.1"});
  }
  EXPECT_EQ(call("GET", "/v1/config/checks/ok").status, 404);
  // A 422 names the file and the pointer apart too.
  auto d = parse(call("DELETE", "/v1/config/datacenters/dc2").body);
  EXPECT_EQ(std::string(d["file"].GetString()), dir_.file("gtm.json"));
  EXPECT_STREQ(d["where"].GetString(), "/records/0/chain/1/dc");
  EXPECT_EQ(call("PUT", "/v1/config/checks/ok", R"({ "value": { "type": "file", "path": "x" } })").status, 200);
}

TEST_F(ConfigChange, ReadRoleCannotWriteAndAWrongTokenCannotRead) {
  ASSERT_TRUE(start());
  const std::string gtm = slurp(dir_.file("gtm.json"));
  EXPECT_EQ(call("GET", "/v1/config/datacenters", std::nullopt, kRead).status, 200);
  EXPECT_EQ(call("PUT", "/v1/config/checks/c", R"({ "value": { "type": "file", "path": "x" } })", kRead).status, 403);
  EXPECT_EQ(call("DELETE", "/v1/config/datacenters/dc2", std::nullopt, kRead).status, 403);
  EXPECT_EQ(call("POST", "/v1/config/changes", R"({ "op": "delete", "kind": "check", "id": "flag" })", kRead).status, 403);
  EXPECT_EQ(call("GET", "/v1/config/datacenters", std::nullopt, "wrong-0123456789abcdef").status, 401);
  EXPECT_EQ(call("PUT", "/v1/config/checks/c", R"({ "value": {} })", "wrong-0123456789abcdef").status, 401);
  EXPECT_EQ(slurp(dir_.file("gtm.json")), gtm);
  EXPECT_EQ(generation(), 1u);
  EXPECT_EQ(call("GET", "/v1/config/checks/flag", std::nullopt, kRead).status, 200);
}

TEST_F(ConfigChange, ConcurrentWritersOneWinnerPerGenerationAndSerialOtherwise) {
  ASSERT_TRUE(start());
  constexpr int kThreads = 6, kRounds = 3;
  std::set<std::string> winners;
  for (int round = 0; round < kRounds; ++round) {
    const std::uint64_t g = generation();
    std::vector<int> status(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        const std::string id = "r" + std::to_string(round) + "t" + std::to_string(t);
        status[t] = call("PUT", "/v1/config/checks/" + id + "?if_generation=" + std::to_string(g),
                         R"({ "value": { "type": "file", "path": ")" + id + R"(" } })").status;
      });
    for (auto& th : threads) th.join();
    int won = 0;
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_TRUE(status[t] == 200 || status[t] == 409) << status[t];
      if (status[t] == 200) {
        ++won;
        winners.insert("r" + std::to_string(round) + "t" + std::to_string(t));
      }
    }
    EXPECT_EQ(won, 1) << "round " << round;
    EXPECT_EQ(generation(), g + 1);
  }
  // Without if_generation every change applies, one after the other, each at its own generation.
  const std::uint64_t g = generation();
  std::vector<std::uint64_t> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const std::string id = "all" + std::to_string(t);
      auto d = parse(call("PUT", "/v1/config/checks/" + id, R"({ "value": { "type": "file", "path": ")" + id + R"(" } })").body);
      got[t] = d.IsObject() && d.HasMember("config_generation") ? d["config_generation"].GetUint64() : 0;
    });
  // A reload among them waits its turn like a change (they never run at once).
  int reload_status = 0;
  threads.emplace_back([&] { reload_status = call("POST", "/v1/reload").status; });
  for (auto& th : threads) th.join();
  EXPECT_EQ(reload_status, 200);
  EXPECT_EQ(std::set<std::uint64_t>(got.begin(), got.end()).size(), static_cast<std::size_t>(kThreads));
  for (auto n : got) EXPECT_TRUE(n > g && n <= g + kThreads + 1) << n;
  EXPECT_EQ(generation(), g + kThreads + 1);
  for (int t = 0; t < kThreads; ++t) winners.insert("all" + std::to_string(t));
  // The final state holds exactly the winners (and the check that was there).
  std::set<std::string> checks;
  const auto list = parse(call("GET", "/v1/config/checks").body);
  for (const auto& item : list["items"].GetArray()) checks.insert(item["id"].GetString());
  winners.insert("flag");
  EXPECT_EQ(checks, winners);
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.1"});
}

TEST_F(ConfigChange, IfMatchTakesTheEtagOfARead) {
  ASSERT_TRUE(start());
  const std::string etag = call("GET", "/v1/config/checks/flag").header("etag");
  ASSERT_EQ(etag, "\"1\"");
  const std::string body = R"({ "value": { "type": "file", "path": "other.state" } })";
  HttpResult r = call("PUT", "/v1/config/checks/flag", body, kOp, {"If-Match: " + etag});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("etag"), "\"2\"");
  // The same stale tag again: someone (we) changed it meanwhile.
  r = call("PUT", "/v1/config/checks/flag", body, kOp, {"If-Match: " + etag});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("the config generation is 2, not 1"), std::string::npos) << r.body;
  EXPECT_EQ(call("DELETE", "/v1/config/checks/flag", std::nullopt, kOp, {"If-Match: W/\"1\""}).status, 409);
  EXPECT_EQ(call("PUT", "/v1/config/checks/flag?if_generation=2", body, kOp, {"If-Match: \"1\""}).status, 400);
  EXPECT_EQ(call("PUT", "/v1/config/checks/flag", body, kOp, {"If-Match: soon"}).status, 400);
  EXPECT_EQ(call("POST", "/v1/config/changes", R"({ "op": "delete", "kind": "check", "id": "flag", "if_generation": 1 })",
                 kOp, {"If-Match: \"2\""}).status, 400);
  EXPECT_EQ(generation(), 2u);
  r = call("PUT", "/v1/config/checks/flag", body, kOp, {"If-Match: *"});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(generation(), 3u);
}

TEST_F(ConfigChange, PharosctlConfigCommands) {
  ASSERT_TRUE(start());
  Ctl r = ctl("config get datacenters", "bob");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("ID "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/datacenters/dc2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config generation: 1"), std::string::npos) << r.out;
  r = ctl("--json config get record www.t.example./A", "bob");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_STREQ(parse(r.out)["value"]["chain"][1]["dc"].GetString(), "dc2");

  dir_.write("c.json", R"({ "type": "file", "path": "c.state" })");
  r = ctl("config set check c --file " + dir_.file("c.json") + " --into more.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("insert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config generation: 2"), std::string::npos) << r.out;
  r = ctl("config set check c < " + dir_.file("c.json") + " --if-generation 2");  // stdin
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("update"), std::string::npos) << r.out;
  r = ctl("config delete check c --if-generation 2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("409"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the config generation is 3, not 2"), std::string::npos) << r.out;
  ASSERT_EQ(ctl("config delete check c --if-generation 3").exit_code, 0);

  dir_.write("changes.json", R"({ "changes": [
    { "op": "insert", "kind": "record", "value": { "name": "b.t.example.", "type": "A", "chain": [ { "dc": "dc2", "rdata": [ "192.0.2.40" ] } ] } },
    { "op": "update", "kind": "record", "id": "www.t.example./A",
      "value": { "name": "www.t.example.", "type": "A", "chain": [ { "dc": "dc2", "rdata": [ "192.0.2.41" ] } ] } } ] })");
  r = ctl("config apply " + dir_.file("changes.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(answer("b.t.example."), std::set<std::string>{"192.0.2.40"});
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.41"});

  // Refused, unreadable and malformed input: clear messages, nothing changed, then it still works.
  r = ctl("config delete datacenter dc2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("422"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown data center \"dc2\""), std::string::npos) << r.out;
  EXPECT_EQ(ctl("config set check c --file " + dir_.file("c.json"), "bob").exit_code, 1);
  dir_.write("broken.json", "{ \"type\": \n ");
  r = ctl("config set check c --file " + dir_.file("broken.json"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("invalid JSON at line 2"), std::string::npos) << r.out;
  EXPECT_EQ(ctl("config get nonsense").exit_code, 2);
  EXPECT_EQ(ctl("config get record www.t.example").exit_code, 2);
  EXPECT_EQ(ctl("config set check c --file /nonexistent/x.json").exit_code, 2);
  EXPECT_EQ(ctl("config get check c").exit_code, 1);
  EXPECT_EQ(answer(), std::set<std::string>{"192.0.2.41"});
  EXPECT_EQ(ctl("config get check flag", "bob").exit_code, 0);
}

}  // namespace
}  // namespace pharos::test
