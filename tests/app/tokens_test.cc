// tokens_test.cc: the control API's tokens file: roles, errors with file and JSON Pointer, the
// lookup, and the warning about a file others can read.
#include "app/tokens.h"

#include <gtest/gtest.h>

#include "tests/app/control_fixture.h"

namespace pharos::app {
namespace {

std::string error_of(const std::string& json) {
  auto t = parse_tokens(json, "tokens.json");
  return t.ok() ? std::string("(no error)") : t.error().to_string();
}

TEST(Tokens, ReadsNamesRolesAndSecrets) {
  auto t = parse_tokens(test::tokens_json(), "tokens.json");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->size(), 2u);
  const Token* rita = t->find(test::kReadToken);
  ASSERT_NE(rita, nullptr);
  EXPECT_EQ(rita->name, "rita");
  EXPECT_EQ(rita->role, Role::kRead);
  const Token* otto = t->find(test::kOperatorToken);
  ASSERT_NE(otto, nullptr);
  EXPECT_EQ(otto->role, Role::kOperator);
}

TEST(Tokens, FindsOnlyTheExactSecret) {
  auto t = parse_tokens(test::tokens_json(), "tokens.json");
  ASSERT_TRUE(t.ok());
  const std::string real = test::kReadToken;
  EXPECT_EQ(t->find(""), nullptr);
  EXPECT_EQ(t->find(real.substr(0, real.size() - 1)), nullptr);
  EXPECT_EQ(t->find(real + "x"), nullptr);
  EXPECT_EQ(t->find(real + real), nullptr);
  std::string flipped = real;
  flipped[5] ^= 1;
  EXPECT_EQ(t->find(flipped), nullptr);
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcabc"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Tokens, ErrorsNameTheFileAndPointer) {
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "admin", "token": "0123456789abcdef"}]})"),
            R"(tokens.json: /tokens/0/role: "admin" is not a role ("read" or "operator"))");
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "read", "token": "short"}]})"),
            "tokens.json: /tokens/0/token: is shorter than 16 characters");
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "read", "token": "0123456789 abcdef"}]})"),
            "tokens.json: /tokens/0/token: may hold only printable ASCII without spaces");
  EXPECT_EQ(error_of(R"({"tokens": [{"role": "read", "token": "0123456789abcdef"}]})"),
            R"(tokens.json: /tokens/0: missing "name")");
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "read", "token": "0123456789abcdef", "x": 1}]})"),
            R"(tokens.json: /tokens/0/x: unknown key "x")");
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "read", "token": "0123456789abcdef"},
                                    {"name": "a", "role": "read", "token": "0123456789abcdeX"}]})"),
            R"(tokens.json: /tokens/1/name: name "a" is listed twice)");
  EXPECT_EQ(error_of(R"({"tokens": [{"name": "a", "role": "read", "token": "0123456789abcdef"},
                                    {"name": "b", "role": "operator", "token": "0123456789abcdef"}]})"),
            "tokens.json: /tokens/1/token: the same token is listed twice");
  EXPECT_EQ(error_of(R"({})"), R"(tokens.json: missing "tokens": a list of { "name", "role", "token" })");
  EXPECT_EQ(error_of(R"({"tokens": {}})"), "tokens.json: /tokens: must be an array");
  EXPECT_EQ(error_of("{\n\"tokens\": [\n}"), "tokens.json:3: invalid JSON: Invalid value.");
}

TEST(Tokens, AnEmptyListIsValid) {
  auto t = parse_tokens(R"({"tokens": []})", "tokens.json");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 0u);
  EXPECT_EQ(t->find(""), nullptr);
}

TEST(Tokens, WarnsWhenOthersMayReadTheFile) {
  test::ScratchDir dir;
  const std::string tight = dir.write("tight.json", test::tokens_json(), 0600);
  const std::string open = dir.write("open.json", test::tokens_json(), 0644);
  EXPECT_EQ(tokens_file_warning(tight), std::nullopt);
  EXPECT_EQ(tokens_file_warning(open), open + " has mode 0644: group or others may read the API tokens; chmod 600 it");
  auto t = load_tokens(open);  // still loads
  EXPECT_TRUE(t.ok());
  auto missing = load_tokens(dir.file("missing.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().file, dir.file("missing.json"));
}

}  // namespace
}  // namespace pharos::app
