// wire_reader.h: bounds-checked reader over a DNS message with a sticky error.
// Read every field, then check ok() once; a failed read returns zeros and never touches memory
// outside the buffer.
//
//   WireReader r{msg, len};
//   r.skip(kHeaderSize);
//   const auto type = r.u16(); const auto cls = r.u16();
//   if (!r.ok()) return ParseError::kMalformed;
#pragma once

#include <cstddef>
#include <cstdint>

#include "dns/wire.h"

namespace pharos::dns {

class WireReader {
 public:
  WireReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool ok() const { return ok_; }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return ok_ ? size_ - pos_ : 0; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  void fail() { ok_ = false; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    const auto v = load_u16(data_ + pos_);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    const auto v = load_u32(data_ + pos_);
    pos_ += 4;
    return v;
  }
  void skip(std::size_t n) {
    if (need(n)) pos_ += n;
  }
  // Returns a pointer to the next n bytes and advances, or nullptr on overrun.
  const std::uint8_t* bytes(std::size_t n) {
    if (!need(n)) return nullptr;
    const auto* p = data_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || size_ - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace pharos::dns
