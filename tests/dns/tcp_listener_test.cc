// tcp_listener_test.cc: DNS over TCP on a real loop (RFC 7766, CONFORMANCE.md a.7): framing,
// pipelining, reassembly, bad lengths, message and idle timeouts, half-close, stalled clients,
// the connection cap and write backpressure. Timeouts are configured short instead of slept out.
#include "dns/tcp_listener.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <set>
#include <thread>

#include "tests/dns/server_fixture.h"

namespace pharos::test {
namespace {

using dns::rrtype::kA;
using dns::rrtype::kTxt;

dns::ServerOptions tcp_options(std::uint64_t idle_ms = 10'000, std::uint64_t message_ms = 5'000,
                               std::uint32_t max_connections = 1024) {
  dns::ServerOptions o = loopback_options();
  o.tcp_idle_timeout_ms = idle_ms;
  o.tcp_message_timeout_ms = message_ms;
  o.tcp_max_connections = max_connections;
  return o;
}

// Polls a condition that the server reaches on its own (not a timeout we wait out).
bool eventually(const std::function<bool()>& pred, int timeout_ms = 3000) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

std::uint64_t open_connections(LiveServer& s) { return s.server().worker(0).counters().tcp_open.get(); }

bool answered(LiveServer& s, std::uint16_t id) {
  Socket c = s.tcp();
  if (!c || !send_all(c.fd(), framed(make_query(id, "www.example.com", kA)))) return false;
  auto r = tcp_read_message(c.fd());
  return r && parse_response(*r).id == id && parse_response(*r).rcode == 0;
}

TEST(TcpListener, AnswersQuery) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(c);
  ASSERT_TRUE(send_all(c.fd(), framed(make_query(77, "www.example.com", kA))));
  auto r = tcp_read_message(c.fd());
  ASSERT_TRUE(r.has_value());
  const Parsed p = parse_response(*r);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 77);
  EXPECT_EQ(p.addresses, (std::set<std::string>{"192.0.2.10", "192.0.2.11"}));
}

TEST(TcpListener, AnswersEveryPipelinedQueryInOneSegment) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  Bytes all;
  for (std::uint16_t id = 1; id <= 20; ++id) {
    const Bytes f = framed(make_query(id, id % 2 ? "www.example.com" : "mail.example.com", kA));
    all.insert(all.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(send_all(c.fd(), all));
  std::set<std::uint16_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto r = tcp_read_message(c.fd());
    ASSERT_TRUE(r.has_value()) << "answer " << i;
    ids.insert(parse_response(*r).id);
  }
  EXPECT_EQ(ids.size(), 20u);
}

TEST(TcpListener, ReassemblesMessageSentByteByByte) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  const Bytes f = framed(make_query(4242, "www.example.com", kA));
  for (std::uint8_t b : f) {
    ASSERT_TRUE(send_all(c.fd(), &b, 1));
    // A short gap so the bytes arrive as separate segments; the server's clocks are not involved.
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  auto r = tcp_read_message(c.fd());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).id, 4242);
}

TEST(TcpListener, LengthBelowHeaderSizeClosesConnection) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(send_all(c.fd(), Bytes{0x00, 0x02, 'A', 'B'}));
  EXPECT_TRUE(wait_closed(c.fd(), 2000));
  EXPECT_EQ(s.server().worker(0).counters().tcp_bad_length.get(), 1u);
  EXPECT_TRUE(answered(s, 1));  // the server stays up
}

// CONFORMANCE.md #2: a response sent to us is dropped, and over TCP the connection closes; the
// answer owed to the query before it in the same segment is still delivered.
TEST(TcpListener, DroppedQueryClosesConnectionAfterEarlierAnswers) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  Bytes response = make_query(8, "www.example.com", kA);
  response[2] |= 0x80;  // QR=1
  Bytes both = framed(make_query(7, "www.example.com", kA));
  const Bytes second = framed(response);
  both.insert(both.end(), second.begin(), second.end());
  ASSERT_TRUE(send_all(c.fd(), both));
  auto r = tcp_read_message(c.fd());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(parse_response(*r).id, 7);
  EXPECT_TRUE(wait_closed(c.fd(), 2000));
  EXPECT_EQ(s.server().worker(0).counters().tcp_dropped.get(), 1u);
  EXPECT_TRUE(eventually([&] { return open_connections(s) == 0; }));
}

TEST(TcpListener, HugeLengthWithStalledBodyClosesOnMessageTimeout) {
  LiveServer s{tcp_options(/*idle_ms=*/10'000, /*message_ms=*/150)};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  const auto start = Clock::now();
  ASSERT_TRUE(send_all(c.fd(), Bytes{0x7D, 0x00, 0x12, 0x34, 0, 0, 0, 1}));
  EXPECT_TRUE(wait_closed(c.fd(), 3000));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(140));
  EXPECT_EQ(s.server().worker(0).counters().tcp_message_timeouts.get(), 1u);
  EXPECT_TRUE(answered(s, 2));
}

// A client trickling one byte at a time keeps the connection busy but never finishes: the message
// clock runs from its first byte, so activity does not extend it.
TEST(TcpListener, TricklingMessageStillTimesOut) {
  LiveServer s{tcp_options(/*idle_ms=*/10'000, /*message_ms=*/200)};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(send_all(c.fd(), Bytes{0x01, 0x00}));
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    const std::uint8_t b = 0;
    if (!send_all(c.fd(), &b, 1)) break;
    closed = wait_closed(c.fd(), 20);
  }
  EXPECT_TRUE(closed || wait_closed(c.fd(), 2000));
  EXPECT_EQ(s.server().worker(0).counters().tcp_message_timeouts.get(), 1u);
}

TEST(TcpListener, IdleConnectionClosesAfterIdleTimeout) {
  LiveServer s{tcp_options(/*idle_ms=*/150, /*message_ms=*/150)};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(send_all(c.fd(), framed(make_query(5, "www.example.com", kA))));
  ASSERT_TRUE(tcp_read_message(c.fd()).has_value());
  EXPECT_TRUE(wait_closed(c.fd(), 3000));
  EXPECT_EQ(s.server().worker(0).counters().tcp_idle_timeouts.get(), 1u);
}

TEST(TcpListener, HalfCloseGetsEveryAnswerThenClose) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  Bytes all;
  for (std::uint16_t id = 100; id < 105; ++id) {
    const Bytes f = framed(make_query(id, "big.example.com", kTxt));
    all.insert(all.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(send_all(c.fd(), all));
  ASSERT_EQ(shutdown(c.fd(), SHUT_WR), 0);
  std::set<std::uint16_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = tcp_read_message(c.fd());
    ASSERT_TRUE(r.has_value()) << "answer " << i;
    ids.insert(parse_response(*r).id);
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_TRUE(wait_closed(c.fd(), 2000));
  // The server side is gone too: nothing left in CLOSE_WAIT.
  EXPECT_TRUE(eventually([&] { return open_connections(s) == 0; }));
}

TEST(TcpListener, HalfCloseWithPartialMessageClosesAtOnce) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(send_all(c.fd(), Bytes{0x00, 0x40, 1, 2, 3}));
  ASSERT_EQ(shutdown(c.fd(), SHUT_WR), 0);
  EXPECT_TRUE(wait_closed(c.fd(), 2000));
  EXPECT_TRUE(eventually([&] { return open_connections(s) == 0; }));
}

TEST(TcpListener, LegitimateClientsAnsweredWhile200ConnectionsStall) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  std::vector<Socket> stalled;
  for (int i = 0; i < 200; ++i) {
    Socket c = s.tcp();
    ASSERT_TRUE(c) << "connection " << i;
    // Half of them announce a message and never finish it; the rest say nothing at all.
    if (i % 2 == 0) {
      ASSERT_TRUE(send_all(c.fd(), Bytes{0x00, 0x30, 0xAB}));
    }
    stalled.push_back(std::move(c));
  }
  ASSERT_TRUE(eventually([&] { return open_connections(s) == 200; }));
  for (std::uint16_t id = 1; id <= 20; ++id) EXPECT_TRUE(answered(s, id)) << id;
  Socket u = s.udp();
  EXPECT_TRUE(udp_exchange(u.fd(), make_query(99, "www.example.com", kA)).has_value());
}

TEST(TcpListener, NewConnectionOverCapEvictsLongestIdle) {
  LiveServer s{tcp_options(10'000, 5'000, /*max_connections=*/4)};
  ASSERT_TRUE(s.ok());
  std::vector<Socket> conns;
  for (int i = 0; i < 4; ++i) {
    conns.push_back(s.tcp());
    ASSERT_TRUE(eventually([&] { return open_connections(s) == static_cast<std::uint64_t>(i + 1); }));
  }
  // Connections 1..3 show activity, so connection 0 is the longest idle.
  for (int i = 1; i < 4; ++i) {
    ASSERT_TRUE(send_all(conns[i].fd(), framed(make_query(static_cast<std::uint16_t>(i), "www.example.com", kA))));
    ASSERT_TRUE(tcp_read_message(conns[i].fd()).has_value());
  }
  EXPECT_TRUE(answered(s, 50));
  EXPECT_TRUE(wait_closed(conns[0].fd(), 2000));
  EXPECT_EQ(s.server().worker(0).counters().tcp_evicted.get(), 1u);
  for (int i = 1; i < 4; ++i) {
    ASSERT_TRUE(send_all(conns[i].fd(), framed(make_query(static_cast<std::uint16_t>(10 + i), "www.example.com", kA))));
    EXPECT_TRUE(tcp_read_message(conns[i].fd()).has_value()) << i;
  }
}

// Thousands of pipelined queries with large answers: the unsent output passes 64 KiB, reading
// pauses, and every query is still answered once the client reads.
TEST(TcpListener, BackpressurePausesReadingButAnswersEverything) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  constexpr int kQueries = 3000;
  Bytes all;
  for (int i = 0; i < kQueries; ++i) {
    const Bytes f = framed(make_query(static_cast<std::uint16_t>(i), "big.example.com", kTxt));
    all.insert(all.end(), f.begin(), f.end());
  }
  std::size_t sent = 0;
  Bytes in;
  std::set<std::uint16_t> ids;
  std::uint8_t buf[65536];
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (ids.size() < kQueries && Clock::now() < deadline) {
    pollfd p{c.fd(), static_cast<short>(POLLIN | (sent < all.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, ms_left(deadline)) <= 0) break;
    if ((p.revents & POLLOUT) != 0) {
      const ssize_t w = send(c.fd(), all.data() + sent, std::min<std::size_t>(all.size() - sent, 8192),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<std::size_t>(w);
    }
    if ((p.revents & POLLIN) != 0) {
      const ssize_t r = recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT);
      ASSERT_NE(r, 0) << "server closed after " << ids.size() << " answers";
      if (r > 0) in.insert(in.end(), buf, buf + r);
      while (in.size() >= 2 && in.size() - 2 >= static_cast<std::size_t>((in[0] << 8) | in[1])) {
        const std::size_t len = static_cast<std::size_t>((in[0] << 8) | in[1]);
        ids.insert(static_cast<std::uint16_t>((in[2] << 8) | in[3]));
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(2 + len));
      }
    }
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kQueries));
  EXPECT_GE(s.server().worker(0).counters().tcp_backpressure.get(), 1u);
  EXPECT_EQ(s.server().worker(0).counters().tcp_queries.get(), static_cast<std::uint64_t>(kQueries));
}

TEST(TcpListener, GracefulStopClosesIdleConnectionsPromptly) {
  LiveServer s{tcp_options()};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  ASSERT_TRUE(send_all(c.fd(), framed(make_query(3, "www.example.com", kA))));
  ASSERT_TRUE(tcp_read_message(c.fd()).has_value());
  const auto start = Clock::now();
  s.server().stop();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_TRUE(wait_closed(c.fd(), 1000));
}

// A client that never reads its answers cannot hold a stopping server for longer than the drain
// bound: its connection is closed with the answers unsent. 20000 large answers (~14 MB) cannot
// all fit in kernel buffers, so the write stays pending until the drain timer fires.
TEST(TcpListener, GracefulStopIsBoundedByDrainTimeout) {
  dns::ServerOptions o = tcp_options();
  o.drain_timeout_ms = 200;
  LiveServer s{o};
  ASSERT_TRUE(s.ok());
  Socket c = s.tcp();
  int small = 4096;
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Bytes all;
  for (int i = 0; i < 20000; ++i) {
    const Bytes f = framed(make_query(static_cast<std::uint16_t>(i), "big.example.com", kTxt));
    all.insert(all.end(), f.begin(), f.end());
  }
  std::size_t sent = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (sent < all.size() && Clock::now() < deadline) {
    const ssize_t w = send(c.fd(), all.data() + sent, all.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) sent += static_cast<std::size_t>(w);
    wait_readable(c.fd(), 1);  // never read: just pace the loop
  }
  // The server is stuck once its answered-query count stops moving: kernel buffers are full and
  // an answer write is pending.
  const auto& counters = s.server().worker(0).counters();
  std::uint64_t seen = counters.tcp_queries.get();
  auto still_since = Clock::now();
  while (Clock::now() < deadline && Clock::now() - still_since < std::chrono::milliseconds(200)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (counters.tcp_queries.get() != seen) {
      seen = counters.tcp_queries.get();
      still_since = Clock::now();
    }
  }
  ASSERT_GT(counters.tcp_backpressure.get(), 0u);
  ASSERT_LT(counters.tcp_queries.get(), 20000u);
  const auto start = Clock::now();
  s.server().stop();
  const auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(150));  // it did wait for the answers to drain
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ(open_connections(s), 0u);
}

}  // namespace
}  // namespace pharos::test
