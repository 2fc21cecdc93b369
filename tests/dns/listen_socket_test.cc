// listen_socket_test.cc: listen address notation, and port 0 resolving to one port shared by the
// UDP and TCP sockets of every worker.
#include "dns/listen_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

namespace pharos::dns {
namespace {

TEST(ListenAddress, ParsesIpv4AndBracketedIpv6) {
  ListenAddress a;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:5353", a));
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.port(), 5353);
  EXPECT_EQ(format_address(a.sa()), "127.0.0.1:5353");
  ASSERT_TRUE(parse_listen_address("[::1]:53", a));
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(format_address(a.sa()), "[::1]:53");
  ASSERT_TRUE(parse_listen_address("0.0.0.0:0", a));
  EXPECT_TRUE(a.is_wildcard());
}

TEST(ListenAddress, RejectsMalformedNotation) {
  ListenAddress a;
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "::1:53",
                          "[::1]", "[::1]53", "[127.0.0.1]:53", "localhost:53", "1.2.3.4:-1", "1.2.3.4:5 "}) {
    EXPECT_FALSE(parse_listen_address(bad, a)) << bad;
  }
}

TEST(ListenSockets, PortZeroGivesOnePortToEverySocket) {
  ListenAddress a;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:0", a));
  auto bound = open_listen_sockets({a}, 3);
  ASSERT_TRUE(bound.ok()) << bound.error().to_string();
  const BoundAddress& b = bound->front();
  ASSERT_NE(b.address.port(), 0);
  ASSERT_EQ(b.udp.size(), 3u);
  ASSERT_EQ(b.tcp.size(), 3u);
  for (const Fd* fd : {&b.udp[0], &b.udp[2], &b.tcp[0], &b.tcp[2]}) {
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ASSERT_EQ(getsockname(fd->get(), reinterpret_cast<sockaddr*>(&got), &len), 0);
    EXPECT_EQ(ntohs(got.sin_port), b.address.port());
  }
}

TEST(ListenSockets, BusyPortIsAnErrorNamingTheAddress) {
  ListenAddress a;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:0", a));
  auto first = open_listen_sockets({a}, 1);
  ASSERT_TRUE(first.ok());
  // Same port, but SO_REUSEPORT sockets of one user may share it; a plain socket may not.
  const int plain = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(plain, 0);
  const ListenAddress& taken = first->front().address;
  EXPECT_NE(bind(plain, taken.sa(), taken.len), 0);
  close(plain);
  ListenAddress bogus;
  ASSERT_TRUE(parse_listen_address("192.0.2.1:53", bogus));  // not a local address
  auto r = open_listen_sockets({bogus}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("192.0.2.1:53"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace pharos::dns
