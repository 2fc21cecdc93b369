// http_check_test.cc: the http/https prober and CurlMulti against real servers on 127.0.0.1 that
// the tests start on a real libuv loop (HTTP in-process, HTTPS as an openssl s_server child).
#include "health/http_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "health/curl_multi.h"
#include "tests/health/http_test_support.h"
#include "tests/health/probe_test_support.h"

namespace pharos::test::http {
namespace {

using health::CheckSpec;
using health::CheckType;
using health::CurlMulti;
using health::HttpParams;
using health::Prober;
using health::ProbeResult;

// Members are destroyed in reverse: the resolver and CurlMulti close their handles, the server
// closes its connections, then TestLoop drains and fails the test if any handle is left.
class HttpCheck : public ::testing::Test {
 protected:
  HttpParams params(const std::string& path) const {
    HttpParams p;
    p.url = server_.url(path);
    return p;
  }
  std::unique_ptr<Prober> prober(const CheckSpec& spec, health::Resolver* resolver = nullptr) {
    return health::make_http_prober(loop_.get(), curl_, resolver != nullptr ? *resolver : resolver_, spec);
  }
  std::shared_ptr<ProbeRecord> probe(const HttpParams& p, Millis timeout = Millis{2000}) {
    auto pr = prober(spec_with(p, timeout));
    return probe_once(loop_, *pr);
  }
  // Waits for the server to see the client close `n` connections in all.
  bool client_closed(int n) {
    return loop_.run_until([&] { return server_.closed_by_client() >= n; });
  }

  TestLoop loop_;
  HttpTestServer server_{loop_.get()};
  CurlMulti curl_{loop_.get()};
  LiteralResolver resolver_{loop_.get()};
};

// --- status ---------------------------------------------------------------------------------

TEST_F(HttpCheck, UpOn200) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  const auto r = probe(params("/ok"));
  EXPECT_EQ(r->calls, 1);
  EXPECT_FALSE(r->called_inside_start);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "HTTP 200");
  EXPECT_GT(r->result.latency.count(), 0);
}

TEST_F(HttpCheck, DownOn500WithReason) {
  server_.route("/fail", {.status = 500, .body = "boom"});
  const auto r = probe(params("/fail"));
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "HTTP 500 (expected 200)");
}

TEST_F(HttpCheck, AnyExpectedStatusIsUp) {
  server_.route("/empty", {.status = 204});
  server_.route("/busy", {.status = 503});
  HttpParams p = params("/empty");
  p.expect_status = {200, 204};
  EXPECT_TRUE(probe(p)->result.up);
  p.url = server_.url("/busy");
  EXPECT_EQ(probe(p)->result.reason, "HTTP 503 (expected 200, 204)");
}

// --- timeouts and connection failures -------------------------------------------------------

TEST_F(HttpCheck, StalledBodyIsATimeoutAndTheConnectionIsClosed) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  const auto r = probe(params("/slow"), Millis{300});
  EXPECT_EQ(r->calls, 1);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "timeout after 300 ms");
  EXPECT_TRUE(client_closed(1));
}

TEST_F(HttpCheck, SilentServerIsATimeout) {
  server_.route("/silent", {.mode = HttpReply::Mode::kSilent});
  const auto r = probe(params("/silent"), Millis{300});
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "timeout after 300 ms");
}

TEST_F(HttpCheck, ConnectionRefused) {
  HttpParams p;
  p.url = "http://127.0.0.1:" + std::to_string(refused_port()) + "/";
  const auto r = probe(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "connection refused");
}

TEST_F(HttpCheck, TimeoutCoversNameResolution) {
  LiteralResolver hanging{loop_.get(), LiteralResolver::Mode::kHang};
  auto pr = prober(spec_with(params("/ok"), Millis{100}), &hanging);
  const auto r = probe_once(loop_, *pr);
  EXPECT_EQ(r->result.reason, "timeout after 100 ms");
  EXPECT_EQ(hanging.counters().cancelled, 1);
  EXPECT_EQ(hanging.counters().tokens_alive, 0);
}

// --- body -----------------------------------------------------------------------------------

TEST_F(HttpCheck, BodyWithoutTheSubstringIsDown) {
  server_.route("/degraded", {.status = 200, .body = "status: degraded"});
  HttpParams p = params("/degraded");
  p.body_contains = "ok";
  const auto r = probe(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "body does not contain \"ok\"");
}

TEST_F(HttpCheck, BodyWithTheSubstringIsUp) {
  server_.route("/fine", {.status = 200, .body = "status: ok\n"});
  HttpParams p = params("/fine");
  p.body_contains = "ok";
  EXPECT_TRUE(probe(p)->result.up);
}

TEST_F(HttpCheck, BodyRegexMatchAnywhereIsUp) {
  server_.route("/json", {.status = 200, .body = "{\"db\": \"up\", \"status\":  \"up\"}"});
  HttpParams p = params("/json");
  p.body_regex = R"("status":\s*"up")";
  EXPECT_TRUE(probe(p)->result.up);
}

TEST_F(HttpCheck, BodyRegexMismatchIsDown) {
  server_.route("/json", {.status = 200, .body = "{\"status\": \"down\"}"});
  HttpParams p = params("/json");
  p.body_regex = R"("status":\s*"up")";
  const auto r = probe(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, R"(body does not match ""status":\s*"up"")");
}

TEST_F(HttpCheck, BodyRegexAnchorsKeepTheirMeaning) {
  server_.route("/json", {.status = 200, .body = "{\"status\": \"up\"}"});
  HttpParams p = params("/json");
  p.body_regex = R"(^\{"status")";
  EXPECT_TRUE(probe(p)->result.up);
  p.body_regex = R"(^"status")";  // present, but not at the start
  EXPECT_FALSE(probe(p)->result.up);
  p.body_regex = R"(\}$)";
  EXPECT_TRUE(probe(p)->result.up);
}

TEST_F(HttpCheck, BodyMatchSeesOnlyTheFirst64KiB) {
  server_.route("/late", {.status = 200, .body = std::string(health::kHttpBodyKept, 'x') + "ok"});
  HttpParams p = params("/late");
  p.body_contains = "ok";
  EXPECT_EQ(probe(p)->result.reason, "body does not contain \"ok\"");
}

TEST_F(HttpCheck, BodyBeyond64KiBIsReadToTheEnd) {
  server_.route("/big", {.status = 200, .body = "ok" + std::string(1 << 20, 'x')});
  HttpParams p = params("/big");
  p.body_contains = "ok";
  EXPECT_TRUE(probe(p)->result.up);
}

// libstdc++'s default matcher recurses per character: ".*" over 64 KiB overflows the stack.
TEST_F(HttpCheck, RegexOver64KiBOfBodyNeitherCrashesNorBacktracks) {
  server_.route("/aaa", {.status = 200, .body = std::string(health::kHttpBodyKept, 'a')});
  HttpParams p = params("/aaa");
  p.body_regex = "a.*z";
  EXPECT_FALSE(probe(p)->result.up);
  p.body_regex = "(a+)+b";  // exponential for a backtracking matcher
  EXPECT_FALSE(probe(p)->result.up);
  p.body_regex = "^a*$";
  EXPECT_TRUE(probe(p)->result.up);
}

// --- configuration errors -------------------------------------------------------------------

TEST_F(HttpCheck, BackReferenceIsReportedNotThrown) {
  HttpParams p = params("/ok");
  p.body_regex = R"((a)\1)";
  EXPECT_EQ(health::http_check_error(spec_with(p)), "body_regex: back-references are not supported");
  const auto r = probe(p);
  EXPECT_EQ(r->calls, 1);
  EXPECT_FALSE(r->called_inside_start);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "body_regex: back-references are not supported");
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(HttpCheck, InvalidSpecsAreReported) {
  HttpParams p = params("/ok");
  EXPECT_EQ(health::http_check_error(spec_with(p)), "");
  p.body_regex = "(unclosed";
  EXPECT_EQ(health::http_check_error(spec_with(p)).rfind("body_regex: ", 0), 0u);
  p = params("/ok");
  p.url = "ftp://127.0.0.1/";
  EXPECT_EQ(health::http_check_error(spec_with(p)), "url: scheme must be http or https, not \"ftp\"");
  p = params("/ok");
  CheckSpec https = spec_with(p);
  https.type = CheckType::kHttps;
  EXPECT_EQ(health::http_check_error(https), "url: scheme http does not match check type https");
  CheckSpec bad_source = spec_with(params("/ok"));
  bad_source.source_address = "eth0";
  EXPECT_EQ(health::http_check_error(bad_source), "source_address: not an IP address: \"eth0\"");
  p = params("/ok");
  p.method = "GET /x";
  EXPECT_EQ(health::http_check_error(spec_with(p)), "method: not an HTTP method: \"GET /x\"");
  p = params("/ok");
  p.expect_status = {};
  EXPECT_EQ(health::http_check_error(spec_with(p)), "expect_status: empty");
}

TEST_F(HttpCheck, UrlWithoutSchemeTakesTheCheckTypes) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  HttpParams p;
  p.url = "127.0.0.1:" + std::to_string(server_.port()) + "/ok";
  EXPECT_TRUE(probe(p)->result.up);
}

// --- what is sent ---------------------------------------------------------------------------

TEST_F(HttpCheck, HostHeaderIsSentAsConfigured) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  HttpParams p = params("/ok");
  p.host_header = "www.example.test";
  EXPECT_TRUE(probe(p)->result.up);
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].host, "www.example.test");
}

TEST_F(HttpCheck, DefaultHostHeaderIsTheUrlAuthority) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  EXPECT_TRUE(probe(params("/ok"))->result.up);
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].host, "127.0.0.1:" + std::to_string(server_.port()));
}

TEST_F(HttpCheck, MethodIsSentAsConfigured) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  HttpParams p = params("/ok");
  p.method = "HEAD";
  EXPECT_TRUE(probe(p)->result.up);
  p.method = "OPTIONS";
  EXPECT_TRUE(probe(p)->result.up);
  ASSERT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(server_.requests()[0].method, "HEAD");
  EXPECT_EQ(server_.requests()[1].method, "OPTIONS");
}

TEST_F(HttpCheck, SourceAddressIsBound) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  CheckSpec spec = spec_with(params("/ok"));
  spec.source_address = "127.0.0.2";  // on lo with the rest of 127/8
  auto pr = prober(spec);
  const auto r = probe_once(loop_, *pr);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].peer, "127.0.0.2");
  EXPECT_EQ(resolver_.last_family(), AF_INET);
}

// --- names ----------------------------------------------------------------------------------

// curl cannot resolve .invalid: an up result proves the name went through our resolver.
TEST_F(HttpCheck, HostnameIsResolvedByOurResolver) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  NameResolver names{loop_.get(), {{"backend.invalid", "127.0.0.1"}}};
  HttpParams p;
  p.url = "http://backend.invalid:" + std::to_string(server_.port()) + "/ok";
  auto pr = prober(spec_with(p), &names);
  const auto r = probe_once(loop_, *pr);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(names.asked("backend.invalid"), 1);
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].host, "backend.invalid:" + std::to_string(server_.port()));
}

TEST_F(HttpCheck, UnresolvableNameIsDown) {
  NameResolver names{loop_.get(), {}};
  HttpParams p;
  p.url = "http://nosuch.invalid/";
  auto pr = prober(spec_with(p), &names);
  const auto r = probe_once(loop_, *pr);
  EXPECT_EQ(r->calls, 1);
  EXPECT_FALSE(r->called_inside_start);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("resolve nosuch.invalid: ", 0), 0u) << r->result.reason;
}

// --- redirects ------------------------------------------------------------------------------

TEST_F(HttpCheck, RedirectIsNotFollowedByDefault) {
  server_.route("/old", {.status = 302, .headers = {{"Location", "/ok"}}});
  server_.route("/ok", {.status = 200, .body = "ok"});
  const auto r = probe(params("/old"));
  EXPECT_EQ(r->result.reason, "HTTP 302 (expected 200)");
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(HttpCheck, ExpectedRedirectIsUp) {
  server_.route("/old", {.status = 302, .headers = {{"Location", "/ok"}}});
  HttpParams p = params("/old");
  p.expect_status = {302};
  EXPECT_TRUE(probe(p)->result.up);
}

TEST_F(HttpCheck, RedirectIsFollowedWhenAsked) {
  server_.route("/old", {.status = 302, .headers = {{"Location", "/ok"}}});
  server_.route("/ok", {.status = 200, .body = "ok"});
  HttpParams p = params("/old");
  p.follow_redirects = true;
  p.host_header = "www.example.test";
  const auto r = probe(p);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  ASSERT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(server_.requests()[1].target, "/ok");
  EXPECT_EQ(server_.requests()[1].host, "www.example.test");  // same origin keeps the override
  EXPECT_EQ(resolver_.counters().requests, 1);                // and the address
}

TEST_F(HttpCheck, RedirectToAnotherHostIsResolvedByOurResolver) {
  const std::string other = "other.invalid:" + std::to_string(server_.port());
  server_.route("/old", {.status = 301, .headers = {{"Location", "http://" + other + "/ok"}}});
  server_.route("/ok", {.status = 200, .body = "ok"});
  NameResolver names{loop_.get(), {{"other.invalid", "127.0.0.1"}}};
  HttpParams p = params("/old");
  p.follow_redirects = true;
  p.host_header = "www.example.test";
  auto pr = prober(spec_with(p), &names);
  const auto r = probe_once(loop_, *pr);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(names.asked("other.invalid"), 1);
  ASSERT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(server_.requests()[0].host, "www.example.test");
  EXPECT_EQ(server_.requests()[1].host, other);  // the override was for the first origin only
}

TEST_F(HttpCheck, RedirectLoopEnds) {
  server_.route("/loop", {.status = 302, .headers = {{"Location", "/loop"}}});
  HttpParams p = params("/loop");
  p.follow_redirects = true;
  const auto r = probe(p);
  EXPECT_EQ(r->result.reason, "more than 5 redirects");
  EXPECT_EQ(server_.requests().size(), 1u + health::kHttpMaxRedirects);
}

// --- the prober contract --------------------------------------------------------------------

TEST_F(HttpCheck, CancelMidTransferNeverCallsBackAndClosesTheConnection) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  server_.route("/ok", {.status = 200, .body = "ok"});
  auto pr = prober(spec_with(params("/slow")));
  const auto first = start_probe(*pr);
  ASSERT_TRUE(loop_.run_until([&] { return server_.requests().size() == 1; }));
  pr->cancel();
  EXPECT_TRUE(client_closed(1));
  EXPECT_EQ(curl_.in_flight(), 0u);
  // The prober is reusable, and the cancelled callback stays silent while the loop runs on.
  auto spec = spec_with(params("/ok"));
  auto again = prober(spec);
  EXPECT_TRUE(probe_once(loop_, *again)->result.up);
  EXPECT_EQ(first->calls, 0);
}

TEST_F(HttpCheck, ProberIsReusableAfterCancel) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  auto pr = prober(spec_with(params("/slow"), Millis{200}));
  const auto first = start_probe(*pr);
  ASSERT_TRUE(loop_.run_until([&] { return server_.requests().size() == 1; }));
  pr->cancel();
  const auto second = probe_once(loop_, *pr);
  EXPECT_EQ(first->calls, 0);
  EXPECT_EQ(second->calls, 1);
  EXPECT_EQ(second->result.reason, "timeout after 200 ms");
}

TEST_F(HttpCheck, DestroyMidTransferIsSafe) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  auto pr = prober(spec_with(params("/slow")));
  const auto record = start_probe(*pr);
  ASSERT_TRUE(loop_.run_until([&] { return server_.requests().size() == 1; }));
  pr.reset();
  EXPECT_TRUE(client_closed(1));
  EXPECT_EQ(record->calls, 0);
  EXPECT_EQ(curl_.sockets_watched(), 0u);
}

TEST_F(HttpCheck, DestroyWhileResolvingIsSafe) {
  LiteralResolver hanging{loop_.get(), LiteralResolver::Mode::kHang};
  auto pr = prober(spec_with(params("/ok"), Millis{100}), &hanging);
  const auto record = start_probe(*pr);
  loop_.run_until([&] { return hanging.counters().requests == 1; });
  pr.reset();
  EXPECT_EQ(hanging.counters().cancelled, 1);
  EXPECT_EQ(hanging.counters().tokens_alive, 0);
  EXPECT_EQ(record->calls, 0);
}

TEST_F(HttpCheck, DestroyInsideTheCallbackIsSafe) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  auto pr = prober(spec_with(params("/ok")));
  int calls = 0;
  pr->start([&](ProbeResult&& r) {
    ++calls;
    EXPECT_TRUE(r.up);
    pr.reset();
  });
  EXPECT_TRUE(loop_.run_until([&] { return pr == nullptr; }));
  EXPECT_EQ(calls, 1);
}

// Each probe closes its socket and the next one gets the same fd number back: a poll left on the
// old fd would make uv_poll_init fail for the new socket (and that probe time out).
TEST_F(HttpCheck, ChainedProbesReuseTheProberAndFdNumbers) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  auto pr = prober(spec_with(params("/ok")));
  constexpr int kRounds = 50;
  int ups = 0;
  int calls = 0;
  std::function<void(ProbeResult&&)> next = [&](ProbeResult&& r) {
    ++calls;
    if (r.up) ++ups;
    if (calls < kRounds) pr->start(next);  // from inside the callback
  };
  pr->start(next);
  EXPECT_TRUE(loop_.run_until([&] { return calls == kRounds; }, Millis{20000}));
  EXPECT_EQ(ups, kRounds);
  EXPECT_EQ(curl_.sockets_watched(), 0u);
}

TEST_F(HttpCheck, TwoHundredConcurrentProbersAllComplete) {
  server_.route("/ok", {.status = 200, .body = "ok"});
  constexpr int kProbers = 200;
  std::vector<std::unique_ptr<Prober>> probers;
  std::vector<std::shared_ptr<ProbeRecord>> records;
  for (int i = 0; i < kProbers; ++i) {
    probers.push_back(prober(spec_with(params("/ok"), Millis{10000})));
    records.push_back(start_probe(*probers.back()));
  }
  EXPECT_EQ(curl_.in_flight(), 0u);  // still resolving: nothing ran inside start()
  int done = 0;
  EXPECT_TRUE(loop_.run_until([&] {
    done = 0;
    for (const auto& r : records) done += r->calls;
    return done == kProbers;
  }, Millis{20000}));
  int up = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r->calls, 1);
    EXPECT_FALSE(r->called_inside_start);
    up += r->result.up ? 1 : 0;
  }
  EXPECT_EQ(up, kProbers);
  EXPECT_EQ(curl_.in_flight(), 0u);
}

TEST_F(HttpCheck, CurlMultiCloseDropsTransfersInFlight) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  std::vector<std::unique_ptr<Prober>> probers;
  std::vector<std::shared_ptr<ProbeRecord>> records;
  for (int i = 0; i < 5; ++i) {
    probers.push_back(prober(spec_with(params("/slow"))));
    records.push_back(start_probe(*probers.back()));
  }
  ASSERT_TRUE(loop_.run_until([&] { return server_.requests().size() == 5; }));
  curl_.close();
  EXPECT_EQ(curl_.in_flight(), 0u);
  EXPECT_EQ(curl_.sockets_watched(), 0u);
  EXPECT_TRUE(client_closed(5));
  probers.clear();  // after close(): remove() is a no-op
  for (const auto& r : records) EXPECT_EQ(r->calls, 0);
}

TEST_F(HttpCheck, CurlMultiRefusesDuplicatesAndAnythingAfterClose) {
  server_.route("/slow", {.status = 200, .body = "partial", .mode = HttpReply::Mode::kStallBody});
  health::CurlEasyPtr easy{curl_easy_init()};
  curl_easy_setopt(easy.get(), CURLOPT_URL, server_.url("/slow").c_str());
  int calls = 0;
  EXPECT_TRUE(curl_.add(easy.get(), [&](CURLcode) { ++calls; }));
  EXPECT_FALSE(curl_.add(easy.get(), [&](CURLcode) { ++calls; }));
  ASSERT_TRUE(loop_.run_until([&] { return server_.requests().size() == 1; }));
  curl_.remove(easy.get());
  curl_.remove(easy.get());  // not in flight any more: a no-op
  EXPECT_TRUE(client_closed(1));
  curl_.close();
  EXPECT_FALSE(curl_.add(easy.get(), [&](CURLcode) { ++calls; }));
  EXPECT_EQ(calls, 0);
}

// --- HTTPS ----------------------------------------------------------------------------------

class HttpsCheck : public HttpCheck {
 protected:
  void SetUp() override {
    if (!openssl_available()) GTEST_SKIP() << "the openssl CLI is not installed";
    ASSERT_TRUE(make_self_signed(dir_, "server", "health.test"));
    ASSERT_TRUE(make_self_signed(dir_, "client", "probe"));
    std::filesystem::create_directories(dir_.file("www"));
    dir_.write("www/health", "ok\n");
  }
  // s_server with the server certificate; the options say what else it insists on.
  void start_tls(TlsTestServer::Options options = {}) {
    options.cert = dir_.file("server.crt");
    options.key = dir_.file("server.key");
    options.www_dir = dir_.file("www");
    std::string error;
    ASSERT_TRUE(tls_.start(options, &error)) << error;
  }
  HttpParams https(const std::string& host = "127.0.0.1") const {
    HttpParams p;
    p.url = "https://" + host + ":" + std::to_string(tls_.port()) + "/health";
    p.body_contains = "ok";
    return p;
  }
  std::shared_ptr<ProbeRecord> probe_https(const HttpParams& p, health::Resolver* resolver = nullptr) {
    CheckSpec spec = spec_with(p, Millis{5000});
    spec.type = CheckType::kHttps;
    auto pr = prober(spec, resolver);
    return probe_once(loop_, *pr, Millis{10000});
  }

  TempDir dir_;
  TlsTestServer tls_;
};

TEST_F(HttpsCheck, SelfSignedWithVerificationIsDown) {
  start_tls();
  const auto r = probe_https(https());
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("TLS: certificate verify failed", 0), 0u) << r->result.reason;
}

TEST_F(HttpsCheck, SelfSignedWithoutVerificationIsUp) {
  start_tls();
  HttpParams p = https();
  p.tls_verify = false;
  const auto r = probe_https(p);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST_F(HttpsCheck, CaFileAndSniVerifyTheCertificateAtAnAddress) {
  start_tls({.servername = "health.test"});  // any other SNI gets a fatal alert
  HttpParams p = https();
  p.ca_file = dir_.file("server.crt");
  p.sni = "health.test";
  const auto r = probe_https(p);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST_F(HttpsCheck, CaFileWithoutSniFailsTheNameCheck) {
  start_tls();
  HttpParams p = https();
  p.ca_file = dir_.file("server.crt");
  const auto r = probe_https(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("TLS: certificate verify failed", 0), 0u) << r->result.reason;
}

TEST_F(HttpsCheck, ConfiguredSniIsWhatTheServerSees) {
  start_tls({.servername = "health.test"});
  HttpParams p = https();
  p.tls_verify = false;
  p.sni = "elsewhere.test";
  const auto r = probe_https(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("TLS: ", 0), 0u) << r->result.reason;
}

TEST_F(HttpsCheck, HostnameResolvedByOurResolverIsVerified) {
  start_tls();
  NameResolver names{loop_.get(), {{"health.test", "127.0.0.1"}}};
  HttpParams p = https("health.test");
  p.ca_file = dir_.file("server.crt");
  const auto r = probe_https(p, &names);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(names.asked("health.test"), 1);
}

TEST_F(HttpsCheck, RequiredClientCertificateMissingIsDown) {
  start_tls({.client_ca = dir_.file("client.crt")});
  HttpParams p = https();
  p.tls_verify = false;
  const auto r = probe_https(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("TLS: ", 0), 0u) << r->result.reason;
  EXPECT_NE(r->result.reason.find("certificate required"), std::string::npos) << r->result.reason;
}

TEST_F(HttpsCheck, RequiredClientCertificatePresentIsUp) {
  start_tls({.client_ca = dir_.file("client.crt")});
  HttpParams p = https();
  p.tls_verify = false;
  p.client_cert = dir_.file("client.crt");
  p.client_key = dir_.file("client.key");
  const auto r = probe_https(p);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST_F(HttpsCheck, UnreadableClientCertificateIsReported) {
  start_tls();
  HttpParams p = https();
  p.tls_verify = false;
  p.client_cert = dir_.file("missing.crt");
  const auto r = probe_https(p);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("TLS: cannot use the client certificate", 0), 0u) << r->result.reason;
}

}  // namespace
}  // namespace pharos::test::http
