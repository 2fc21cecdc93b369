// ip_literal_test.cc: IP literal and "addr:port" parsing and formatting.
#include "health/ip_literal.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

namespace pharos::health {
namespace {

std::string parse_port(const char* text, std::uint16_t default_port = 53) {
  sockaddr_storage sa;
  socklen_t len = 0;
  if (!parse_ip_port(text, default_port, sa, len)) return "invalid";
  return format_address_port(reinterpret_cast<const sockaddr*>(&sa));
}

TEST(IpLiteral, ParsesBothFamilies) {
  sockaddr_storage sa;
  socklen_t len = 0;
  ASSERT_TRUE(parse_ip_literal("192.0.2.1", 80, AF_UNSPEC, sa, len));
  EXPECT_EQ(sa.ss_family, AF_INET);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(format_address_port(reinterpret_cast<const sockaddr*>(&sa)), "192.0.2.1:80");
  ASSERT_TRUE(parse_ip_literal("[2001:db8::1]", 443, AF_UNSPEC, sa, len));
  EXPECT_EQ(sa.ss_family, AF_INET6);
  EXPECT_EQ(format_address_port(reinterpret_cast<const sockaddr*>(&sa)), "[2001:db8::1]:443");
}

TEST(IpLiteral, RespectsTheFamily) {
  sockaddr_storage sa;
  socklen_t len = 0;
  EXPECT_FALSE(parse_ip_literal("192.0.2.1", 0, AF_INET6, sa, len));
  EXPECT_FALSE(parse_ip_literal("::1", 0, AF_INET, sa, len));
  EXPECT_TRUE(parse_ip_literal("::1", 0, AF_INET6, sa, len));
}

TEST(IpLiteral, RejectsNames) {
  sockaddr_storage sa;
  socklen_t len = 0;
  EXPECT_FALSE(parse_ip_literal("localhost", 0, AF_UNSPEC, sa, len));
  EXPECT_FALSE(parse_ip_literal("", 0, AF_UNSPEC, sa, len));
  EXPECT_FALSE(parse_ip_literal("192.0.2.1.5", 0, AF_UNSPEC, sa, len));
}

TEST(IpLiteral, LinkLocalScope) {
  sockaddr_storage sa;
  socklen_t len = 0;
  ASSERT_TRUE(parse_ip_literal("fe80::1%1", 0, AF_INET6, sa, len));
  EXPECT_EQ(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_scope_id, 1u);
  ASSERT_TRUE(parse_ip_literal("fe80::1%lo", 0, AF_INET6, sa, len));
  EXPECT_NE(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_scope_id, 0u);
  EXPECT_FALSE(parse_ip_literal("fe80::1%no-such-interface", 0, AF_INET6, sa, len));
}

TEST(IpLiteral, ServerStrings) {
  EXPECT_EQ(parse_port("192.0.2.53"), "192.0.2.53:53");
  EXPECT_EQ(parse_port("192.0.2.53:5353"), "192.0.2.53:5353");
  EXPECT_EQ(parse_port("2001:db8::53"), "[2001:db8::53]:53");
  EXPECT_EQ(parse_port("[2001:db8::53]"), "[2001:db8::53]:53");
  EXPECT_EQ(parse_port("[2001:db8::53]:5353"), "[2001:db8::53]:5353");
  EXPECT_EQ(parse_port("192.0.2.53:0"), "invalid");
  EXPECT_EQ(parse_port("192.0.2.53:65536"), "invalid");
  EXPECT_EQ(parse_port("192.0.2.53:"), "invalid");
  EXPECT_EQ(parse_port("[2001:db8::53]5353"), "invalid");
  EXPECT_EQ(parse_port("ns1.example.com:53"), "invalid");
}

TEST(IpLiteral, SameAddressIgnoresThePort) {
  sockaddr_storage a, b, c;
  socklen_t len = 0;
  parse_ip_literal("192.0.2.1", 1, AF_UNSPEC, a, len);
  parse_ip_literal("192.0.2.1", 2, AF_UNSPEC, b, len);
  parse_ip_literal("::ffff:192.0.2.1", 1, AF_UNSPEC, c, len);
  EXPECT_TRUE(same_address(reinterpret_cast<sockaddr*>(&a), reinterpret_cast<sockaddr*>(&b)));
  EXPECT_FALSE(same_address(reinterpret_cast<sockaddr*>(&a), reinterpret_cast<sockaddr*>(&c)));
}

}  // namespace
}  // namespace pharos::health
