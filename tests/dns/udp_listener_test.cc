// udp_listener_test.cc: the UDP path on a real loop: answers parse with ldns, bursts larger than
// one recvmmsg batch are all answered, and wildcard sockets reply from the address asked.
#include "dns/udp_listener.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/dns/server_fixture.h"

namespace pharos::test {
namespace {

using dns::rrtype::kA;

TEST(UdpListener, AnswersQueryFromPublishedTable) {
  LiveServer s{loopback_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  auto r = udp_exchange(c.fd(), make_query(0x1234, "www.example.com", kA));
  ASSERT_TRUE(r.has_value());
  const Parsed p = parse_response(*r);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 0x1234);
  EXPECT_TRUE(p.qr);
  EXPECT_TRUE(p.aa);
  EXPECT_EQ(p.rcode, 0);
  EXPECT_EQ(p.addresses, (std::set<std::string>{"192.0.2.10", "192.0.2.11"}));
}

TEST(UdpListener, AnswersBurstLargerThanOneBatch) {
  LiveServer s{loopback_options(2)};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  constexpr int kQueries = 3 * static_cast<int>(dns::UdpBatch::kBatch) + 7;
  for (int i = 0; i < kQueries; ++i) {
    const Bytes q = make_query(static_cast<std::uint16_t>(i), "www.example.com", kA);
    ASSERT_EQ(send(c.fd(), q.data(), q.size(), 0), static_cast<ssize_t>(q.size()));
  }
  std::set<std::uint16_t> ids;
  Bytes buf(4096);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (ids.size() < kQueries && wait_readable(c.fd(), ms_left(deadline))) {
    const ssize_t n = recv(c.fd(), buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    buf.resize(static_cast<std::size_t>(n));
    const Parsed p = parse_response(buf);
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(p.rcode, 0);
    ids.insert(p.id);
    buf.resize(4096);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kQueries));
  std::uint64_t received = 0;
  for (unsigned w = 0; w < s.server().worker_count(); ++w) received += s.server().worker(w).counters().udp_received.get();
  EXPECT_EQ(received, static_cast<std::uint64_t>(kQueries));
}

// 127.0.0.2 is loopback too; without IP_PKTINFO the reply would leave from 127.0.0.1 and the
// client's connected socket would never see it.
TEST(UdpListener, WildcardSocketRepliesFromAddressAsked) {
  dns::ServerOptions o = loopback_options();
  ASSERT_TRUE(dns::parse_listen_address("0.0.0.0:0", o.listen[0]));
  LiveServer s{o};
  ASSERT_TRUE(s.ok());
  dns::ListenAddress to;
  ASSERT_TRUE(dns::parse_listen_address("127.0.0.2:" + std::to_string(s.server().bound()[0].port()), to));
  Socket c = udp_socket(to.sa(), to.len);
  ASSERT_TRUE(c);
  auto r = udp_exchange(c.fd(), make_query(7, "www.example.com", kA));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).id, 7);
}

TEST(UdpListener, ServesNewTableAfterPublish) {
  LiveServer s{loopback_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  dns::TableOptions o;
  o.version_bind = "pharos-test";
  s.server().publish(example_table(o));
  // version.bind CH TXT is REFUSED when hidden and answered once the new table is in.
  Bytes q = make_query(9, "version.bind", dns::rrtype::kTxt);
  q[q.size() - 11 - 1] = dns::rrclass::kCh;  // QCLASS low byte, before the OPT record
  auto r = udp_exchange(c.fd(), q);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).rcode, 0);
  EXPECT_EQ(s.server().reclaim(), 1u);  // the old table is free once the worker moved on
}

}  // namespace
}  // namespace pharos::test
