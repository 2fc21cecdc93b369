// fragment_writer.h: encodes RRs into an answer fragment, compressing names against the question
// (offset 12) and against names already written. When the qname's length is known (an exact
// name) every pointer is final; otherwise the pointer is left for the responder to patch from a
// relocation entry (wildcards, shared negative answers, referrals below a cut).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/answer_table.h"

namespace pharos::dns {

class FragmentWriter {
 public:
  // `context` is a name whose every suffix is a suffix of the qname. qname_len is the qname's
  // wire length when the answer serves exactly one name, 0 when it serves many.
  void reset(const std::uint8_t* context, std::size_t context_len, std::size_t qname_len);

  void qname_owner();                                          // the constant pointer to offset 12
  void name(const std::uint8_t* wire, std::size_t len, bool compress = true);
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void raw(const std::uint8_t* p, std::size_t n);
  std::size_t size() const { return out_.size(); }
  void patch_u16(std::size_t at, std::uint16_t v) { store_u16(out_.data() + at, v); }

  const std::vector<std::uint8_t>& bytes() const { return out_; }
  const std::vector<Relocation>& relocations() const { return relocs_; }

 private:
  struct Entry {
    std::uint32_t name;     // offset of the lowercased suffix in names_
    std::uint8_t len;
    bool fragment;          // target is a fragment offset (else a qname suffix of wire length `len`)
    std::uint16_t offset;   // fragment offset when `fragment`
  };

  int match(const std::uint8_t* lower, std::size_t len) const;
  void add_entry(const std::uint8_t* lower, std::size_t len, bool fragment, std::uint16_t offset);
  void pointer(const Entry& e);

  std::vector<std::uint8_t> out_;
  std::vector<Relocation> relocs_;
  std::vector<Entry> dict_;
  std::vector<std::uint8_t> names_;
  std::size_t qname_len_ = 0;
};

}  // namespace pharos::dns
