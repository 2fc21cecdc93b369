// checks.h: expectations shared by the system tests: the example.com records, exact header checks,
// positive/negative answer shapes, and "the server still answers" after a malformed input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/system/harness.h"

namespace pharos::system_test {

inline constexpr std::uint16_t kQr = pharos::dns::kFlagQr;
inline constexpr std::uint16_t kAa = pharos::dns::kFlagAa;
inline constexpr std::uint16_t kTc = pharos::dns::kFlagTc;
inline constexpr std::uint16_t kRd = pharos::dns::kFlagRd;
inline constexpr std::uint16_t kRa = pharos::dns::kFlagRa;
inline constexpr std::uint16_t kZ = pharos::dns::kFlagZ;
inline constexpr std::uint16_t kAd = pharos::dns::kFlagAd;
inline constexpr std::uint16_t kCd = pharos::dns::kFlagCd;
// Every one-bit flag of the header (QR AA TC RD RA Z AD CD).
inline constexpr std::uint16_t kAllFlags = kQr | kAa | kTc | kRd | kRa | kZ | kAd | kCd;

inline constexpr int kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4,
                     kRefused = 5, kNotAuth = 9, kBadVers = 16;

// Records of zones/example.com.zone as ldns prints them (owner lowercased, tabs as spaces).
std::vector<std::string> www_a();
std::vector<std::string> apex_ns();
std::vector<std::string> ns_glue();  // ns1 A/AAAA, ns2 A
std::string negative_soa();          // the SOA with TTL min(3600, 60) = 60
std::vector<std::string> big_txt();

// Evaluates `expr` (an optional<Response>), fails the test if there is no reply or the reply does
// not parse, and binds `var` to the Response; failures afterwards print the whole response.
#define ASSERT_REPLY(var, expr)                                      \
  auto var##_opt_ = (expr);                                          \
  ASSERT_TRUE(var##_opt_.has_value()) << "no reply to " #expr;       \
  const ::pharos::system_test::Response& var = *var##_opt_;          \
  SCOPED_TRACE(var.describe());                                      \
  ASSERT_TRUE(var.parsed()) << "unparsable reply"

// Header: ID, opcode, header RCODE and the exact set of one-bit flags.
void expect_header(const Response& r, std::uint16_t id, int opcode, int header_rcode,
                   std::uint16_t flags);
void expect_counts(const Response& r, int qd, int an, int ns, int ar);
// The response's question is byte-for-byte the question of `query` (letter case and class kept).
void expect_question_echo(const Response& r, const Bytes& query);
// Either no question, or the question of `query` echoed exactly (rows that allow both).
void expect_no_or_echoed_question(const Response& r, const Bytes& query);
// FORMERR with a 12-byte header only (no question, no OPT).
void expect_formerr_header_only(const Response& r, std::uint16_t id);

// A positive authoritative answer: exactly `answer` in the answer section; the authority section
// empty or the apex NS RRset; the additional section a subset of `allowed_additional` plus the NS
// glue, and containing every record of `required_additional`.
void expect_answer_records(const Response& r, const std::vector<std::string>& answer,
                           const std::vector<std::string>& required_additional = {});
// NXDOMAIN/NODATA shape: no answer, exactly the negative SOA in authority, no additional records.
void expect_negative(const Response& r);

// The normal query every malformed-input test ends with: www.example.com A, built with ldns,
// over UDP (and TCP when asked), answered NOERROR with AA and both addresses.
void expect_still_answers(Server* srv, bool also_tcp = false);

// The bytes of the first question in a query we built (uncompressed).
Bytes question_of(const Bytes& query);

}  // namespace pharos::system_test
