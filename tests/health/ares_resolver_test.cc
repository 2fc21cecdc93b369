// ares_resolver_test.cc: the c-ares resolver on a real loop: literals, the hosts file, a DNS server
// the test runs, the cache, coalescing and cancellation by token.
#include "health/ares_resolver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "health/ip_literal.h"
#include "tests/health/dns_test_support.h"

namespace pharos::health {
namespace {

using namespace std::chrono_literals;
using testing::TestDnsServer;

std::string text(const ResolvedAddress& a) {
  if (!a.ok()) return "error: " + a.error;
  return format_address_port(reinterpret_cast<const sockaddr*>(&a.addr));
}

class AresResolverTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    if (resolver_) resolver_->close();
    resolver_.reset();
    server_.reset();
    EXPECT_EQ(testing::drain_and_close(&loop_), 0) << "a handle was left open";
  }

  // A resolver that asks only the test's DNS server (no hosts file, no resolv.conf servers).
  AresResolver& with_test_server(AresResolver::Options options = {}) {
    server_ = std::make_unique<TestDnsServer>(&loop_);
    options.servers = server_->address();
    options.lookups = "b";
    if (options.query_timeout.count() == 0) options.query_timeout = 500ms;
    if (options.tries == 0) options.tries = 1;
    resolver_ = std::make_unique<AresResolver>(&loop_, options);
    return *resolver_;
  }
  AresResolver& with_system_config() {
    resolver_ = std::make_unique<AresResolver>(&loop_);
    return *resolver_;
  }

  // Resolves once; checks the answer comes after resolve() returned.
  std::string resolve(AresResolver& resolver, const std::string& host, std::uint16_t port, int family) {
    std::optional<ResolvedAddress> result;
    bool returned = false;
    auto token = resolver.resolve(host, port, family, [&](ResolvedAddress&& a) {
      EXPECT_TRUE(returned) << "answered inside resolve()";
      result = std::move(a);
    });
    returned = true;
    EXPECT_FALSE(result.has_value());
    EXPECT_TRUE(testing::run_until(&loop_, [&] { return result.has_value(); }, 10s));
    return result ? text(*result) : "no answer";
  }

  uv_loop_t loop_{};
  std::unique_ptr<TestDnsServer> server_;
  std::unique_ptr<AresResolver> resolver_;
};

TEST_F(AresResolverTest, Ipv4LiteralAnswersAsynchronously) {
  auto& r = with_system_config();
  EXPECT_EQ(resolve(r, "192.0.2.7", 8080, AF_UNSPEC), "192.0.2.7:8080");
  EXPECT_EQ(r.lookups_started(), 0u);
}

TEST_F(AresResolverTest, Ipv6Literal) {
  auto& r = with_system_config();
  EXPECT_EQ(resolve(r, "2001:db8::7", 443, AF_INET6), "[2001:db8::7]:443");
  EXPECT_EQ(resolve(r, "[::1]", 53, AF_UNSPEC), "[::1]:53");
}

TEST_F(AresResolverTest, LiteralOfTheWrongFamilyFails) {
  auto& r = with_system_config();
  EXPECT_EQ(resolve(r, "192.0.2.7", 80, AF_INET6), "error: 192.0.2.7 is not an IPv6 address");
}

TEST_F(AresResolverTest, EmptyHostFails) {
  auto& r = with_system_config();
  EXPECT_EQ(resolve(r, "", 80, AF_UNSPEC), "error: empty host name");
}

TEST_F(AresResolverTest, HostsFileName) {
  // /etc/hosts maps localhost; the system's lookup order reads it before any DNS server.
  auto& r = with_system_config();
  EXPECT_EQ(resolve(r, "localhost", 80, AF_INET), "127.0.0.1:80");
}

TEST_F(AresResolverTest, NameFromTheDnsServer) {
  auto& r = with_test_server();
  EXPECT_EQ(resolve(r, "www.example.com.", 443, AF_INET), "192.0.2.1:443");
  EXPECT_EQ(server_->queries(), 1);
  EXPECT_EQ(server_->last_qname(), "www.example.com.");
}

TEST_F(AresResolverTest, Ipv6NameFromTheDnsServer) {
  auto& r = with_test_server();
  server_->set_answers(28, {"2001:db8::1"});
  EXPECT_EQ(resolve(r, "www.example.com.", 443, AF_INET6), "[2001:db8::1]:443");
}

TEST_F(AresResolverTest, NxdomainIsAnError) {
  auto& r = with_test_server();
  server_->set_mode(TestDnsServer::Mode::kNxdomain);
  const auto answer = resolve(r, "nope.example.com.", 80, AF_INET);
  EXPECT_EQ(answer.rfind("error: resolve nope.example.com.: ", 0), 0u) << answer;
}

TEST_F(AresResolverTest, SilentServerFailsByTimeout) {
  auto& r = with_test_server(AresResolver::Options{.query_timeout = 200ms, .tries = 1});
  server_->set_mode(TestDnsServer::Mode::kSilent);
  const auto answer = resolve(r, "www.example.com.", 80, AF_INET);
  EXPECT_EQ(answer.rfind("error: resolve www.example.com.: ", 0), 0u) << answer;
}

TEST_F(AresResolverTest, ManyRequestsForOneNameMakeOneQuery) {
  auto& r = with_test_server();
  int answered = 0;
  std::vector<std::shared_ptr<void>> tokens;
  for (int i = 0; i < 1000; ++i) {
    tokens.push_back(r.resolve("www.example.com.", static_cast<std::uint16_t>(1000 + i), AF_INET,
                               [&answered, i](ResolvedAddress&& a) {
                                 EXPECT_EQ(text(a), "192.0.2.1:" + std::to_string(1000 + i));
                                 ++answered;
                               }));
  }
  ASSERT_TRUE(testing::run_until(&loop_, [&] { return answered == 1000; }));
  EXPECT_EQ(server_->queries(), 1) << "coalesced while in flight";
  // Later requests are answered from the cache (TTL 60 s).
  EXPECT_EQ(resolve(r, "WWW.Example.COM.", 80, AF_INET), "192.0.2.1:80");
  EXPECT_EQ(server_->queries(), 1);
  EXPECT_EQ(r.lookups_started(), 1u);
}

TEST_F(AresResolverTest, FamiliesAreCachedApart) {
  auto& r = with_test_server();
  server_->set_answers(28, {"2001:db8::1"});
  EXPECT_EQ(resolve(r, "www.example.com.", 80, AF_INET), "192.0.2.1:80");
  EXPECT_EQ(resolve(r, "www.example.com.", 80, AF_INET6), "[2001:db8::1]:80");
  EXPECT_EQ(server_->queries(), 2);
}

TEST_F(AresResolverTest, ExpiredAnswersAreAskedAgain) {
  // Nothing kept: every lookup goes to the server (no sleeping to wait for a TTL).
  auto& r = with_test_server(AresResolver::Options{.min_cache = 0ms, .max_cache = 0ms, .negative_cache = 0ms});
  EXPECT_EQ(resolve(r, "www.example.com.", 80, AF_INET), "192.0.2.1:80");
  EXPECT_EQ(resolve(r, "www.example.com.", 80, AF_INET), "192.0.2.1:80");
  EXPECT_EQ(server_->queries(), 2);
}

TEST_F(AresResolverTest, FailuresAreCachedBriefly) {
  auto& r = with_test_server();
  server_->set_mode(TestDnsServer::Mode::kNxdomain);
  resolve(r, "nope.example.com.", 80, AF_INET);
  resolve(r, "nope.example.com.", 80, AF_INET);
  EXPECT_EQ(server_->queries(), 1);
}

TEST_F(AresResolverTest, DroppedTokenCancelsALookup) {
  auto& r = with_test_server(AresResolver::Options{.query_timeout = 200ms, .tries = 1});
  server_->set_mode(TestDnsServer::Mode::kSilent);
  int calls = 0;
  auto token = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  testing::run_for(&loop_, 20ms);
  token.reset();
  testing::run_for(&loop_, 400ms);   // past the query's timeout, when the lookup fails
  EXPECT_EQ(calls, 0);
}

TEST_F(AresResolverTest, DroppedTokenCancelsALiteral) {
  auto& r = with_system_config();
  int calls = 0;
  auto token = r.resolve("192.0.2.1", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  token.reset();
  testing::run_for(&loop_, 20ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(AresResolverTest, DroppedTokenReleasesTheCallbackAtOnce) {
  auto& r = with_system_config();
  auto captured = std::make_shared<int>(0);
  auto token = r.resolve("192.0.2.1", 80, AF_INET, [captured](ResolvedAddress&&) {});
  EXPECT_EQ(captured.use_count(), 2);
  token.reset();
  EXPECT_EQ(captured.use_count(), 1);
}

TEST_F(AresResolverTest, OtherRequestsSurviveACancelledOne) {
  auto& r = with_test_server();
  int first = 0;
  int second = 0;
  auto t1 = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) { ++first; });
  auto t2 = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) { ++second; });
  t1.reset();
  ASSERT_TRUE(testing::run_until(&loop_, [&] { return second == 1; }));
  EXPECT_EQ(first, 0);
}

TEST_F(AresResolverTest, CloseDropsPendingRequests) {
  auto& r = with_test_server(AresResolver::Options{.query_timeout = 200ms, .tries = 1});
  server_->set_mode(TestDnsServer::Mode::kSilent);
  int calls = 0;
  auto t1 = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  auto t2 = r.resolve("192.0.2.1", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  r.close();
  auto t3 = r.resolve("192.0.2.1", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  testing::run_for(&loop_, 300ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(AresResolverTest, DestroyingTheResolverFromACallbackIsSafe) {
  auto& r = with_test_server();
  int calls = 0;
  auto t1 = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) {
    ++calls;
    resolver_.reset();
  });
  auto t2 = r.resolve("www.example.com.", 80, AF_INET, [&](ResolvedAddress&&) { ++calls; });
  testing::run_for(&loop_, 100ms);
  EXPECT_EQ(calls, 1);
}

TEST_F(AresResolverTest, TokensMayOutliveTheResolver) {
  auto& r = with_system_config();
  auto token = r.resolve("192.0.2.1", 80, AF_INET, [](ResolvedAddress&&) {});
  resolver_->close();
  resolver_.reset();
  token.reset();
  SUCCEED();
}

}  // namespace
}  // namespace pharos::health
