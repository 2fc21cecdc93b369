// pharosctl_test.cc: the pharosctl binary against a test ControlServer whose routes return fixed
// JSON and record what they were sent: argument parsing, the requests each command makes, table
// rendering, --json, environment defaults, and the exit codes (0 ok, 1 refused, 2 usage, 3 no daemon).
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/app/control_fixture.h"

extern char** environ;

namespace pharos::test {
namespace {

using app::api_json;
using app::ApiRequest;
using app::ApiResponse;
using app::Role;

struct CtlResult {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CtlResult pharosctl(const ScratchDir& dir, const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv_s = {"pharosctl"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = dir.file("ctl.out"), err = dir.file("ctl.err");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  CtlResult r;
  if (posix_spawn(&pid, PHAROSCTL_PATH, &fa, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

constexpr const char* kStatus =
    R"({"version":"0.1.0","uptime_s":42,"config_generation":3,"zones":1,"gtm_records":2,"checks":4,"datacenters":2,)"
    R"("last_reload":{"at":"2026-11-23T09:00:00Z","ok":true,"error":null}})";
constexpr const char* kChecks =
    R"({"checks":[{"id":"web1","state":"up","measured":"up","forced":null,"since":"2026-11-23T08:00:00Z",)"
    R"("last":{"ok":true,"reason":"HTTP 200","latency_ms":3,"at":"2026-11-23T09:00:01Z"},"counters":{"probes":10,"failures":0,"transitions":1}},)"
    R"({"id":"auto|dc2|access","state":"down","forced":"down"}]})";
constexpr const char* kRecords =
    R"({"records":[{"name":"www.example.com.","type":"A","ttl":30,"rto_s":0,"regions":[)"
    R"({"region":"-","source":"chain","entry":0,"dc":"dc1","rdata":["192.0.2.10","192.0.2.11"],"since":"t0","reason":"dc1 ok"},)"
    R"({"region":"eu","source":"chain","entry":1,"dc":"dc2","rdata":["198.51.100.10"],"since":"t1","reason":"dc1 down"}]}]})";

constexpr const char* kMetrics =
    "# HELP pharos_dc_status A data center's status.\n# TYPE pharos_dc_status gauge\n"
    "pharos_dc_status{dc=\"dc1\",status=\"ok\"} 1\n"
    "pharos_dc_status{dc=\"a \\\"quoted\\\" dc\\\\x\\nz\",status=\"ok\"} 0\n"
    "# HELP pharos_pipeline_latency_seconds Latency.\n# TYPE pharos_pipeline_latency_seconds histogram\n"
    "pharos_pipeline_latency_seconds_bucket{le=\"+Inf\"} 3\n"
    "pharos_pipeline_latency_seconds_sum 0.25\n"
    "pharos_watchdog_age_seconds 0\n";

class PharosctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file = h.dir.write("token", std::string(kOperatorToken) + "\n");
    read_token_file = h.dir.write("read-token", kReadToken);
    const auto fixed = [](std::string body) { return [body](const ApiRequest&) { return api_json(200, body); }; };
    auto& s = h.server();
    s.route("GET", "/v1/status", Role::kRead, fixed(kStatus));
    s.route("GET", "/v1/checks", Role::kRead, fixed(kChecks));
    s.route("GET", "/v1/records", Role::kRead, fixed(kRecords));
    s.route("GET", "/v1/datacenters", Role::kRead,
            fixed(R"({"datacenters":[{"name":"dc1","status":"ok","reason":"all checks up","since":"t0",)"
                  R"("maintenance":{"on":false}},{"name":"dc2","status":"maintenance","reason":"operator",)"
                  R"("maintenance":{"on":true,"until":"t9","by":"otto","reason":"switch swap"}}]})"));
    s.route("GET", "/v1/explain", Role::kRead, [this](const ApiRequest& r) { return record(r); });
    s.route("GET", "/v1/audit", Role::kRead, [this](const ApiRequest& r) { return record(r); });
    s.route("POST", "/v1/datacenters/{dc}/maintenance", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    s.route("DELETE", "/v1/datacenters/{dc}/maintenance", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    s.route("POST", "/v1/checks/{id}/force", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    s.route("DELETE", "/v1/checks/{id}/force", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    s.route("POST", "/v1/records/{name}/{type}/resume", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    for (const char* pattern : {"/v1/config/records/{name}/{type}", "/v1/config/checks/{id}"}) {
      s.route("PUT", pattern, Role::kOperator, [this](const ApiRequest& r) { return record(r); });
      s.route("DELETE", pattern, Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    }
    s.route("POST", "/v1/config/changes", Role::kOperator, [this](const ApiRequest& r) { return record(r); });
    s.route("GET", "/v1/config/generation", Role::kRead, fixed(R"({"config_generation":3})"));
    s.route("GET", "/metrics", Role::kNone, [](const ApiRequest&) {
      return ApiResponse{200, kMetrics, "text/plain; version=0.0.4; charset=utf-8", {}};
    });
    s.route("POST", "/v1/reload", Role::kOperator, [](const ApiRequest&) {
      return api_json(200, R"({"ok":true,"config_generation":4})");
    });
    h.start();
    server = "127.0.0.1:" + std::to_string(h.server().port());
  }

  // Remembers the request; answers {"ok":true}.
  ApiResponse record(const ApiRequest& r) {
    std::lock_guard lock(mu);
    last = r;
    return api_json(200, R"({"ok":true})");
  }
  ApiRequest last_request() {
    std::lock_guard lock(mu);
    return last;
  }
  CtlResult run(std::vector<std::string> args, const std::string& token = "") {
    std::vector<std::string> full = {"--server", server, "--token-file", token.empty() ? token_file : token};
    full.insert(full.end(), args.begin(), args.end());
    return pharosctl(h.dir, full);
  }

  ApiHarness h;
  std::string server, token_file, read_token_file;
  std::mutex mu;
  ApiRequest last;
};

TEST_F(PharosctlTest, StatusPrintsFields) {
  const CtlResult r = run({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version: 0.1.0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config_generation: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("last_reload.ok: yes\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("last_reload.error: -\n"), std::string::npos) << r.out;
}

TEST_F(PharosctlTest, JsonPrintsTheServersAnswerAsIs) {
  const CtlResult r = run({"--json", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kStatus) + "\n");
  // Global options may follow the command too.
  EXPECT_EQ(run({"status", "--json"}).out, std::string(kStatus) + "\n");
}

TEST_F(PharosctlTest, ConfigGenerationAndMetrics) {
  CtlResult r = run({"config", "generation"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "config_generation: 3\n");
  // As served; with names, only the samples whose names start with one of them.
  r = run({"metrics"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kMetrics);
  r = run({"metrics", "pharos_dc_", "pharos_watchdog"});
  EXPECT_EQ(r.out, "pharos_dc_status{dc=\"dc1\",status=\"ok\"} 1\n"
                   "pharos_dc_status{dc=\"a \\\"quoted\\\" dc\\\\x\\nz\",status=\"ok\"} 0\n"
                   "pharos_watchdog_age_seconds 0\n");
  // --json: label values unescaped, numbers as numbers, +Inf as a string.
  r = run({"--json", "metrics", "pharos_dc_status", "pharos_pipeline"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, R"({"samples":[{"name":"pharos_dc_status","labels":{"dc":"dc1","status":"ok"},"value":1},)"
                   R"({"name":"pharos_dc_status","labels":{"dc":"a \"quoted\" dc\\x\nz","status":"ok"},"value":0},)"
                   R"({"name":"pharos_pipeline_latency_seconds_bucket","labels":{"le":"+Inf"},"value":3},)"
                   R"({"name":"pharos_pipeline_latency_seconds_sum","labels":{},"value":0.25}]})"
                   "\n");
  EXPECT_EQ(run({"metrics", "nothing_like_it"}).out, "");
}

TEST_F(PharosctlTest, ChecksTableIsAlignedAndToleratesMissingFields) {
  const CtlResult r = run({"checks"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, web1, dc2;
  std::getline(lines, header);
  std::getline(lines, web1);
  std::getline(lines, dc2);
  EXPECT_EQ(header.rfind("CHECK            STATE  MEASURED  FORCED  SINCE", 0), 0u) << r.out;
  EXPECT_EQ(web1.rfind("web1             up     up        -       2026-11-23T08:00:00Z", 0), 0u) << r.out;
  EXPECT_EQ(dc2.rfind("auto|dc2|access  down   -         down    -", 0), 0u) << r.out;
  EXPECT_NE(web1.find("HTTP 200"), std::string::npos);
  // Columns line up: STATE starts at the same offset in every line.
  EXPECT_EQ(header.find("STATE"), web1.find("up"));
}

TEST_F(PharosctlTest, RecordsShowOneLinePerRegion) {
  const CtlResult r = run({"records"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("192.0.2.10,192.0.2.11"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eu      chain   1      dc2"), std::string::npos) << r.out;
}

TEST_F(PharosctlTest, DcsShowMaintenance) {
  const CtlResult r = run({"dcs"}, read_token_file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("on until t9 by otto: switch swap"), std::string::npos) << r.out;
}

TEST_F(PharosctlTest, ExplainSendsTheQuery) {
  const CtlResult r = run({"explain", "www.example.com.", "A", "--client", "2001:db8::7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ApiRequest q = last_request();
  EXPECT_EQ(q.query.at("name"), "www.example.com.");
  EXPECT_EQ(q.query.at("type"), "A");
  EXPECT_EQ(q.query.at("client"), "2001:db8::7");
  run({"audit", "--limit", "5"});
  EXPECT_EQ(last_request().query.at("limit"), "5");
}

TEST_F(PharosctlTest, MaintenanceOnAndOff) {
  CtlResult r = run({"maintenance", "on", "dc 1", "--for", "2h", "--reason", "swap \"the\" switch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ApiRequest q = last_request();
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.params, std::vector<std::string>{"dc 1"});
  EXPECT_EQ(q.body, R"({"for":"2h","reason":"swap \"the\" switch"})");
  EXPECT_EQ(q.token_name, "otto");
  r = run({"maintenance", "off", "dc1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  q = last_request();
  EXPECT_EQ(q.method, "DELETE");
  EXPECT_EQ(q.params, std::vector<std::string>{"dc1"});
}

TEST_F(PharosctlTest, ForceAndClear) {
  ASSERT_EQ(run({"force", "web1", "down"}).exit_code, 0);
  ApiRequest q = last_request();
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.body, R"({"state":"down"})");
  ASSERT_EQ(run({"force", "auto|dc1|access", "clear"}).exit_code, 0);
  q = last_request();
  EXPECT_EQ(q.method, "DELETE");
  EXPECT_EQ(q.params, std::vector<std::string>{"auto|dc1|access"});
}

TEST_F(PharosctlTest, ResumeAndReload) {
  ASSERT_EQ(run({"resume", "www.example.com.", "A", "dc1"}).exit_code, 0);
  const ApiRequest q = last_request();
  EXPECT_EQ(q.params, (std::vector<std::string>{"www.example.com.", "A"}));
  EXPECT_EQ(q.body, R"({"dc":"dc1"})");
  const CtlResult r = run({"reload"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: yes\nconfig_generation: 4\n");
}

TEST_F(PharosctlTest, ConfigCommandsSendTheObjectAndTheGeneration) {
  const std::string obj = h.dir.write("obj.json", R"({ "name": "www.example.com.", "type": "AAAA", "chain": [] })");
  ASSERT_EQ(run({"config", "set", "record", "www.example.com./AAAA", "--file", obj, "--into", "b.json"}).exit_code, 0);
  ApiRequest q = last_request();
  EXPECT_EQ(q.method, "PUT");
  EXPECT_EQ(q.params, (std::vector<std::string>{"www.example.com.", "AAAA"}));
  EXPECT_EQ(q.body, R"({"value":{ "name": "www.example.com.", "type": "AAAA", "chain": [] },"file":"b.json"})");
  EXPECT_TRUE(q.query.empty());

  ASSERT_EQ(run({"config", "set", "checks", "dc1/web", "--file", obj, "--if-generation", "12"}).exit_code, 0);
  q = last_request();
  EXPECT_EQ(q.params, std::vector<std::string>{"dc1/web"});  // one path segment, escaped
  EXPECT_EQ(q.query.at("if_generation"), "12");

  ASSERT_EQ(run({"config", "delete", "record", "www.example.com./A", "--if-generation", "5"}).exit_code, 0);
  q = last_request();
  EXPECT_EQ(q.method, "DELETE");
  EXPECT_EQ(q.params, (std::vector<std::string>{"www.example.com.", "A"}));
  EXPECT_EQ(q.query.at("if_generation"), "5");
  EXPECT_TRUE(q.body.empty());

  const std::string changes = h.dir.write("changes.json", R"({"changes":[{"op":"delete","kind":"check","id":"x"}]})");
  ASSERT_EQ(run({"config", "apply", changes}).exit_code, 0);
  q = last_request();
  EXPECT_EQ(q.path, "/v1/config/changes");
  EXPECT_EQ(q.body, R"({"changes":[{"op":"delete","kind":"check","id":"x"}]})");

  // Checked before anything is sent: a malformed object, a bad generation, a record without a type.
  const std::string broken = h.dir.write("broken.json", "{\n \"name\": }");
  CtlResult r = run({"config", "set", "check", "x", "--file", broken});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid JSON at line 2"), std::string::npos) << r.err;
  EXPECT_EQ(run({"config", "delete", "check", "x", "--if-generation", "soon"}).exit_code, 2);
  EXPECT_EQ(run({"config", "delete", "record", "www.example.com."}).exit_code, 2);
  EXPECT_EQ(run({"config", "delete", "zone", "x"}).exit_code, 2);
  EXPECT_EQ(last_request().path, "/v1/config/changes");
}

TEST_F(PharosctlTest, ServerRefusalExits1WithItsMessage) {
  const std::string wrong = h.dir.write("wrong", "wrong-token-0123456789");
  CtlResult r = run({"status"}, wrong);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "pharosctl: GET /v1/status: 401 Unauthorized: unknown token\n");
  r = run({"reload"}, read_token_file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "pharosctl: POST /v1/reload: 403 Forbidden: token \"rita\" has role read; POST /v1/reload needs role operator\n");
  // --json still prints the server's answer for scripts.
  r = run({"--json", "reload"}, read_token_file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"error\""), std::string::npos) << r.out;
  EXPECT_EQ(run({"status"}).exit_code, 0);
}

TEST_F(PharosctlTest, UsageErrorsExit2) {
  EXPECT_EQ(run({}).exit_code, 2);
  EXPECT_EQ(run({"force", "web1", "sideways"}).exit_code, 2);
  EXPECT_EQ(run({"explain", "www.example.com."}).exit_code, 2);
  const CtlResult r = run({"status"}, h.dir.file("no-such-token"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot read token file"), std::string::npos) << r.err;
  EXPECT_EQ(run({"status"}).exit_code, 0);
}

TEST_F(PharosctlTest, EnvironmentGivesServerAndTokenFile) {
  const CtlResult r = pharosctl(h.dir, {"status"}, {"PHAROS_SERVER=" + server, "PHAROS_TOKEN_FILE=" + token_file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Pharosctl, NoDaemonExits3WithAHint) {
  ScratchDir dir;
  // A bound socket that does not listen: connections to its port are refused, and no one else
  // can take the port meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const CtlResult r = pharosctl(dir, {"--server", server, "status"});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pharosctl: cannot connect to " + server +
                       ": connection refused; is pharosd running with \"control\" configured?\n");
}

}  // namespace
}  // namespace pharos::test
