// control_server_test.cc: the control API's HTTP layer over real loopback HTTP (libcurl) with its
// handlers on a real libuv loop: routing and captures, query strings, both roles, every 4xx, the
// headers every response carries, serialization on the loop, 503 on a stuck loop, stop() with
// requests in flight, token reload. The pure request path is tested without sockets first.
#include "app/control_server.h"

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/app/control_fixture.h"

namespace pharos::test {
namespace {

using app::api_error;
using app::api_json;
using app::ApiRequest;
using app::ApiResponse;
using app::Role;

// ---- The pure parts ----

TEST(ControlRequest, UrlDecodeHandlesEscapesAndRejectsBadOnes) {
  EXPECT_EQ(app::url_decode("a%2Fb%20c", false), "a/b c");
  EXPECT_EQ(app::url_decode("a+b", false), "a+b");
  EXPECT_EQ(app::url_decode("a+b", true), "a b");
  EXPECT_EQ(app::url_decode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(app::url_decode("100%", false), std::nullopt);
  EXPECT_EQ(app::url_decode("%4", false), std::nullopt);
  EXPECT_EQ(app::url_decode("%zz", false), std::nullopt);
}

TEST(ControlRequest, QueryStringsKeepTheLastValueAndSkipEmptyParts) {
  auto q = app::parse_query("name=www.example.com.&&type=A&type=AAAA&flag&=x&c=198.51.100.7%2B1");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("name"), "www.example.com.");
  EXPECT_EQ(q->at("type"), "AAAA");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("c"), "198.51.100.7+1");
  EXPECT_EQ(q->size(), 4u);
  EXPECT_FALSE(app::parse_query("a=%g0"));
}

TEST(ControlRequest, BearerHeaderParsing) {
  EXPECT_EQ(app::parse_bearer("Bearer abc"), "abc");
  EXPECT_EQ(app::parse_bearer("  bearer   abc  "), "abc");
  EXPECT_EQ(app::parse_bearer("BEARER abc"), "abc");
  EXPECT_EQ(app::parse_bearer("Basic abc"), std::nullopt);
  EXPECT_EQ(app::parse_bearer("Bearer"), std::nullopt);
  EXPECT_EQ(app::parse_bearer("Bearer "), std::nullopt);
  EXPECT_EQ(app::parse_bearer("Bearerabc"), std::nullopt);
  EXPECT_EQ(app::parse_bearer("Bearer a b"), std::nullopt);
}

TEST(ControlRequest, LiteralSegmentsBeatCaptures) {
  app::RouteTable t;
  t.add("GET", "/v1/records/{name}", Role::kRead);
  t.add("GET", "/v1/records/export", Role::kRead);
  auto m = t.match("GET", "/v1/records/export");
  ASSERT_TRUE(std::holds_alternative<app::RouteTable::Match>(m));
  EXPECT_EQ(std::get<app::RouteTable::Match>(m).route, 1u);
  m = t.match("GET", "/v1/records/www.example.com.");
  ASSERT_TRUE(std::holds_alternative<app::RouteTable::Match>(m));
  EXPECT_EQ(std::get<app::RouteTable::Match>(m).route, 0u);
  // An empty capture is no match.
  m = t.match("GET", "/v1/records/");
  ASSERT_TRUE(std::holds_alternative<ApiResponse>(m));
  EXPECT_EQ(std::get<ApiResponse>(m).status, 404);
}

TEST(ControlRequest, JsonQuoteEscapesAndReplacesInvalidUtf8) {
  EXPECT_EQ(app::json_quote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(app::json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(app::json_quote("\xff" "a\xc0\xaf"), R"("\ufffda\ufffd\ufffd")");
  EXPECT_EQ(api_error(404, "no \"x\"").body, R"({"error":"no \"x\""})");
}

TEST(ControlRequest, ParseBodyWantsAJsonObject) {
  ApiRequest r;
  r.body = R"({"state": "up"})";
  auto ok = app::parse_body(r);
  ASSERT_TRUE(std::holds_alternative<rapidjson::Document>(ok));
  EXPECT_STREQ(std::get<rapidjson::Document>(ok)["state"].GetString(), "up");
  for (const char* bad : {"", "[1]", "{\"a\":", "{} x", "nul"}) {
    r.body = bad;
    auto e = app::parse_body(r);
    ASSERT_TRUE(std::holds_alternative<ApiResponse>(e)) << bad;
    EXPECT_EQ(std::get<ApiResponse>(e).status, 400) << bad;
  }
  r.body = std::string(100'000, '[');  // deep nesting must not overflow the stack
  auto deep = app::parse_body(r);
  ASSERT_TRUE(std::holds_alternative<ApiResponse>(deep));
  EXPECT_EQ(std::get<ApiResponse>(deep).body, R"({"error":"JSON nested deeper than 64 levels"})");
  // Brackets inside strings are text, not nesting.
  r.body = R"({"reason": ")" + std::string(200, '[') + R"(\"{"})";
  EXPECT_TRUE(std::holds_alternative<rapidjson::Document>(app::parse_body(r)));
}

// ---- Over HTTP ----

// Echoes what the handler saw, as JSON.
ApiResponse echo(const ApiRequest& r) {
  std::string params, query;
  for (const auto& p : r.params) params += (params.empty() ? "" : ",") + app::json_quote(p);
  for (const auto& [k, v] : r.query) query += (query.empty() ? "" : ",") + app::json_quote(k) + ":" + app::json_quote(v);
  return api_json(200, "{\"method\":" + app::json_quote(r.method) + ",\"path\":" + app::json_quote(r.path) +
                           ",\"params\":[" + params + "],\"query\":{" + query + "},\"role\":\"" + app::to_string(r.role) +
                           "\",\"token_name\":" + app::json_quote(r.token_name) + ",\"body\":" + app::json_quote(r.body) + "}");
}

void add_echo_routes(ControlServer& s) {
  s.route("GET", "/", Role::kNone, [](const ApiRequest&) {
    ApiResponse r{200, "<html>pharos</html>", "text/html; charset=utf-8", {}};
    return r;
  });
  s.route("GET", "/v1/status", Role::kRead, echo);
  s.route("GET", "/v1/explain", Role::kRead, echo);
  s.route("POST", "/v1/checks/{id}/force", Role::kOperator, echo);
  s.route("DELETE", "/v1/checks/{id}/force", Role::kOperator, echo);
  s.route("POST", "/v1/records/{name}/{type}/resume", Role::kOperator, [](const ApiRequest& r) {
    auto body = app::parse_body(r);
    if (auto* e = std::get_if<ApiResponse>(&body)) return *e;
    return echo(r);
  });
}

class ControlServerTest : public ::testing::Test {
 protected:
  void start() {
    add_echo_routes(h.server());
    h.start();
  }
  // The server still answers a normal request (ends every malformed-input test).
  void expect_still_serving() {
    const HttpResult r = h.get("/v1/status", kReadToken);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  ApiHarness h;
};

TEST_F(ControlServerTest, CapturesAreUrlDecoded) {
  start();
  HttpOptions o;
  o.method = "POST";
  o.path = "/v1/records/www.example.com./A/resume";
  o.token = kOperatorToken;
  o.body = R"({"dc": "dc1"})";
  HttpResult r = h.call(o);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("params":["www.example.com.","A"])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("token_name":"otto")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("role":"operator")"), std::string::npos) << r.body;
  o.method = "DELETE";
  o.body.reset();
  o.path = "/v1/checks/dc1%2Fweb%20one/force";
  r = h.call(o);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("params":["dc1/web one"])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("path":"/v1/checks/dc1%2Fweb%20one/force")"), std::string::npos) << r.body;
}

TEST_F(ControlServerTest, QueryIsParsedAndDecoded) {
  start();
  const HttpResult r = h.get("/v1/explain?name=www.example.com.&type=A&client=2001%3Adb8%3A%3A1&note=a+b", kReadToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("query":{"client":"2001:db8::1","name":"www.example.com.","note":"a b","type":"A"})"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(h.get("/v1/explain?name=%zz", kReadToken).status, 400);
  expect_still_serving();
}

TEST_F(ControlServerTest, ReadTokenReadsButCannotAct) {
  start();
  HttpResult r = h.get("/v1/status", kReadToken);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("token_name":"rita")"), std::string::npos) << r.body;
  r = h.post("/v1/checks/web1/force", R"({"state":"up"})", kReadToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"error":"token \"rita\" has role read; POST /v1/checks/web1/force needs role operator"})");
  expect_still_serving();
}

TEST_F(ControlServerTest, OperatorTokenReadsAndActs) {
  start();
  EXPECT_EQ(h.get("/v1/status", kOperatorToken).status, 200);
  const HttpResult r = h.post("/v1/checks/web1/force", R"({"state":"up"})", kOperatorToken);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("body":"{\"state\":\"up\"}")"), std::string::npos) << r.body;
}

TEST_F(ControlServerTest, NoTokenIs401WithWwwAuthenticate) {
  start();
  const HttpResult r = h.get("/v1/status");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), R"(Bearer realm="pharos")");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_NE(r.body.find("needs a token"), std::string::npos) << r.body;
  expect_still_serving();
}

TEST_F(ControlServerTest, WrongOrMalformedTokenIs401) {
  start();
  HttpResult r = h.get("/v1/status", std::string("not-a-token-at-all"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":"unknown token"})");
  EXPECT_EQ(r.header("www-authenticate"), R"(Bearer realm="pharos", error="invalid_token")");
  // A prefix of a real token is no token.
  r = h.get("/v1/status", std::string(kReadToken).substr(0, 10));
  EXPECT_EQ(r.status, 401);
  HttpOptions o;
  o.path = "/v1/status";
  o.authorization = std::string("Basic ") + kReadToken;
  r = h.call(o);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("malformed Authorization header"), std::string::npos) << r.body;
  expect_still_serving();
}

TEST_F(ControlServerTest, PublicRoutesNeedNoToken) {
  start();
  const HttpResult r = h.get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "no-store");
}

TEST_F(ControlServerTest, PublicFalseProtectsOpenRoutes) {
  h.config.public_read = false;
  start();
  EXPECT_EQ(h.get("/").status, 401);
  EXPECT_EQ(h.get("/", kReadToken).status, 200);
}

TEST_F(ControlServerTest, UnknownPathIs404) {
  start();
  const HttpResult r = h.get("/v1/nothing/here", kReadToken);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"no such endpoint: /v1/nothing/here"})");
  EXPECT_EQ(h.get("/v1/status/", kReadToken).status, 404);
  expect_still_serving();
}

TEST_F(ControlServerTest, WrongMethodIs405WithAllow) {
  start();
  HttpOptions o;
  o.method = "PUT";
  o.path = "/v1/checks/web1/force";
  o.token = kOperatorToken;
  const HttpResult r = h.call(o);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "DELETE, POST");
  EXPECT_EQ(r.header("content-type"), "application/json");
  expect_still_serving();
}

TEST_F(ControlServerTest, AnnouncedBodyTooLargeIs413) {
  h.config.max_body = 1024;
  start();
  const HttpResult r = h.post("/v1/records/a./A/resume", "{\"dc\":\"" + std::string(4096, 'x') + "\"}", kOperatorToken);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"error":"the request body is larger than 1024 bytes"})");
  expect_still_serving();
}

TEST_F(ControlServerTest, ChunkedBodyTooLargeIs413) {
  h.config.max_body = 1024;
  start();
  HttpOptions o;
  o.method = "POST";
  o.path = "/v1/records/a./A/resume";
  o.token = kOperatorToken;
  o.body = "{\"dc\":\"" + std::string(4096, 'x') + "\"}";
  o.chunked = true;
  const HttpResult r = h.call(o);
  EXPECT_EQ(r.status, 413) << r.body;
  // A chunked body within the limit is fine.
  o.body = R"({"dc":"dc1"})";
  EXPECT_EQ(h.call(o).status, 200);
  expect_still_serving();
}

TEST_F(ControlServerTest, NonJsonBodyIs415) {
  start();
  HttpOptions o;
  o.method = "POST";
  o.path = "/v1/records/a./A/resume";
  o.token = kOperatorToken;
  o.body = "dc=dc1";
  o.content_type = "application/x-www-form-urlencoded";
  HttpResult r = h.call(o);
  EXPECT_EQ(r.status, 415);
  o.content_type = "";
  EXPECT_EQ(h.call(o).status, 415);
  o.content_type = "Application/JSON; charset=utf-8";
  o.body = R"({"dc":"dc1"})";
  EXPECT_EQ(h.call(o).status, 200);
  expect_still_serving();
}

TEST_F(ControlServerTest, MalformedJsonIs400) {
  start();
  HttpResult r = h.post("/v1/records/a./A/resume", R"({"dc": )", kOperatorToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed JSON at offset"), std::string::npos) << r.body;
  r = h.post("/v1/records/a./A/resume", "[]", kOperatorToken);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"the body must be a JSON object"})");
  r = h.post("/v1/records/a./A/resume", std::string(50'000, '['), kOperatorToken);
  EXPECT_EQ(r.status, 400);
  expect_still_serving();
}

TEST_F(ControlServerTest, EveryResponseSaysContentTypeAndNoStore) {
  start();
  for (const HttpResult& r : {h.get("/v1/status", kReadToken), h.get("/v1/status"), h.get("/nope", kReadToken),
                              h.post("/v1/status", "{}", kReadToken)}) {
    EXPECT_EQ(r.header("content-type"), "application/json") << r.status;
    EXPECT_EQ(r.header("cache-control"), "no-store") << r.status;
  }
}

TEST_F(ControlServerTest, HandlerExceptionIs500) {
  h.server().route("GET", "/v1/boom", Role::kRead, [](const ApiRequest&) -> ApiResponse {
    throw std::runtime_error("kaboom");
  });
  start();
  const HttpResult r = h.get("/v1/boom", kReadToken);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"error":"internal error: kaboom"})");
  expect_still_serving();
}

TEST_F(ControlServerTest, ConcurrentRequestsAreSerializedOnTheLoop) {
  std::atomic<int> inside{0}, most{0}, total{0};
  std::thread::id loop_thread;
  std::atomic<bool> off_loop{false};
  h.server().route("POST", "/v1/count", Role::kOperator, [&](const ApiRequest&) {
    const int now = ++inside;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {}
    if (loop_thread == std::thread::id()) loop_thread = std::this_thread::get_id();
    if (loop_thread != std::this_thread::get_id()) off_loop = true;
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // widen the window for overlap
    ++total;
    --inside;
    return api_json(200, "{}");
  });
  start();
  constexpr int kThreads = 8, kEach = 15;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        if (h.post("/v1/count", "{}", kOperatorToken).status == 200) ++ok;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(total.load(), kThreads * kEach);
  EXPECT_EQ(most.load(), 1);
  EXPECT_FALSE(off_loop.load());
}

// Holds the loop inside a handler until released.
struct Gate {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
};

TEST_F(ControlServerTest, StuckLoopGives503AndSkipsTheAbandonedRequest) {
  h.config.loop_timeout_ms = 300;
  Gate gate;
  std::atomic<int> late_runs{0};
  h.server().route("POST", "/v1/block", Role::kOperator, [&](const ApiRequest&) {
    gate.entered.set_value();
    gate.released.wait();
    return api_json(200, "{}");
  });
  h.server().route("POST", "/v1/late", Role::kOperator, [&](const ApiRequest&) {
    ++late_runs;
    return api_json(200, "{}");
  });
  start();
  auto blocked = std::async(std::launch::async, [&] { return h.post("/v1/block", "{}", kOperatorToken); });
  gate.entered.get_future().wait();
  const HttpResult r = h.post("/v1/late", "{}", kOperatorToken);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"error":"pharosd's control loop did not take the request within 300 ms; nothing was done"})");
  gate.release.set_value();
  EXPECT_EQ(blocked.get().status, 503);  // it outlived the timeout too, while running
  expect_still_serving();                // the loop has drained the queue by now
  EXPECT_EQ(late_runs.load(), 0);
}

// A direct route runs on the HTTP thread: it answers while the loop is stuck, with the same
// routing and auth as any other route.
TEST_F(ControlServerTest, DirectRouteAnswersWhileTheLoopIsStuck) {
  h.config.loop_timeout_ms = 300;
  Gate gate;
  std::atomic<std::thread::id> ran_on{};
  h.server().route("POST", "/v1/block", Role::kOperator, [&](const ApiRequest&) {
    gate.entered.set_value();
    gate.released.wait();
    return api_json(200, "{}");
  });
  h.server().route_direct("GET", "/metrics", Role::kNone, [&](const ApiRequest&) {
    ran_on = std::this_thread::get_id();
    return ApiResponse{200, "pharos_up 1\n", "text/plain; version=0.0.4; charset=utf-8", {}};
  });
  h.server().route_direct("GET", "/v1/direct-secret", Role::kOperator, [](const ApiRequest& r) { return echo(r); });
  start();
  auto blocked = std::async(std::launch::async, [&] { return h.post("/v1/block", "{}", kOperatorToken); });
  gate.entered.get_future().wait();
  const HttpResult m = h.get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "pharos_up 1\n");
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(ran_on.load(), std::thread::id{});
  EXPECT_EQ(h.get("/v1/direct-secret", kReadToken).status, 403);
  EXPECT_EQ(h.get("/v1/direct-secret").status, 401);
  EXPECT_EQ(h.get("/v1/direct-secret", kOperatorToken).status, 200);
  gate.release.set_value();
  blocked.get();  // 200 or 503, depending on how long the direct requests took
  expect_still_serving();
}

TEST_F(ControlServerTest, StopAnswersQueuedRequestsAndJoins) {
  // Hold the loop outside any handler, queue requests, then stop: stop() runs on the loop before
  // the server's own async callback and must answer the queued requests itself.
  std::atomic<int> runs{0};
  h.server().route("POST", "/v1/count", Role::kOperator, [&](const ApiRequest&) {
    ++runs;
    return api_json(200, "{\"ok\":true}");
  });
  start();
  const std::uint16_t port = h.server().port();
  std::promise<void> holding, release;
  std::shared_future<void> released = release.get_future().share();
  h.loop.hold([&] {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();
  auto a = std::async(std::launch::async, [&] { return h.post("/v1/count", "{}", kOperatorToken); });
  auto b = std::async(std::launch::async, [&] { return h.post("/v1/count", "{}", kOperatorToken); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h.server().queued_requests() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(h.server().queued_requests(), 2u);
  h.loop.request_stop([&] { h.server().stop(); });
  release.set_value();
  h.loop.join();
  const HttpResult ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.status, 200) << ra.body;
  EXPECT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(ra.body, R"({"ok":true})");
  EXPECT_EQ(runs.load(), 2);
  // Nothing listens any more.
  HttpOptions o;
  o.path = "/v1/count";
  EXPECT_EQ(http(port, o).rc, CURLE_COULDNT_CONNECT);
}

TEST_F(ControlServerTest, ReloadTokensTakesAGoodFileAndKeepsTheOldOnABadOne) {
  start();
  const std::string fresh = "fresh-read-token-0123456789";
  h.dir.write("tokens.json", tokens_json(fresh, kOperatorToken));
  auto r = h.server().reload_tokens();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(h.get("/v1/status", fresh).status, 200);
  EXPECT_EQ(h.get("/v1/status", kReadToken).status, 401);

  h.dir.write("tokens.json", R"({"tokens": [{"name": "x", "role": "admin", "token": "0123456789abcdef"}]})");
  r = h.server().reload_tokens();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string(), h.config.tokens + R"(: /tokens/0/role: "admin" is not a role ("read" or "operator"))");
  EXPECT_EQ(h.get("/v1/status", fresh).status, 200);
}

TEST(ControlServerStart, BadTokensFileIsAClearError) {
  ApiHarness h;
  h.config.tokens = h.dir.write("tokens.json", R"({"tokens": [{"name": "x", "role": "read"}]})");
  auto r = h.server().start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string(), h.config.tokens + R"(: /tokens/0: missing "token")");
  h.config.tokens = h.dir.file("missing.json");
  auto m = ControlServer(h.loop.loop(), h.config).start();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().file, h.config.tokens);
}

TEST(ControlServerStart, BusyPortIsAClearError) {
  ApiHarness a;
  a.start();
  ApiHarness b;
  b.config.listen = "127.0.0.1:" + std::to_string(a.server().port());
  auto r = b.server().start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string(), "control API: cannot bind " + b.config.listen + ": Address already in use");
  EXPECT_EQ(a.get("/v1/status").status, 404);  // a still serves (no routes: 404)
}

TEST(ControlServerStart, ServesOnIpv6Loopback) {
  ApiHarness h;
  h.config.listen = "[::1]:0";
  add_echo_routes(h.server());
  h.start();
  HttpOptions o;
  o.path = "/v1/status";
  o.token = kReadToken;
  o.host = "[::1]";
  const HttpResult r = h.call(o);
  EXPECT_EQ(r.status, 200) << r.body << " curl " << r.rc;
}

}  // namespace
}  // namespace pharos::test
