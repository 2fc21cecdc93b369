// record_text.h: a fast parser for the plain forms of the record types that make up nearly all
// of a large zone (A, AAAA, NS, CNAME, PTR, MX, TXT). Anything else, or anything unusual (escapes,
// TTL units, other classes, "\#" rdata), is left to ldns: kNotHandled. So ldns stays the one
// definition of the syntax and of every error message; this only skips its per-record mallocs.
//
//   FastRecord r;
//   if (parse_record_fast(text, origin, origin_len, prev, prev_len, default_ttl, r) == FastParse::kDone)
//     use(r.owner, r.owner_len, r.ttl, r.type, r.rdata, r.rdlen);   // same bytes ldns would give
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/wire.h"

namespace pharos::dns {

struct FastRecord {
  // Rdata beyond this (long TXT) goes to ldns; keeps the record small enough to sit on a stack.
  static constexpr std::size_t kMaxRdata = 2048;

  std::array<std::uint8_t, kMaxNameWire> owner{};  // wire, letter case as written (like ldns)
  std::size_t owner_len = 0;
  bool owner_given = false;  // false: taken from `prev` (the line began with a blank)
  std::uint32_t ttl = 0;
  std::uint16_t type = 0;
  std::array<std::uint8_t, kMaxRdata> rdata{};
  std::size_t rdlen = 0;
};

enum class FastParse { kDone, kNotHandled };

// Parses one logical record as MasterFileReader hands it over (comments gone, parentheses turned
// into blanks). `origin` is the current $ORIGIN in wire form; `prev` the previous record's owner
// (prev_len 0 when there is none); `default_ttl` the current $TTL. Mirrors ldns_rr_new_frm_str:
// "@" is the origin, relative names get the origin appended, a TTL-less record gets
// `default_ttl` (3600 when that is 0).
FastParse parse_record_fast(std::string_view text, const std::uint8_t* origin, std::size_t origin_len,
                            const std::uint8_t* prev, std::size_t prev_len, std::uint32_t default_ttl,
                            FastRecord& out);

}  // namespace pharos::dns
