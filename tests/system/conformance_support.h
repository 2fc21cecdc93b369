// conformance_support.h: what the conformance_*_test.cc files share: the Conformance fixture (one
// TEST_F per CONFORMANCE.md row, against the shared default pharosd) and the OPT expectations.
#pragma once

#include <cstdint>
#include <optional>

#include <gtest/gtest.h>

#include "tests/system/checks.h"
#include "tests/system/harness.h"

namespace pharos::system_test {

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override {
    srv_ = default_server();
    ASSERT_NE(srv_, nullptr);
  }
  Endpoint udp() const { return srv_->udp(); }
  Endpoint tcp() const { return srv_->tcp(); }
  std::optional<Response> ask(const Bytes& q) const { return udp_exchange(udp(), q); }
  std::optional<Response> ask_tcp(const Bytes& q) const { return tcp_exchange(tcp(), q); }
  // A query for www.example.com A with the given header flags and optional OPT.
  Bytes www(std::uint16_t id, std::uint16_t flags = 0, const std::optional<Opt>& opt = std::nullopt) const {
    return build_query(id, "www.example.com", rrtype::kA, rrclass::kIn, flags, opt);
  }
  Server* srv_ = nullptr;
};

// The OPT every response to an OPT-carrying query must have (row 42).
void expect_opt_v0(const Response& r);

// A normal NOERROR answer to www.example.com A carrying a plain OPT (no options, no flags).
void expect_www_with_plain_opt(const Response& r, std::uint16_t id);

}  // namespace pharos::system_test
