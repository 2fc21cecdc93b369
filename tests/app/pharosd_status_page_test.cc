// pharosd_status_page_test.cc: the status page of a real pharosd with real health targets: read
// by headless Chromium (DOM and screenshot), its timeline across a restart, bad requests to it,
// and "public": false. Chromium only ever talks to loopback.
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>

#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

struct HttpReply {
  int status = 0;
  std::string head, body;
};

// One HTTP/1.1 exchange on a fresh connection that the server closes after answering (bounded).
HttpReply http(std::uint16_t port, const std::string& request) {
  HttpReply r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  sockaddr_in to = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return r;
  }
  std::string all;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  pollfd p{fd, POLLIN, 0};
  char buf[8192];
  while (poll(&p, 1, ms_left(deadline)) > 0) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const auto end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  // libmicrohttpd may send a chunked body: the checks below look for text in it, which a chunk
  // boundary could split; the pages here are sent whole (one chunk), so strip its framing.
  if (r.head.find("chunked") != std::string::npos) {
    std::string plain;
    std::size_t at = 0;
    while (at < r.body.size()) {
      const std::size_t eol = r.body.find("\r\n", at);
      if (eol == std::string::npos) break;
      const std::size_t len = std::strtoul(r.body.c_str() + at, nullptr, 16);
      if (len == 0) break;
      plain += r.body.substr(eol + 2, len);
      at = eol + 2 + len + 2;
    }
    r.body = plain;
  }
  return r;
}

HttpReply get(std::uint16_t port, const std::string& path, const std::string& token = "") {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  return http(port, req + "\r\n");
}

// Runs a shell command (already bounded by `timeout`) and returns its stdout.
std::string run(const std::string& cmd) { return run_shell(cmd).out; }

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

const char* const kOperator = "alice-0123456789abcdef";
const char* const kReader = "bob-0123456789abcdef01";

class PharosdStatusPage : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("t.zone", "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n");
    dir_.write("tokens.json", std::string(R"({ "tokens": [
      { "name": "alice", "role": "operator", "token": ")") + kOperator + R"(" },
      { "name": "bob", "role": "read", "token": ")" + kReader + "\" } ] }");
    chmod(dir_.file("tokens.json").c_str(), 0600);
    // dc3's target is closed from the start: the page has a DC that is down.
    targets_[2].close();
    std::string dcs;
    for (int i = 0; i < 3; ++i)
      dcs += std::string(i ? ",\n" : "") + "\"dc" + std::to_string(i + 1) +
             R"(": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
               "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(targets_[i].port()) + "\" } ] }";
    dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + R"(},
      "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30, "chain": [
        { "dc": "dc1", "rdata": ["192.0.2.1"] }, { "dc": "dc2", "rdata": ["192.0.2.2"] },
        { "dc": "dc3", "rdata": ["192.0.2.3"] } ] } ] })");
    write_config(true);
  }

  void write_config(bool public_read) {
    dir_.write("p.json", std::string(R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": "100ms",
      "state_dir": "state", "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json", "public": )") +
                               (public_read ? "true" : "false") + " } }");
  }

  ::testing::AssertionResult start() {
    daemon_ = std::make_unique<Daemon>(dir_.file("p.json"));
    if (!daemon_->wait_for("control API ready")) return ::testing::AssertionFailure() << daemon_->log();
    const std::string l = daemon_->log();
    const auto port = l.find(" port=", l.find("control API ready"));
    if (port == std::string::npos) return ::testing::AssertionFailure() << l;
    port_ = static_cast<std::uint16_t>(std::atoi(l.c_str() + port + 6));
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult stop() {
    daemon_->signal(SIGTERM);
    if (daemon_->wait_exit(10'000) != 0) return ::testing::AssertionFailure() << daemon_->log();
    return ::testing::AssertionSuccess();
  }

  // Waits (bounded) until a JSON endpoint's body contains `needle`.
  bool wait_json(const std::string& path, const std::string& needle) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (get(port_, path, kReader).body.find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // dc1 in maintenance with a reason that needs escaping, dc3 down: the page has something to say.
  void make_an_incident() {
    ASSERT_TRUE(wait_json("/v1/datacenters", R"("name":"dc3","status":"noAccess")"));
    ASSERT_TRUE(wait_json("/v1/datacenters", R"("name":"dc2","status":"ok")"));
    const std::string body = R"({"for": "2h", "reason": "kernel <upgrade> & reboot"})";
    const HttpReply r = http(port_, "POST /v1/datacenters/dc1/maintenance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    "Authorization: Bearer " + std::string(kOperator) +
                                    "\r\nContent-Type: application/json\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_EQ(r.status, 200) << r.head << r.body;
    ASSERT_TRUE(wait_json("/v1/records", R"("dc":"dc2")"));
  }

  std::string chromium(const std::string& what) {
    return "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
           "--disable-background-networking --disable-component-update --disable-sync --disable-extensions "
           "--no-first-run --no-default-browser-check --hide-scrollbars "
           "--host-resolver-rules=\"MAP * ~NOTFOUND, EXCLUDE 127.0.0.1\" --user-data-dir=" + dir_.file("chrome") + " " +
           what + " http://127.0.0.1:" + std::to_string(port_) + "/ 2>/dev/null";
  }

  TempDir dir_;
  Target targets_[3];
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

TEST_F(PharosdStatusPage, ChromiumShowsTheIncidentAndTakesAScreenshot) {
  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed: scripts/install-deps.sh --test installs it";
  ASSERT_TRUE(start());
  make_an_incident();

  const std::string dom = run(chromium("--dump-dom"));
  ASSERT_NE(dom.find("</html>"), std::string::npos) << "chromium gave no page:\n" << dom;
  for (const char* id : {"id=\"datacenters\"", "id=\"timeline\"", "id=\"records\"", "id=\"checks\"", "id=\"transitions\""})
    EXPECT_NE(dom.find(id), std::string::npos) << id;
  for (const char* dc : {">dc1<", ">dc2<", ">dc3<"}) EXPECT_NE(dom.find(dc), std::string::npos) << dc;
  EXPECT_NE(dom.find(">maintenance</span>"), std::string::npos);
  EXPECT_NE(dom.find(">noAccess</span>"), std::string::npos);
  // The maintenance reason, escaped on the way and shown as text.
  EXPECT_NE(dom.find("kernel &lt;upgrade&gt; &amp; reboot"), std::string::npos) << dom;
  EXPECT_EQ(dom.find("<upgrade>"), std::string::npos);
  EXPECT_NE(dom.find("set by <b>alice</b>"), std::string::npos);
  // The record answers from dc2, its second entry.
  EXPECT_NE(dom.find("www.t.example. A"), std::string::npos);
  EXPECT_NE(dom.find("<b>dc2</b> <span class=\"muted\">entry 1</span>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("192.0.2.2"), std::string::npos);
  EXPECT_NE(dom.find("auto|dc3|access"), std::string::npos);
  // Transitions: the operator's action and the answer change it caused, and dc3 going down.
  EXPECT_NE(dom.find("<td>maintenance</td>"), std::string::npos);
  EXPECT_NE(dom.find("<td>answer</td>"), std::string::npos);
  EXPECT_NE(dom.find("<td>dc</td>"), std::string::npos);
  // The timeline: an SVG with a band per DC in its current status.
  EXPECT_NE(dom.find("<svg id=\"timeline-svg\""), std::string::npos);
  EXPECT_NE(dom.find("data-dc=\"dc3\""), std::string::npos);
  EXPECT_NE(dom.find("data-status=\"noAccess\""), std::string::npos);
  EXPECT_NE(dom.find("data-status=\"maintenance\""), std::string::npos);
  EXPECT_NE(dom.find("data-status=\"ok\""), std::string::npos);
  // Nothing is loaded from elsewhere.
  EXPECT_FALSE(std::regex_search(dom, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase))) << dom;
  EXPECT_EQ(dom.find("<script"), std::string::npos);

  const std::string png = dir_.file("status.png");
  run(chromium("--screenshot=" + png + " --window-size=1280,1600"));
  std::ifstream in(png, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(data.size(), 20'000u) << "screenshot missing or blank";
  EXPECT_EQ(data.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  ASSERT_EQ(data.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(data, 16), 1280u);
  EXPECT_EQ(be32(data, 20), 1600u);
  if (const char* keep = std::getenv("PHAROS_STATUS_SCREENSHOT")) std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);

  // The API still answers as before.
  const HttpReply status = get(port_, "/v1/status", kReader);
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find("\"config_generation\":1"), std::string::npos) << status.body;
}

TEST_F(PharosdStatusPage, TheTimelineSurvivesARestartWithAGapAndBadRequestsChangeNothing) {
  ASSERT_TRUE(start());
  make_an_incident();
  ASSERT_TRUE(stop());
  ASSERT_TRUE(start());
  ASSERT_TRUE(wait_json("/v1/datacenters", R"("name":"dc3","status":"noAccess")"));

  HttpReply page = get(port_, "/");
  ASSERT_EQ(page.status, 200) << page.head;
  EXPECT_NE(page.head.find("Content-Type: text/html; charset=utf-8"), std::string::npos) << page.head;
  EXPECT_NE(page.head.find("Content-Security-Policy: default-src 'none'"), std::string::npos) << page.head;
  // Before the restart: dc3 down and dc1 in maintenance; then the stop; then the same again.
  const auto row = page.body.find("data-dc=\"dc3\"");
  ASSERT_NE(row, std::string::npos) << page.body;
  const std::string bands = page.body.substr(row, page.body.find("</g>", row) - row);
  const auto down = bands.find("data-status=\"noAccess\"");
  const auto gap = bands.find("data-status=\"not running\"");
  ASSERT_NE(down, std::string::npos) << bands;
  ASSERT_NE(gap, std::string::npos) << bands;
  EXPECT_LT(down, gap);
  EXPECT_NE(bands.find("data-status=\"noAccess\"", gap), std::string::npos) << bands;
  EXPECT_NE(page.body.find("kernel &lt;upgrade&gt; &amp; reboot"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(get(port_, "/status").body.find("id=\"timeline-svg\"") != std::string::npos, true);

  // Bad requests get their 4xx and move nothing.
  EXPECT_EQ(get(port_, "/?x=%zz").status, 400);
  EXPECT_EQ(get(port_, "/", "not-a-token-at-all").status, 401);
  EXPECT_EQ(http(port_, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").status, 405);
  EXPECT_EQ(http(port_, "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404);
  page = get(port_, "/", kReader);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("data-status=\"maintenance\""), std::string::npos);
  const HttpReply status = get(port_, "/v1/status", kReader);
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find("\"datacenters\":3"), std::string::npos) << status.body;
}

TEST_F(PharosdStatusPage, NotPublicNeedsAReadToken) {
  write_config(false);
  ASSERT_TRUE(start());
  const HttpReply anonymous = get(port_, "/");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body.find("<html"), std::string::npos);
  const HttpReply reader = get(port_, "/", kReader);
  EXPECT_EQ(reader.status, 200);
  EXPECT_NE(reader.body.find("id=\"datacenters\""), std::string::npos);
  EXPECT_EQ(get(port_, "/v1/status", kReader).status, 200);
}

}  // namespace
}  // namespace pharos::test
