// record_text_test.cc: the fast record parser against ldns. Whatever the fast parser accepts must
// give ldns's bytes exactly (owner, TTL, type, rdata); what it does not know it must leave to
// ldns; and the zone loader must keep ldns's errors and ldns's "previous owner" rule across the
// two parsers.
#include "dns/record_text.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dns/ldns_compat.h"
#include "dns/zone.h"

namespace pharos::dns {
namespace {

struct RrFree {
  void operator()(ldns_rr* p) const { ldns_rr_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* p) const { ldns_rdf_deep_free(p); }
};
struct BufFree {
  void operator()(ldns_buffer* p) const { ldns_buffer_free(p); }
};

// Parses `line` both ways (origin big.test., previous owner prev.big.test.) and compares.
// Returns whether the fast parser took it.
bool same_as_ldns(const std::string& line, std::uint32_t default_ttl = 300) {
  std::unique_ptr<ldns_rdf, RdfFree> origin{ldns_dname_new_frm_str("big.test.")};
  ldns_rdf* prev = ldns_dname_new_frm_str("Prev.big.test.");
  std::vector<std::uint8_t> prev_wire(ldns_rdf_data(prev), ldns_rdf_data(prev) + ldns_rdf_size(prev));
  ldns_rr* raw = nullptr;
  const ldns_status st = ldns_rr_new_frm_str(&raw, line.c_str(), default_ttl, origin.get(), &prev);
  std::unique_ptr<ldns_rr, RrFree> rr{raw};
  std::unique_ptr<ldns_rdf, RdfFree> prev_guard{prev};

  FastRecord f;
  const FastParse got = parse_record_fast(line, ldns_rdf_data(origin.get()), ldns_rdf_size(origin.get()),
                                          prev_wire.data(), prev_wire.size(), default_ttl, f);
  if (got == FastParse::kNotHandled) return false;
  EXPECT_EQ(st, LDNS_STATUS_OK) << "fast parser accepted what ldns rejects: [" << line << "]";
  if (st != LDNS_STATUS_OK) return true;
  const ldns_rdf* owner = ldns_rr_owner(rr.get());
  EXPECT_EQ(std::vector<std::uint8_t>(f.owner.data(), f.owner.data() + f.owner_len),
            std::vector<std::uint8_t>(ldns_rdf_data(owner), ldns_rdf_data(owner) + ldns_rdf_size(owner)))
      << "owner of [" << line << "]";
  EXPECT_EQ(f.ttl, ldns_rr_ttl(rr.get())) << "TTL of [" << line << "]";
  EXPECT_EQ(f.type, static_cast<std::uint16_t>(ldns_rr_get_type(rr.get()))) << "type of [" << line << "]";
  EXPECT_EQ(ldns_rr_get_class(rr.get()), LDNS_RR_CLASS_IN) << "[" << line << "]";
  std::unique_ptr<ldns_buffer, BufFree> buf{ldns_buffer_new(512)};
  EXPECT_EQ(ldns_rr_rdata2buffer_wire(buf.get(), rr.get()), LDNS_STATUS_OK);
  const std::uint8_t* d = ldns_buffer_begin(buf.get());
  EXPECT_EQ(std::vector<std::uint8_t>(f.rdata.data(), f.rdata.data() + f.rdlen),
            std::vector<std::uint8_t>(d, d + ldns_buffer_position(buf.get())))
      << "rdata of [" << line << "]";
  return true;
}

TEST(RecordText, CommonFormsGiveLdnsBytes) {
  const char* lines[] = {
      "host0000000 IN A 10.0.0.0",
      "host0000001 IN AAAA 2001:db8::0:1",
      "host0000002 IN CNAME host0000000",
      "host0000003 IN MX 10 host0000000",
      "host0000004 IN TXT \"record 4 of the mixed zone\"",
      "www 3600 IN A 192.0.2.10",
      "www 0 IN A 192.0.2.10",
      "www 999999999 A 192.0.2.10",
      "WWW in a 192.0.2.10",
      "www\tIN\tA\t192.0.2.10",
      "www  IN  A  192.0.2.10  ",
      "www IN A 192.0.2.10\t",
      "@ IN NS ns1",
      "@ IN NS ns1.example.net.",
      "@ NS @",
      "sub.deeper IN PTR Target.Example.",
      "*.apps IN A 192.0.2.7",
      "_sip._udp IN CNAME sip-1",
      "abs.big.test. IN AAAA ::ffff:192.0.2.1",
      "v6 IN AAAA fe80::1",
      " IN A 192.0.2.1",
      "\tIN TXT \"repeat the owner\"",
      " 60 IN MX 0 mail",
      "t IN TXT \"a\" \"b\"",
      "t IN TXT \"a\"   \"b\"   ",
      "t IN TXT \"\"",
      "t IN TXT \"semi; not a comment here\"",
      "m IN MX 65535 mx",
      "n IN NS a.b.c.d.e.f.g.h.",
  };
  for (const char* l : lines) EXPECT_TRUE(same_as_ldns(l)) << "not taken by the fast parser: [" << l << "]";
}

TEST(RecordText, DefaultTtlZeroMeansLdnsDefault) {
  EXPECT_TRUE(same_as_ldns("www IN A 192.0.2.1", 0));
  EXPECT_TRUE(same_as_ldns("www IN A 192.0.2.1", 86400));
}

TEST(RecordText, LeavesEverythingElseToLdns) {
  const char* lines[] = {
      "www 1h IN A 192.0.2.1",                 // TTL units
      "www 4294967296 IN A 192.0.2.1",         // TTL beyond 9 digits
      "www CH TXT \"x\"",                      // another class
      "www IN 3600 A 192.0.2.1",               // class before TTL
      "www IN A 192.0.2",                      // bad address: ldns words the error
      "www IN A 192.0.2.1 extra",              // superfluous text
      "www IN AAAA 2001:db8::g",
      "www IN HINFO a b",                      // a type the fast parser does not know
      "www IN TYPE1 \\# 4 c0000201",           // RFC 3597 form
      "w\\.x IN A 192.0.2.1",                  // escaped owner
      "www IN CNAME a\\046b",                  // escaped target
      "www IN TXT \"with \\\"escape\\\"\"",    // escaped TXT
      "www IN TXT unquoted",                   // unquoted TXT strings
      "www IN TXT \"a\"\"b\"",                 // strings not separated
      "www IN TXT \"a\"\t\"b\"",               // tab between strings
      "www IN TXT \"unterminated",
      "www IN MX 70000 mx",                    // ldns wraps it; we do not guess
      "www IN MX ten mx",
      "a..b IN A 192.0.2.1",                   // empty label
      ". IN A 192.0.2.1",
      "www IN CNAME",                          // missing rdata
      "www IN A",
      "www IN",
      "www",
  };
  for (const char* l : lines) {
    std::string line = l;
    EXPECT_FALSE(same_as_ldns(line)) << "fast parser took [" << line << "]";
  }
  EXPECT_FALSE(same_as_ldns("t IN TXT \"" + std::string(300, 'x') + "\""));  // string over 255
  EXPECT_FALSE(same_as_ldns(std::string(64, 'x') + " IN A 192.0.2.1"));        // label of 64
  EXPECT_TRUE(same_as_ldns(std::string(63, 'x') + " IN A 192.0.2.1"));
}

// A generated mix of spellings: every one the fast parser takes must equal ldns, and it must take
// most of them (or the speed-up is gone without any test noticing).
TEST(RecordText, GeneratedVariantsMatchLdns) {
  const char* owners[] = {"h", "H.Sub", "@", "abs.big.test.", " ", "\t", "*.w", "x-y_z"};
  const char* ttls[] = {"", "0 ", "300 ", "86400 "};
  const char* classes[] = {"", "IN ", "in "};
  const char* rdatas[] = {"A 10.1.2.3", "a 0.0.0.0", "AAAA 2001:db8::1", "AAAA ::", "CNAME t", "cname T.Example.",
                          "NS @", "MX 5 m", "mx 0 .", "PTR p.q", "TXT \"x y\"", "TXT \"a\" \"\"", "TXT \"\""};
  int taken = 0, total = 0;
  for (const char* o : owners)
    for (const char* t : ttls)
      for (const char* c : classes)
        for (const char* r : rdatas) {
          std::string line = std::string(o);
          if (line != " " && line != "\t") line += ' ';
          line += std::string(t) + c + r;
          ++total;
          taken += same_as_ldns(line) ? 1 : 0;
        }
  EXPECT_GT(taken, total * 9 / 10) << taken << " of " << total;
}

constexpr const char* kHead =
    "$ORIGIN big.test.\n$TTL 300\n"
    "@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n"
    "@ IN NS ns1\n";

// Errors of records the fast parser leaves to ldns keep ldns's words and the record's line.
TEST(RecordText, LoaderKeepsLdnsErrorsAndLines) {
  auto z = load_zone_text("big.test.", std::string(kHead) + "a IN A 192.0.2.1\nb IN A 192.0.2\n", "z.zone");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().where, "6");
  ldns_rr* rr = nullptr;
  std::unique_ptr<ldns_rdf, RdfFree> origin{ldns_dname_new_frm_str("big.test.")};
  const ldns_status st = ldns_rr_new_frm_str(&rr, "b IN A 192.0.2", 300, origin.get(), nullptr);
  ASSERT_NE(st, LDNS_STATUS_OK);
  EXPECT_EQ(z.error().message, ldns_get_errorstr_by_id(st));
  auto outside = load_zone_text("big.test.", std::string(kHead) + "a IN A 192.0.2.1\nw.other. IN A 192.0.2.1\n", "z");
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().where, "6");
  EXPECT_NE(outside.error().message.find("outside the zone"), std::string::npos);
}

// A blank-led record repeats the previous owner whichever parser read that owner: fast then ldns
// (HINFO), ldns then fast, and "@".
TEST(RecordText, LoaderRepeatsPreviousOwnerAcrossParsers) {
  const std::string text = std::string(kHead) +
                           "a IN A 192.0.2.1\n"
                           "  IN HINFO cpu os\n"   // ldns, owner from the fast parser's record
                           "b IN HINFO cpu os\n"   // ldns
                           "  IN A 192.0.2.2\n"    // fast, owner from ldns's record
                           "@ IN HINFO cpu os\n"   // ldns, "@" sets the previous owner too
                           "  IN TXT \"apex\"\n";  // fast
  auto z = load_zone_text("big.test.", text, "z");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  auto owner_of = [&](std::uint32_t line) {
    for (const auto& rr : z->rrs)
      if (rr.line == line) return wire_to_name(z->owners.name(rr.owner), z->owners.length(rr.owner));
    return std::string("-");
  };
  EXPECT_EQ(owner_of(5), "a.big.test.");
  EXPECT_EQ(owner_of(6), "a.big.test.");
  EXPECT_EQ(owner_of(7), "b.big.test.");
  EXPECT_EQ(owner_of(8), "b.big.test.");
  EXPECT_EQ(owner_of(9), "big.test.");
  EXPECT_EQ(owner_of(10), "big.test.");
}

// $ORIGIN applies to the fast parser's relative names as it does to ldns's.
TEST(RecordText, LoaderFollowsOrigin) {
  const std::string text = std::string(kHead) + "$ORIGIN sub.big.test.\nx IN CNAME y\n";
  auto z = load_zone_text("big.test.", text, "z");
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  bool found = false;
  for (const auto& rr : z->rrs) {
    if (rr.type != rrtype::kCname) continue;
    found = true;
    EXPECT_EQ(wire_to_name(z->owners.name(rr.owner), z->owners.length(rr.owner)), "x.sub.big.test.");
    EXPECT_EQ(wire_to_name(z->rdata_ptr(rr), rr.rdlength), "y.sub.big.test.");
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace pharos::dns
