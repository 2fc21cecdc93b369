// icmp_check_test.cc: the icmp and gateway probers: loopback on the test's own loop; timeouts,
// gateways and the unprivileged ping socket in network namespaces the test creates (root only).
#include "health/icmp_check.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "health/ares_resolver.h"
#include "health/default_route.h"
#include "health/icmp_socket.h"
#include "health/ip_literal.h"
#include "tests/health/dns_test_support.h"
#include "tests/health/icmp_test_support.h"

namespace pharos::health {
namespace {

using namespace std::chrono_literals;
using testing::NetnsPair;

CheckSpec icmp_spec(const std::string& host, Millis timeout = 2000ms) {
  CheckSpec s;
  s.type = CheckType::kIcmp;
  s.params = IcmpParams{.host = host};
  s.timeout = timeout;
  s.interval = timeout * 2;
  return s;
}

CheckSpec gateway_spec(int family, const std::string& address = "", Millis timeout = 1000ms) {
  CheckSpec s;
  s.type = CheckType::kGateway;
  s.params = GatewayParams{.family = family, .address = address};
  s.timeout = timeout;
  s.interval = timeout * 2;
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

class IcmpCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    resolver_ = std::make_unique<AresResolver>(&loop_);
  }
  void TearDown() override {
    resolver_->close();
    resolver_.reset();
    EXPECT_EQ(testing::drain_and_close(&loop_), 0) << "a handle was left open";
  }

  // Skips the test when this process may not send ICMP at all.
  bool icmp_allowed(int family) {
    std::string error;
    if (IcmpSocket::get(&loop_, family, "", error)) return true;
    skip_reason_ = error;
    return false;
  }

  ProbeResult probe(Prober& prober) {
    std::optional<ProbeResult> result;
    int calls = 0;
    bool in_start = true;
    prober.start([&](ProbeResult&& r) {
      EXPECT_FALSE(in_start) << "done called from inside start()";
      ++calls;
      result = std::move(r);
    });
    in_start = false;
    EXPECT_TRUE(testing::run_until(&loop_, [&] { return result.has_value(); }, 10s));
    testing::run_for(&loop_, 10ms);
    EXPECT_EQ(calls, 1);
    return result.value_or(ProbeResult{.up = false, .reason = "no result"});
  }

  uv_loop_t loop_{};
  std::unique_ptr<AresResolver> resolver_;
  std::string skip_reason_;
};

TEST_F(IcmpCheckTest, Ipv4LoopbackIsUp) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1"));
  const auto r = probe(*prober);
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from 127.0.0.1");
  EXPECT_GT(r.latency.count(), 0);
}

TEST_F(IcmpCheckTest, Ipv6LoopbackIsUp) {
  if (!icmp_allowed(AF_INET6)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("::1"));
  const auto r = probe(*prober);
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from ::1");
}

TEST_F(IcmpCheckTest, HostNameGoesThroughTheResolver) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("localhost"));
  const auto r = probe(*prober);
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(IcmpCheckTest, UnresolvableHostIsDown) {
  testing::TestDnsServer server(&loop_);
  server.set_mode(testing::TestDnsServer::Mode::kNxdomain);
  AresResolver resolver(&loop_, AresResolver::Options{.servers = server.address(), .lookups = "b",
                                                      .query_timeout = 500ms, .tries = 1});
  auto prober = make_icmp_prober(&loop_, resolver, icmp_spec("nope.example.com."));
  const auto r = probe(*prober);
  EXPECT_FALSE(r.up);
  EXPECT_TRUE(starts_with(r.reason, "resolve nope.example.com.: ")) << r.reason;
  prober.reset();
  resolver.close();
}

TEST_F(IcmpCheckTest, RepeatedProbesAndManyProbersShareOneSocket) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  std::vector<std::unique_ptr<Prober>> probers;
  int ups = 0;
  int results = 0;
  for (int i = 0; i < 50; ++i) probers.push_back(make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1")));
  for (int round = 0; round < 3; ++round) {
    for (auto& p : probers) {
      p->start([&](ProbeResult&& r) {
        ups += r.up ? 1 : 0;
        ++results;
      });
    }
    ASSERT_TRUE(testing::run_until(&loop_, [&] { return results == 50 * (round + 1); }));
  }
  EXPECT_EQ(ups, 150);
  std::string error;
  const auto socket = IcmpSocket::get(&loop_, AF_INET, "", error);
  ASSERT_TRUE(socket);
  EXPECT_EQ(socket.use_count(), 51) << "one socket for all probers on the loop";
  EXPECT_EQ(socket->in_flight(), 0u);
}

TEST_F(IcmpCheckTest, CancelMeansNoCallback) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1"));
  int calls = 0;
  prober->start([&](ProbeResult&&) { ++calls; });
  prober->cancel();
  testing::run_for(&loop_, 50ms);
  EXPECT_EQ(calls, 0);
  // And the prober works again afterwards.
  EXPECT_TRUE(probe(*prober).up);
}

TEST_F(IcmpCheckTest, CancelAfterTheRequestWentOut) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1"));
  int calls = 0;
  prober->start([&](ProbeResult&&) { ++calls; });
  uv_run(&loop_, UV_RUN_NOWAIT);   // the resolver's hop: the request is sent, the reply is queued
  prober->cancel();
  testing::run_for(&loop_, 50ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(IcmpCheckTest, DestroyMidProbeIsSafe) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  int calls = 0;
  for (int i = 0; i < 2; ++i) {
    auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1"));
    prober->start([&](ProbeResult&&) { ++calls; });
    if (i == 1) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  testing::run_for(&loop_, 50ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(IcmpCheckTest, DestroyFromInsideDoneIsSafe) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec("127.0.0.1"));
  bool done = false;
  prober->start([&](ProbeResult&&) {
    prober.reset();
    done = true;
  });
  EXPECT_TRUE(testing::run_until(&loop_, [&] { return done; }));
}

TEST_F(IcmpCheckTest, EmptyHostIsAConfigError) {
  auto prober = make_icmp_prober(&loop_, *resolver_, icmp_spec(""));
  const auto r = probe(*prober);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no host to ping");
}

TEST_F(IcmpCheckTest, GatewayFamilyMustBe4Or6) {
  auto prober = make_gateway_prober(&loop_, gateway_spec(5));
  const auto r = probe(*prober);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "gateway family must be 4 or 6, not 5");
}

TEST_F(IcmpCheckTest, GatewayAddressOfTheWrongFamilyIsAConfigError) {
  auto prober = make_gateway_prober(&loop_, gateway_spec(6, "192.0.2.1"));
  const auto r = probe(*prober);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "bad gateway address \"192.0.2.1\" for IPv6");
}

TEST_F(IcmpCheckTest, ConfiguredGatewayAddress) {
  if (!icmp_allowed(AF_INET)) GTEST_SKIP() << skip_reason_;
  auto prober = make_gateway_prober(&loop_, gateway_spec(4, "127.0.0.1"));
  const auto r = probe(*prober);
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from 127.0.0.1");
}

// --- in network namespaces (root) ---

// An icmp prober with its own resolver, for a loop on a thread in another namespace.
class SelfResolvingProber final : public Prober {
 public:
  SelfResolvingProber(uv_loop_t* loop, const CheckSpec& spec)
      : resolver_(loop), inner_(make_icmp_prober(loop, resolver_, spec)) {}
  ~SelfResolvingProber() override {
    inner_.reset();
    resolver_.close();
  }
  void start(ProbeCallback done) override { inner_->start(std::move(done)); }
  void cancel() override { inner_->cancel(); }

 private:
  AresResolver resolver_;
  std::unique_ptr<Prober> inner_;
};

class IcmpNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::is_root()) GTEST_SKIP() << "needs root to create network namespaces";
    pair_ = std::make_unique<NetnsPair>();
    if (!pair_->ok()) GTEST_SKIP() << "cannot create network namespaces and a veth pair here";
  }
  void TearDown() override { pair_.reset(); }

  ProbeResult in_client(const CheckSpec& spec, bool drop_net_raw = false) {
    if (spec.type == CheckType::kGateway) {
      return testing::probe_on_thread(pair_->client(), [&](uv_loop_t* loop) { return make_gateway_prober(loop, spec); },
                                      drop_net_raw);
    }
    return testing::probe_on_thread(
        pair_->client(), [&](uv_loop_t* loop) { return std::make_unique<SelfResolvingProber>(loop, spec); },
        drop_net_raw);
  }

  std::unique_ptr<NetnsPair> pair_;
};

TEST_F(IcmpNetnsTest, PeerAddressIsUp) {
  const auto r = in_client(icmp_spec("10.200.0.1", 1000ms));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from 10.200.0.1");
}

TEST_F(IcmpNetnsTest, PeerThatDropsEchoTimesOut) {
  ASSERT_EQ(pair_->exec(pair_->peer(), "echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"), 0);
  const auto r = in_client(icmp_spec("10.200.0.1", 300ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "timeout after 300 ms (no echo reply from 10.200.0.1)");
  EXPECT_GE(r.latency, 290ms);
}

TEST_F(IcmpNetnsTest, Ipv6PeerThatDropsEchoTimesOut) {
  ASSERT_EQ(pair_->exec(pair_->peer(), "echo 1 > /proc/sys/net/ipv6/icmp/echo_ignore_all"), 0);
  const auto r = in_client(icmp_spec("fd00:200::1", 300ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "timeout after 300 ms (no echo reply from fd00:200::1)");
}

TEST_F(IcmpNetnsTest, UnassignedAddressIsDown) {
  // Nobody answers ARP for it: a timeout, or "host unreachable" if the kernel gives up first.
  const auto r = in_client(icmp_spec("10.200.0.99", 300ms));
  EXPECT_FALSE(r.up);
  EXPECT_TRUE(starts_with(r.reason, "timeout after 300 ms") || starts_with(r.reason, "host unreachable"))
      << r.reason;
}

TEST_F(IcmpNetnsTest, UnreachableFromARouterIsDownWithItsReason) {
  // The peer routes 198.18.0.0/24 to "unreachable" and says so: the ICMP error quotes our request.
  ASSERT_EQ(pair_->exec(pair_->peer(), "echo 1 > /proc/sys/net/ipv4/ip_forward"), 0);
  ASSERT_EQ(pair_->ip(pair_->peer(), "route add unreachable 198.18.0.0/24"), 0);
  ASSERT_EQ(pair_->ip(pair_->client(), "route add 198.18.0.0/24 via 10.200.0.1"), 0);
  const auto r = in_client(icmp_spec("198.18.0.5", 2000ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "host unreachable (from 10.200.0.1)");
  EXPECT_LT(r.latency, 2000ms) << "the error ends the probe, not the timeout";
}

TEST_F(IcmpNetnsTest, Ipv6UnreachableFromARouterIsDownWithItsReason) {
  ASSERT_EQ(pair_->exec(pair_->peer(), "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"), 0);
  ASSERT_EQ(pair_->ip(pair_->peer(), "-6 route add unreachable 2001:db8:18::/64"), 0);
  ASSERT_EQ(pair_->ip(pair_->client(), "-6 route add 2001:db8:18::/64 via fd00:200::1"), 0);
  const auto r = in_client(icmp_spec("2001:db8:18::5", 2000ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no route to destination (from fd00:200::1)");
}

TEST_F(IcmpNetnsTest, NoRouteIsDownAtOnce) {
  const auto r = in_client(icmp_spec("198.51.100.1", 1000ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "send to 198.51.100.1: Network is unreachable");
}

TEST_F(IcmpNetnsTest, GatewayUpThenDownWhenThePeerGoesAway) {
  ASSERT_EQ(pair_->ip(pair_->client(), "route add default via 10.200.0.1"), 0);
  auto r = in_client(gateway_spec(4));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from 10.200.0.1");

  // The peer's end goes down: no carrier, no replies.
  ASSERT_EQ(pair_->ip(pair_->peer(), "link set " + pair_->peer_if() + " down"), 0);
  r = in_client(gateway_spec(4, "", 300ms));
  EXPECT_FALSE(r.up);

  // The peer's end is deleted: the client's end and its default route go with it.
  ASSERT_EQ(pair_->ip(pair_->peer(), "link del " + pair_->peer_if()), 0);
  r = in_client(gateway_spec(4, "", 300ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no IPv4 default route");
}

TEST_F(IcmpNetnsTest, Ipv6GatewayIsCheckedApart) {
  ASSERT_EQ(pair_->ip(pair_->client(), "route add default via 10.200.0.1"), 0);
  auto r = in_client(gateway_spec(6));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no IPv6 default route");

  ASSERT_EQ(pair_->ip(pair_->client(), "-6 route add default via fd00:200::1"), 0);
  r = in_client(gateway_spec(6));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "echo reply from fd00:200::1");
}

TEST_F(IcmpNetnsTest, LinkLocalIpv6Gateway) {
  // Routers usually advertise themselves by link-local address: the scope must come along.
  ASSERT_EQ(pair_->exec(pair_->peer(), "ip -6 addr add fe80::1/64 dev " + pair_->peer_if() + " nodad"), 0);
  ASSERT_EQ(pair_->ip(pair_->client(), "-6 route add default via fe80::1 dev " + pair_->client_if()), 0);
  const auto r = in_client(gateway_spec(6));
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(IcmpNetnsTest, UnprivilegedPingSocketWhereAllowed) {
  ASSERT_EQ(pair_->exec(pair_->client(), "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range"), 0);
  bool raw = true;
  std::string error;
  testing::run_on_thread(pair_->client(), true, [&] {
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (auto socket = IcmpSocket::get(&loop, AF_INET, "", error)) raw = socket->raw();
    testing::drain_and_close(&loop);
  });
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_FALSE(raw) << "a ping socket, without CAP_NET_RAW";
  const auto r = in_client(icmp_spec("10.200.0.1", 1000ms), /*drop_net_raw=*/true);
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(IcmpNetnsTest, PingSocketHearsIcmpErrors) {
  ASSERT_EQ(pair_->exec(pair_->client(), "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range"), 0);
  ASSERT_EQ(pair_->exec(pair_->peer(), "echo 1 > /proc/sys/net/ipv4/ip_forward"), 0);
  ASSERT_EQ(pair_->ip(pair_->peer(), "route add unreachable 198.18.0.0/24"), 0);
  ASSERT_EQ(pair_->ip(pair_->client(), "route add 198.18.0.0/24 via 10.200.0.1"), 0);
  const auto r = in_client(icmp_spec("198.18.0.5", 2000ms), /*drop_net_raw=*/true);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "host unreachable (from 10.200.0.1)");
}

TEST_F(IcmpNetnsTest, ClearErrorWithoutPrivilege) {
  ASSERT_EQ(pair_->exec(pair_->client(), "echo 1 0 > /proc/sys/net/ipv4/ping_group_range"), 0);
  const auto r = in_client(icmp_spec("10.200.0.1", 1000ms), /*drop_net_raw=*/true);
  EXPECT_FALSE(r.up);
  EXPECT_TRUE(starts_with(r.reason, "ICMP needs CAP_NET_RAW or net.ipv4.ping_group_range")) << r.reason;
}

// --- route table parsing ---

TEST(DefaultRoute, Ipv4TablePicksTheLowestMetricUpGateway) {
  const char* table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth1\t00000000\t0102A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
  const auto r = parse_ipv4_route_table(table);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&r.gateway)), "192.0.2.1");
  EXPECT_EQ(r.interface, "eth0");
}

TEST(DefaultRoute, Ipv4TableWithoutDefaultRoute) {
  const char* table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";   // not up
  EXPECT_EQ(parse_ipv4_route_table(table).error, "no IPv4 default route");
}

TEST(DefaultRoute, Ipv6TableSkipsRejectRoutes) {
  const char* table =
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
  const auto r = parse_ipv6_route_table(table);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(format_address(reinterpret_cast<const sockaddr*>(&r.gateway)), "fd00::1");
  EXPECT_EQ(r.interface, "eth0");
  EXPECT_EQ(parse_ipv6_route_table("").error, "no IPv6 default route");
}

}  // namespace
}  // namespace pharos::health
