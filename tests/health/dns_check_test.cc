// dns_check_test.cc: the DNS prober against a DNS server the test runs on loopback.
#include "health/dns_check.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "health/dns_channel.h"
#include "tests/health/dns_test_support.h"

namespace pharos::health {
namespace {

using namespace std::chrono_literals;
using testing::TestDnsServer;

class DnsCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    server_ = std::make_unique<TestDnsServer>(&loop_);
  }
  void TearDown() override {
    server_.reset();
    EXPECT_EQ(testing::drain_and_close(&loop_), 0) << "a handle was left open";
  }

  CheckSpec spec(DnsParams params, Millis timeout = 2000ms) {
    if (params.server.empty()) params.server = server_->address();
    if (params.qname.empty()) params.qname = "www.example.com.";
    CheckSpec s;
    s.type = CheckType::kDns;
    s.params = params;
    s.timeout = timeout;
    s.interval = timeout * 2;
    return s;
  }

  // Runs one probe to its end; checks `done` is never called inside start() and only once.
  ProbeResult probe(const CheckSpec& s) {
    auto prober = make_dns_prober(&loop_, s);
    std::optional<ProbeResult> result;
    int calls = 0;
    bool in_start = true;
    prober->start([&](ProbeResult&& r) {
      EXPECT_FALSE(in_start) << "done called from inside start()";
      ++calls;
      result = std::move(r);
    });
    in_start = false;
    EXPECT_TRUE(testing::run_until(&loop_, [&] { return result.has_value(); }, 10s));
    testing::run_for(&loop_, 20ms);
    EXPECT_EQ(calls, 1);
    return result.value_or(ProbeResult{.up = false, .reason = "no result"});
  }

  uv_loop_t loop_{};
  std::unique_ptr<TestDnsServer> server_;
};

TEST_F(DnsCheckTest, ExpectedAnswerIsUp) {
  const auto r = probe(spec(DnsParams{.expect_answer = "192.0.2.1"}));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "answer 192.0.2.1");
  EXPECT_GT(r.latency.count(), 0);
  EXPECT_EQ(server_->queries(), 1);
  EXPECT_EQ(server_->last_qname(), "www.example.com.");
}

TEST_F(DnsCheckTest, RcodeOnlyIsUp) {
  const auto r = probe(spec(DnsParams{}));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "rcode NOERROR");
}

TEST_F(DnsCheckTest, AnswerMismatchIsDown) {
  server_->set_answers(1, {"192.0.2.2", "192.0.2.3"});
  const auto r = probe(spec(DnsParams{.expect_answer = "192.0.2.1"}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no answer 192.0.2.1 (got 192.0.2.2, 192.0.2.3)");
}

TEST_F(DnsCheckTest, AnyOfSeveralAnswersMatches) {
  server_->set_answers(1, {"192.0.2.2", "192.0.2.1"});
  const auto r = probe(spec(DnsParams{.expect_answer = "192.0.2.1"}));
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(DnsCheckTest, EmptyAnswerIsDownWhenAValueIsExpected) {
  server_->set_answers(1, {});
  const auto r = probe(spec(DnsParams{.expect_answer = "192.0.2.1"}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "no answer 192.0.2.1 (got nothing)");
}

TEST_F(DnsCheckTest, MxAnswerComparesAsRdataNotText) {
  server_->set_answers(15, {"10 mail.example.com."});
  // Case and the missing trailing dot do not matter: both sides go through ldns.
  const auto r = probe(spec(DnsParams{.qtype = 15, .expect_answer = "10 Mail.Example.com"}));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "answer 10 mail.example.com.");
}

TEST_F(DnsCheckTest, AaaaAnswerComparesAsAddress) {
  server_->set_answers(28, {"2001:db8::1"});
  const auto r = probe(spec(DnsParams{.qtype = 28, .expect_answer = "2001:DB8:0:0::1"}));
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(DnsCheckTest, ServfailIsDownWithTheRcode) {
  server_->set_mode(TestDnsServer::Mode::kServfail);
  const auto r = probe(spec(DnsParams{}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "rcode SERVFAIL (expected NOERROR)");
  EXPECT_EQ(server_->queries(), 1) << "one try only";
}

TEST_F(DnsCheckTest, RefusedIsDownWithTheRcode) {
  server_->set_mode(TestDnsServer::Mode::kRefused);
  const auto r = probe(spec(DnsParams{}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "rcode REFUSED (expected NOERROR)");
}

TEST_F(DnsCheckTest, ExpectedNxdomainIsUp) {
  server_->set_mode(TestDnsServer::Mode::kNxdomain);
  const auto r = probe(spec(DnsParams{.qname = "nope.example.com.", .expect_rcode = "nxdomain"}));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(r.reason, "rcode NXDOMAIN");
}

TEST_F(DnsCheckTest, NoerrorWhenNxdomainExpectedIsDown) {
  const auto r = probe(spec(DnsParams{.expect_rcode = "NXDOMAIN"}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "rcode NOERROR (expected NXDOMAIN)");
}

TEST_F(DnsCheckTest, SilentServerTimesOutWithinTheTimeout) {
  server_->set_mode(TestDnsServer::Mode::kSilent);
  const auto begin = std::chrono::steady_clock::now();
  const auto r = probe(spec(DnsParams{}, 300ms));
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "timeout after 300 ms");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s) << "the timeout is a hard bound (loose margin for a loaded machine)";
  EXPECT_EQ(server_->queries(), 1) << "no retries";
}

TEST_F(DnsCheckTest, ClosedPortIsDown) {
  // Nothing listens on a port just released: the kernel answers with port unreachable, which
  // c-ares reports as a refused connection before the timeout.
  std::string address;
  {
    TestDnsServer gone(&loop_);
    address = gone.address();
  }
  testing::run_for(&loop_, 10ms);
  const auto r = probe(spec(DnsParams{.server = address}, 1000ms));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "connection refused by " + address);
}

TEST_F(DnsCheckTest, IPv6Server) {
  std::unique_ptr<TestDnsServer> v6;
  try {
    v6 = std::make_unique<TestDnsServer>(&loop_, "::1");
  } catch (const std::exception&) {
    GTEST_SKIP() << "no ::1 on this host";
  }
  const auto r = probe(spec(DnsParams{.server = v6->address(), .expect_answer = "192.0.2.1"}));
  EXPECT_TRUE(r.up) << r.reason;
  EXPECT_EQ(v6->queries(), 1);
}

TEST_F(DnsCheckTest, BadServerIsAConfigError) {
  const auto r = probe(spec(DnsParams{.server = "not-an-address"}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "bad DNS server \"not-an-address\" (want addr or addr:port)");
}

TEST_F(DnsCheckTest, SourceAddressIsUsed) {
  auto s = spec(DnsParams{.expect_answer = "192.0.2.1"});
  s.source_address = "127.0.0.1";
  const auto r = probe(s);
  EXPECT_TRUE(r.up) << r.reason;
}

TEST_F(DnsCheckTest, BadSourceAddressIsDown) {
  auto s = spec(DnsParams{});
  s.source_address = "nowhere";
  const auto r = probe(s);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "bad source address \"nowhere\"");
}

TEST_F(DnsCheckTest, UnknownRcodeIsAConfigError) {
  const auto r = probe(spec(DnsParams{.expect_rcode = "MAYBE"}));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.reason, "unknown rcode \"MAYBE\"");
}

TEST_F(DnsCheckTest, RepeatedProbesReuseTheProber) {
  auto prober = make_dns_prober(&loop_, spec(DnsParams{.expect_answer = "192.0.2.1"}));
  int ups = 0;
  for (int i = 0; i < 5; ++i) {
    bool done = false;
    prober->start([&](ProbeResult&& r) {
      ups += r.up ? 1 : 0;
      done = true;
    });
    ASSERT_TRUE(testing::run_until(&loop_, [&] { return done; }));
  }
  EXPECT_EQ(ups, 5);
  EXPECT_EQ(server_->queries(), 5);
}

TEST_F(DnsCheckTest, RestartFromInsideDone) {
  auto prober = make_dns_prober(&loop_, spec(DnsParams{}));
  int results = 0;
  std::function<void(ProbeResult&&)> again = [&](ProbeResult&& r) {
    EXPECT_TRUE(r.up) << r.reason;
    if (++results < 3) prober->start(again);
  };
  prober->start(again);
  EXPECT_TRUE(testing::run_until(&loop_, [&] { return results == 3; }));
}

TEST_F(DnsCheckTest, CancelMeansNoCallback) {
  server_->set_mode(TestDnsServer::Mode::kSilent);
  auto prober = make_dns_prober(&loop_, spec(DnsParams{}, 100ms));
  int calls = 0;
  prober->start([&](ProbeResult&&) { ++calls; });
  testing::run_for(&loop_, 20ms);
  prober->cancel();
  testing::run_for(&loop_, 250ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsCheckTest, CancelAfterResultBeforeDeliveryMeansNoCallback) {
  // A config error is known inside start(); its delivery waits for the next loop turn.
  auto prober = make_dns_prober(&loop_, spec(DnsParams{.expect_rcode = "MAYBE"}));
  int calls = 0;
  prober->start([&](ProbeResult&&) { ++calls; });
  prober->cancel();
  testing::run_for(&loop_, 50ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsCheckTest, DestroyMidProbeIsSafe) {
  server_->set_mode(TestDnsServer::Mode::kSilent);
  int calls = 0;
  {
    auto prober = make_dns_prober(&loop_, spec(DnsParams{}, 100ms));
    prober->start([&](ProbeResult&&) { ++calls; });
    testing::run_for(&loop_, 10ms);
  }
  testing::run_for(&loop_, 200ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsCheckTest, DestroyRightAfterStartIsSafe) {
  int calls = 0;
  {
    auto prober = make_dns_prober(&loop_, spec(DnsParams{}));
    prober->start([&](ProbeResult&&) { ++calls; });
  }
  testing::run_for(&loop_, 50ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsCheckTest, DestroyFromInsideDoneIsSafe) {
  auto prober = make_dns_prober(&loop_, spec(DnsParams{}));
  bool done = false;
  prober->start([&](ProbeResult&&) {
    prober.reset();
    done = true;
  });
  EXPECT_TRUE(testing::run_until(&loop_, [&] { return done; }));
}

TEST_F(DnsCheckTest, ProbersOfOneServerShareAChannel) {
  // Distinct checks (different names) on one server: one c-ares channel, concurrent queries with
  // distinct IDs, every answer reaching its own prober; a cancelled one leaves the others alone.
  constexpr int kProbers = 200;
  server_->set_answers(1, {"192.0.2.1"});
  std::vector<std::unique_ptr<Prober>> probers;
  std::vector<int> ups(kProbers, 0);
  int results = 0;
  for (int i = 0; i < kProbers; ++i) {
    probers.push_back(make_dns_prober(&loop_, spec(DnsParams{.qname = "host" + std::to_string(i) + ".example.com.",
                                                             .expect_answer = "192.0.2.1"})));
  }
  for (int i = 0; i < kProbers; ++i) {
    probers[i]->start([&, i](ProbeResult&& r) {
      EXPECT_TRUE(r.up) << i << ": " << r.reason;
      ++ups[i];
      ++results;
    });
  }
  probers[7]->cancel();
  ASSERT_TRUE(testing::run_until(&loop_, [&] { return results == kProbers - 1; }));
  testing::run_for(&loop_, 20ms);
  EXPECT_EQ(ups[7], 0);
  EXPECT_EQ(results, kProbers - 1);
  EXPECT_EQ(server_->queries(), kProbers);
  std::string error;
  const auto channel = DnsChannel::get(&loop_, server_->address(), "", 2000ms, error);
  EXPECT_EQ(channel.use_count(), kProbers + 1);
  EXPECT_EQ(channel->in_flight(), 0u);
}

TEST_F(DnsCheckTest, TimeoutOfOneProberLeavesTheChannelUsable) {
  server_->set_mode(TestDnsServer::Mode::kSilent);
  // Holding a prober keeps the shared channel alive across the two probes below.
  auto holder = make_dns_prober(&loop_, spec(DnsParams{}, 200ms));
  EXPECT_EQ(probe(spec(DnsParams{}, 200ms)).reason, "timeout after 200 ms");
  server_->set_mode(TestDnsServer::Mode::kAnswer);
  EXPECT_TRUE(probe(spec(DnsParams{}, 200ms)).up);
}

TEST(DnsRcode, NamesAndNumbers) {
  EXPECT_EQ(parse_rcode("NOERROR"), 0);
  EXPECT_EQ(parse_rcode("servfail"), 2);
  EXPECT_EQ(parse_rcode("NXDOMAIN"), 3);
  EXPECT_EQ(parse_rcode("REFUSED"), 5);
  EXPECT_EQ(parse_rcode("9"), 9);
  EXPECT_EQ(parse_rcode("16"), std::nullopt);
  EXPECT_EQ(parse_rcode(""), std::nullopt);
  EXPECT_EQ(rcode_name(2), "SERVFAIL");
  EXPECT_EQ(rcode_name(12), "RCODE12");
}

}  // namespace
}  // namespace pharos::health
