// master_file.h: splits an RFC 1035 master file (§5.1) into logical records: comments dropped,
// parenthesised continuations joined onto one line, quoted strings kept intact, directives
// recognised. ldns then parses each record; this replaces ldns's character-at-a-time file
// reader, which cost three quarters of the load time of a large zone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pharos::dns {

class MasterFileReader {
 public:
  enum class Kind { kRecord, kDirective, kEnd, kError };

  struct Item {
    Kind kind = Kind::kEnd;
    std::string_view text;   // record or directive text; valid until the next call
    std::uint32_t line = 0;  // where the record starts
  };

  explicit MasterFileReader(std::string_view data) : data_(data) {}

  // The next record, directive, the end, or an error (text = message, line = where).
  Item next();

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::string cur_;
  std::string error_;
};

}  // namespace pharos::dns
