// wire.h: DNS wire-format constants and tiny accessors for the 12-byte header.
// Every offset, flag mask and type code used by pharos lives here; no bare 0x80 elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pharos::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameWire = 255;
inline constexpr std::size_t kMaxLabel = 63;
inline constexpr std::size_t kMaxMessage = 65535;
inline constexpr std::size_t kClassicUdpPayload = 512;
inline constexpr std::uint16_t kDefaultMaxUdpPayload = 1232;  // DNS Flag Day 2020
inline constexpr std::uint16_t kQuestionOffset = 12;
inline constexpr std::uint16_t kPointerMask = 0xC000;
inline constexpr std::uint8_t kLabelTypeMask = 0xC0;
inline constexpr std::uint8_t kLabelPointer = 0xC0;

// Header byte offsets.
inline constexpr std::size_t kOffId = 0;
inline constexpr std::size_t kOffFlags = 2;
inline constexpr std::size_t kOffQdcount = 4;
inline constexpr std::size_t kOffAncount = 6;
inline constexpr std::size_t kOffNscount = 8;
inline constexpr std::size_t kOffArcount = 10;

// Flag bits in the 16-bit flags word.
inline constexpr std::uint16_t kFlagQr = 0x8000;
inline constexpr std::uint16_t kFlagAa = 0x0400;
inline constexpr std::uint16_t kFlagTc = 0x0200;
inline constexpr std::uint16_t kFlagRd = 0x0100;
inline constexpr std::uint16_t kFlagRa = 0x0080;
inline constexpr std::uint16_t kFlagZ = 0x0040;
inline constexpr std::uint16_t kFlagAd = 0x0020;
inline constexpr std::uint16_t kFlagCd = 0x0010;
inline constexpr std::uint16_t kOpcodeMask = 0x7800;
inline constexpr int kOpcodeShift = 11;
inline constexpr std::uint16_t kRcodeMask = 0x000F;

enum class Opcode : std::uint8_t { kQuery = 0, kIquery = 1, kStatus = 2, kNotify = 4, kUpdate = 5, kDso = 6 };

enum class Rcode : std::uint16_t {
  kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5,
  kNotAuth = 9, kBadVers = 16, kBadCookie = 23,
};

namespace rrtype {
inline constexpr std::uint16_t kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kHinfo = 13, kMx = 15,
                               kTxt = 16, kAaaa = 28, kSrv = 33, kNaptr = 35, kDname = 39, kOpt = 41,
                               kDs = 43, kRrsig = 46, kNsec = 47, kDnskey = 48, kSvcb = 64, kHttps = 65,
                               kTkey = 249, kTsig = 250, kIxfr = 251, kAxfr = 252, kMailb = 253,
                               kMaila = 254, kAny = 255;
}  // namespace rrtype

namespace rrclass {
inline constexpr std::uint16_t kIn = 1, kCh = 3, kHs = 4, kNone = 254, kAny = 255;
}

namespace edns {
inline constexpr std::uint16_t kFlagDo = 0x8000;
inline constexpr std::uint16_t kOptNsid = 3, kOptClientSubnet = 8, kOptKeepalive = 11,
                               kOptPadding = 12, kOptCookie = 10;
inline constexpr std::size_t kOptRrSize = 11;  // root name, type, class, ttl, rdlength
}  // namespace edns

// Unaligned big-endian loads and stores.
inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// DNS names compare case-insensitively in ASCII only (RFC 4343): lowercase A-Z, leave other bytes.
inline std::uint8_t ascii_lower(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c | 0x20) : c;
}
inline void lowercase_copy(const std::uint8_t* in, std::size_t len, std::uint8_t* out) {
  for (std::size_t i = 0; i < len; ++i) out[i] = ascii_lower(in[i]);
}

inline std::uint16_t header_id(const std::uint8_t* m) { return load_u16(m + kOffId); }
inline std::uint16_t header_flags(const std::uint8_t* m) { return load_u16(m + kOffFlags); }
inline Opcode header_opcode(std::uint16_t flags) {
  return static_cast<Opcode>((flags & kOpcodeMask) >> kOpcodeShift);
}
inline std::uint16_t header_count(const std::uint8_t* m, std::size_t off) { return load_u16(m + off); }
inline void set_header_count(std::uint8_t* m, std::size_t off, std::uint16_t v) { store_u16(m + off, v); }

}  // namespace pharos::dns
