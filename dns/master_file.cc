// master_file.cc: see master_file.h.
#include "dns/master_file.h"

namespace pharos::dns {

MasterFileReader::Item MasterFileReader::next() {
  cur_.clear();
  int depth = 0;
  bool quoted = false;
  std::uint32_t start = 0;
  std::uint32_t paren_line = 0;
  auto has_content = [&] { return start != 0; };
  while (pos_ < data_.size()) {
    const char c = data_[pos_++];
    if (quoted) {
      if (c == '\n') {
        error_ = "unterminated quoted string";
        return {Kind::kError, error_, start};
      }
      cur_ += c;
      if (c == '\\' && pos_ < data_.size()) cur_ += data_[pos_++];
      else if (c == '"') quoted = false;
      continue;
    }
    switch (c) {
      case '"':
        quoted = true;
        if (!has_content()) start = line_;
        cur_ += c;
        break;
      case ';':
        while (pos_ < data_.size() && data_[pos_] != '\n') ++pos_;
        break;
      case '(':
        if (depth++ == 0) paren_line = line_;
        cur_ += ' ';
        break;
      case ')':
        if (--depth < 0) {
          error_ = "\")\" without \"(\"";
          return {Kind::kError, error_, line_};
        }
        cur_ += ' ';
        break;
      case '\\':
        if (!has_content()) start = line_;
        cur_ += c;
        if (pos_ < data_.size() && data_[pos_] != '\n') cur_ += data_[pos_++];
        break;
      case '\r':
        break;
      case '\n':
        ++line_;
        if (depth > 0) {
          cur_ += ' ';
          break;
        }
        if (has_content()) {
          const bool directive = cur_[0] == '$';
          return {directive ? Kind::kDirective : Kind::kRecord, cur_, start};
        }
        cur_.clear();  // whitespace only
        break;
      case ' ':
      case '\t':
        cur_ += c;
        break;
      default:
        if (!has_content()) start = line_;
        cur_ += c;
    }
  }
  if (quoted) {
    error_ = "unterminated quoted string";
    return {Kind::kError, error_, start};
  }
  if (depth > 0) {
    error_ = "\"(\" is never closed";
    return {Kind::kError, error_, paren_line};
  }
  if (has_content()) return {cur_[0] == '$' ? Kind::kDirective : Kind::kRecord, cur_, start};
  return {Kind::kEnd, {}, line_};
}

}  // namespace pharos::dns
