// pharosd_test.cc: the real pharosd binary: --check, --version, SIGHUP reload (new data served; a
// broken zone keeps the old data and logs file:line), no query lost while reloading under load,
// and a clean exit on SIGTERM. Ports are ephemeral; every wait is bounded.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

std::string zone_text(int serial, const std::string& www, const std::string& extra = "") {
  return "$ORIGIN t.example.\n"
         "$TTL 60\n"
         "@ IN SOA ns1 hostmaster " + std::to_string(serial) + " 7200 900 1209600 60\n"
         "@ IN NS ns1\n"
         "ns1 IN A 192.0.2.53\n"
         "www IN A " + www + "\n" + extra;
}

std::string config_text(const std::string& zone_file = "t.zone") {
  return R"({ "listen": ["127.0.0.1:0"], "workers": 2,
              "zones": [ { "name": "t.example.", "file": ")" + zone_file + R"(" } ],
              "tcp": { "idle_timeout": "2s", "message_timeout": "1s" } })";
}

// The A addresses of www.t.example, or an empty set when there is no answer.
std::set<std::string> www(int fd, std::uint16_t id) {
  auto r = udp_exchange(fd, make_query(id, "www.t.example", 1 /* A */), 1000);
  return r ? parse_response(*r).addresses : std::set<std::string>{};
}

TEST(Pharosd, VersionAndHelpExitZero) {
  const RunResult v = run_pharosd({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("pharosd "), std::string::npos);
  const RunResult h = run_pharosd({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--check"), std::string::npos);
  EXPECT_EQ(run_pharosd({"--bogus"}).exit_code, 2);
}

TEST(Pharosd, CheckPrintsSummaryForGoodConfig) {
  const RunResult r = run_pharosd({"--check", "-c", std::string(PHAROS_SOURCE_DIR) + "/zones/pharos.json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok: 1 zones, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" names"), std::string::npos) << r.out;
}

TEST(Pharosd, CheckReportsZoneErrorWithFileAndLine) {
  TempDir d;
  d.write("t.zone", zone_text(1, "192.0.2.1", "oops IN A 999.1.1.1\n"));
  d.write("p.json", config_text());
  const RunResult r = run_pharosd({"--check", "-c", d.file("p.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d.file("t.zone") + ":7:"), std::string::npos) << r.err;
}

TEST(Pharosd, CheckReportsConfigErrorWithPointer) {
  TempDir d;
  d.write("p.json", R"({"listen": ["127.0.0.1:0"], "tcp": {"idle_timeout": "soon"}})");
  const RunResult r = run_pharosd({"--check", "-c", d.file("p.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d.file("p.json") + ": /tcp/idle_timeout:"), std::string::npos) << r.err;
}

TEST(Pharosd, StartupFailsCleanlyOnBrokenZone) {
  TempDir d;
  d.write("t.zone", zone_text(1, "192.0.2.1", "oops IN A 999.1.1.1\n"));
  d.write("p.json", config_text());
  Daemon p{d.file("p.json")};
  EXPECT_EQ(p.wait_exit(10'000), 1);
  EXPECT_NE(p.log().find("t.zone:7:"), std::string::npos) << p.log();
}

TEST(Pharosd, SighupReloadsAndBrokenZoneKeepsServingOldData) {
  TempDir d;
  d.write("t.zone", zone_text(1, "192.0.2.1"));
  d.write("p.json", config_text());
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();
  ASSERT_TRUE(p.wait_for("msg=\"started\"")) << p.log();
  const sockaddr_in to = loopback(port);
  Socket c = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
  EXPECT_EQ(www(c.fd(), 1), std::set<std::string>{"192.0.2.1"});

  d.write("t.zone", zone_text(2, "192.0.2.2"));
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("msg=\"reloaded\"")) << p.log();
  EXPECT_EQ(www(c.fd(), 2), std::set<std::string>{"192.0.2.2"});

  d.write("t.zone", zone_text(3, "192.0.2.3", "oops IN A 999.1.1.1\n"));
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("reload failed")) << p.log();
  EXPECT_NE(p.log().find(d.file("t.zone") + ":7:"), std::string::npos) << p.log();
  EXPECT_EQ(www(c.fd(), 3), std::set<std::string>{"192.0.2.2"});

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
  EXPECT_NE(p.log().find("msg=\"stopped\""), std::string::npos);
}

TEST(Pharosd, ReloadOfListenAddressesSaysRestartNeeded) {
  TempDir d;
  d.write("t.zone", zone_text(1, "192.0.2.1"));
  d.write("p.json", config_text());
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("msg=\"started\"")) << p.log();
  d.write("p.json", R"({ "listen": ["127.0.0.1:0", "[::1]:0"], "workers": 2,
                         "zones": [ { "name": "t.example.", "file": "t.zone" } ],
                         "tcp": { "idle_timeout": "2s", "message_timeout": "1s" } })");
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("msg=\"reloaded\"")) << p.log();
  EXPECT_NE(p.log().find("restart needed"), std::string::npos) << p.log();
}

// A client sends queries one after another while the zone is rewritten and reloaded again and
// again: every query must be answered, with either the old or the new data.
TEST(Pharosd, NoQueryLostDuringReloadsUnderLoad) {
  TempDir d;
  d.write("t.zone", zone_text(1, "192.0.2.1"));
  d.write("p.json", config_text());
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();
  ASSERT_TRUE(p.wait_for("msg=\"started\"")) << p.log();

  constexpr int kQueries = 20'000;
  std::atomic<bool> done{false};
  std::atomic<int> lost{0}, wrong{0};
  std::thread client([&] {
    const sockaddr_in to = loopback(port);
    Socket c = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    for (int i = 0; i < kQueries; ++i) {
      const auto a = www(c.fd(), static_cast<std::uint16_t>(i));
      if (a.empty()) {
        lost.fetch_add(1);
      } else if (a != std::set<std::string>{"192.0.2.1"} && a != std::set<std::string>{"192.0.2.2"}) {
        wrong.fetch_add(1);
      }
    }
    done.store(true);
  });
  int reloads = 0;
  // Bounded: at most 50 reloads, each waited for.
  while (!done.load() && reloads < 50) {
    d.write("t.zone", zone_text(reloads + 2, reloads % 2 ? "192.0.2.1" : "192.0.2.2"));
    p.signal(SIGHUP);
    ++reloads;
    if (!p.wait_for("msg=\"reloaded\"", reloads)) break;
  }
  client.join();
  EXPECT_EQ(p.count("msg=\"reloaded\""), reloads) << p.log();
  EXPECT_GE(reloads, 3);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace pharos::test
