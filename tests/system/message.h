// message.h: DNS messages for the system tests: builders for raw (also malformed) queries, an
// ldns-built query for the "real client" path, and Response, which parses every reply twice:
// with ldns for the records and with an independent raw walk for the header, OPT and TSIG.
//
//   Bytes q = build_query(next_id(), "www.example.com", rrtype::kA, rrclass::kIn, 0, Opt{});
//   Response r(std::move(reply_bytes));
//   if (r.parsed() && r.opt().present) ...; r.section(1)  // {"www.example.com. 300 IN A ..."}
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ldns/ldns.h>

#include "dns/wire.h"

namespace pharos::system_test {

using Bytes = std::vector<std::uint8_t>;
namespace rrtype = pharos::dns::rrtype;
namespace rrclass = pharos::dns::rrclass;

// ---------------------------------------------------------------------------------------------
// Building raw queries.

// A message ID never used before in this process, so FORMERR loop suppression (row 4) keyed on
// (client, ID) never swallows an unrelated test's answer.
std::uint16_t next_id();

inline constexpr std::uint16_t opcode_bits(int opcode) {
  return static_cast<std::uint16_t>((opcode & 0xF) << pharos::dns::kOpcodeShift);
}

void put_u8(Bytes& b, std::uint8_t v);
void put_u16(Bytes& b, std::uint16_t v);
void put_u32(Bytes& b, std::uint32_t v);
void put_bytes(Bytes& b, const Bytes& v);
void put_bytes(Bytes& b, std::string_view v);
// Uncompressed wire name from presentation form, case preserved ("" or "." = root).
void put_name(Bytes& b, std::string_view name);
Bytes wire_name(std::string_view name);

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an = 0,
             std::uint16_t ns = 0, std::uint16_t ar = 0);
void put_question(Bytes& b, std::string_view name, std::uint16_t type,
                  std::uint16_t cls = rrclass::kIn);

struct EdnsOption {
  std::uint16_t code;
  Bytes data;
};
struct Opt {
  std::uint16_t udp_size = 1232;
  std::uint8_t ext_rcode = 0;
  std::uint8_t version = 0;
  std::uint16_t flags = 0;  // DO = 0x8000
  std::vector<EdnsOption> options;
};
Bytes opt_rr(const Opt& opt);
// A generic RR: owner, type, class, ttl and raw rdata (RDLENGTH computed).
Bytes rr(std::string_view owner, std::uint16_t type, std::uint16_t cls, std::uint32_t ttl,
         const Bytes& rdata);
// A TSIG RR for key `key` with a 32-byte dummy MAC (HMAC-SHA256 shape), signed "now".
Bytes tsig_rr(std::string_view key, std::uint16_t original_id, std::uint16_t cls = rrclass::kAny);
// `a` followed by `b`, for gluing a header, a question and records into one message.
Bytes concat(Bytes a, const Bytes& b);
// TXT RDATA holding the one character-string `s`.
Bytes txt_rdata(std::string_view s);
// SOA RDATA shaped like the example.com SOA, with the given serial.
Bytes soa_rdata(std::uint32_t serial);
// An OPT advertising `udp` bytes and carrying `options`, no flags.
Opt opt_with(std::vector<EdnsOption> options, std::uint16_t udp = 1232);

// A QUERY with one question and an optional OPT in the additional section.
Bytes build_query(std::uint16_t id, std::string_view name, std::uint16_t type,
                  std::uint16_t cls = rrclass::kIn, std::uint16_t flags = 0,
                  const std::optional<Opt>& opt = std::nullopt);
// The same through ldns (ldns_pkt_query_new + ldns_pkt2wire): the "real client" path.
Bytes ldns_query(std::uint16_t id, const std::string& name, ldns_rr_type type,
                 ldns_rr_class cls = LDNS_RR_CLASS_IN, bool rd = false,
                 std::optional<std::uint16_t> edns_udp = std::nullopt, bool do_bit = false);

// ---------------------------------------------------------------------------------------------
// Parsed responses: ldns for the records, and an independent raw walk for header, OPT and TSIG.

struct RawRr {
  int section = 0;  // 0 question, 1 answer, 2 authority, 3 additional
  std::string owner;
  std::size_t owner_offset = 0;
  std::uint16_t type = 0, cls = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_offset = 0;
  std::uint16_t rdlength = 0;
};

struct OptView {
  bool present = false;
  int count = 0;
  bool owner_root = false;
  std::uint16_t udp_size = 0;
  std::uint8_t ext_rcode = 0;
  std::uint8_t version = 0;
  std::uint16_t flags = 0;
  std::vector<EdnsOption> options;
  bool has_option(std::uint16_t code) const;
  const EdnsOption* option(std::uint16_t code) const;
};

struct TsigView {
  std::string key;
  std::uint16_t cls = 0;
  std::uint32_t ttl = 0;
  std::string algorithm;
  std::uint16_t fudge = 0;
  std::uint16_t mac_size = 0;
  std::uint16_t original_id = 0;
  std::uint16_t error = 0;
  std::uint16_t other_len = 0;
};

struct LdnsPktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};

class Response {
 public:
  explicit Response(Bytes wire);
  Response(Response&&) = default;
  Response& operator=(Response&&) = default;

  const Bytes& wire() const { return wire_; }
  std::size_t size() const { return wire_.size(); }
  bool parsed() const { return pkt_ != nullptr && walked_; }  // both ldns and the raw walk agree
  const std::string& parse_error() const { return error_; }
  ldns_pkt* pkt() const { return pkt_.get(); }

  std::uint16_t id() const;
  std::uint16_t flags() const;  // the raw 16-bit flags word
  int opcode() const { return (flags() >> pharos::dns::kOpcodeShift) & 0xF; }
  int header_rcode() const { return flags() & pharos::dns::kRcodeMask; }
  int rcode() const;  // extended: header RCODE | OPT ext-rcode << 4
  bool qr() const { return flags() & pharos::dns::kFlagQr; }
  bool aa() const { return flags() & pharos::dns::kFlagAa; }
  bool tc() const { return flags() & pharos::dns::kFlagTc; }
  bool rd() const { return flags() & pharos::dns::kFlagRd; }
  bool ra() const { return flags() & pharos::dns::kFlagRa; }
  bool z() const { return flags() & pharos::dns::kFlagZ; }
  bool ad() const { return flags() & pharos::dns::kFlagAd; }
  bool cd() const { return flags() & pharos::dns::kFlagCd; }
  std::uint16_t qdcount() const;
  std::uint16_t ancount() const;
  std::uint16_t nscount() const;
  std::uint16_t arcount() const;

  const OptView& opt() const { return opt_; }
  const std::vector<RawRr>& raw_rrs() const { return rrs_; }
  std::optional<TsigView> tsig() const;
  // The question bytes exactly as sent back (name + type + class), empty if QDCOUNT=0.
  Bytes question_bytes() const;

  // Records of a section as normalised text "owner ttl class type rdata", owner lowercased,
  // sorted; OPT and TSIG excluded. section: 1 answer, 2 authority, 3 additional.
  std::vector<std::string> section(int section) const;
  // Same, in wire order and without lowercasing.
  std::vector<std::string> section_in_order(int section) const;

  std::string describe() const;  // for failure messages

 private:
  void walk();
  Bytes wire_;
  std::unique_ptr<ldns_pkt, LdnsPktDeleter> pkt_;
  bool walked_ = false;
  std::string error_;
  OptView opt_;
  std::vector<RawRr> rrs_;
  std::size_t question_end_ = 12;
};

// Decodes a (possibly compressed) name at `off`; returns false on any malformation.
bool decode_name(const Bytes& msg, std::size_t off, std::string& out, std::size_t& next);
std::string to_lower(std::string s);

}  // namespace pharos::system_test
