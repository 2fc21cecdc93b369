// result.h: Result<T> for loading code (config, zones, state): a value or an error that names the
// file, where in it (line number or JSON Pointer) and what is wrong.
//
//   Result<ZoneData> z = load_zone("example.com.", "zones/example.com.zone");
//   if (!z) { log(z.error().to_string()); return; }   // "zones/example.com.zone:12: unknown type FOO"
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pharos {

struct Error {
  std::string file;     // may be empty (e.g. a config change that has no file yet)
  std::string where;    // "12" for a line, "/records/3/chain/0/dc" for a JSON Pointer, or empty
  std::string message;  // what is wrong, in the user's vocabulary

  std::string to_string() const {
    std::string s = file;
    if (!where.empty()) s += (where[0] == '/' ? ": " : ":") + where;
    if (!s.empty()) s += ": ";
    return s + message;
  }
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}            // NOLINT: implicit by design

  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an error, for operations that produce nothing: `if (!r) log(r.error().to_string());`
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  explicit operator bool() const { return ok_; }
  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace pharos
