// record_text.cc: see record_text.h. Every path that is not plainly the common syntax returns
// kNotHandled; the differential test (tests/dns/record_text_test.cc) holds it to ldns's bytes.
#include "dns/record_text.h"

#include <arpa/inet.h>

#include <cstring>

namespace pharos::dns {
namespace {

constexpr std::uint32_t kLdnsDefaultTtl = 3600;  // what ldns uses when $TTL is 0 or absent

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Splits off the next blank-separated token; false at the end.
bool next_token(std::string_view& rest, std::string_view& tok) {
  std::size_t i = 0;
  while (i < rest.size() && is_blank(rest[i])) ++i;
  if (i == rest.size()) return false;
  std::size_t j = i;
  while (j < rest.size() && !is_blank(rest[j])) ++j;
  tok = rest.substr(i, j - i);
  rest.remove_prefix(j);
  return true;
}

bool only_blanks(std::string_view s) {
  for (char c : s)
    if (!is_blank(c)) return false;
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != b[i]) return false;
  }
  return true;
}

// Plain decimal digits, at most `max_digits` of them.
bool parse_digits(std::string_view tok, std::size_t max_digits, std::uint32_t& out) {
  if (tok.empty() || tok.size() > max_digits) return false;
  std::uint32_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  out = v;
  return true;
}

bool plain_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '*';
}

// A name of plain labels ("host1", "a.b.", "@") into wire form, relative names completed with the
// origin. Anything with escapes or other characters, empty labels, or too long: false.
bool name_to_wire_plain(std::string_view tok, const std::uint8_t* origin, std::size_t origin_len,
                        std::uint8_t* out, std::size_t& out_len) {
  if (tok == "@") {
    std::memcpy(out, origin, origin_len);
    out_len = origin_len;
    return true;
  }
  const bool absolute = tok.back() == '.';
  if (absolute) tok.remove_suffix(1);
  if (tok.empty()) return false;  // "." alone: the root, never a name in a zone we serve
  std::size_t n = 0;
  std::size_t label_at = 0;
  out[n++] = 0;
  for (char c : tok) {
    if (c == '.') {
      const std::size_t label_len = n - label_at - 1;
      if (label_len == 0) return false;
      out[label_at] = static_cast<std::uint8_t>(label_len);
      label_at = n;
      if (n + 1 > kMaxNameWire) return false;
      out[n++] = 0;
      continue;
    }
    if (!plain_label_char(c)) return false;
    if (n - label_at > kMaxLabel || n + 1 > kMaxNameWire) return false;
    out[n++] = static_cast<std::uint8_t>(c);
  }
  const std::size_t label_len = n - label_at - 1;
  if (label_len == 0 || label_len > kMaxLabel) return false;
  out[label_at] = static_cast<std::uint8_t>(label_len);
  if (absolute) {
    if (n + 1 > kMaxNameWire) return false;
    out[n++] = 0;
  } else {
    if (n + origin_len > kMaxNameWire) return false;
    std::memcpy(out + n, origin, origin_len);
    n += origin_len;
  }
  out_len = n;
  return true;
}

bool rdata_name(std::string_view& rest, const std::uint8_t* origin, std::size_t origin_len, FastRecord& r) {
  std::string_view tok;
  if (!next_token(rest, tok)) return false;
  std::size_t len = 0;
  if (!name_to_wire_plain(tok, origin, origin_len, r.rdata.data() + r.rdlen, len)) return false;
  r.rdlen += len;
  return true;
}

// TXT as one or more quoted strings separated by spaces: no escapes, no tabs, printable ASCII.
bool rdata_txt(std::string_view rest, FastRecord& r) {
  std::size_t i = 0;
  bool any = false;
  while (true) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i == rest.size()) return any;
    if (rest[i] != '"') return false;
    const std::size_t start = ++i;
    while (i < rest.size() && rest[i] != '"') {
      const char c = rest[i];
      if (c == '\\' || c < 0x20 || c > 0x7e) return false;
      ++i;
    }
    if (i == rest.size()) return false;  // unterminated: ldns's error
    const std::size_t len = i - start;
    ++i;  // closing quote
    if (i < rest.size() && rest[i] != ' ') return false;
    if (len > 255 || r.rdlen + 1 + len > FastRecord::kMaxRdata) return false;
    r.rdata[r.rdlen++] = static_cast<std::uint8_t>(len);
    std::memcpy(r.rdata.data() + r.rdlen, rest.data() + start, len);
    r.rdlen += len;
    any = true;
  }
}

}  // namespace

FastParse parse_record_fast(std::string_view text, const std::uint8_t* origin, std::size_t origin_len,
                            const std::uint8_t* prev, std::size_t prev_len, std::uint32_t default_ttl,
                            FastRecord& out) {
  constexpr FastParse kNo = FastParse::kNotHandled;
  if (text.empty()) return kNo;
  std::string_view rest = text;
  std::string_view tok;

  // Owner: a leading blank repeats the previous owner.
  out.owner_given = !is_blank(text.front());
  if (out.owner_given) {
    if (!next_token(rest, tok) || !name_to_wire_plain(tok, origin, origin_len, out.owner.data(), out.owner_len))
      return kNo;
  } else {
    if (prev_len == 0) return kNo;
    std::memcpy(out.owner.data(), prev, prev_len);
    out.owner_len = prev_len;
  }

  // [TTL] [IN] TYPE, in this order only (ldns reads "IN 3600 A" as type "3600").
  if (!next_token(rest, tok)) return kNo;
  out.ttl = default_ttl == 0 ? kLdnsDefaultTtl : default_ttl;
  if (tok.front() >= '0' && tok.front() <= '9') {
    if (!parse_digits(tok, 9, out.ttl)) return kNo;  // units ("1h") and huge values: ldns
    if (!next_token(rest, tok)) return kNo;
  }
  if (iequals(tok, "IN")) {
    if (!next_token(rest, tok)) return kNo;
  }
  out.rdlen = 0;
  if (iequals(tok, "A")) {
    out.type = 1;
    if (!next_token(rest, tok) || tok.size() > 15 || !only_blanks(rest)) return kNo;
    char buf[16];
    std::memcpy(buf, tok.data(), tok.size());
    buf[tok.size()] = '\0';
    if (::inet_pton(AF_INET, buf, out.rdata.data()) != 1) return kNo;
    out.rdlen = 4;
  } else if (iequals(tok, "AAAA")) {
    out.type = 28;
    if (!next_token(rest, tok) || tok.size() > 45 || !only_blanks(rest)) return kNo;
    char buf[46];
    std::memcpy(buf, tok.data(), tok.size());
    buf[tok.size()] = '\0';
    if (::inet_pton(AF_INET6, buf, out.rdata.data()) != 1) return kNo;
    out.rdlen = 16;
  } else if (iequals(tok, "CNAME") || iequals(tok, "NS") || iequals(tok, "PTR")) {
    out.type = iequals(tok, "CNAME") ? 5 : iequals(tok, "NS") ? 2 : 12;
    if (!rdata_name(rest, origin, origin_len, out) || !only_blanks(rest)) return kNo;
  } else if (iequals(tok, "MX")) {
    out.type = 15;
    std::uint32_t pref = 0;
    if (!next_token(rest, tok) || !parse_digits(tok, 5, pref) || pref > 65535) return kNo;
    out.rdata[0] = static_cast<std::uint8_t>(pref >> 8);
    out.rdata[1] = static_cast<std::uint8_t>(pref);
    out.rdlen = 2;
    if (!rdata_name(rest, origin, origin_len, out) || !only_blanks(rest)) return kNo;
  } else if (iequals(tok, "TXT")) {
    out.type = 16;
    if (!rdata_txt(rest, out)) return kNo;
  } else {
    return kNo;
  }
  return FastParse::kDone;
}

}  // namespace pharos::dns
