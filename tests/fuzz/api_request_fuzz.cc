// api_request_fuzz.cc: the control API's request path without sockets. Input lines: method,
// request-target, Authorization value ("-" = none), Content-Type ("-" = none), then the body.
// Whatever comes in, the answer is a routed request or an error whose body is valid JSON. A body
// that parses is also read as a config change batch (app/config_change.h), and printed back by
// the scenario files' printer, which must give the same JSON.
#include <rapidjson/document.h>

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "app/config_change.h"
#include "app/config_docs.h"
#include "app/control_server.h"

namespace {
std::string_view line(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  const std::string_view out = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return out;
}
// Equal JSON; numbers within a few ULP, as RapidJSON's normal-precision parse may differ that much
// between two spellings of one double.
bool same(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber() && (a.IsDouble() || b.IsDouble()))
    return std::fabs(a.GetDouble() - b.GetDouble()) <= 1e-12 * std::fmax(std::fabs(a.GetDouble()), std::fabs(b.GetDouble()));
  if (a.GetType() != b.GetType()) return false;
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
      if (!same(a[i], b[i])) return false;
    return true;
  }
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) return false;
    for (auto i = a.MemberBegin(), k = b.MemberBegin(); i != a.MemberEnd(); ++i, ++k)
      if (i->name != k->name || !same(i->value, k->value)) return false;
    return true;
  }
  return a == b;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pharos::app;
  static const RouteTable routes = [] {
    RouteTable t;
    t.add("GET", "/", Role::kNone);
    t.add("GET", "/v1/explain", Role::kRead);
    t.add("POST", "/v1/checks/{id}/force", Role::kOperator);
    t.add("DELETE", "/v1/checks/{id}/force", Role::kOperator);
    t.add("POST", "/v1/records/{name}/{type}/resume", Role::kOperator);
    t.add("POST", "/v1/config/changes", Role::kOperator);
    t.add("PUT", "/v1/config/records/{name}/{type}", Role::kOperator);
    return t;
  }();
  static const TokenSet tokens({{"rita", Role::kRead, "read-token-0123456789"},
                                {"otto", Role::kOperator, "operator-token-0123456789"}});
  std::string_view in(reinterpret_cast<const char*>(data), size);
  RawRequest raw;
  raw.method = line(in);
  raw.target = line(in);
  if (const auto a = line(in); a != "-") raw.authorization = a;
  if (const auto c = line(in); c != "-") raw.content_type = c;
  raw.body = std::string(in);
  auto out = prepare_request(routes, tokens, size % 2 == 0, 4096, std::move(raw));
  const ApiResponse* error = std::get_if<ApiResponse>(&out);
  std::variant<rapidjson::Document, ApiResponse> body;
  if (error == nullptr) {
    body = parse_body(std::get<Routed>(out).request);
    error = std::get_if<ApiResponse>(&body);
  }
  if (auto* doc = std::get_if<rapidjson::Document>(&body)) {
    auto batch = parse_change_batch(*doc);
    if (auto* b = std::get_if<ChangeBatch>(&batch)) {
      for (const ConfigChange& c : b->changes) {
        rapidjson::Document v;
        v.Parse(c.value.data(), c.value.size());
        if (c.op != ChangeOp::kDelete && v.HasParseError()) std::abort();  // values travel as JSON text
      }
    }
    rapidjson::Document again;
    const std::string text = pretty_json(*doc);
    again.Parse(text.data(), text.size());
    if (again.HasParseError() || !same(again, *doc)) std::abort();
  }
  if (error != nullptr) {
    rapidjson::Document d;
    d.Parse(error->body.data(), error->body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || error->status < 400) std::abort();
  }
  return 0;
}
