// harness.cc: runs pharosd as a child process with a temp config, learns its ports from its log
// and stops it at teardown. Nothing here knows what the right answer is; the tests do.
#include "tests/system/harness.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace pharos::system_test {
namespace {

using Clock = std::chrono::steady_clock;

bool is_v6_host(const std::string& host) { return host.find(':') != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// The server process.

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string make_config(const ServerOptions& o, const std::vector<std::string>& zone_files) {
  std::ostringstream j;
  j << "{\n  \"listen\": [";
  for (std::size_t i = 0; i < o.listen.size(); ++i) j << (i ? ", " : "") << json_string(o.listen[i]);
  j << "],\n  \"workers\": " << o.workers << ",\n  \"zones\": [";
  for (std::size_t i = 0; i < o.zones.size(); ++i) {
    j << (i ? ", " : "") << "{ \"name\": " << json_string(o.zones[i].first)
      << ", \"file\": " << json_string(zone_files[i]) << " }";
  }
  j << "],\n  \"edns\": { \"max_udp_payload\": " << o.max_udp_payload << " },\n";
  j << "  \"identity\": "
    << (o.identity_json.empty()
            ? std::string(R"({ "id_server": "", "hostname_bind": "", "version_bind": "", "nsid": "" })")
            : o.identity_json)
    << ",\n";
  j << "  \"tcp\": { \"idle_timeout\": " << json_string(o.tcp_idle_timeout)
    << ", \"message_timeout\": " << json_string(o.tcp_message_timeout)
    << ", \"max_connections\": " << o.tcp_max_connections << " }\n}\n";
  return j.str();
}

// Finds "host:port" in a log line: 127.0.0.1:53, [::1]:53, addr=::1:53, or addr=... port=53.
bool parse_addr(const std::string& line, std::string& host, std::uint16_t& port) {
  static const std::regex v4(R"(((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?::|\s+port=|\s+port\s+)([0-9]{1,5}))");
  static const std::regex v6b(R"(\[([0-9a-fA-F:.]+)\](?::|\s+port=)([0-9]{1,5}))");
  static const std::regex v6(R"(addr=\"?([0-9a-fA-F:]*:[0-9a-fA-F:]*):([0-9]{1,5})\b)");
  static const std::regex v6p(R"(addr=\"?([0-9a-fA-F:]*:[0-9a-fA-F:]*)\"?\s+port=([0-9]{1,5}))");
  std::smatch m;
  for (const auto* re : {&v6b, &v6p, &v4, &v6}) {
    if (std::regex_search(line, m, *re)) {
      host = m[1].str();
      const long p = std::strtol(m[2].str().c_str(), nullptr, 10);
      if (p <= 0 || p > 65535) return false;
      port = static_cast<std::uint16_t>(p);
      return true;
    }
  }
  return false;
}

bool has_word(const std::string& lower, const std::string& w) {
  for (std::size_t at = lower.find(w); at != std::string::npos; at = lower.find(w, at + 1)) {
    const bool left = at == 0 || !std::isalnum(static_cast<unsigned char>(lower[at - 1]));
    const std::size_t end = at + w.size();
    const bool right = end >= lower.size() || !std::isalnum(static_cast<unsigned char>(lower[end]));
    if (left && right) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Server> Server::start(const ServerOptions& opts) {
  std::unique_ptr<Server> s(new Server());
  char tmpl[] = "/tmp/pharos-systest-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return nullptr;
  }
  s->dir_ = tmpl;
  std::vector<std::string> zone_files;
  for (const auto& [name, path] : opts.zones) {
    const std::string base = std::filesystem::path(path).filename().string();
    std::error_code ec;
    std::filesystem::copy_file(path, s->dir_ + "/" + base,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      ADD_FAILURE() << "copy " << path << ": " << ec.message();
      return nullptr;
    }
    zone_files.push_back(base);
  }
  const std::string config = s->dir_ + "/config.json";
  std::ofstream(config) << make_config(opts, zone_files);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return nullptr;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return nullptr;
  }
  if (pid == 0) {
    // Dies with the test binary even if the test crashes before its teardown.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execl(PHAROSD_PATH, "pharosd", "-c", config.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "exec %s: %s\n", PHAROSD_PATH, std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  s->pid_ = pid;
  s->out_fd_ = fds[0];
  s->reader_ = std::thread([srv = s.get()] { srv->reader_loop(); });

  // Wait for one UDP and one TCP listener per configured address.
  const std::size_t want = opts.listen.size();
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::size_t udp = 0, tcp = 0;
    {
      std::lock_guard<std::mutex> lock(s->mu_);
      for (const auto& l : s->listeners_) (l.tcp ? tcp : udp)++;
    }
    if (udp >= want && tcp >= want) break;
    if (!s->alive()) {
      ADD_FAILURE() << "pharosd exited during startup; output:\n" << s->log();
      return nullptr;
    }
    if (Clock::now() > deadline) {
      if (udp > 0) break;
      ADD_FAILURE() << "pharosd did not report its listeners within 10 s; output:\n" << s->log();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // Then wait until it answers a plain query.
  const auto ready_deadline = Clock::now() + std::chrono::seconds(5);
  const Endpoint udp = s->udp(opts.listen.front().rfind("[", 0) == 0 ? AF_INET6 : AF_INET);
  for (;;) {
    const Bytes q = build_query(next_id(), "www.example.com", rrtype::kA);
    if (udp_exchange(udp, q, 200)) break;
    if (!s->alive() || Clock::now() > ready_deadline) {
      ADD_FAILURE() << "pharosd does not answer on " << udp.host << ":" << udp.port << "; output:\n"
                    << s->log();
      return nullptr;
    }
  }
  return s;
}

void Server::reader_loop() {
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      std::string lower = to_lower(line);
      std::lock_guard<std::mutex> lock(mu_);
      if (log_.size() < (1u << 20)) log_ += line + "\n";
      if (lower.find("listen") == std::string::npos) continue;
      const bool udp = has_word(lower, "udp") || lower.find("proto=udp") != std::string::npos;
      const bool tcp = has_word(lower, "tcp") || lower.find("proto=tcp") != std::string::npos;
      std::string host;
      std::uint16_t port = 0;
      if ((!udp && !tcp) || !parse_addr(line, host, port)) continue;
      for (bool is_tcp : {false, true}) {
        if ((is_tcp && !tcp) || (!is_tcp && !udp)) continue;
        const bool dup = std::any_of(listeners_.begin(), listeners_.end(), [&](const Listener& l) {
          return l.tcp == is_tcp && l.host == host && l.port == port;
        });
        if (!dup) listeners_.push_back({is_tcp, host, port});
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  log_ += pending;
}

Server::~Server() {
  if (pid_ > 0 && alive()) {
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    while (alive() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (alive()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      exited_ = true;
    }
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) close(out_fd_);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool Server::alive() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    std::lock_guard<std::mutex> lock(mu_);
    log_ += WIFSIGNALED(status) ? "[harness] pharosd killed by signal " + std::to_string(WTERMSIG(status)) + "\n"
                                : "[harness] pharosd exited with status " + std::to_string(WEXITSTATUS(status)) + "\n";
  }
  return !exited_;
}

std::string Server::log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

Endpoint Server::udp(int family) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& l : listeners_) {
    if (!l.tcp && (is_v6_host(l.host) == (family == AF_INET6))) return make_endpoint(l.host, l.port);
  }
  return make_endpoint(family == AF_INET6 ? "::1" : "127.0.0.1", 0);
}

Endpoint Server::tcp(int family) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& l : listeners_) {
    if (l.tcp && (is_v6_host(l.host) == (family == AF_INET6))) return make_endpoint(l.host, l.port);
  }
  return make_endpoint(family == AF_INET6 ? "::1" : "127.0.0.1", 0);
}

namespace {

// A server that failed to start is not retried for every test of the binary: one report is enough.
Server* shared(std::unique_ptr<Server>& slot, bool& failed, const ServerOptions& opts, const char* what) {
  if (slot && !slot->alive()) {
    ADD_FAILURE() << what << " pharosd died during an earlier test; its output:\n" << slot->log();
    slot.reset();
  }
  if (!slot && !failed) {
    slot = Server::start(opts);
    failed = slot == nullptr;
  } else if (!slot) {
    ADD_FAILURE() << what << " pharosd failed to start earlier in this run";
  }
  return slot.get();
}

}  // namespace

Server* default_server() {
  static std::unique_ptr<Server> s;
  static bool failed = false;
  return shared(s, failed, ServerOptions{}, "default");
}

Server* identity_server() {
  static std::unique_ptr<Server> s;
  static bool failed = false;
  ServerOptions o;
  o.identity_json = std::string("{ \"id_server\": \"") + kIdentityIdServer + "\", \"hostname_bind\": \"" +
                    kIdentityHostname + "\", \"version_bind\": \"" + kIdentityVersion +
                    "\", \"nsid\": \"" + kIdentityNsid + "\" }";
  return shared(s, failed, o, "identity");
}

Server* dual_stack_server() {
  static std::unique_ptr<Server> s;
  static bool failed = false;
  ServerOptions o;
  o.listen = {"127.0.0.1:0", "[::1]:0"};
  return shared(s, failed, o, "dual-stack");
}


}  // namespace pharos::system_test
