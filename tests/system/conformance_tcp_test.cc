// conformance_tcp_test.cc: CONFORMANCE.md a.7 (rows 63-66), TCP: short and stalled length prefixes,
// reassembly and pipelining, and answers after a client half-close.
#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/conformance_support.h"

namespace pharos::system_test {
namespace {

TEST_F(Conformance, Row63_TcpShortLengthCloses) {
  for (const Bytes& bytes : {Bytes{0, 2, 'A', 'B'}, concat(Bytes{0, 11}, Bytes(11, 0)), Bytes{0, 0}}) {
    SCOPED_TRACE("length prefix " + std::to_string(bytes[1]));
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.send_raw(bytes));
    std::size_t seen = 0;
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs, &seen)) << "connection left open";
    EXPECT_EQ(seen, 0u) << "answered a message shorter than a header";
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row64_TcpStalledMessageTimesOut) {
  TcpClient stalled(tcp());
  ASSERT_TRUE(stalled.ok());
  Bytes partial(102, 0);  // a length of 0x7D00 and 100 of those bytes
  partial[0] = 0x7D;
  ASSERT_TRUE(stalled.send_raw(partial));
  // Other clients are served while one connection stalls.
  expect_still_answers(srv_, true);
  // message_timeout is 1 s in the test config; allow generous slack.
  std::size_t seen = 0;
  EXPECT_TRUE(stalled.wait_closed(5000, &seen)) << "stalled connection not closed by the message timeout";
  EXPECT_EQ(seen, 0u);
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row65_TcpReassemblyAndPipelining) {
  {
    SCOPED_TRACE("one query, one byte per segment");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id = next_id();
    Bytes framed;
    const Bytes q = www(id);
    put_u16(framed, static_cast<std::uint16_t>(q.size()));
    put_bytes(framed, q);
    for (std::uint8_t byte : framed) {
      ASSERT_TRUE(t.send_raw({byte}));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto reply = t.recv_framed(kReplyTimeoutMs);
    ASSERT_TRUE(reply.has_value()) << "no answer to a query sent byte by byte";
    const Response r(std::move(*reply));
    SCOPED_TRACE(r.describe());
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_answer_records(r, www_a());
  }
  {
    SCOPED_TRACE("five queries in one segment");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    struct Q {
      std::uint16_t id;
      const char* name;
      std::uint16_t type;
      int rcode;
    };
    const Q qs[] = {{next_id(), "www.example.com", rrtype::kA, kNoError},
                    {next_id(), "www.example.com", rrtype::kAaaa, kNoError},
                    {next_id(), "absent.example.com", rrtype::kA, kNxDomain},
                    {next_id(), "big.example.com", rrtype::kTxt, kNoError},
                    {next_id(), "www.example.org", rrtype::kA, kRefused}};
    Bytes all;
    for (const Q& q : qs) {
      const Bytes m = build_query(q.id, q.name, q.type);
      put_u16(all, static_cast<std::uint16_t>(m.size()));
      put_bytes(all, m);
    }
    ASSERT_TRUE(t.send_raw(all));
    std::vector<bool> seen(std::size(qs), false);
    for (std::size_t n = 0; n < std::size(qs); ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "only " << n << " of 5 pipelined answers";
      const Response r(std::move(*reply));
      ASSERT_TRUE(r.parsed()) << r.describe();
      bool matched = false;
      for (std::size_t i = 0; i < std::size(qs); ++i) {
        if (qs[i].id != r.id() || seen[i]) continue;
        seen[i] = matched = true;
        EXPECT_EQ(r.rcode(), qs[i].rcode) << qs[i].name;
        EXPECT_FALSE(r.tc()) << "TCP answers are never truncated";
        if (qs[i].type == rrtype::kTxt) {
          EXPECT_EQ(r.section(1), big_txt());
        }
      }
      EXPECT_TRUE(matched) << "answer with an unknown or repeated ID " << r.id();
    }
  }
  {
    SCOPED_TRACE("a hundred queries in one write");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t first = next_id();
    Bytes all;
    for (int i = 0; i < 100; ++i) {
      const Bytes m = build_query(static_cast<std::uint16_t>(first + i), i % 2 ? "big.example.com" : "www.example.com",
                                  i % 2 ? rrtype::kTxt : rrtype::kA);
      if (i > 0) next_id();
      put_u16(all, static_cast<std::uint16_t>(m.size()));
      put_bytes(all, m);
    }
    ASSERT_TRUE(t.send_raw(all));
    std::vector<bool> seen(100, false);
    for (int n = 0; n < 100; ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "only " << n << " of 100 pipelined answers";
      const Response r(std::move(*reply));
      ASSERT_TRUE(r.parsed()) << r.describe();
      const int i = static_cast<std::uint16_t>(r.id() - first);
      ASSERT_LT(i, 100) << "unknown ID " << r.id();
      EXPECT_FALSE(seen[i]) << "ID answered twice";
      seen[i] = true;
      EXPECT_EQ(r.section(1), i % 2 ? big_txt() : www_a());
    }
  }
  {
    SCOPED_TRACE("length prefix split from its message");
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id = next_id();
    const Bytes q = www(id);
    ASSERT_TRUE(t.send_raw({0}));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(t.send_raw(concat({static_cast<std::uint8_t>(q.size())}, Bytes(q.begin(), q.begin() + 5))));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(t.send_raw(Bytes(q.begin() + 5, q.end())));
    auto reply = t.recv_framed(kReplyTimeoutMs);
    ASSERT_TRUE(reply.has_value());
    const Response r(std::move(*reply));
    expect_header(r, id, 0, kNoError, kQr | kAa);
  }
  expect_still_answers(srv_, true);
}

TEST_F(Conformance, Row66_TcpHalfCloseAnsweredThenClosed) {
  const std::uint16_t port = tcp().port;
  {
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    const std::uint16_t id1 = next_id(), id2 = next_id();
    ASSERT_TRUE(t.send_framed(www(id1)));
    ASSERT_TRUE(t.send_framed(build_query(id2, "mail.example.com", rrtype::kA)));
    t.shutdown_write();
    std::vector<std::uint16_t> ids;
    for (int n = 0; n < 2; ++n) {
      auto reply = t.recv_framed(kReplyTimeoutMs);
      ASSERT_TRUE(reply.has_value()) << "answer " << n + 1 << " of 2 missing after half-close";
      const Response r(std::move(*reply));
      EXPECT_EQ(r.header_rcode(), kNoError) << r.describe();
      ids.push_back(r.id());
    }
    std::sort(ids.begin(), ids.end());
    std::vector<std::uint16_t> want = {id1, id2};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids, want);
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs)) << "server did not close after answering a half-closed client";
  }
  {
    TcpClient t(tcp());
    ASSERT_TRUE(t.ok());
    t.shutdown_write();
    std::size_t seen = 0;
    EXPECT_TRUE(t.wait_closed(kReplyTimeoutMs, &seen)) << "server did not close an idle half-closed connection";
    EXPECT_EQ(seen, 0u);
  }
  // No server socket is left in CLOSE_WAIT.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (close_wait_count(port) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(close_wait_count(port), 0) << "CLOSE_WAIT sockets left on the server port";
  expect_still_answers(srv_, true);
}

}  // namespace
}  // namespace pharos::system_test
