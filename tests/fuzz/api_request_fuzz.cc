// api_request_fuzz.cc: the control API's request path without sockets. Input lines: method,
// request-target, Authorization value ("-" = none), Content-Type ("-" = none), then the body.
// Whatever comes in, the answer is a routed request or an error whose body is valid JSON.
#include <rapidjson/document.h>

#include <cstdlib>
#include <string_view>

#include "app/control_server.h"

namespace {
std::string_view line(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  const std::string_view out = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return out;
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
  if (error != nullptr) {
    rapidjson::Document d;
    d.Parse(error->body.data(), error->body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || error->status < 400) std::abort();
  }
  return 0;
}
