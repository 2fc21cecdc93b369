// fragment_writer.cc: name compression for precomputed answers (see fragment_writer.h).
#include "dns/fragment_writer.h"

#include <cstring>

namespace pharos::dns {
namespace {

constexpr std::size_t kMaxPointerTarget = 0x3FFF;
constexpr std::size_t kQuestionTail = 4;  // QTYPE + QCLASS after the qname
constexpr std::size_t kMaxRelocations = 255;

}  // namespace

void FragmentWriter::reset(const std::uint8_t* context, std::size_t context_len, std::size_t qname_len) {
  out_.clear();
  relocs_.clear();
  dict_.clear();
  names_.clear();
  qname_len_ = qname_len;
  std::uint8_t lower[kMaxNameWire];
  lowercase_copy(context, context_len, lower);
  for (std::size_t p = 0; p + 1 < context_len; p += 1 + lower[p])
    add_entry(lower + p, context_len - p, false, 0);
}

void FragmentWriter::add_entry(const std::uint8_t* lower, std::size_t len, bool fragment, std::uint16_t offset) {
  Entry e{static_cast<std::uint32_t>(names_.size()), static_cast<std::uint8_t>(len), fragment, offset};
  names_.insert(names_.end(), lower, lower + len);
  dict_.push_back(e);
}

int FragmentWriter::match(const std::uint8_t* lower, std::size_t len) const {
  for (std::size_t i = 0; i < dict_.size(); ++i) {
    const Entry& e = dict_[i];
    if (e.len == len && std::memcmp(names_.data() + e.name, lower, len) == 0) return static_cast<int>(i);
  }
  return -1;
}

void FragmentWriter::pointer(const Entry& e) {
  const std::size_t at = out_.size();
  if (qname_len_ != 0) {
    const std::size_t target = e.fragment ? kHeaderSize + qname_len_ + kQuestionTail + e.offset
                                          : kHeaderSize + qname_len_ - e.len;
    u16(static_cast<std::uint16_t>(kPointerMask | target));
    return;
  }
  u16(kPointerMask);
  relocs_.push_back(Relocation{static_cast<std::uint16_t>(at),
                               static_cast<std::uint16_t>(e.fragment ? (kRelocFragment | e.offset) : e.len)});
}

void FragmentWriter::qname_owner() { u16(kPointerMask | kQuestionOffset); }

void FragmentWriter::name(const std::uint8_t* wire, std::size_t len, bool compress) {
  std::uint8_t lower[kMaxNameWire];
  lowercase_copy(wire, len, lower);
  std::size_t p = 0;
  while (p + 1 < len) {
    const std::size_t rest = len - p;
    if (compress && (qname_len_ != 0 || relocs_.size() < kMaxRelocations)) {
      const int hit = match(lower + p, rest);
      if (hit >= 0) {
        pointer(dict_[static_cast<std::size_t>(hit)]);
        return;
      }
    }
    // Remember this suffix as a target for later names if a pointer can reach it wherever the
    // question ends (a 255-byte qname when the length is not known yet).
    const std::size_t q = qname_len_ != 0 ? qname_len_ : kMaxNameWire;
    if (kHeaderSize + q + kQuestionTail + out_.size() <= kMaxPointerTarget)
      add_entry(lower + p, rest, true, static_cast<std::uint16_t>(out_.size()));
    raw(wire + p, 1u + wire[p]);
    p += 1u + wire[p];
  }
  out_.push_back(0);
}

void FragmentWriter::u16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
}

void FragmentWriter::u32(std::uint32_t v) {
  u16(static_cast<std::uint16_t>(v >> 16));
  u16(static_cast<std::uint16_t>(v));
}

void FragmentWriter::raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }

}  // namespace pharos::dns
