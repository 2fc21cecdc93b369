// control_server.cc: the control API's HTTP layer. libmicrohttpd runs a listening thread and one
// thread per connection (bounded), which may block while the control loop runs a handler; the
// pure request path (routing, auth, limits) comes first in this file.
#include "app/control_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <rapidjson/error/en.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "app/log.h"
#include "dns/listen_socket.h"

namespace pharos::app {
namespace {

constexpr unsigned kConnectionLimit = 64;
constexpr unsigned kIdleTimeoutS = 30;  // an idle keep-alive connection is closed after this
constexpr auto kStopGrace = std::chrono::seconds(2);  // stop() waits this long for responses in flight
constexpr int kListenBacklog = 64;

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
  rapidjson::Document doc;
  // Iterative: deep nesting must not exhaust the HTTP thread's stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(request.body.data(), request.body.size());
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
  return out;
}

// ---- The server ----

struct ControlServer::Job {
  enum class State : std::uint8_t { kQueued, kRunning, kDone, kAbandoned };
  std::size_t route = 0;
  ApiRequest request;
  State state = State::kQueued;
  ApiResponse response;
};

// What one HTTP request has gathered so far; created when the request line arrives (its raw
// target, before libmicrohttpd decodes anything), freed when the request completes.
struct ControlRequest {
  std::string target;
  bool started = false;
  bool replied = false;
  std::string method;
  std::optional<std::string> authorization, content_type;
  std::string body;
  bool too_large = false;
};

struct ControlServerCallbacks {
  static std::optional<std::string> header(MHD_Connection* c, const char* name) {
    const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }

  static MHD_Result reply(ControlServer& s, MHD_Connection* c, ControlRequest& req, const ApiResponse& r) {
    req.replied = true;
    MHD_Response* resp = MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()),
                                                         MHD_RESPMEM_MUST_COPY);
    if (resp == nullptr) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (const auto& [name, value] : r.headers) MHD_add_response_header(resp, name.c_str(), value.c_str());
    bool stopping = false;
    {
      std::lock_guard lock(s.mu_);
      stopping = s.stopping_;
    }
    if (stopping) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(r.status), resp);
    MHD_destroy_response(resp);
    return ok;
  }

  static void* on_uri(void* cls, const char* uri, MHD_Connection*) {
    auto* s = static_cast<ControlServer*>(cls);
    {
      std::lock_guard lock(s->mu_);
      ++s->in_flight_;
    }
    auto* req = new ControlRequest;
    req->target = uri == nullptr ? "" : uri;
    return req;
  }

  static void on_completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    auto* s = static_cast<ControlServer*>(cls);
    delete static_cast<ControlRequest*>(*con_cls);
    *con_cls = nullptr;
    std::lock_guard lock(s->mu_);
    if (--s->in_flight_ == 0) s->idle_.notify_all();
  }

  static MHD_Result on_request(void* cls, MHD_Connection* c, const char*, const char* method, const char*,
                               const char* upload_data, std::size_t* upload_data_size, void** con_cls) {
    auto& s = *static_cast<ControlServer*>(cls);
    auto* req = static_cast<ControlRequest*>(*con_cls);
    if (req == nullptr) return MHD_NO;  // on_uri always runs first
    if (req->replied) {  // answered early (413): the rest of the body is dropped
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (!req->started) {
      req->started = true;
      req->method = method;
      req->authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
      req->content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
      const auto length = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (length) {
        errno = 0;
        char* end = nullptr;
        const unsigned long long n = std::strtoull(length->c_str(), &end, 10);
        // An announced body that is too large is refused before it is read.
        if (errno == ERANGE || n > s.config_.max_body) {
          req->too_large = true;
          return reply(s, c, *req, std::get<ApiResponse>(prepare(s, *req)));
        }
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (!req->too_large) {
        if (req->body.size() + *upload_data_size > s.config_.max_body) {
          req->too_large = true;
          req->body.clear();
          req->body.shrink_to_fit();
        } else {
          req->body.append(upload_data, *upload_data_size);
        }
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    auto prepared = prepare(s, *req);
    if (auto* r = std::get_if<ApiResponse>(&prepared)) return reply(s, c, *req, *r);
    return reply(s, c, *req, s.dispatch(std::move(std::get<Routed>(prepared))));
  }

  static std::variant<Routed, ApiResponse> prepare(ControlServer& s, ControlRequest& req) {
    RawRequest raw;
    raw.method = req.method;
    raw.target = req.target;
    if (req.authorization) raw.authorization = *req.authorization;
    if (req.content_type) raw.content_type = *req.content_type;
    raw.body = std::move(req.body);
    raw.body_too_large = req.too_large;
    const std::shared_ptr<const TokenSet> tokens = s.tokens();
    auto out = prepare_request(s.table_, *tokens, s.config_.public_read, s.config_.max_body, std::move(raw));
    // With too_large set, prepare_request never routes: it answers 413 or an earlier error.
    return out;
  }

  static void on_log(void*, const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    std::string_view msg(buf);
    while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
    log_warn("control API", {{"error", std::string(msg)}});
  }

  static void on_async(uv_async_t* a) { static_cast<ControlServer*>(a->data)->run_queued(); }
};

ControlServer::ControlServer(uv_loop_t* loop, ControlConfig config)
    : loop_(loop), config_(std::move(config)), tokens_(std::make_shared<TokenSet>()) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::route(std::string method, std::string pattern, Role min_role, Handler handler) {
  table_.add(std::move(method), pattern, min_role);
  handlers_.push_back(std::move(handler));
}

std::shared_ptr<const TokenSet> ControlServer::tokens() const {
  std::lock_guard lock(tokens_mu_);
  return tokens_;
}

Result<void> ControlServer::reload_tokens() {
  Result<TokenSet> t = load_tokens(config_.tokens);
  if (!t) return t.error();
  if (auto w = tokens_file_warning(config_.tokens)) log_warn("API tokens file is readable by others", {{"warning", *w}});
  auto fresh = std::make_shared<const TokenSet>(std::move(*t));
  std::lock_guard lock(tokens_mu_);
  tokens_ = std::move(fresh);
  return {};
}

Result<void> ControlServer::start() {
  if (daemon_ != nullptr) return {};
  if (Result<void> t = reload_tokens(); !t) return t;
  dns::ListenAddress addr;
  if (!dns::parse_listen_address(config_.listen, addr)) {
    return Error{"", "", "control listen address \"" + config_.listen + "\" is not addr:port"};
  }
  const auto fail = [&](const char* what) {
    return Error{"", "", "control API: cannot " + std::string(what) + " " + config_.listen + ": " + std::strerror(errno)};
  };
  dns::Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail("create a socket for");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.family() == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), addr.sa(), addr.len) != 0) return fail("bind");
  if (::listen(fd.get(), kListenBacklog) != 0) return fail("listen on");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) return fail("read the address of");
  dns::ListenAddress b;
  b.addr = bound;
  b.len = len;
  port_ = b.port();

  const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG | (addr.family() == AF_INET6 ? MHD_USE_IPv6 : 0);
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &ControlServerCallbacks::on_request, this,
      MHD_OPTION_EXTERNAL_LOGGER, &ControlServerCallbacks::on_log, nullptr,  // first: it must be
      MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(fd.get()),
      MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutS,
      MHD_OPTION_URI_LOG_CALLBACK, &ControlServerCallbacks::on_uri, this,
      MHD_OPTION_NOTIFY_COMPLETED, &ControlServerCallbacks::on_completed, this,
      MHD_OPTION_END);
  if (daemon_ == nullptr) return Error{"", "", "control API: libmicrohttpd could not start on " + config_.listen};
  fd.release();  // libmicrohttpd owns the listening socket now

  async_ = new uv_async_t;
  uv_async_init(loop_, async_, &ControlServerCallbacks::on_async);
  async_->data = this;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  log_info("control API listening", {{"addr", dns::format_address(b.sa())}, {"tokens", std::to_string(tokens()->size())}});
  return {};
}

std::size_t ControlServer::queued_requests() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

ApiResponse ControlServer::dispatch(Routed&& routed) {
  auto job = std::make_shared<Job>();
  job->route = routed.route;
  job->request = std::move(routed.request);
  std::unique_lock lock(mu_);
  if (stopping_) return api_error(503, "pharosd is stopping");
  queue_.push_back(job);
  uv_async_send(async_);  // under mu_: stop() closes the handle only after setting stopping_
  const auto timeout = std::chrono::milliseconds(config_.loop_timeout_ms);
  if (answered_.wait_for(lock, timeout, [&] { return job->state == Job::State::kDone; })) {
    return std::move(job->response);
  }
  const std::string waited = std::to_string(config_.loop_timeout_ms) + " ms";
  if (job->state == Job::State::kQueued) {
    job->state = Job::State::kAbandoned;  // the loop will skip it
    log_warn("control API request timed out", {{"request", job->request.method + " " + job->request.path}, {"applied", "no"}});
    return api_error(503, "pharosd's control loop did not take the request within " + waited + "; nothing was done");
  }
  log_warn("control API request timed out", {{"request", job->request.method + " " + job->request.path}, {"applied", "maybe"}});
  return api_error(503, "pharosd's control loop did not finish the request within " + waited +
                            "; it may still take effect");
}

void ControlServer::run_job(Job& job) {
  {
    std::lock_guard lock(mu_);
    if (job.state != Job::State::kQueued) return;
    job.state = Job::State::kRunning;
  }
  ApiResponse r;
  try {
    r = handlers_[job.route](job.request);
  } catch (const std::exception& e) {
    log_error("control API handler failed", {{"request", job.request.method + " " + job.request.path}, {"error", e.what()}});
    r = api_error(500, std::string("internal error: ") + e.what());
  }
  {
    std::lock_guard lock(mu_);
    job.response = std::move(r);
    job.state = Job::State::kDone;
  }
  answered_.notify_all();
}

void ControlServer::run_queued() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    run_job(*job);
  }
}

void ControlServer::stop() {
  if (daemon_ == nullptr) return;
  // No new connections; the socket libmicrohttpd hands back is ours to close.
  const MHD_socket listen_fd = MHD_quiesce_daemon(daemon_);
  std::deque<std::shared_ptr<Job>> queued;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // from here on, new requests get 503 without waiting for the loop
    queued.swap(queue_);
  }
  // We are the loop: answer what was already queued, then let the responses go out.
  for (auto& job : queued) run_job(*job);
  {
    std::unique_lock lock(mu_);
    idle_.wait_for(lock, kStopGrace, [&] { return in_flight_ == 0; });
  }
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  if (listen_fd != MHD_INVALID_SOCKET) ::close(listen_fd);
  uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
  async_ = nullptr;
}

}  // namespace pharos::app
