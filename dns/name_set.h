// name_set.h: interns lowercased wire names into dense ids, in one bytes arena with an
// open-addressing index. The zone loader groups records with it and the answer table looks up
// qnames in it; find() does no allocation and at most a few probes.
//
//   NameSet s;
//   bool added; std::uint32_t id = s.intern(wire, len, hash_name(wire, len), &added);
//   std::int64_t same = s.find(wire, len, hash_name(wire, len));   // == id
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dns/query.h"

namespace pharos::dns {

class NameSet {
 public:
  static constexpr std::int64_t kMissing = -1;

  std::size_t size() const { return offsets_.size(); }
  const std::uint8_t* name(std::uint32_t id) const { return bytes_.data() + offsets_[id] + 1; }
  std::size_t length(std::uint32_t id) const { return bytes_[offsets_[id]]; }

  std::int64_t find(const std::uint8_t* name, std::size_t len, std::uint64_t hash) const {
    if (slots_.empty()) return kMissing;
    const std::uint32_t tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id_plus_one == 0) return kMissing;
      if (s.tag == tag && matches(s.id_plus_one - 1, name, len)) return s.id_plus_one - 1;
    }
  }

  std::uint32_t intern(const std::uint8_t* name, std::size_t len, std::uint64_t hash, bool* added) {
    if ((offsets_.size() + 1) * 2 > slots_.size()) grow();
    const std::uint32_t tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id_plus_one == 0) {
        const auto id = static_cast<std::uint32_t>(offsets_.size());
        offsets_.push_back(static_cast<std::uint32_t>(bytes_.size()));
        bytes_.push_back(static_cast<std::uint8_t>(len));
        bytes_.insert(bytes_.end(), name, name + len);
        s.id_plus_one = id + 1;
        s.tag = tag;
        if (added) *added = true;
        return id;
      }
      if (s.tag == tag && matches(s.id_plus_one - 1, name, len)) {
        if (added) *added = false;
        return s.id_plus_one - 1;
      }
    }
  }

  void reserve(std::size_t names, std::size_t bytes) {
    offsets_.reserve(names);
    bytes_.reserve(bytes);
    std::size_t cap = 16;
    while (cap < names * 2) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

  // Frees the hash index; name(), length() and size() still work, find() and intern() do not.
  void drop_index() {
    std::vector<Slot>().swap(slots_);
    mask_ = 0;
  }

  // Bytes in use (reserved capacity that was never touched costs no memory).
  std::size_t memory_bytes() const {
    return bytes_.size() + offsets_.size() * sizeof(std::uint32_t) + slots_.size() * sizeof(Slot);
  }

 private:
  struct Slot {
    std::uint32_t id_plus_one = 0;  // 0 = empty
    std::uint32_t tag = 0;          // high hash bits: most mismatches end without memcmp
  };

  bool matches(std::uint32_t id, const std::uint8_t* name, std::size_t len) const {
    const std::uint8_t* p = bytes_.data() + offsets_[id];
    return p[0] == len && std::memcmp(p + 1, name, len) == 0;
  }

  void grow() { rehash(slots_.empty() ? 16 : slots_.size() * 2); }

  void rehash(std::size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.id_plus_one == 0) continue;
      const std::uint32_t id = s.id_plus_one - 1;
      const std::uint64_t h = hash_of(id);
      for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
        if (slots_[i].id_plus_one == 0) {
          slots_[i] = s;
          break;
        }
      }
    }
  }

  std::uint64_t hash_of(std::uint32_t id) const { return hash_name(name(id), length(id)); }

  std::vector<std::uint8_t> bytes_;      // [len][name bytes] per id
  std::vector<std::uint32_t> offsets_;   // id -> offset of its length byte
  std::vector<Slot> slots_;
  std::uint64_t mask_ = 0;
};

}  // namespace pharos::dns
