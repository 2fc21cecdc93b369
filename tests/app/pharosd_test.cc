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

#include "tests/dns/dns_client.h"

namespace pharos::test {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pharosd-test-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Written to a temporary name and renamed, so a reload never reads half a file.
  void write(const std::string& name, const std::string& text) const {
    const std::string tmp = file(name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, file(name));
  }

 private:
  std::string path_;
};

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

pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
  if (getppid() != parent) _exit(126);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(PHAROSD_PATH, argv.data());
  _exit(127);
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs pharosd to completion (bounded), capturing stdout and stderr.
RunResult run_pharosd(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return {};
  std::vector<std::string> full = {"pharosd"};
  full.insert(full.end(), args.begin(), args.end());
  const pid_t pid = spawn(full, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  RunResult r;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && poll(fds, 2, ms_left(deadline)) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (open_fds > 0) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A running daemon whose log is collected by a reader thread.
class Daemon {
 public:
  explicit Daemon(const std::string& config) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_ = spawn({"pharosd", "-c", config}, devnull, fds[1]);
    close(devnull);
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard<std::mutex> lock(mu_);
        log_.append(buf, static_cast<std::size_t>(n));
      }
      close(fd);
    });
  }
  ~Daemon() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  std::string log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  int count(const std::string& needle) {
    const std::string l = log();
    int n = 0;
    for (auto at = l.find(needle); at != std::string::npos; at = l.find(needle, at + 1)) ++n;
    return n;
  }
  // Waits until `needle` appears at least `times` times in the log.
  bool wait_for(const std::string& needle, int times = 1, int timeout_ms = 5000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      if (count(needle) >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return count(needle) >= times;
  }
  // The UDP port from "listening udp 127.0.0.1:PORT".
  std::uint16_t udp_port() {
    if (!wait_for("listening udp 127.0.0.1:")) return 0;
    std::smatch m;
    const std::string l = log();
    if (!std::regex_search(l, m, std::regex("listening udp 127\\.0\\.0\\.1:([0-9]+)"))) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1].str()));
  }
  void signal(int sig) { kill(pid_, sig); }
  // The exit code, or -1 if it did not exit within the timeout (or died of a signal).
  int wait_exit(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::string log_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
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
