// pharosd_state_test.cc: state that survives restarts, with the real pharosd: a DC that went down
// is saved on SIGTERM and comes back down at once after a restart (no unknown -> up flap, the
// answer stays on the other DC); a state older than state_max_age or damaged is ignored with a
// reason; a kill -9 at random points of heavy write activity always leaves a parseable file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "scenario/state_file.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

std::string dc(const char* name, std::uint16_t port) {
  return std::string("\"") + name + R"(": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1,
      "requiredFailure": 1, "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(port) + "\" } ] }";
}

// www.t.example A: dc1 (192.0.2.1) then dc2 (192.0.2.2); `extra` more records like it.
std::string scenario(std::uint16_t p1, std::uint16_t p2, int extra = 0) {
  std::string records;
  for (int i = -1; i < extra; ++i) {
    const std::string name = i < 0 ? "www" : "r" + std::to_string(i);
    records += std::string(records.empty() ? "" : ",") + R"({ "name": ")" + name + R"(.t.example.", "type": "A",
        "chain": [ { "dc": "dc1", "rdata": ["192.0.2.1"] }, { "dc": "dc2", "rdata": ["192.0.2.2"] } ] })";
  }
  return "{ \"datacenters\": { " + dc("dc1", p1) + ", " + dc("dc2", p2) + " }, \"records\": [ " + records + " ] }";
}

std::string config(const std::string& state_dir, const std::string& extra = "") {
  return R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": 0,
    "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ],
    "state_dir": ")" + state_dir + "\"" + extra + " }";
}

constexpr const char* kZone =
    "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n";

std::set<std::string> www(std::uint16_t port) {
  const sockaddr_in to = loopback(port);
  Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
  auto r = udp_exchange(s.fd(), make_query(7, "www.t.example", 1 /* A */), 1000);
  return r ? parse_response(*r).addresses : std::set<std::string>{};
}

const health::SavedCheck* saved_check(const scenario::StateFile& s, const std::string& id) {
  for (const auto& c : s.health.checks)
    if (c.id == id) return &c;
  return nullptr;
}

// dc1's target closed: dc1 noAccess, www answered by dc2; then a graceful stop saves it.
void run_until_dc1_down(const TempDir& d, Target& t1) {
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("dc=dc1 from=unknown to=ok")) << p.log();
  ASSERT_TRUE(p.wait_for("dc=dc2 from=unknown to=ok")) << p.log();
  t1.close();
  ASSERT_TRUE(p.wait_for("dc=dc1 from=ok to=noAccess")) << p.log();
  ASSERT_TRUE(p.wait_for("answer changed\" record=www.t.example./A")) << p.log();
  p.signal(SIGTERM);
  ASSERT_EQ(p.wait_exit(10'000), 0) << p.log();
}

TEST(PharosdState, RestartRestoresADownDcAtOnceWithoutFlapping) {
  TempDir d;
  Target t1, t2;
  d.write("t.zone", kZone);
  d.write("gtm.json", scenario(t1.port(), t2.port()));
  d.write("p.json", config(d.file("state/sub")));  // created, parents too
  run_until_dc1_down(d, t1);

  Result<scenario::StateFile> saved = scenario::read_state_file(d.file("state/sub/state.json"));
  ASSERT_TRUE(saved) << saved.error().to_string();
  const health::SavedCheck* access = saved_check(*saved, "auto|dc1|access|0");
  ASSERT_NE(access, nullptr);
  EXPECT_EQ(access->measured.state, health::State::kDown);
  EXPECT_NE(access->reason.find("connection refused"), std::string::npos) << access->reason;
  ASSERT_EQ(saved->gtm.records.size(), 1u);
  EXPECT_EQ(saved->gtm.records[0].key, "www.t.example./A");
  EXPECT_EQ(saved->gtm.records[0].regions.at(0).memory.serving, 1);

  // dc1's target still closed: restored down at once, and dc2 restored up with no new transition.
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("msg=\"state restored\"")) << p.log();
  EXPECT_TRUE(std::regex_search(p.log(), std::regex("msg=\"state restored\" age_ms=[0-9]+ checks=[0-9]+ skipped=0 records=1")))
      << p.log();
  EXPECT_EQ(p.count("datacenter status restored\" dc=dc1 status=noAccess"), 1) << p.log();
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(www(port), (std::set<std::string>{"192.0.2.2"}));
  // Several probe rounds: every result confirms the restored verdicts, so no transition is logged
  // for the restored checks, their dimensions, their DCs or the answer.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  for (const char* id : {"check=auto|dc1|access|0 ", "check=auto|dc2|access|0 ", "check=auto|dc1|access ",
                         "check=auto|dc2|access ", "dc=dc1 from=", "dc=dc2 from=", "answer changed"}) {
    EXPECT_EQ(p.count(id), 0) << id << "\n" << p.log();
  }
  EXPECT_EQ(www(port), (std::set<std::string>{"192.0.2.2"}));

  // And it moves on from there as usual.
  t1.open(t1.port());
  ASSERT_TRUE(p.wait_for("dc=dc1 from=noAccess to=ok")) << p.log();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
}

TEST(PharosdState, StateOlderThanMaxAgeIsNotRestored) {
  TempDir d;
  Target t1, t2;
  d.write("t.zone", kZone);
  d.write("gtm.json", scenario(t1.port(), t2.port()));
  d.write("p.json", config(d.file("state"), R"(, "state_max_age": "1m")"));
  run_until_dc1_down(d, t1);

  Result<scenario::StateFile> saved = scenario::read_state_file(d.file("state/state.json"));
  ASSERT_TRUE(saved) << saved.error().to_string();
  saved->written_at -= std::chrono::minutes(2);
  ASSERT_EQ(scenario::write_state_file(d.file("state"), scenario::to_json(*saved)), std::nullopt);

  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("dc=dc1 from=unknown to=noAccess")) << p.log();
  EXPECT_EQ(p.count("state restored"), 0) << p.log();
  EXPECT_TRUE(std::regex_search(p.log(), std::regex("msg=\"state file ignored\" reason=\"older than state_max_age\" "
                                                    "file=[^ ]+ age_ms=1[0-9]{5} state_max_age_ms=60000")))
      << p.log();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
}

TEST(PharosdState, DamagedStateIsIgnoredAndAssumeUpApplies) {
  TempDir d;
  Target t1, t2;
  d.write("t.zone", kZone);
  d.write("gtm.json", scenario(t1.port(), t2.port()));
  fs::create_directory(d.file("state"));
  d.write("state/state.json", R"({"version": 1, "written_at_ms": 12)");  // cut short
  d.write("p.json", config(d.file("state"), R"(, "startup_policy": "assumeUp")"));
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("health checks started")) << p.log();
  EXPECT_NE(p.log().find("msg=\"state file ignored\" error=\"" + d.file("state/state.json") + ":1: invalid JSON"),
            std::string::npos)
      << p.log();
  EXPECT_NE(p.log().find("startup policy applied\" startup_policy=assumeUp"), std::string::npos) << p.log();
  // The checks start up: the DCs are ok before any probe, and the probes only confirm it.
  EXPECT_NE(p.log().find("dc=dc1 from=unknown to=ok reason=\"every dimension up\""), std::string::npos) << p.log();
  const std::uint16_t port = p.udp_port();
  EXPECT_EQ(www(port), (std::set<std::string>{"192.0.2.1"}));
  // The next write replaces the damaged file.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !scenario::read_state_file(d.file("state/state.json")))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(scenario::read_state_file(d.file("state/state.json")));
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0);
}

TEST(PharosdState, KillDuringHeavyWritesAlwaysLeavesAParseableFile) {
  TempDir d;
  Target t1, t2;
  d.write("t.zone", kZone);
  // 2,000 records make each write large (hundreds of kilobytes) and dc1 flapping every probe
  // keeps the writer busy.
  d.write("gtm.json", scenario(t1.port(), t2.port(), 2000));
  d.write("p.json", config(d.file("state")));
  std::atomic<bool> flapping{true};
  std::thread flapper([&] {
    while (flapping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(70));
      t1.close();
      std::this_thread::sleep_for(std::chrono::milliseconds(70));
      t1.open(t1.port());
    }
  });
  const std::string path = d.file("state/state.json");
  const std::string tmp = d.file("state/state.json.tmp");
  std::mt19937 rng(12345);
  int parsed = 0, mid_write = 0;
  for (int round = 0; round < 10; ++round) {
    std::error_code ec;
    fs::remove(tmp, ec);  // a previous kill's leftover would look like a write in progress
    {
      Daemon p{d.file("p.json")};
      ASSERT_TRUE(p.wait_for("health checks started", 1, 10'000)) << p.log();
      if (round % 2 == 0) {
        // At a random point.
        std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
      } else {
        // The worst moment: while the next state is being written (the temporary file exists).
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        while (Clock::now() < deadline && !fs::exists(tmp, ec)) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      p.signal(SIGKILL);
      EXPECT_EQ(p.wait_exit(5000), -1);  // killed, not exited
    }
    mid_write += fs::exists(tmp, ec) ? 1 : 0;
    if (!fs::exists(path, ec)) continue;  // killed before the first write ever finished
    Result<scenario::StateFile> s = scenario::read_state_file(path);
    ASSERT_TRUE(s) << "round " << round << ": " << s.error().to_string();
    EXPECT_EQ(s->gtm.records.size(), 2001u);
    ++parsed;
  }
  flapping = false;
  flapper.join();
  EXPECT_GE(parsed, 8);
  EXPECT_GE(mid_write, 1) << "no kill landed during a write";
  std::cerr << "[          ] " << parsed << " files parsed, " << mid_write << " kills during a write\n";
}

}  // namespace
}  // namespace pharos::test
