// tokens.cc: reading the tokens file with the scenario JSON reader (file and JSON Pointer in
// every error) and the constant-time lookup.
#include "app/tokens.h"

#include <sys/stat.h>

#include <cstdio>
#include <set>

#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

using scenario::in_quotes;
using scenario::Value;

bool read_role(scenario::JsonReader& r, const Value& v, const std::string& at, Role& out) {
  std::string s;
  if (!r.string(v, at, s)) return false;
  if (s == "read") out = Role::kRead;
  else if (s == "operator") out = Role::kOperator;
  else return r.fail(at, in_quotes(s) + " is not a role (\"read\" or \"operator\")");
  return true;
}

}  // namespace

const char* to_string(Role r) {
  switch (r) {
    case Role::kNone: return "none";
    case Role::kRead: return "read";
    case Role::kOperator: return "operator";
  }
  return "none";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Walk the presented string whole whatever the other is, so the time depends on lengths only.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

const Token* TokenSet::find(std::string_view presented) const {
  const Token* found = nullptr;
  for (const Token& t : tokens_) {
    // No early exit: every secret is compared.
    if (constant_time_equal(presented, t.secret) && found == nullptr) found = &t;
  }
  return found;
}

Result<TokenSet> parse_tokens(std::string_view text, const std::string& path) {
  Result<rapidjson::Document> doc = scenario::parse_json(text, path);
  if (!doc) return doc.error();
  scenario::JsonReader r(path);
  std::vector<Token> tokens;
  std::set<std::string> names, secrets;
  bool has_tokens = false;
  const bool ok = r.object(*doc, "", {
      {"tokens", [&](const Value& list, const std::string& where) {
         has_tokens = true;
         return r.array(list, where, [&](const Value& v, const std::string& at) {
           Token t;
           bool has_name = false, has_role = false, has_token = false;
           const bool fields = r.object(v, at, {
               {"name", [&](const Value& x, const std::string& w) { has_name = true; return r.nonempty_string(x, w, t.name); }},
               {"role", [&](const Value& x, const std::string& w) { has_role = true; return read_role(r, x, w, t.role); }},
               {"token", [&](const Value& x, const std::string& w) {
                  has_token = true;
                  if (!r.string(x, w, t.secret)) return false;
                  if (t.secret.size() < kMinTokenLength) {
                    return r.fail(w, "is shorter than " + std::to_string(kMinTokenLength) + " characters");
                  }
                  for (unsigned char c : t.secret) {
                    // What fits in an Authorization header as a bearer token (RFC 6750 b64token).
                    if (c <= 0x20 || c >= 0x7f) return r.fail(w, "may hold only printable ASCII without spaces");
                  }
                  return true;
                }},
           });
           if (!fields) return false;
           if (!has_name) return r.fail(at, "missing \"name\"");
           if (!has_role) return r.fail(at, "missing \"role\" (\"read\" or \"operator\")");
           if (!has_token) return r.fail(at, "missing \"token\"");
           if (!names.insert(t.name).second) return r.fail(at + "/name", "name " + in_quotes(t.name) + " is listed twice");
           if (!secrets.insert(t.secret).second) return r.fail(at + "/token", "the same token is listed twice");
           tokens.push_back(std::move(t));
           return true;
         });
       }},
  });
  if (!ok) return *r.err;
  if (!has_tokens) return Error{path, "", "missing \"tokens\": a list of { \"name\", \"role\", \"token\" }"};
  return TokenSet(std::move(tokens));
}

Result<TokenSet> load_tokens(const std::string& path) {
  Result<std::string> text = scenario::read_text_file(path);
  if (!text) return text.error();
  return parse_tokens(*text, path);
}

std::optional<std::string> tokens_file_warning(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return path + " has mode " + mode + ": group or others may read the API tokens; chmod 600 it";
}

}  // namespace pharos::app
