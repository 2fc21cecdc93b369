// control_server.cc: the control API's HTTP server. libmicrohttpd runs a listening thread and one
// thread per connection (bounded), which may block while the control loop runs a handler.
#include "app/control_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace

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
  std::optional<std::string> authorization, content_type, if_match;
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
      req->if_match = header(c, MHD_HTTP_HEADER_IF_MATCH);
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
    Routed& routed = std::get<Routed>(prepared);
    if (s.direct_[routed.route]) return reply(s, c, *req, s.run_direct(std::move(routed)));
    return reply(s, c, *req, s.dispatch(std::move(routed)));
  }

  static std::variant<Routed, ApiResponse> prepare(ControlServer& s, ControlRequest& req) {
    RawRequest raw;
    raw.method = req.method;
    raw.target = req.target;
    if (req.authorization) raw.authorization = *req.authorization;
    if (req.content_type) raw.content_type = *req.content_type;
    if (req.if_match) raw.if_match = *req.if_match;
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
  async_handlers_.emplace_back();
  timeouts_.emplace_back(0);
  direct_.push_back(false);
}

void ControlServer::route_direct(std::string method, std::string pattern, Role min_role, Handler handler) {
  route(std::move(method), std::move(pattern), min_role, std::move(handler));
  direct_.back() = true;
}

void ControlServer::route_async(std::string method, std::string pattern, Role min_role, AsyncHandler handler,
                                std::chrono::milliseconds timeout) {
  table_.add(std::move(method), pattern, min_role);
  handlers_.emplace_back();
  async_handlers_.push_back(std::move(handler));
  timeouts_.push_back(timeout);
  direct_.push_back(false);
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
  const auto timeout = timeouts_[job->route].count() > 0 ? timeouts_[job->route]
                                                          : std::chrono::milliseconds(config_.loop_timeout_ms);
  if (answered_.wait_for(lock, timeout, [&] { return job->state == Job::State::kDone; })) {
    return std::move(job->response);
  }
  const std::string waited = std::to_string(timeout.count()) + " ms";
  if (job->state == Job::State::kQueued) {
    job->state = Job::State::kAbandoned;  // the loop will skip it
    log_warn("control API request timed out", {{"request", job->request.method + " " + job->request.path}, {"applied", "no"}});
    return api_error(503, "pharosd's control loop did not take the request within " + waited + "; nothing was done");
  }
  log_warn("control API request timed out", {{"request", job->request.method + " " + job->request.path}, {"applied", "maybe"}});
  return api_error(503, "pharosd's control loop did not finish the request within " + waited +
                            "; it may still take effect");
}

ApiResponse ControlServer::run_direct(Routed&& routed) {
  try {
    return handlers_[routed.route](routed.request);
  } catch (const std::exception& e) {
    log_error("control API handler failed", {{"request", routed.request.method + " " + routed.request.path}, {"error", e.what()}});
    return api_error(500, std::string("internal error: ") + e.what());
  }
}

void ControlServer::run_job(const std::shared_ptr<Job>& shared) {
  Job& job = *shared;
  {
    std::lock_guard lock(mu_);
    if (job.state != Job::State::kQueued) return;
    job.state = Job::State::kRunning;
  }
  ApiResponse r;
  try {
    if (async_handlers_[job.route]) {
      auto replied = std::make_shared<bool>(false);
      async_handlers_[job.route](job.request, [this, shared, replied](ApiResponse answer) {
        if (*replied) return;
        *replied = true;
        finish_job(*shared, std::move(answer));
      });
      return;
    }
    r = handlers_[job.route](job.request);
  } catch (const std::exception& e) {
    log_error("control API handler failed", {{"request", job.request.method + " " + job.request.path}, {"error", e.what()}});
    r = api_error(500, std::string("internal error: ") + e.what());
  }
  finish_job(job, std::move(r));
}

void ControlServer::finish_job(Job& job, ApiResponse&& r) {
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
    run_job(job);
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
  for (auto& job : queued) run_job(job);
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
