// control_request.h: the control API's request path without sockets: requests and responses,
// JSON errors, URL and query decoding, bearer headers, route matching with {captures}, and
// prepare_request, which turns what arrived into a routed request or the 4xx to send. The HTTP
// server (control_server.h) and the fuzz target both run it.
//
//   RouteTable t;  t.add("POST", "/v1/checks/{id}/force", Role::kOperator);
//   auto r = prepare_request(t, tokens, /*public_read=*/true, 1 << 20, std::move(raw));
//   if (auto* e = std::get_if<ApiResponse>(&r)) send(*e);   // 400/401/403/404/405/413/415
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "app/tokens.h"

namespace pharos::app {

struct ApiRequest {
  std::string method, path;                  // "GET", "/v1/checks/dc1-web/force" (path as sent, undecoded)
  std::vector<std::string> params;           // captures of {..} in the route pattern, URL-decoded
  std::map<std::string, std::string> query;  // ?name=...&type=..., URL-decoded ('+' is a space)
  std::string body;                          // raw; handlers parse JSON themselves (parse_body)
  Role role = Role::kNone;                   // the token's role; kNone without a token
  std::string token_name;                    // who asked (for the audit journal); empty without a token
  std::optional<std::string> if_match;       // the If-Match header (config changes: the generation)
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, WWW-Authenticate)
};

ApiResponse api_json(int status, std::string json);
// {"error": "<message>"}, escaped.
ApiResponse api_error(int status, std::string_view message);
// A JSON string literal with quotes; bytes that are not UTF-8 become U+FFFD.
std::string json_quote(std::string_view s);
// Parses a JSON object body; on failure returns the 400 response to send.
std::variant<rapidjson::Document, ApiResponse> parse_body(const ApiRequest& request);

// %XX decoding; `plus_is_space` for query strings. Nothing on a bad escape.
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; a repeated name keeps its last value. Nothing on a bad escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);
// The token of "Bearer <token>" (scheme in any case); nothing when the header is malformed.
std::optional<std::string_view> parse_bearer(std::string_view authorization);
// "application/json" with any parameters, in any case.
bool is_json_content_type(std::string_view content_type);

class RouteTable {
 public:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{id}" captures one non-empty segment
    Role min_role = Role::kNone;
  };
  struct Match {
    std::size_t route = 0;
    std::vector<std::string> params;
  };

  void add(std::string method, std::string_view pattern, Role min_role);
  const Route& at(std::size_t i) const { return routes_[i]; }
  std::size_t size() const { return routes_.size(); }
  // The route for `method` and the raw (undecoded) path, or the 400/404/405 response.
  std::variant<Match, ApiResponse> match(std::string_view method, std::string_view raw_path) const;

 private:
  std::vector<Route> routes_;
};

// What the HTTP thread knows about a request once it is read.
struct RawRequest {
  std::string_view method;
  std::string_view target;         // request-target as sent: "/v1/explain?name=a&type=A"
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> if_match;
  std::string body;
  bool body_too_large = false;     // more than max_body arrived (or was announced); `body` is partial
};

struct Routed {
  std::size_t route = 0;
  ApiRequest request;
};

// Routing (404/405), auth (401/403), body limits (413/415), in that order. `public_read` false
// raises routes registered with Role::kNone to Role::kRead.
std::variant<Routed, ApiResponse> prepare_request(const RouteTable& routes, const TokenSet& tokens,
                                                  bool public_read, std::size_t max_body, RawRequest&& raw);

}  // namespace pharos::app
