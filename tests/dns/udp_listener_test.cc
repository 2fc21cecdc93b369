// udp_listener_test.cc: the UDP path on real sockets and threads: answers parse with ldns, bursts
// larger than one recvmmsg batch are all answered, wildcard sockets reply from the address asked,
// a receiver blocked in recvmmsg holds no snapshot and wakes promptly on stop, malformed datagrams
// are dropped and counted, and IPv4 and IPv6 addresses each get their own receive threads.
#include "dns/udp_listener.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <set>
#include <thread>

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

std::uint64_t sum_counter(LiveServer& s, std::uint64_t (*get)(const dns::IoCounters&)) {
  std::uint64_t n = 0;
  for (unsigned w = 0; w < s.server().worker_count(); ++w) n += get(s.server().worker(w).counters());
  return n;
}
std::uint64_t received(const dns::IoCounters& c) { return c.udp_received.get(); }
std::uint64_t sent(const dns::IoCounters& c) { return c.udp_sent.get(); }
std::uint64_t dropped(const dns::IoCounters& c) { return c.udp_dropped.get(); }

// The receive thread sleeps in recvmmsg between batches without a snapshot in hand: tables
// replaced while no query arrives are all reclaimable, with no query needed to move it on.
TEST(UdpListener, ReceiverBlockedInRecvmmsgHoldsNoSnapshot) {
  LiveServer s{loopback_options(2)};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  ASSERT_TRUE(udp_exchange(c.fd(), make_query(1, "www.example.com", kA)).has_value());
  s.server().publish(example_table());
  s.server().publish(example_table());
  EXPECT_EQ(s.server().reclaim(), 2u);
  // And the thread serves the newest table on its next batch.
  auto r = udp_exchange(c.fd(), make_query(2, "www.example.com", kA));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).rcode, 0);
}

// stop() must wake every thread asleep in recvmmsg (shutdown(SHUT_RD)); without that it would
// wait forever for a datagram. The bound only turns a hang into a failure.
TEST(UdpListener, StopWakesReceiversBlockedInRecvmmsg) {
  dns::ServerOptions o = loopback_options(2);
  dns::ListenAddress v6;
  ASSERT_TRUE(dns::parse_listen_address("[::1]:0", v6));
  o.listen.push_back(v6);
  LiveServer s{o};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  ASSERT_TRUE(udp_exchange(c.fd(), make_query(3, "www.example.com", kA)).has_value());
  const auto begin = Clock::now();
  auto stopped = std::async(std::launch::async, [&] { s.server().stop(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "a UDP receive thread did not wake up";
  const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
  RecordProperty("stop_us", static_cast<int>(ms));
  for (unsigned w = 0; w < s.server().worker_count(); ++w) {
    EXPECT_EQ(s.server().worker(w).udp_count(), 2u);
  }
}

// One receive thread per socket: IPv4 and IPv6 addresses are both served by every worker, and the
// UDP counters, shared by a worker's threads, add up exactly.
TEST(UdpListener, ServesIpv4AndIpv6AndCountsEveryDatagram) {
  dns::ServerOptions o = loopback_options(2);
  dns::ListenAddress v6;
  ASSERT_TRUE(dns::parse_listen_address("[::1]:0", v6));
  o.listen.push_back(v6);
  LiveServer s{o};
  ASSERT_TRUE(s.ok());
  constexpr int kPerAddress = 100;
  for (const auto& b : s.server().bound()) {
    Socket c = udp_socket(b.sa(), b.len);
    ASSERT_TRUE(c);
    for (int i = 0; i < kPerAddress; ++i) {
      auto r = udp_exchange(c.fd(), make_query(static_cast<std::uint16_t>(i), "www.example.com", kA));
      ASSERT_TRUE(r.has_value()) << dns::format_address(b.sa()) << " query " << i;
      const Parsed p = parse_response(*r);
      EXPECT_EQ(p.rcode, 0);
      EXPECT_EQ(p.addresses, (std::set<std::string>{"192.0.2.10", "192.0.2.11"}));
    }
  }
  // The counters are added once per batch, after sendmmsg: the last reply can reach us first.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (sum_counter(s, sent) < 2u * kPerAddress && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(sum_counter(s, received), 2u * kPerAddress);
  EXPECT_EQ(sum_counter(s, sent), 2u * kPerAddress);
  EXPECT_EQ(sum_counter(s, dropped), 0u);
  s.server().stop();
  std::uint64_t queries = 0;
  for (unsigned w = 0; w < s.server().worker_count(); ++w) queries += s.server().worker(w).responder_stats().queries;
  EXPECT_EQ(queries, 2u * kPerAddress);
}

// Without EDNS an answer over 512 bytes is cut to the header and question with TC; with EDNS it
// fits the client's payload size.
TEST(UdpListener, TruncatesToTheClientsPayloadSize) {
  LiveServer s{loopback_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  auto plain = udp_exchange(c.fd(), make_query(4, "big.example.com", dns::rrtype::kTxt, false));
  ASSERT_TRUE(plain.has_value());
  EXPECT_LE(plain->size(), 512u);
  EXPECT_TRUE(parse_response(*plain).tc);
  auto edns = udp_exchange(c.fd(), make_query(5, "big.example.com", dns::rrtype::kTxt, true, 1232));
  ASSERT_TRUE(edns.has_value());
  EXPECT_GT(edns->size(), 512u);
  EXPECT_LE(edns->size(), 1232u);
  const Parsed p = parse_response(*edns);
  EXPECT_FALSE(p.tc);
  EXPECT_EQ(p.answers, 4u);
}

// An empty datagram and one larger than the receive buffer are dropped and counted; the thread
// goes on answering.
TEST(UdpListener, DropsEmptyAndOversizedDatagramsThenStillAnswers) {
  LiveServer s{loopback_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.udp();
  ASSERT_EQ(send(c.fd(), "", 0, 0), 0);
  Bytes huge = make_query(6, "www.example.com", kA);
  huge.resize(dns::UdpBatch::kBufSize + 100, 0);
  ASSERT_EQ(send(c.fd(), huge.data(), huge.size(), 0), static_cast<ssize_t>(huge.size()));
  auto r = udp_exchange(c.fd(), make_query(7, "www.example.com", kA));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).id, 7);
  // The counters are added once per batch, after sendmmsg: the reply can reach us first.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (sum_counter(s, sent) < 1u && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(sum_counter(s, received), 3u);
  EXPECT_EQ(sum_counter(s, dropped), 2u);
  EXPECT_EQ(sum_counter(s, sent), 1u);
}

// Brings up loopback with `mtu` in the calling thread's network namespace. Returns "" or the error.
std::string loopback_up(int mtu) {
  dns::Fd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  ifreq r{};
  std::strncpy(r.ifr_name, "lo", IFNAMSIZ - 1);
  r.ifr_mtu = mtu;
  if (!fd || ::ioctl(fd.get(), SIOCSIFMTU, &r) != 0) return std::string("SIOCSIFMTU: ") + std::strerror(errno);
  r.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &r) != 0) return std::string("SIOCSIFFLAGS: ") + std::strerror(errno);
  return "";
}

// Replies leave with DF set and are never fragmented (RFC 9715): one larger than the interface's
// MTU is cut to header, question and OPT with TC, so the client retries over TCP. The server and
// the client live in a network namespace of their own (made by a thread, so the rest of the test
// binary keeps the host's), whose loopback has an MTU of 576: the big TXT answer (over 700 bytes)
// no longer fits, the www answer still does.
TEST(UdpListener, ReplyLargerThanTheInterfaceMtuIsSentTruncated) {
  std::unique_ptr<LiveServer> s;
  Socket c;
  std::string error;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    error = loopback_up(576);
    if (!error.empty()) return;
    s = std::make_unique<LiveServer>(loopback_options());
    if (s->ok()) c = s->udp();
  }).join();
  ASSERT_EQ(error, "");
  ASSERT_TRUE(s->ok());

  auto big = udp_exchange(c.fd(), make_query(8, "big.example.com", dns::rrtype::kTxt, true, 1232));
  ASSERT_TRUE(big.has_value());
  EXPECT_LE(big->size(), 576u - 28u);
  const Parsed p = parse_response(*big);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 8);
  EXPECT_TRUE(p.tc);
  EXPECT_TRUE(p.aa);
  EXPECT_EQ(p.rcode, 0);
  EXPECT_EQ(p.answers, 0u);
  EXPECT_EQ((*big)[5], 1);   // QDCOUNT: the question is kept
  EXPECT_EQ((*big)[11], 1);  // ARCOUNT: the OPT is kept
  EXPECT_EQ((*big)[9], 0);   // NSCOUNT

  // The next reply, which fits, goes out whole; the cut one counts as truncated.
  auto r = udp_exchange(c.fd(), make_query(9, "www.example.com", kA, true, 1232));
  ASSERT_TRUE(r.has_value());
  const Parsed w = parse_response(*r);
  EXPECT_FALSE(w.tc);
  EXPECT_EQ(w.addresses, (std::set<std::string>{"192.0.2.10", "192.0.2.11"}));
  s->server().stop();
  std::uint64_t truncated = 0;
  for (unsigned i = 0; i < s->server().worker_count(); ++i) truncated += s->server().worker(i).responder_stats().truncated;
  EXPECT_EQ(truncated, 1u);
}

}  // namespace
}  // namespace pharos::test
