// tcp_check_test.cc: the tcp prober against real loopback targets the test starts: a port that
// accepts, one that refuses, one whose backlog drops SYNs, servers that answer, stay silent, reply
// the wrong thing or reset; plus the resolver path, the source address, the reset on close, and
// cancelling or destroying a probe at every stage. Timeouts are short (200 ms), never slept out.
#include "health/tcp_check.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "health/ares_resolver.h"
#include "tests/health/probe_test_support.h"
#include "tests/health/tcp_test_support.h"

namespace pharos::test {
namespace {

using health::TcpParams;
using namespace std::chrono_literals;

constexpr Millis kShort{200};
// libuv's timers count whole milliseconds of loop time; latency is measured with uv_hrtime, so a
// timeout can show up to a millisecond short.
constexpr auto kShortLatency = kShort - 1ms;

health::CheckSpec tcp_spec(std::uint16_t port, std::string send = {}, std::string expect = {},
                           Millis timeout = kShort, std::string host = "127.0.0.1") {
  return spec_with(TcpParams{std::move(host), port, std::move(send), std::move(expect)}, timeout);
}

void expect_single_async_result(const ProbeRecord& r) {
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.called_inside_start);
}

TEST(TcpCheck, UpWhenThePortAccepts) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kListening);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port(), {}, {}, 2000ms));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "connected");
  EXPECT_GT(r->result.latency.count(), 0);
  EXPECT_LT(r->result.latency, 2000ms);
}

TEST(TcpCheck, ConnectionRefusedOnAClosedPort) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kClosedPort);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port(), {}, {}, 2000ms));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "connection refused");
}

TEST(TcpCheck, TimesOutConnectingWhenSynsAreDropped) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kFullBacklog);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port()));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "timeout after 200 ms connecting");
  EXPECT_GE(r->result.latency, kShortLatency);
  EXPECT_LT(r->result.latency, 1000ms);
}

TEST(TcpCheck, UpWhenTheBannerHoldsTheExpectedBytes) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.banner = "220 mail.example ESMTP ready\r\n"});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), {}, "ESMTP"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "got \"ESMTP\"");
}

TEST(TcpCheck, SendsThePayloadAndFindsTheReply) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.reply = "+PONG\r\n", .trigger = "PING\r\n"});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), "PING\r\n", "PONG"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(server.log().received, "PING\r\n");
}

TEST(TcpCheck, FindsTheExpectedBytesSplitBetweenBannerAndReply) {
  // "O" comes with the banner, "K" only after our payload: the match spans two reads.
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.banner = "status O", .reply = "K\r\n", .trigger = "STATUS"});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), "STATUS", "OK"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST(TcpCheck, UpWhenThePayloadIsSentAndNothingIsExpected) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), "QUIT\r\n"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "connected, sent 6 bytes");
}

TEST(TcpCheck, DownWhenTheTargetClosesWithoutTheExpectedBytes) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.reply = "ERR not ready", .close_after_reply = true});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), "STATUS\n", "OK"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "expected \"OK\" not received (got 13 bytes)");
}

TEST(TcpCheck, TimesOutWaitingWhenTheTargetAcceptsAndNeverAnswers) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kListening);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port(), "HELLO\n", "OK"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "timeout after 200 ms waiting for \"OK\" (got 0 bytes)");
  EXPECT_GE(r->result.latency, kShortLatency);
}

TEST(TcpCheck, DownWhenTheTargetResets) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.reset_on_accept = true});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), {}, "OK", 2000ms));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  // Depending on when the reset lands, libuv reports it with the connect or with the first read.
  EXPECT_EQ(r->result.reason.rfind("connection reset by peer", 0), 0u) << r->result.reason;
  EXPECT_EQ(server.log().accepted, 1);
}

TEST(TcpCheck, ClosesWithAResetSoNoSocketLingersInTimeWait) {
  // The server closes as soon as the client does. Had the prober closed with a FIN, the server
  // would see EOF and the prober's socket would sit in TIME_WAIT for 60 s.
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.banner = "OK\n"});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), {}, "OK", 2000ms));
  auto r = probe_once(loop, *prober);
  ASSERT_TRUE(r->result.up) << r->result.reason;
  ASSERT_TRUE(loop.run_until([&] { return server.log().peer_resets + server.log().peer_eofs > 0; }));
  EXPECT_EQ(server.log().peer_resets, 1);
  EXPECT_EQ(server.log().peer_eofs, 0);
  EXPECT_EQ(time_wait_count(server.port()), 0);
}

TEST(TcpCheck, BindsToTheSourceAddress) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {.banner = "OK"});
  ASSERT_TRUE(server.ok());
  health::CheckSpec spec = tcp_spec(server.port(), {}, "OK", 2000ms);
  spec.source_address = "127.0.0.2";   // all of 127/8 is local on Linux
  auto prober = health::make_tcp_prober(loop.get(), resolver, spec);
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(server.log().peer_ip, "127.0.0.2");
  EXPECT_EQ(resolver.last_family(), AF_INET);   // resolved in the source's family
}

TEST(TcpCheck, DownWhenTheSourceAddressIsNotLocal) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kListening);
  ASSERT_TRUE(target.ok());
  health::CheckSpec spec = tcp_spec(target.port(), {}, {}, 2000ms);
  spec.source_address = "192.0.2.1";   // TEST-NET-1, never configured here: bind() refuses
  auto prober = health::make_tcp_prober(loop.get(), resolver, spec);
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "cannot bind to source address 192.0.2.1: address not available");
}

TEST(TcpCheck, AnInvalidSourceAddressIsReportedAfterStartReturns) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  health::CheckSpec spec = tcp_spec(9);
  spec.source_address = "not-an-ip";
  auto prober = health::make_tcp_prober(loop.get(), resolver, spec);
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "invalid source address \"not-an-ip\"");
  EXPECT_EQ(resolver.counters().requests, 0);
}

TEST(TcpCheck, ReportsAResolutionFailure) {
  TestLoop loop;
  LiteralResolver resolver(loop.get(), LiteralResolver::Mode::kFail);
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(80, {}, {}, kShort, "db1.example"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "cannot resolve db1.example: test resolver refuses");
}

TEST(TcpCheck, TheTimeoutCoversResolutionAndDropsTheRequest) {
  TestLoop loop;
  LiteralResolver resolver(loop.get(), LiteralResolver::Mode::kHang);
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(80, {}, {}, kShort, "db1.example"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "timeout after 200 ms resolving db1.example");
  EXPECT_EQ(resolver.counters().cancelled, 1);
  EXPECT_EQ(resolver.counters().tokens_alive, 0);
}

TEST(TcpCheck, ResolvesAHostnameThroughCAres) {
  // The real resolver, from the hosts file only: nothing leaves the machine.
  TestLoop loop;
  health::AresResolver::Options options;
  options.lookups = "f";
  health::AresResolver resolver(loop.get(), options);
  SocketTarget target(SocketTarget::Kind::kListening);
  ASSERT_TRUE(target.ok());
  health::CheckSpec spec = tcp_spec(target.port(), {}, {}, 2000ms, "localhost");
  spec.source_address = "127.0.0.1";   // asks for IPv4, where the target listens
  auto prober = health::make_tcp_prober(loop.get(), resolver, spec);
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  prober.reset();
  resolver.close();
}

TEST(TcpCheck, ConnectsOverIpv6) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kListening, "::1");
  if (!target.ok()) GTEST_SKIP() << "no IPv6 loopback here";
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port(), {}, {}, 2000ms, "::1"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST(TcpCheck, OneProberProbesAgainAfterAResult) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  auto target = std::make_unique<SocketTarget>(SocketTarget::Kind::kListening);
  ASSERT_TRUE(target->ok());
  const std::uint16_t port = target->port();
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(port, {}, {}, 2000ms));
  EXPECT_TRUE(probe_once(loop, *prober)->result.up);
  target.reset();   // the port closes: nothing listens there any more
  auto second = probe_once(loop, *prober);
  expect_single_async_result(*second);
  EXPECT_FALSE(second->result.up);
  EXPECT_EQ(second->result.reason, "connection refused");
}

TEST(TcpCheck, CancelWhileConnectingNeverReports) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kFullBacklog);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port()));
  auto r = start_probe(*prober);
  ASSERT_TRUE(loop.run_until([&] { return resolver.counters().delivered == 1; }));
  prober->cancel();
  loop.run_for(kShort * 2);   // past the timeout: a timer left armed would report now
  EXPECT_EQ(r->calls, 0) << r->result.reason;
  EXPECT_TRUE(loop.drain());
}

TEST(TcpCheck, CancelWhileResolvingDropsTheRequest) {
  TestLoop loop;
  LiteralResolver resolver(loop.get(), LiteralResolver::Mode::kHang);
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(80, {}, {}, kShort, "db1.example"));
  auto r = start_probe(*prober);
  prober->cancel();
  EXPECT_EQ(resolver.counters().cancelled, 1);
  EXPECT_EQ(resolver.counters().tokens_alive, 0);
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(TcpCheck, DestroyWhileExchangingIsSafeAndSilent) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  LoopServer server(loop.get(), {});
  ASSERT_TRUE(server.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(server.port(), "HELLO\n", "OK"));
  auto r = start_probe(*prober);
  ASSERT_TRUE(loop.run_until([&] { return server.log().received == "HELLO\n"; }));
  prober.reset();   // reading, with the connection open
  EXPECT_TRUE(loop.run_until([&] { return server.log().peer_resets == 1; }));
  loop.run_for(kShort * 2);   // past the timeout: a timer left armed would report now
  EXPECT_EQ(r->calls, 0);
}

TEST(TcpCheck, DestroyRightAfterStartIsSafeAndSilent) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(9));
  auto r = start_probe(*prober);
  prober.reset();
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
  EXPECT_EQ(resolver.counters().tokens_alive, 0);
}

TEST(TcpCheck, TheCallbackMayDestroyTheProber) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  SocketTarget target(SocketTarget::Kind::kClosedPort);
  ASSERT_TRUE(target.ok());
  auto prober = health::make_tcp_prober(loop.get(), resolver, tcp_spec(target.port()));
  int calls = 0;
  prober->start([&](health::ProbeResult&&) {
    ++calls;
    prober.reset();
  });
  ASSERT_TRUE(loop.run_until([&] { return calls > 0; }));
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(prober, nullptr);
}

TEST(TcpCheck, MissingParametersAreDownNotACrash) {
  TestLoop loop;
  LiteralResolver resolver(loop.get());
  auto prober = health::make_tcp_prober(loop.get(), resolver, spec_with(health::FileParams{"/x"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "tcp check without tcp parameters");
}

}  // namespace
}  // namespace pharos::test
