// pharosd_health_test.cc: the health engine inside the real pharosd: a TCP target the test opens
// and closes drives a DC between ok and noAccess with the cause logged; a reload with unchanged
// checks keeps their state; a broken scenario file leaves the running checks in place.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

std::string scenario(std::uint16_t port, const std::string& target_suffix = "") {
  return R"({ "datacenters": { "dc1": {
                "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
                "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(port) + target_suffix + R"(" } ] } },
              "checks": { "self": { "type": "exec", "command": ["/bin/true"], "accessPeriod": "1s" } } })";
}

constexpr const char* kConfig = R"({ "listen": ["127.0.0.1:0"], "workers": 1,
  "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ] })";
constexpr const char* kZone =
    "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n";

TEST(PharosdHealth, TargetUpDownUpMovesTheDcWithItsCause) {
  TempDir d;
  Target target;
  d.write("t.zone", kZone);
  d.write("gtm.json", scenario(target.port()));
  d.write("p.json", kConfig);
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("health checks started")) << p.log();
  ASSERT_TRUE(p.wait_for("dc=dc1 from=unknown to=ok")) << p.log();
  EXPECT_TRUE(p.wait_for("check=self from=unknown to=up")) << p.log();

  target.close();
  ASSERT_TRUE(p.wait_for("dc=dc1 from=ok to=noAccess")) << p.log();
  EXPECT_NE(p.log().find("check=auto|dc1|access|0 from=up to=down reason=\"1 consecutive failure: connection refused\""),
            std::string::npos)
      << p.log();

  target.open(target.port());
  ASSERT_TRUE(p.wait_for("dc=dc1 from=noAccess to=ok")) << p.log();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
}

TEST(PharosdHealth, ReloadKeepsStateAndBrokenScenarioKeepsRunningChecks) {
  TempDir d;
  Target target;
  d.write("t.zone", kZone);
  d.write("gtm.json", scenario(target.port()));
  d.write("p.json", kConfig);
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("dc=dc1 from=unknown to=ok")) << p.log();

  // Unchanged checks: no state starts over, so no new transition is logged.
  const int transitions = p.count("check state changed");
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("msg=\"reloaded\"")) << p.log();
  EXPECT_EQ(p.count("check state changed"), transitions) << p.log();

  // A broken scenario file: the reload fails with file and pointer; the old checks keep running.
  d.write("gtm.json", scenario(target.port(), "0000"));
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("reload failed")) << p.log();
  EXPECT_NE(p.log().find(d.file("gtm.json") + ": /datacenters/dc1/access/0/target"), std::string::npos) << p.log();
  target.close();
  EXPECT_TRUE(p.wait_for("dc=dc1 from=ok to=noAccess")) << p.log();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
}

TEST(PharosdHealth, CheckRejectsABrokenScenarioFile) {
  TempDir d;
  d.write("t.zone", kZone);
  d.write("gtm.json", R"({ "checks": { "web": { "type": "http", "url": "ftp://x/" } } })");
  d.write("p.json", kConfig);
  const RunResult r = run_pharosd({"--check", "-c", d.file("p.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d.file("gtm.json") + ": /checks/web/url: \"ftp://x/\" must start with http://"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace pharos::test
