// control_request.cc: the control API's request path without sockets (control_request.h).
#include "app/control_request.h"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <cstdio>

namespace pharos::app {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 (overlong forms and surrogates are invalid).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

constexpr std::size_t kMaxJsonDepth = 64;  // API bodies are a level or two deep

// Whether brackets outside strings nest deeper than `limit` (the text need not be valid JSON).
bool json_depth_exceeds(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

ApiResponse unauthorized(std::string_view message, bool bad_token) {
  ApiResponse r = api_error(401, message);
  r.headers.emplace_back("WWW-Authenticate",
                         bad_token ? R"(Bearer realm="pharos", error="invalid_token")" : R"(Bearer realm="pharos")");
  return r;
}

}  // namespace

// ---- Responses and bodies ----

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

ApiResponse api_json(int status, std::string json) { return ApiResponse{status, std::move(json), "application/json", {}}; }

ApiResponse api_error(int status, std::string_view message) {
  return api_json(status, "{\"error\":" + json_quote(message) + "}");
}

std::variant<rapidjson::Document, ApiResponse> parse_body(const ApiRequest& request) {
  if (request.body.empty()) return api_error(400, "missing JSON body: send a JSON object");
  // RapidJSON's parser recurses once per level: refuse deep nesting before parsing, so no body
  // can exhaust the HTTP thread's stack.
  if (json_depth_exceeds(request.body, kMaxJsonDepth)) {
    return api_error(400, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  rapidjson::Document doc;
  doc.Parse(request.body.data(), request.body.size());
  if (doc.HasParseError()) {
    return api_error(400, "malformed JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                              rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return api_error(400, "the body must be a JSON object");
  return doc;
}

// ---- The pure request path ----

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  for (std::string_view part : split(query, '&')) {
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    auto name = url_decode(part.substr(0, eq), true);
    auto value = url_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    if (name->empty()) continue;
    out.insert_or_assign(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string_view> parse_bearer(std::string_view authorization) {
  std::string_view s = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (s.size() <= kScheme.size() || !iequals(s.substr(0, kScheme.size()), kScheme)) return std::nullopt;
  s.remove_prefix(kScheme.size());
  if (s.front() != ' ' && s.front() != '\t') return std::nullopt;
  s = trim(s);
  if (s.empty()) return std::nullopt;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  return s;
}

bool is_json_content_type(std::string_view content_type) {
  const std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  return iequals(media, "application/json");
}

void RouteTable::add(std::string method, std::string_view pattern, Role min_role) {
  Route r;
  r.method = std::move(method);
  if (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  for (std::string_view seg : split(pattern, '/')) r.segments.emplace_back(seg);
  r.min_role = min_role;
  routes_.push_back(std::move(r));
}

std::variant<RouteTable::Match, ApiResponse> RouteTable::match(std::string_view method,
                                                               std::string_view raw_path) const {
  if (raw_path.empty() || raw_path.front() != '/') return api_error(400, "the request path must start with \"/\"");
  std::vector<std::string> segments;
  for (std::string_view seg : split(raw_path.substr(1), '/')) {
    auto decoded = url_decode(seg, false);
    if (!decoded) return api_error(400, "malformed percent-escape in the path");
    segments.push_back(std::move(*decoded));
  }
  std::optional<Match> best;
  std::vector<bool> best_literals;
  std::vector<std::string> allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    if (r.segments.size() != segments.size()) continue;
    Match m{i, {}};
    std::vector<bool> literals;
    bool ok = true;
    for (std::size_t k = 0; ok && k < segments.size(); ++k) {
      const std::string& p = r.segments[k];
      const bool capture = p.size() >= 2 && p.front() == '{' && p.back() == '}';
      literals.push_back(!capture);
      if (capture) {
        ok = !segments[k].empty();
        if (ok) m.params.push_back(segments[k]);
      } else {
        ok = p == segments[k];
      }
    }
    if (!ok) continue;
    if (r.method != method) {
      if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
      continue;
    }
    // "/v1/records/export" beats "/v1/records/{name}": the more literal segments first, wins.
    if (!best || literals > best_literals) {
      best = std::move(m);
      best_literals = std::move(literals);
    }
  }
  if (best) return std::move(*best);
  if (!allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    std::string allow;
    for (const auto& a : allowed) allow += (allow.empty() ? "" : ", ") + a;
    ApiResponse r = api_error(405, std::string(method) + " is not allowed here; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  return api_error(404, "no such endpoint: " + std::string(raw_path));
}

std::variant<Routed, ApiResponse> prepare_request(const RouteTable& routes, const TokenSet& tokens,
                                                  bool public_read, std::size_t max_body, RawRequest&& raw) {
  const std::size_t q = raw.target.find('?');
  const std::string_view path = raw.target.substr(0, q);
  auto matched = routes.match(raw.method, path);
  if (auto* r = std::get_if<ApiResponse>(&matched)) return std::move(*r);
  RouteTable::Match& m = std::get<RouteTable::Match>(matched);
  auto query = parse_query(q == std::string_view::npos ? std::string_view{} : raw.target.substr(q + 1));
  if (!query) return api_error(400, "malformed percent-escape in the query string");

  const RouteTable::Route& route = routes.at(m.route);
  Role need = route.min_role;
  if (!public_read && need == Role::kNone) need = Role::kRead;
  Role have = Role::kNone;
  std::string name;
  if (raw.authorization) {
    // A token that is sent must be right, even where none is needed: a client with a stale token
    // learns it at once.
    const auto bearer = parse_bearer(*raw.authorization);
    if (!bearer) return unauthorized("malformed Authorization header: expected \"Bearer <token>\"", true);
    const Token* t = tokens.find(*bearer);
    if (t == nullptr) return unauthorized("unknown token", true);
    have = t->role;
    name = t->name;
  }
  if (need != Role::kNone && have == Role::kNone) {
    return unauthorized("this endpoint needs a token: send \"Authorization: Bearer <token>\"", false);
  }
  if (have < need) {
    return api_error(403, "token " + json_quote(name) + " has role " + to_string(have) + "; " +
                              std::string(raw.method) + " " + std::string(path) + " needs role " + to_string(need));
  }
  if (raw.body_too_large) {
    return api_error(413, "the request body is larger than " + std::to_string(max_body) + " bytes");
  }
  if (!raw.body.empty() && !(raw.content_type && is_json_content_type(*raw.content_type))) {
    return api_error(415, "request bodies must be JSON: send \"Content-Type: application/json\"");
  }
  Routed out;
  out.route = m.route;
  out.request.method = std::string(raw.method);
  out.request.path = std::string(path);
  out.request.params = std::move(m.params);
  out.request.query = std::move(*query);
  out.request.body = std::move(raw.body);
  out.request.role = have;
  out.request.token_name = std::move(name);
  if (raw.if_match) out.request.if_match = std::string(*raw.if_match);
  return out;
}

}  // namespace pharos::app
