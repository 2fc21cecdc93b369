// api_client.h: one HTTP call to pharosd's control API with libcurl's easy interface, for
// pharosctl: the server as "host:port", an optional bearer token, and errors that say whether the
// daemon could be reached at all.
//
//   ApiCall c = call_api({"127.0.0.1:8053", token}, "POST", "/v1/reload", "");
//   if (c.failure) { fputs(c.failure->c_str(), stderr); return 3; }  // cannot connect
//   c.status, c.body                                                 // what the server said
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pharos::app {

struct ApiClientOptions {
  std::string server = "127.0.0.1:8053";  // host:port or [v6]:port
  std::string token;                      // empty: no Authorization header
  long timeout_ms = 30'000;
};

struct ApiCall {
  std::optional<std::string> failure;  // set when there is no HTTP answer: why, in words
  long status = 0;
  std::string body;
};

// `path` is already encoded (see url_encode); a non-empty `body` is sent as application/json.
ApiCall call_api(const ApiClientOptions& options, std::string_view method, std::string_view path, std::string_view body);

// Percent-encodes everything but RFC 3986 unreserved characters: one path segment or query value.
std::string url_encode(std::string_view s);

// The token in a token file: its content without surrounding whitespace. Nothing if unreadable.
std::optional<std::string> read_token_file(const std::string& path, std::string& error);

}  // namespace pharos::app
