// service_test.cc: pharosd as a systemd service, with the real binary: the sd_notify protocol on a
// real AF_UNIX socket (READY after serving, RELOADING/READY around reloads good and bad, watchdog
// pings, STOPPING), the switch to an unprivileged user after binding a port below 1024 (as root),
// the graceful stop that answers every pipelined TCP query already sent, the journald log prefix
// and escaping, the new config keys, config changes through the API as the user (STATUS line,
// which files the user may write), and the unit file checked by systemd-analyze. Every wait is
// bounded.
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "app/config.h"
#include "app/log.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

using app::LogLevel;

std::string zone_text(const std::string& www, int big_txt = 0) {
  std::string z = "$ORIGIN t.example.\n$TTL 60\n"
                  "@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n"
                  "@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A " + www + "\n";
  // A name whose answer is large (60 KB with 240 records): a client that does not read fills every
  // buffer on the way soon.
  for (int i = 0; i < big_txt; ++i) z += "big IN TXT \"" + std::to_string(i) + std::string(240, 'x') + "\"\n";
  return z;
}

std::string config_text(const std::string& listen, const std::string& extra = "") {
  return R"({ "listen": [")" + listen + R"("], "workers": 1,
              "zones": [ { "name": "t.example.", "file": "t.zone" } ])" + extra + " }";
}

std::set<std::string> www(std::uint16_t port, std::uint16_t id) {
  const sockaddr_in a = loopback(port);
  Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&a), sizeof a);
  auto r = udp_exchange(s.fd(), make_query(id, "www.t.example", 1 /* A */), 2000);
  return r ? parse_response(*r).addresses : std::set<std::string>{};
}

// The receiving end of NOTIFY_SOCKET, as systemd holds it.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = Socket{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // Waits for a message containing `needle`; returns it, or nothing at the deadline. Every message
  // received on the way is kept in seen().
  std::optional<std::string> wait_for(const std::string& needle, int timeout_ms = 10'000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (wait_readable(fd_.fd(), ms_left(deadline))) {
      const ssize_t n = ::recv(fd_.fd(), buf, sizeof buf, 0);
      if (n <= 0) continue;
      seen_.emplace_back(buf, static_cast<std::size_t>(n));
      if (seen_.back().find(needle) != std::string::npos) return seen_.back();
    }
    return std::nullopt;
  }
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  std::string path_;
  Socket fd_;
  std::vector<std::string> seen_;
};

// ---- sd_notify ----

TEST(ServiceNotify, ReadyReloadWatchdogAndStop) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("p.json", config_text("127.0.0.1:0"));
  NotifySocket notify(d.file("notify"));
  Daemon p{d.file("p.json"), {notify.env(), "WATCHDOG_USEC=200000"}};

  auto ready = notify.wait_for("READY=1");
  ASSERT_TRUE(ready) << p.log();
  EXPECT_NE(ready->find("STATUS=serving 1 zones on 127.0.0.1:"), std::string::npos) << *ready;
  // READY means serving: the very first query after it is answered.
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"});

  // Pings from the control loop, every half of WATCHDOG_USEC.
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1"));
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1"));

  d.write("t.zone", zone_text("192.0.2.2"));
  p.signal(SIGHUP);
  auto reloading = notify.wait_for("RELOADING=1");
  ASSERT_TRUE(reloading) << p.log();
  EXPECT_TRUE(std::regex_search(*reloading, std::regex("MONOTONIC_USEC=[0-9]+"))) << *reloading;
  auto reloaded = notify.wait_for("READY=1");
  ASSERT_TRUE(reloaded) << p.log();
  EXPECT_NE(reloaded->find("STATUS=serving; reloaded"), std::string::npos) << *reloaded;
  EXPECT_EQ(www(port, 2), std::set<std::string>{"192.0.2.2"});

  // A broken zone: the reload fails, systemd still hears READY=1, and STATUS says what happened.
  d.write("t.zone", zone_text("192.0.2.3") + "oops IN A 999.1.1.1\n");
  p.signal(SIGHUP);
  ASSERT_TRUE(notify.wait_for("RELOADING=1")) << p.log();
  auto failed = notify.wait_for("READY=1");
  ASSERT_TRUE(failed) << p.log();
  EXPECT_NE(failed->find("STATUS=serving the previous configuration; reload failed: "), std::string::npos) << *failed;
  EXPECT_NE(failed->find("t.zone:"), std::string::npos) << *failed;
  EXPECT_EQ(www(port, 3), std::set<std::string>{"192.0.2.2"});

  p.signal(SIGTERM);
  ASSERT_TRUE(notify.wait_for("STOPPING=1")) << p.log();
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
}

// A config change through the API is no reload (no RELOADING=1), but systemctl status tells of it.
TEST(ServiceNotify, AConfigChangeShowsInTheStatusLine) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("gtm.json", R"({ "checks": { "flag": { "type": "file", "path": "flag.state" } } })");
  d.write("tokens.json", R"({ "tokens": [ { "name": "alice", "role": "operator", "token": "alice-0123456789abcdef" } ] })");
  chmod(d.file("tokens.json").c_str(), 0600);
  d.write("alice", "alice-0123456789abcdef");
  d.write("check.json", R"({ "type": "file", "path": "other.state" })");
  d.write("p.json", config_text("127.0.0.1:0", R"(, "scenarios": [ "gtm.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json" })"));
  NotifySocket notify(d.file("notify"));
  Daemon p{d.file("p.json"), {notify.env()}};
  ASSERT_TRUE(notify.wait_for("READY=1")) << p.log();
  ASSERT_TRUE(p.wait_for("control API ready")) << p.log();  // the log is written by its own thread
  std::smatch port;
  const std::string log = p.log();
  ASSERT_TRUE(std::regex_search(log, port, std::regex("control API ready.* port=([0-9]+)"))) << log;

  const std::string ctl = std::string(PHAROSCTL_PATH) + " --server 127.0.0.1:" + port[1].str() + " --token-file " +
                          d.file("alice") + " config set check flag --file " + d.file("check.json") + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(ctl.c_str()), 0) << p.log();
  auto changed = notify.wait_for("config changed");
  ASSERT_TRUE(changed) << p.log();
  EXPECT_EQ(*changed, "STATUS=serving; config changed by alice (update check flag), config generation 2");
  for (const auto& m : notify.seen()) EXPECT_EQ(m.find("RELOADING=1"), std::string::npos) << m;
  EXPECT_EQ(www(p.udp_port(), 1), std::set<std::string>{"192.0.2.1"});
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
}

TEST(ServiceNotify, StartupFailureIsReportedInStatusWithoutReady) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1") + "oops IN A 999.1.1.1\n");
  d.write("p.json", config_text("127.0.0.1:0"));
  NotifySocket notify(d.file("notify"));
  Daemon p{d.file("p.json"), {notify.env()}};
  auto status = notify.wait_for("STATUS=cannot start: ");
  ASSERT_TRUE(status) << p.log();
  EXPECT_NE(status->find("t.zone:"), std::string::npos) << *status;
  EXPECT_EQ(p.wait_exit(10'000), 1);
  for (const auto& m : notify.seen()) EXPECT_EQ(m.find("READY=1"), std::string::npos) << m;

  // The same files, fixed, start normally.
  d.write("t.zone", zone_text("192.0.2.1"));
  Daemon ok{d.file("p.json")};
  const std::uint16_t port = ok.udp_port();
  ASSERT_NE(port, 0) << ok.log();
  EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"});
}

// ---- privilege drop (needs root) ----

struct Account {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

std::optional<Account> account(const char* name) {
  const passwd* pw = getpwnam(name);
  if (pw == nullptr) return std::nullopt;
  Account a{pw->pw_uid, pw->pw_gid, {}};
  int n = 64;
  a.groups.resize(64);
  if (getgrouplist(name, pw->pw_gid, a.groups.data(), &n) < 0) return std::nullopt;
  a.groups.resize(static_cast<std::size_t>(n));
  std::sort(a.groups.begin(), a.groups.end());
  return a;
}

// A port below 1024 that is free on 127.0.0.1 for both UDP and TCP right now.
std::uint16_t free_low_port(std::uint16_t not_this = 0) {
  for (std::uint16_t port = 900; port < 1024; ++port) {
    if (port == not_this) continue;
    bool free = true;
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      Socket s{::socket(AF_INET, type | SOCK_CLOEXEC, 0)};
      const sockaddr_in a = loopback(port);
      free = free && ::bind(s.fd(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    }
    if (free) return port;
  }
  return 0;
}

// "Uid:\t1\t2\t3\t4" -> {1, 2, 3, 4}, from /proc/<pid>/task/<tid>/status.
std::vector<long> ids(const std::string& status, const std::string& key) {
  std::vector<long> out;
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    for (long v; fields >> v;) out.push_back(v);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

#define REQUIRE_ROOT()                                                              \
  if (geteuid() != 0) GTEST_SKIP() << "needs root (binds a port below 1024 and switches user); uid is " \
                                   << geteuid()

TEST(ServicePrivileges, DropsToUserAfterBindingLowPort) {
  REQUIRE_ROOT();
  auto nobody = account("nobody");
  ASSERT_TRUE(nobody) << "no user nobody";
  TempDir d;
  chmod(d.file("").c_str(), 0755);  // the user reads the files again on SIGHUP
  const std::uint16_t port = free_low_port();
  ASSERT_NE(port, 0);
  const std::string state_dir = d.file("state");
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("p.json", config_text("127.0.0.1:" + std::to_string(port),
                                R"(, "user": "nobody", "state_dir": ")" + state_dir + "\""));
  ASSERT_EQ(run_pharosd({"--check", "-c", d.file("p.json")}).exit_code, 0);
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("msg=\"privileges dropped\"")) << p.log();
  EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"}) << p.log();

  // Every thread: real, effective, saved and filesystem ids are the user's; no group of root's,
  // no capability left.
  const long uid = nobody->uid, gid = nobody->gid;
  int threads = 0;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(p.pid()) + "/task")) {
    const std::string status = read_file(t.path().string() + "/status");
    ++threads;
    EXPECT_EQ(ids(status, "Uid"), (std::vector<long>{uid, uid, uid, uid})) << t.path();
    EXPECT_EQ(ids(status, "Gid"), (std::vector<long>{gid, gid, gid, gid})) << t.path();
    std::vector<long> groups = ids(status, "Groups");
    std::sort(groups.begin(), groups.end());
    EXPECT_EQ(groups, std::vector<long>(nobody->groups.begin(), nobody->groups.end())) << t.path();
    EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
    EXPECT_NE(status.find("CapPrm:\t0000000000000000"), std::string::npos) << status;
  }
  EXPECT_GT(threads, 2);  // the control loop, a DNS worker and its UDP thread at least

  // state_dir was created for the user, and the user writes the state into it.
  struct stat st {};
  ASSERT_EQ(stat(state_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->uid);
  const std::string state_file = state_dir + "/state.json";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (stat(state_file.c_str(), &st) != 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(stat(state_file.c_str(), &st), 0) << p.log();
  EXPECT_EQ(st.st_uid, nobody->uid);

  // SIGHUP re-reads the files as the user.
  d.write("t.zone", zone_text("192.0.2.2"));
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("msg=\"reloaded\"")) << p.log();
  EXPECT_EQ(www(port, 2), std::set<std::string>{"192.0.2.2"});

  // A new listen address cannot be bound by the user: the reload says a restart is needed, and
  // the port we have keeps serving.
  const std::uint16_t other = free_low_port(port);
  d.write("p.json", R"({ "listen": ["127.0.0.1:)" + std::to_string(port) + R"(", "127.0.0.1:)" +
                        std::to_string(other) + R"("], "workers": 1, "user": "nobody", "state_dir": ")" + state_dir +
                        R"(", "zones": [ { "name": "t.example.", "file": "t.zone" } ] })");
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for("restart needed")) << p.log();
  EXPECT_NE(p.log().find("keys=listen listen_kept=127.0.0.1:" + std::to_string(port)), std::string::npos) << p.log();
  EXPECT_EQ(www(port, 3), std::set<std::string>{"192.0.2.2"});

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
}

TEST(ServicePrivileges, StateDirNotWritableByUserStopsStartup) {
  REQUIRE_ROOT();
  TempDir d;
  chmod(d.file("").c_str(), 0755);
  const std::string state_dir = d.file("state");
  ASSERT_EQ(mkdir(state_dir.c_str(), 0700), 0);  // root's, not the user's
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("p.json", config_text("127.0.0.1:0", R"(, "user": "nobody", "state_dir": ")" + state_dir + "\""));
  const RunResult r = run_pharosd({"-c", d.file("p.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("state_dir is not writable by user nobody"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chown -R nobody: " + state_dir), std::string::npos) << r.err;

  // Given to the user, as the message says, it starts and serves.
  auto nobody = account("nobody");
  ASSERT_TRUE(nobody);
  ASSERT_EQ(chown(state_dir.c_str(), nobody->uid, nobody->gid), 0);
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();
  ASSERT_TRUE(p.wait_for("msg=\"privileges dropped\"")) << p.log();
  EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"});
}

// Needs no root: the name is checked when the configuration is read.
// The installed layout: config changes through the API, made after the switch to the user, write
// the scenario files the user owns; one the user cannot write is refused whole (500, the file and
// the system error), and nothing changes.
TEST(ServicePrivileges, ConfigChangesWriteOnlyTheScenarioFilesTheUserOwns) {
  REQUIRE_ROOT();
  auto nobody = account("nobody");
  ASSERT_TRUE(nobody) << "no user nobody";
  TempDir d;
  chmod(d.file("").c_str(), 0755);
  ASSERT_EQ(mkdir(d.file("scenarios").c_str(), 0750), 0);
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("scenarios/gtm.json", R"({ "checks": { "flag": { "type": "file", "path": "flag.state" } } })");
  d.write("root.json", R"({ "checks": { "rootflag": { "type": "file", "path": "root.state" } } })");
  chmod(d.file("root.json").c_str(), 0644);
  ASSERT_EQ(chown(d.file("scenarios").c_str(), nobody->uid, nobody->gid), 0);
  ASSERT_EQ(chown(d.file("scenarios/gtm.json").c_str(), nobody->uid, nobody->gid), 0);
  d.write("tokens.json", R"({ "tokens": [ { "name": "alice", "role": "operator", "token": "alice-0123456789abcdef" } ] })");
  chmod(d.file("tokens.json").c_str(), 0600);
  d.write("alice", "alice-0123456789abcdef");
  d.write("c.json", R"({ "type": "file", "path": "c.state" })");
  d.write("p.json", config_text("127.0.0.1:0", R"(, "user": "nobody", "scenarios": [ "scenarios/gtm.json", "root.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json" })"));
  Daemon p{d.file("p.json")};
  ASSERT_TRUE(p.wait_for("msg=\"privileges dropped\"")) << p.log();
  std::smatch port;
  const std::string log = p.log();
  ASSERT_TRUE(std::regex_search(log, port, std::regex("control API ready.* port=([0-9]+)"))) << log;
  const auto ctl = [&](const std::string& args) {
    const std::string cmd = std::string(PHAROSCTL_PATH) + " --server 127.0.0.1:" + port[1].str() + " --token-file " +
                            d.file("alice") + " " + args + " > " + d.file("ctl.out") + " 2>&1";
    const int status = std::system(cmd.c_str());
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(d.file("ctl.out"))};
  };

  auto [code, out] = ctl("config set check c2 --file " + d.file("c.json"));  // into the first file
  ASSERT_EQ(code, 0) << out << p.log();
  struct stat st {};
  ASSERT_EQ(stat(d.file("scenarios/gtm.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->uid);
  EXPECT_NE(read_file(d.file("scenarios/gtm.json")).find("\"c2\""), std::string::npos);

  const std::string root_json = read_file(d.file("root.json"));
  std::tie(code, out) = ctl("config set check rootflag --file " + d.file("c.json"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("500 Internal Server Error: " + d.file("root.json") + ": cannot create a temporary file beside"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  EXPECT_EQ(read_file(d.file("root.json")), root_json);
  std::tie(code, out) = ctl("config generation");
  EXPECT_EQ(out, "config_generation: 2\n");
  EXPECT_EQ(www(p.udp_port(), 1), std::set<std::string>{"192.0.2.1"});
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
}

TEST(ServicePrivileges, UnknownUserFailsCheckAndStart) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("p.json", config_text("127.0.0.1:0", R"(, "user": "no-such-user-pharos")"));
  const RunResult check = run_pharosd({"--check", "-c", d.file("p.json")});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(d.file("p.json") + ": /user: no such user \"no-such-user-pharos\""), std::string::npos) << check.err;
  const RunResult start = run_pharosd({"-c", d.file("p.json")});
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_NE(start.err.find("/user: no such user"), std::string::npos) << start.err;

  // Without the key the same files serve.
  d.write("p.json", config_text("127.0.0.1:0"));
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();
  EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"});
  EXPECT_EQ(p.log().find("privileges dropped"), std::string::npos);
}

RunResult run_tool(const std::vector<std::string>& args);

// pharosd started as `a` (through setpriv, from root) with stderr to `err_path`.
pid_t spawn_as(const Account& a, const std::string& config, const std::string& err_path) {
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const std::string uid = "--reuid=" + std::to_string(a.uid), gid = "--regid=" + std::to_string(a.gid);
  std::vector<std::string> args = {"/usr/bin/setpriv", uid, gid, "--clear-groups", PHAROSD_PATH, "-c", config};
  std::vector<char*> argv;
  for (auto& x : args) argv.push_back(x.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(devnull, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(err);
  close(devnull);
  return pid;
}

// Waits (bounded) until the file holds `needle`; returns its text.
std::string wait_in_file(const std::string& path, const std::string& needle) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string text = read_file(path);
  while (text.find(needle) == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    text = read_file(path);
  }
  return text;
}

// Started by an unprivileged user: without "user" it serves and reloads as before; with its own
// name it has nothing to do; with another user's it refuses clearly.
TEST(ServicePrivileges, NonRootStartKeepsWorking) {
  REQUIRE_ROOT();  // to become nobody in the first place
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv (util-linux) is not installed";
  auto nobody = account("nobody");
  ASSERT_TRUE(nobody);
  TempDir d;
  chmod(d.file("").c_str(), 0777);  // nobody reads the files and writes its state
  d.write("t.zone", zone_text("192.0.2.1"));
  const std::string state_dir = d.file("state");

  d.write("p.json", config_text("127.0.0.1:0", R"(, "user": "daemon")"));
  const RunResult other = run_tool({"/usr/bin/setpriv", "--reuid=" + std::to_string(nobody->uid),
                                    "--regid=" + std::to_string(nobody->gid), "--clear-groups", PHAROSD_PATH, "-c",
                                    d.file("p.json")});
  EXPECT_EQ(other.exit_code, 1) << other.out;
  EXPECT_NE(other.out.find("/user: pharosd runs as uid " + std::to_string(nobody->uid) +
                           ", not root: it cannot become user daemon"), std::string::npos) << other.out;

  for (const std::string& extra : {std::string(), std::string(R"(, "user": "nobody")")}) {
    d.write("p.json", config_text("127.0.0.1:0", R"(, "state_dir": ")" + state_dir + "\"" + extra));
    const std::string err = d.file("stderr");
    const pid_t pid = spawn_as(*nobody, d.file("p.json"), err);
    std::string log = wait_in_file(err, "msg=\"started\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex("listening udp 127\\.0\\.0\\.1:([0-9]+)"))) << log;
    const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    EXPECT_EQ(www(port, 1), std::set<std::string>{"192.0.2.1"});
    d.write("t.zone", zone_text("192.0.2.9"));
    kill(pid, SIGHUP);
    log = wait_in_file(err, "msg=\"reloaded\"");
    EXPECT_EQ(www(port, 2), std::set<std::string>{"192.0.2.9"}) << log;
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(err);
    log = read_file(err);
    EXPECT_EQ(log.find("privileges dropped"), std::string::npos) << log;
    EXPECT_EQ(log.find("already running as the configured user") != std::string::npos, !extra.empty()) << log;
    d.write("t.zone", zone_text("192.0.2.1"));
  }
}

// ---- graceful stop ----

constexpr int kBigRecords = 240;

// A TCP client with a small receive buffer (set before connecting, so the window stays small).
Socket small_window_client(std::uint16_t port) {
  Socket s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  const int small = 4096;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const sockaddr_in a = loopback(port);
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) s.reset();
  return s;
}

Bytes pipelined(std::uint16_t first_id, int n, const char* name, std::uint16_t qtype) {
  Bytes all;
  for (int i = 0; i < n; ++i) {
    const Bytes f = framed(make_query(static_cast<std::uint16_t>(first_id + i), name, qtype));
    all.insert(all.end(), f.begin(), f.end());
  }
  return all;
}

// Connects until refused (true) or the deadline passes (false).
bool refused_within(std::uint16_t port, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    Socket s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    const sockaddr_in a = loopback(port);
    if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno == ECONNREFUSED) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(ServiceStop, AnswersEveryPipelinedQueryAlreadySentThenRefusesAndExits) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1", kBigRecords));
  d.write("p.json", config_text("127.0.0.1:0", R"(, "stop_timeout": "20s")"));
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();

  // Backpressure: 150 answers of 60 KB (9 MB, more than the kernel buffers on both sides hold)
  // cannot be written to a client that does not read, so many queries sit read but unanswered in
  // the server when the stop comes.
  Socket held = small_window_client(port);
  ASSERT_TRUE(held);
  constexpr int kHeld = 150;
  ASSERT_TRUE(send_all(held.fd(), pipelined(1, kHeld, "big.t.example", 16 /* TXT */)));
  ASSERT_TRUE(wait_readable(held.fd(), 5000));  // the server has read them and started answering

  // A second client whose queries are sent right before SIGTERM, after one answer proved the
  // connection accepted: they may still be in the socket buffer when the stop comes.
  const sockaddr_in a = loopback(port);
  Socket late = tcp_connect(reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ASSERT_TRUE(late);
  ASSERT_TRUE(send_all(late.fd(), framed(make_query(100, "www.t.example", 1))));
  ASSERT_TRUE(tcp_read_message(late.fd(), 5000));
  constexpr int kLate = 5;
  ASSERT_TRUE(send_all(late.fd(), pipelined(101, kLate, "www.t.example", 1)));
  p.signal(SIGTERM);

  ASSERT_TRUE(p.wait_for("msg=\"stopping\"")) << p.log();
  EXPECT_TRUE(refused_within(port, 10'000)) << "new connections are still accepted after SIGTERM";

  for (int i = 0; i < kLate; ++i) {
    auto m = tcp_read_message(late.fd(), 5000);
    ASSERT_TRUE(m) << "late answer " << i << " missing\n" << p.log();
    const Parsed r = parse_response(*m);
    EXPECT_EQ(r.id, 101 + i);
    EXPECT_EQ(r.addresses, std::set<std::string>{"192.0.2.1"});
  }
  EXPECT_TRUE(wait_closed(late.fd(), 5000));
  for (int i = 0; i < kHeld; ++i) {
    auto m = tcp_read_message(held.fd(), 5000);
    ASSERT_TRUE(m) << "answer " << i << " of " << kHeld << " missing\n" << p.log();
    const Parsed r = parse_response(*m);
    EXPECT_EQ(r.id, 1 + i);
    EXPECT_EQ(r.rcode, 0);
    EXPECT_EQ(r.answers, static_cast<std::size_t>(kBigRecords));
  }
  EXPECT_TRUE(wait_closed(held.fd(), 5000));  // everything owed was sent, then it closed
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
}

TEST(ServiceStop, ClientThatNeverReadsCannotHoldTheStopPastStopTimeout) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1", kBigRecords));
  d.write("p.json", config_text("127.0.0.1:0", R"(, "stop_timeout": "300ms")"));
  Daemon p{d.file("p.json")};
  const std::uint16_t port = p.udp_port();
  ASSERT_NE(port, 0) << p.log();
  Socket stuck = small_window_client(port);
  ASSERT_TRUE(stuck);
  ASSERT_TRUE(send_all(stuck.fd(), pipelined(1, 150, "big.t.example", 16)));
  ASSERT_TRUE(wait_readable(stuck.fd(), 5000));
  // Still serving before the stop.
  EXPECT_EQ(www(port, 2), std::set<std::string>{"192.0.2.1"});
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10'000), 0) << p.log();
  EXPECT_NE(p.log().find("msg=\"stopped\""), std::string::npos) << p.log();
}

// ---- configuration keys ----

TEST(ServiceConfig, ReadsUserGroupAndStopTimeout) {
  auto c = app::parse_config(R"({"listen": ["127.0.0.1:53"], "user": "nobody", "stop_timeout": "7s"})", "p.json");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->run_as.user, "nobody");
  EXPECT_EQ(c->run_as.uid, getpwnam("nobody")->pw_uid);
  EXPECT_EQ(c->stop_timeout_ms, 7000u);
  EXPECT_EQ(c->server_options().drain_timeout_ms, 7000u);
  auto dflt = app::parse_config(R"({"listen": ["127.0.0.1:53"]})", "p.json");
  ASSERT_TRUE(dflt);
  EXPECT_FALSE(dflt->run_as.enabled());
  EXPECT_EQ(dflt->stop_timeout_ms, 5000u);
}

TEST(ServiceConfig, RejectsBadAccountsWithPointers) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"listen": ["127.0.0.1:53"], "user": "no-such-user-pharos"})", "p.json: /user: no such user \"no-such-user-pharos\""},
      {R"({"listen": ["127.0.0.1:53"], "user": "root"})", "p.json: /user: \"root\" is root"},
      {R"({"listen": ["127.0.0.1:53"], "user": ""})", "p.json: /user: must not be empty"},
      {R"({"listen": ["127.0.0.1:53"], "user": 7})", "p.json: /user: "},
      {R"({"listen": ["127.0.0.1:53"], "group": "nogroup"})", "p.json: /group: needs \"user\""},
      {R"({"listen": ["127.0.0.1:53"], "user": "nobody", "group": "no-such-group-pharos"})", "p.json: /group: no such group"},
      {R"({"listen": ["127.0.0.1:53"], "stop_timeout": "soon"})", "p.json: /stop_timeout: "},
  };
  for (const auto& [text, expected] : cases) {
    auto c = app::parse_config(text, "p.json");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().to_string().rfind(expected, 0), 0u) << c.error().to_string();
  }
  EXPECT_TRUE(app::parse_config(R"({"listen": ["127.0.0.1:53"], "user": "nobody"})", "p.json"));
}

// ---- log lines ----

TEST(ServiceLog, JournalLinesStartWithSyslogPriority) {
  EXPECT_EQ(app::format_log_line(LogLevel::kError, "cannot start", {{"error", "x"}}, true),
            "<3>level=error msg=\"cannot start\" error=x\n");
  EXPECT_EQ(app::format_log_line(LogLevel::kWarn, "w", {}, true).rfind("<4>level=warn ", 0), 0u);
  EXPECT_EQ(app::format_log_line(LogLevel::kInfo, "i", {}, true).rfind("<6>level=info ", 0), 0u);
  EXPECT_EQ(app::format_log_line(LogLevel::kDebug, "d", {}, true).rfind("<7>level=debug ", 0), 0u);
  EXPECT_EQ(app::format_log_line(LogLevel::kInfo, "i", {}, false), "level=info msg=\"i\"\n");
}

TEST(ServiceLog, EveryEventIsOneLine) {
  const std::string line = app::format_log_line(
      LogLevel::kWarn, "bad\nmsg \"q\"\r", {{"v", "a\nb\rc\td\x01" "e\x7f" "f\\g\"h"}, {"k", "x=y"}, {"plain", "ok"}});
  EXPECT_EQ(line, "level=warn msg=\"bad\\nmsg \\\"q\\\"\\r\" v=\"a\\nb\\rc\\td\\x01e\\x7ff\\\\g\\\"h\" k=\"x=y\" plain=ok\n");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  for (char c : line.substr(0, line.size() - 1)) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << line;
}

TEST(ServiceLog, JournalStreamMustNameTheSameFile) {
  TempDir d;
  d.write("f", "x");
  const int fd = open(d.file("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  const std::string same = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_TRUE(app::is_journal_stream(same.c_str(), fd));
  EXPECT_FALSE(app::is_journal_stream(other.c_str(), fd));
  EXPECT_FALSE(app::is_journal_stream(nullptr, fd));
  EXPECT_FALSE(app::is_journal_stream("", fd));
  EXPECT_FALSE(app::is_journal_stream("12", fd));
  EXPECT_FALSE(app::is_journal_stream((same + "x").c_str(), fd));
  close(fd);
}

// pharosd started with stderr on a file that JOURNAL_STREAM names writes `<N>` prefixes; the
// same daemon without it writes plain lines (the other tests).
TEST(ServiceLog, DaemonPrefixesLinesWhenStderrIsTheJournal) {
  TempDir d;
  d.write("t.zone", zone_text("192.0.2.1"));
  d.write("p.json", config_text("127.0.0.1:0"));
  const std::string err_path = d.file("stderr");
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(err, 0);
  struct stat st {};
  ASSERT_EQ(fstat(err, &st), 0);
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const pid_t pid = spawn({"pharosd", "-c", d.file("p.json")}, devnull, err,
                          {"JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)});
  close(devnull);
  close(err);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string log;
  while (log.find("msg=\"started\"") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    log = read_file(err_path);
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("listening udp 127\\.0\\.0\\.1:([0-9]+)"))) << log;
  EXPECT_EQ(www(static_cast<std::uint16_t>(std::stoi(m[1].str())), 1), std::set<std::string>{"192.0.2.1"});
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  log = read_file(err_path);
  std::istringstream in(log);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_TRUE(std::regex_match(line, std::regex("<[3467]>level=(error|warn|info|debug) msg=\".*"))) << line;
  }
  EXPECT_GT(lines, 3);
}

// ---- the unit file and the install script ----

// Runs a program to completion (bounded), stdout and stderr together in `out`.
RunResult run_tool(const std::vector<std::string>& args) {
  RunResult res;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return res;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  char buf[4096];
  for (ssize_t n; wait_readable(out[0], 60'000) && (n = read(out[0], buf, sizeof buf)) > 0;) {
    res.out.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return res;
}

TEST(ServiceUnit, SystemdAnalyzeVerifiesTheUnit) {
  if (access("/usr/bin/systemd-analyze", X_OK) != 0) GTEST_SKIP() << "systemd-analyze is not installed here";
  TempDir d;
  // The unit as installed, with ExecStart pointing at the binary just built (verify checks that
  // the command exists and is executable).
  std::string unit = read_file(std::string(PHAROS_SOURCE_DIR) + "/dist/pharosd.service");
  ASSERT_NE(unit.find("ExecStart=/usr/local/sbin/pharosd -c /etc/pharos/pharos.json"), std::string::npos);
  unit = std::regex_replace(unit, std::regex("/usr/local/sbin/pharosd"), PHAROSD_PATH);
  d.write("pharosd.service", unit);
  const RunResult r = run_tool({"/usr/bin/systemd-analyze", "verify", d.file("pharosd.service")});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // Unknown keys and bad values are only warnings for systemd: none may mention our unit.
  EXPECT_EQ(r.out.find("pharosd.service"), std::string::npos) << r.out;
  EXPECT_NE(unit.find("Type=notify"), std::string::npos);
  EXPECT_NE(unit.find("WatchdogSec="), std::string::npos);
}

// The script staged into a directory: every file where the unit and docs say, the example
// configuration valid as installed (with a user this host has in place of pharos).
TEST(ServiceInstall, StagesEveryFileAndTheExampleConfigurationChecks) {
  TempDir d;
  const std::string build = fs::path(PHAROSD_PATH).parent_path().parent_path().string();
  const RunResult r = run_tool({"/bin/bash", std::string(PHAROS_SOURCE_DIR) + "/scripts/install-service.sh",
                                "--destdir", d.file("root"), "--build-dir", build});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string root = d.file("root");
  for (const char* f : {"/usr/local/sbin/pharosd", "/usr/local/bin/pharosctl"}) {
    EXPECT_EQ(access((root + f).c_str(), X_OK), 0) << f;
  }
  for (const char* f : {"/etc/systemd/system/pharosd.service", "/etc/sysusers.d/pharos.conf", "/etc/tmpfiles.d/pharos.conf",
                        "/etc/pharos/pharos.json", "/etc/pharos/tokens.json", "/etc/pharos/scenarios/gtm.json",
                        "/etc/pharos/zones/example.com.zone", "/usr/local/share/doc/pharos/operations.md"}) {
    EXPECT_TRUE(fs::is_regular_file(root + f)) << f;
  }
  struct stat st {};
  ASSERT_EQ(stat((root + "/etc/pharos/pharos.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(stat((root + "/var/lib/pharos").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  if (access("/usr/bin/systemd-sysusers", X_OK) == 0 || access("/bin/systemd-sysusers", X_OK) == 0) {
    EXPECT_NE(read_file(root + "/etc/passwd").find("pharos:x:"), std::string::npos);
  }

  // The example configuration is valid; "pharos" exists only inside the staged root.
  std::string config = read_file(root + "/etc/pharos/pharos.json");
  ASSERT_NE(config.find(R"("user": "pharos")"), std::string::npos) << config;
  d.write("root/etc/pharos/pharos.json", std::regex_replace(config, std::regex(R"("user": "pharos")"), R"("user": "nobody")"));
  const RunResult check = run_pharosd({"--check", "-c", root + "/etc/pharos/pharos.json"});
  EXPECT_EQ(check.exit_code, 0) << check.err;

  // Installing again keeps the operator's configuration.
  d.write("root/etc/pharos/pharos.json", "{ \"edited\": true }");
  ASSERT_EQ(run_tool({"/bin/bash", std::string(PHAROS_SOURCE_DIR) + "/scripts/install-service.sh", "--destdir",
                      root, "--build-dir", build}).exit_code, 0);
  EXPECT_EQ(read_file(root + "/etc/pharos/pharos.json"), "{ \"edited\": true }");
}

}  // namespace
}  // namespace pharos::test

