// checks.cc: the shared expectations of the system tests (see checks.h).
#include "tests/system/checks.h"

#include <algorithm>

namespace pharos::system_test {

std::vector<std::string> www_a() {
  return {"www.example.com. 300 IN A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.11"};
}

std::vector<std::string> apex_ns() {
  return {"example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com."};
}

std::vector<std::string> ns_glue() {
  return {"ns1.example.com. 300 IN A 192.0.2.53", "ns1.example.com. 300 IN AAAA 2001:db8::53",
          "ns2.example.com. 300 IN A 198.51.100.53"};
}

std::string negative_soa() {
  return "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 7200 900 "
         "1209600 60";
}

std::vector<std::string> big_txt() {
  const std::string d = "0123456789abcdefghij";
  std::vector<std::string> v = {
      "big.example.com. 300 IN TXT \"This TXT RRset is large on purpose so that it exceeds 512 bytes "
      "and tests truncation: " + d + d + d + d + "\"",
      "big.example.com. 300 IN TXT \"second string of the large RRset " + d + d + d + d + d + d + "\"",
      "big.example.com. 300 IN TXT \"third string of the large RRset " + d + d + d + d + d + d + "\"",
      "big.example.com. 300 IN TXT \"fourth string of the large RRset " + d + d + d + d + d + d + "\""};
  std::sort(v.begin(), v.end());
  return v;
}

namespace {

std::string flag_names(std::uint16_t f) {
  std::string s;
  const std::pair<std::uint16_t, const char*> names[] = {{kQr, "qr"}, {kAa, "aa"}, {kTc, "tc"},
                                                          {kRd, "rd"}, {kRa, "ra"}, {kZ, "z"},
                                                          {kAd, "ad"}, {kCd, "cd"}};
  for (const auto& [bit, name] : names) {
    if (f & bit) s += std::string(s.empty() ? "" : " ") + name;
  }
  return "{" + s + "}";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

void expect_header(const Response& r, std::uint16_t id, int opcode, int header_rcode,
                   std::uint16_t flags) {
  EXPECT_EQ(r.id(), id) << "ID not echoed";
  EXPECT_EQ(r.opcode(), opcode);
  EXPECT_EQ(r.header_rcode(), header_rcode);
  EXPECT_EQ(flag_names(r.flags() & kAllFlags), flag_names(flags)) << "header flags";
}

void expect_counts(const Response& r, int qd, int an, int ns, int ar) {
  EXPECT_EQ(r.qdcount(), qd) << "QDCOUNT";
  EXPECT_EQ(r.ancount(), an) << "ANCOUNT";
  EXPECT_EQ(r.nscount(), ns) << "NSCOUNT";
  EXPECT_EQ(r.arcount(), ar) << "ARCOUNT";
}

Bytes question_of(const Bytes& query) {
  std::size_t off = 12;
  while (off < query.size() && query[off] != 0 && (query[off] & 0xC0) == 0) off += query[off] + 1u;
  off = std::min(off + 5, query.size());
  return Bytes(query.begin() + 12, query.begin() + static_cast<long>(off));
}

void expect_question_echo(const Response& r, const Bytes& query) {
  EXPECT_EQ(r.qdcount(), 1) << "question not echoed";
  EXPECT_EQ(r.question_bytes(), question_of(query)) << "echoed question differs from the query's";
}

void expect_no_or_echoed_question(const Response& r, const Bytes& query) {
  EXPECT_LE(r.qdcount(), 1);
  if (r.qdcount() == 1) {
    EXPECT_EQ(r.question_bytes(), question_of(query));
  }
}

void expect_formerr_header_only(const Response& r, std::uint16_t id) {
  expect_header(r, id, 0, kFormErr, kQr);
  expect_counts(r, 0, 0, 0, 0);
  EXPECT_EQ(r.size(), 12u) << "FORMERR must be the 12-byte header only";
}

void expect_answer_records(const Response& r, const std::vector<std::string>& answer,
                           const std::vector<std::string>& required_additional) {
  EXPECT_EQ(r.section(1), sorted(answer)) << "answer section";
  const auto auth = r.section(2);
  EXPECT_TRUE(auth.empty() || auth == apex_ns()) << "authority must be empty or the apex NS RRset";
  const auto add = r.section(3);
  for (const auto& rec : required_additional) EXPECT_TRUE(contains(add, rec)) << "missing additional " << rec;
  for (const auto& rec : add) {
    EXPECT_TRUE(contains(required_additional, rec) || (!auth.empty() && contains(ns_glue(), rec)))
        << "unexpected additional record " << rec;
  }
}

void expect_negative(const Response& r) {
  EXPECT_EQ(r.ancount(), 0) << "negative answers have no answer records";
  EXPECT_EQ(r.section(2), std::vector<std::string>{negative_soa()});
  EXPECT_TRUE(r.section(3).empty()) << "negative answers have no additional records";
}

void expect_still_answers(Server* srv, bool also_tcp) {
  ASSERT_NE(srv, nullptr);
  ASSERT_TRUE(srv->alive()) << "pharosd died:\n" << srv->log();
  for (bool tcp : {false, true}) {
    if (tcp && !also_tcp) break;
    SCOPED_TRACE(tcp ? "follow-up www.example.com A over TCP" : "follow-up www.example.com A over UDP");
    const std::uint16_t id = next_id();
    const Bytes q = ldns_query(id, "www.example.com.", LDNS_RR_TYPE_A);
    ASSERT_REPLY(r, tcp ? tcp_exchange(srv->tcp(), q) : udp_exchange(srv->udp(), q));
    expect_header(r, id, 0, kNoError, kQr | kAa);
    expect_question_echo(r, q);
    expect_answer_records(r, www_a());
  }
}

}  // namespace pharos::system_test
