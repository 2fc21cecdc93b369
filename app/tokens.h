// tokens.h: the control API's bearer tokens, read from a JSON file (docs/api.md), with the role
// each one grants. Lookups compare every token in constant time, so the answer's timing says
// nothing about how much of a guess was right.
//
//   Result<TokenSet> t = load_tokens("/etc/pharos/tokens.json");
//   if (!t) return t.error();                       // "tokens.json: /tokens/1/role: ..."
//   if (const Token* who = t->find(bearer)) ...     // who->name, who->role
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/result.h"

namespace pharos::app {

// kNone: no token needed. kOperator can do everything kRead can.
enum class Role : std::uint8_t { kNone, kRead, kOperator };
const char* to_string(Role r);  // "none", "read", "operator"

struct Token {
  std::string name;   // who: shown in the audit journal
  Role role = Role::kRead;
  std::string secret;
};

inline constexpr std::size_t kMinTokenLength = 16;

class TokenSet {
 public:
  TokenSet() = default;
  explicit TokenSet(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  // The token whose secret equals `presented`, or null. Always looks at every token.
  const Token* find(std::string_view presented) const;
  std::size_t size() const { return tokens_.size(); }

 private:
  std::vector<Token> tokens_;
};

// Parses the tokens file's text; `path` names it in errors.
Result<TokenSet> parse_tokens(std::string_view text, const std::string& path);
// Reads and parses the tokens file.
Result<TokenSet> load_tokens(const std::string& path);
// Why the file's permissions are too open (group or others may read it), or nothing.
std::optional<std::string> tokens_file_warning(const std::string& path);

// Equal contents, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace pharos::app
