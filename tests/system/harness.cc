// harness.cc: runs pharosd as a child process and implements the raw, ldns and dig/kdig clients
// the system tests use. Nothing here knows what the right answer is; the tests do.
#include "tests/system/harness.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace pharos::system_test {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool is_v6_host(const std::string& host) { return host.find(':') != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Endpoints.

Endpoint make_endpoint(const std::string& host, std::uint16_t port) {
  Endpoint e;
  e.host = host;
  e.port = port;
  if (is_v6_host(host)) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&e.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    e.len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&e.addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    e.len = sizeof(sockaddr_in);
  }
  return e;
}

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

// ---------------------------------------------------------------------------------------------
// Building queries.

std::uint16_t next_id() {
  static std::atomic<std::uint16_t> next{static_cast<std::uint16_t>(std::random_device{}())};
  return next.fetch_add(1);
}

void put_u8(Bytes& b, std::uint8_t v) { b.push_back(v); }
void put_u16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(Bytes& b, std::uint32_t v) {
  put_u16(b, static_cast<std::uint16_t>(v >> 16));
  put_u16(b, static_cast<std::uint16_t>(v));
}
void put_bytes(Bytes& b, const Bytes& v) { b.insert(b.end(), v.begin(), v.end()); }
void put_bytes(Bytes& b, std::string_view v) { b.insert(b.end(), v.begin(), v.end()); }

void put_name(Bytes& b, std::string_view name) {
  while (!name.empty() && name != ".") {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    b.push_back(static_cast<std::uint8_t>(label.size()));
    put_bytes(b, label);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

Bytes wire_name(std::string_view name) {
  Bytes b;
  put_name(b, name);
  return b;
}

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
             std::uint16_t ns, std::uint16_t ar) {
  Bytes b;
  for (std::uint16_t v : {id, flags, qd, an, ns, ar}) put_u16(b, v);
  return b;
}

void put_question(Bytes& b, std::string_view name, std::uint16_t type, std::uint16_t cls) {
  put_name(b, name);
  put_u16(b, type);
  put_u16(b, cls);
}

Bytes opt_rr(const Opt& opt) {
  Bytes rdata;
  for (const auto& o : opt.options) {
    put_u16(rdata, o.code);
    put_u16(rdata, static_cast<std::uint16_t>(o.data.size()));
    put_bytes(rdata, o.data);
  }
  Bytes b;
  b.push_back(0);
  put_u16(b, rrtype::kOpt);
  put_u16(b, opt.udp_size);
  put_u8(b, opt.ext_rcode);
  put_u8(b, opt.version);
  put_u16(b, opt.flags);
  put_u16(b, static_cast<std::uint16_t>(rdata.size()));
  put_bytes(b, rdata);
  return b;
}

Bytes rr(std::string_view owner, std::uint16_t type, std::uint16_t cls, std::uint32_t ttl,
         const Bytes& rdata) {
  Bytes b;
  put_name(b, owner);
  put_u16(b, type);
  put_u16(b, cls);
  put_u32(b, ttl);
  put_u16(b, static_cast<std::uint16_t>(rdata.size()));
  put_bytes(b, rdata);
  return b;
}

Bytes tsig_rr(std::string_view key, std::uint16_t original_id, std::uint16_t cls) {
  Bytes rdata;
  put_name(rdata, "hmac-sha256");
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  put_u16(rdata, static_cast<std::uint16_t>(now >> 32));
  put_u32(rdata, static_cast<std::uint32_t>(now));
  put_u16(rdata, 300);  // fudge
  put_u16(rdata, 32);   // MAC size
  rdata.insert(rdata.end(), 32, 0xAB);
  put_u16(rdata, original_id);
  put_u16(rdata, 0);  // error
  put_u16(rdata, 0);  // other len
  return rr(key, rrtype::kTsig, cls, 0, rdata);
}

Bytes build_query(std::uint16_t id, std::string_view name, std::uint16_t type, std::uint16_t cls,
                  std::uint16_t flags, const std::optional<Opt>& opt) {
  Bytes b = header(id, flags, 1, 0, 0, opt ? 1 : 0);
  put_question(b, name, type, cls);
  if (opt) put_bytes(b, opt_rr(*opt));
  return b;
}

Bytes ldns_query(std::uint16_t id, const std::string& name, ldns_rr_type type, ldns_rr_class cls,
                 bool rd, std::optional<std::uint16_t> edns_udp, bool do_bit) {
  ldns_rdf* qname = ldns_dname_new_frm_str(name.c_str());
  if (qname == nullptr) return {};
  std::unique_ptr<ldns_pkt, LdnsPktDeleter> pkt(
      ldns_pkt_query_new(qname, type, cls, rd ? LDNS_RD : 0));
  ldns_pkt_set_id(pkt.get(), id);
  if (edns_udp) {
    ldns_pkt_set_edns_udp_size(pkt.get(), *edns_udp);
    ldns_pkt_set_edns_do(pkt.get(), do_bit);
  }
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) return {};
  Bytes out(wire, wire + size);
  std::free(wire);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Responses.

std::string to_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool decode_name(const Bytes& msg, std::size_t off, std::string& out, std::size_t& next) {
  out.clear();
  bool jumped = false;
  std::size_t wire_len = 0;
  for (int hops = 0; hops < 128; ++hops) {
    if (off >= msg.size()) return false;
    const std::uint8_t len = msg[off];
    if ((len & 0xC0) == 0xC0) {
      if (off + 1 >= msg.size()) return false;
      const std::size_t target = static_cast<std::size_t>(((len & 0x3F) << 8) | msg[off + 1]);
      if (target >= off) return false;  // pointers must point strictly backwards
      if (!jumped) next = off + 2;
      jumped = true;
      off = target;
      continue;
    }
    if ((len & 0xC0) != 0) return false;
    wire_len += len + 1u;
    if (wire_len > 255) return false;
    if (len == 0) {
      if (!jumped) next = off + 1;
      if (out.empty()) out = ".";
      return true;
    }
    if (off + 1 + len > msg.size()) return false;
    out.append(reinterpret_cast<const char*>(&msg[off + 1]), len);
    out += '.';
    off += 1 + len;
  }
  return false;
}

Response::Response(Bytes wire) : wire_(std::move(wire)) {
  ldns_pkt* p = nullptr;
  const ldns_status st = ldns_wire2pkt(&p, wire_.data(), wire_.size());
  if (st == LDNS_STATUS_OK) {
    pkt_.reset(p);
  } else {
    error_ = std::string("ldns_wire2pkt: ") + ldns_get_errorstr_by_id(st);
  }
  walk();
}

void Response::walk() {
  if (wire_.size() < 12) {
    error_ += " shorter than a header";
    return;
  }
  std::size_t off = 12;
  const std::uint16_t counts[4] = {qdcount(), ancount(), nscount(), arcount()};
  for (int sec = 0; sec < 4; ++sec) {
    for (std::uint16_t i = 0; i < counts[sec]; ++i) {
      RawRr r;
      r.section = sec;
      r.owner_offset = off;
      if (!decode_name(wire_, off, r.owner, off) || off + 4 > wire_.size()) {
        error_ += " bad name or truncated record";
        return;
      }
      r.type = pharos::dns::load_u16(&wire_[off]);
      r.cls = pharos::dns::load_u16(&wire_[off + 2]);
      off += 4;
      if (sec == 0) {
        question_end_ = off;
        rrs_.push_back(r);
        continue;
      }
      if (off + 6 > wire_.size()) {
        error_ += " truncated RR header";
        return;
      }
      r.ttl = pharos::dns::load_u32(&wire_[off]);
      r.rdlength = pharos::dns::load_u16(&wire_[off + 4]);
      off += 6;
      r.rdata_offset = off;
      if (off + r.rdlength > wire_.size()) {
        error_ += " RDATA past the end";
        return;
      }
      off += r.rdlength;
      if (r.type == rrtype::kOpt) {
        opt_.count++;
        if (!opt_.present) {
          opt_.present = true;
          opt_.owner_root = r.owner == ".";
          opt_.udp_size = r.cls;
          opt_.ext_rcode = static_cast<std::uint8_t>(r.ttl >> 24);
          opt_.version = static_cast<std::uint8_t>(r.ttl >> 16);
          opt_.flags = static_cast<std::uint16_t>(r.ttl);
          std::size_t o = r.rdata_offset;
          const std::size_t end = r.rdata_offset + r.rdlength;
          while (o + 4 <= end) {
            EdnsOption opt;
            opt.code = pharos::dns::load_u16(&wire_[o]);
            const std::uint16_t len = pharos::dns::load_u16(&wire_[o + 2]);
            o += 4;
            if (o + len > end) {
              error_ += " EDNS option overruns OPT";
              return;
            }
            opt.data.assign(wire_.begin() + static_cast<long>(o), wire_.begin() + static_cast<long>(o + len));
            o += len;
            opt_.options.push_back(std::move(opt));
          }
          if (o != end) {
            error_ += " OPT RDATA has trailing bytes";
            return;
          }
        }
      }
      rrs_.push_back(r);
    }
  }
  if (off != wire_.size()) {
    error_ += " trailing bytes after the counted records";
    return;
  }
  walked_ = true;
}

std::uint16_t Response::id() const { return wire_.size() >= 2 ? pharos::dns::load_u16(&wire_[0]) : 0; }
std::uint16_t Response::flags() const { return wire_.size() >= 4 ? pharos::dns::load_u16(&wire_[2]) : 0; }
std::uint16_t Response::qdcount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[4]) : 0; }
std::uint16_t Response::ancount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[6]) : 0; }
std::uint16_t Response::nscount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[8]) : 0; }
std::uint16_t Response::arcount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[10]) : 0; }

int Response::rcode() const { return header_rcode() | (opt_.present ? opt_.ext_rcode << 4 : 0); }

bool OptView::has_option(std::uint16_t code) const { return option(code) != nullptr; }
const EdnsOption* OptView::option(std::uint16_t code) const {
  for (const auto& o : options) {
    if (o.code == code) return &o;
  }
  return nullptr;
}

std::optional<TsigView> Response::tsig() const {
  for (const auto& r : rrs_) {
    if (r.section != 3 || r.type != rrtype::kTsig) continue;
    TsigView t;
    t.key = to_lower(r.owner);
    t.cls = r.cls;
    t.ttl = r.ttl;
    std::size_t off = r.rdata_offset;
    const std::size_t end = r.rdata_offset + r.rdlength;
    if (!decode_name(wire_, off, t.algorithm, off)) return std::nullopt;
    t.algorithm = to_lower(t.algorithm);
    if (off + 10 > end) return std::nullopt;
    off += 6;  // time signed
    t.fudge = pharos::dns::load_u16(&wire_[off]);
    t.mac_size = pharos::dns::load_u16(&wire_[off + 2]);
    off += 4 + t.mac_size;
    if (off + 6 > end) return std::nullopt;
    t.original_id = pharos::dns::load_u16(&wire_[off]);
    t.error = pharos::dns::load_u16(&wire_[off + 2]);
    t.other_len = pharos::dns::load_u16(&wire_[off + 4]);
    return t;
  }
  return std::nullopt;
}

Bytes Response::question_bytes() const {
  if (qdcount() == 0 || !walked_) return {};
  return Bytes(wire_.begin() + 12, wire_.begin() + static_cast<long>(question_end_));
}

namespace {

std::string rr_text(const ldns_rr* rr, bool lower_owner) {
  char* s = ldns_rr2str(rr);
  std::string t = s ? s : "";
  std::free(s);
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  std::replace(t.begin(), t.end(), '\t', ' ');
  if (lower_owner) {
    const std::size_t sp = t.find(' ');
    for (std::size_t i = 0; i < sp && i < t.size(); ++i) {
      t[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
    }
  }
  return t;
}

}  // namespace

std::vector<std::string> Response::section_in_order(int section) const {
  std::vector<std::string> out;
  if (!pkt_) return out;
  const ldns_rr_list* list = section == 1   ? ldns_pkt_answer(pkt_.get())
                             : section == 2 ? ldns_pkt_authority(pkt_.get())
                                            : ldns_pkt_additional(pkt_.get());
  for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* r = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(r) == LDNS_RR_TYPE_OPT || ldns_rr_get_type(r) == LDNS_RR_TYPE_TSIG) continue;
    out.push_back(rr_text(r, false));
  }
  return out;
}

std::vector<std::string> Response::section(int section) const {
  std::vector<std::string> out;
  if (!pkt_) return out;
  const ldns_rr_list* list = section == 1   ? ldns_pkt_answer(pkt_.get())
                             : section == 2 ? ldns_pkt_authority(pkt_.get())
                                            : ldns_pkt_additional(pkt_.get());
  for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* r = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(r) == LDNS_RR_TYPE_OPT || ldns_rr_get_type(r) == LDNS_RR_TYPE_TSIG) continue;
    out.push_back(rr_text(r, true));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Response::describe() const {
  std::ostringstream o;
  o << "response of " << wire_.size() << " bytes: id=" << id() << " flags=0x" << std::hex << flags()
    << std::dec << " opcode=" << opcode() << " rcode=" << rcode() << " qd/an/ns/ar=" << qdcount()
    << "/" << ancount() << "/" << nscount() << "/" << arcount();
  if (opt_.present) {
    o << " OPT{udp=" << opt_.udp_size << " ext=" << int(opt_.ext_rcode) << " v=" << int(opt_.version)
      << " flags=0x" << std::hex << opt_.flags << std::dec << " options=" << opt_.options.size() << "}";
  }
  if (!error_.empty()) o << " [" << error_ << "]";
  o << "\n";
  if (pkt_) {
    char* s = ldns_pkt2str(pkt_.get());
    if (s) o << s;
    std::free(s);
  }
  o << "hex:";
  for (std::size_t i = 0; i < wire_.size() && i < 256; ++i) {
    char h[4];
    std::snprintf(h, sizeof h, " %02x", wire_[i]);
    o << h;
  }
  return o.str();
}

// ---------------------------------------------------------------------------------------------
// Transports.

UdpClient::UdpClient(const Endpoint& server, std::uint16_t local_port) {
  fd_ = socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const Endpoint local = make_endpoint(server.family() == AF_INET6 ? "::1" : "127.0.0.1", local_port);
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0 ||
      connect(fd_, reinterpret_cast<const sockaddr*>(&server.addr), server.len) != 0) {
    bind_errno_ = errno;
    close(fd_);
    fd_ = -1;
  }
}

UdpClient::~UdpClient() {
  if (fd_ >= 0) close(fd_);
}

bool UdpClient::send(const Bytes& msg) {
  return fd_ >= 0 && ::send(fd_, msg.data(), msg.size(), 0) == static_cast<ssize_t>(msg.size());
}

std::optional<Bytes> UdpClient::recv(int timeout_ms) {
  if (fd_ < 0) return std::nullopt;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    Bytes buf(65535);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;  // ICMP from an earlier send
      return std::nullopt;
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
}

TcpClient::TcpClient(const Endpoint& server) {
  fd_ = socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&server.addr), server.len) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) close(fd_);
}

std::uint16_t TcpClient::local_port() const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

bool TcpClient::send_raw(const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool TcpClient::send_framed(const Bytes& msg) {
  Bytes framed;
  put_u16(framed, static_cast<std::uint16_t>(msg.size()));
  put_bytes(framed, msg);
  return send_raw(framed);
}

bool TcpClient::read_exact(std::uint8_t* p, std::size_t n, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t done = 0;
  while (done < n) {
    pollfd pfd{fd_, POLLIN, 0};
    const int r = poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t got = ::recv(fd_, p + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

std::optional<Bytes> TcpClient::recv_framed(int timeout_ms) {
  if (fd_ < 0) return std::nullopt;
  std::uint8_t len[2];
  if (!read_exact(len, 2, timeout_ms)) return std::nullopt;
  Bytes msg(pharos::dns::load_u16(len));
  if (!read_exact(msg.data(), msg.size(), timeout_ms)) return std::nullopt;
  return msg;
}

bool TcpClient::wait_closed(int timeout_ms, std::size_t* bytes_seen) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t seen = 0;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (bytes_seen) *bytes_seen = seen;
      return true;
    }
    seen += static_cast<std::size_t>(n);
  }
  if (bytes_seen) *bytes_seen = seen;
  return false;
}

void TcpClient::shutdown_write() { shutdown(fd_, SHUT_WR); }

std::optional<Response> udp_exchange(const Endpoint& server, const Bytes& query, int timeout_ms) {
  UdpClient c(server);
  if (!c.send(query)) return std::nullopt;
  auto reply = c.recv(timeout_ms);
  if (!reply) return std::nullopt;
  return Response(std::move(*reply));
}

std::optional<Response> tcp_exchange(const Endpoint& server, const Bytes& query, int timeout_ms) {
  TcpClient c(server);
  if (!c.ok() || !c.send_framed(query)) return std::nullopt;
  auto reply = c.recv_framed(timeout_ms);
  if (!reply) return std::nullopt;
  return Response(std::move(*reply));
}

bool udp_silent(const Endpoint& server, const Bytes& query, int timeout_ms) {
  UdpClient c(server);
  if (!c.send(query)) return false;
  return !c.recv(timeout_ms).has_value();
}

int close_wait_count(std::uint16_t port) {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream s(line);
      std::string sl, local, remote, state;
      s >> sl >> local >> remote >> state;
      const std::size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      const unsigned long p = std::strtoul(local.substr(colon + 1).c_str(), nullptr, 16);
      if (p == port && state == "08") ++count;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// dig and kdig.

std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

namespace {

ToolAnswer parse_tool_output(const std::string& out) {
  ToolAnswer a;
  a.output = out;
  std::smatch m;
  static const std::regex status(R"(status: ([A-Z]+))");
  static const std::regex flags(R"([Ff]lags:([a-z ]*);)");
  if (std::regex_search(out, m, status)) {
    a.ran = true;
    a.status = m[1].str();
  }
  if (std::regex_search(out, m, flags)) {
    std::istringstream s(m[1].str());
    std::string f;
    while (s >> f) a.flags.push_back(f);
    std::sort(a.flags.begin(), a.flags.end());
  }
  std::istringstream lines(out);
  std::string line;
  bool in_answer = false;
  while (std::getline(lines, line)) {
    if (line.find("ANSWER SECTION:") != std::string::npos) {
      in_answer = true;
      continue;
    }
    if (!in_answer) continue;
    if (line.empty() || line[0] == ';') break;
    std::istringstream s(line);
    std::string tok, norm;
    int i = 0;
    while (s >> tok) {
      if (i == 0) tok = to_lower(tok);
      norm += (i++ ? " " : "") + tok;
    }
    a.answer.push_back(norm);
  }
  std::sort(a.answer.begin(), a.answer.end());
  return a;
}

}  // namespace

ToolAnswer run_dig(const Endpoint& server, const std::string& args) {
  return parse_tool_output(run_command("dig @" + server.host + " -p " + std::to_string(server.port) +
                                       " +time=2 +tries=1 " + args));
}

ToolAnswer run_kdig(const Endpoint& server, const std::string& args) {
  return parse_tool_output(run_command("kdig @" + server.host + " -p " + std::to_string(server.port) +
                                       " +time=2 +retry=0 " + args));
}

}  // namespace pharos::system_test
