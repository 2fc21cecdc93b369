// pharosd_harness.h: running the real pharosd binary in tests: a temporary directory for its
// files, a run to completion with captured output, a running daemon whose log a reader thread
// collects, and TCP targets its health checks probe. Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dns/dns_client.h"

namespace pharos::test {

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

// `env`: "NAME=value" entries added to (or replacing) this process's environment for the child.
inline pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd,
                   const std::vector<std::string>& env = {}) {
  // Built before fork: the child of a threaded process may only make async-signal-safe calls.
  std::vector<std::string> env_text = env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& x : env) replaced = replaced || x.rfind(name, 0) == 0;
    if (!replaced) env_text.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
  if (getppid() != parent) _exit(126);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  execve(PHAROSD_PATH, argv.data(), envp.data());
  _exit(127);
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command through popen: its stdout (add " 2>&1" for stderr too) and exit code.
inline RunResult run_shell(const std::string& cmd) {
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs pharosd to completion (bounded), capturing stdout and stderr.
inline RunResult run_pharosd(const std::vector<std::string>& args) {
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
  explicit Daemon(const std::string& config, const std::vector<std::string>& env = {}) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_ = spawn({"pharosd", "-c", config}, devnull, fds[1], env);
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
  pid_t pid() const { return pid_; }
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

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A TCP port that accepts connections (the kernel completes them from the backlog) while open:
// a health-check target the test switches on and off.
class Target {
 public:
  Target() { open(0); }
  ~Target() { close(); }
  std::uint16_t port() const { return port_; }
  void open(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(port);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(fd_, 1024), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  void reopen() { open(port_); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace pharos::test
