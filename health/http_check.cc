// http_check.cc: the http/https prober: resolve through our resolver, one transfer per hop on the
// shared CurlMulti, a deadline timer for the whole probe, then status and body judged.
#include "health/http_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <utility>
#include <variant>

namespace pharos::health {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__GLIBCXX__)
// Thompson-style breadth-first matching: no recursion per character, time linear in the body for a
// pattern without lookaheads (see http_check.h for why the default matcher is unusable here).
constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
#error "http_check.cc relies on libstdc++'s polynomial std::regex mode (see http_check.h)"
#endif

struct CurluDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// Where one hop goes.
struct Target {
  std::string scheme;     // "http" or "https"
  std::string host;       // what the resolver looks up: the URL's host, IPv6 without brackets
  std::uint16_t port = 0;
  std::string curl_url;   // what curl is given (the host replaced by sni when set)
  std::string curl_host;  // that URL's host as curl sees it (for same-origin redirects)
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || out == nullptr) return {};
  std::string s{out};
  curl_free(out);
  return s;
}

std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

// Parses an absolute http(s) URL; with `sni`, curl's copy of it carries sni as its host.
std::optional<Target> parse_target(const std::string& url, const std::string& sni, std::string& error) {
  std::unique_ptr<CURLU, CurluDeleter> u{curl_url()};
  if (const CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    error = std::string{"url: "} + curl_url_strerror(rc);
    return std::nullopt;
  }
  Target t;
  t.scheme = url_part(u.get(), CURLUPART_SCHEME);
  if (t.scheme != "http" && t.scheme != "https") {
    error = "url: scheme must be http or https, not \"" + t.scheme + "\"";
    return std::nullopt;
  }
  const std::string host = url_part(u.get(), CURLUPART_HOST);
  if (host.empty()) {
    error = "url: no host";
    return std::nullopt;
  }
  t.host = strip_brackets(host);
  t.port = static_cast<std::uint16_t>(std::strtoul(url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT).c_str(),
                                                   nullptr, 10));
  if (!sni.empty() && t.scheme == "https") {
    if (curl_url_set(u.get(), CURLUPART_HOST, sni.c_str(), 0) != CURLUE_OK) {
      error = "sni: not a host name: \"" + sni + "\"";
      return std::nullopt;
    }
  }
  t.curl_url = url_part(u.get(), CURLUPART_URL);
  t.curl_host = url_part(u.get(), CURLUPART_HOST);
  return t;
}

// Where a curl option takes a literal: "192.0.2.1" or "[2001:db8::1]".
std::string address_literal(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, text, sizeof text);
    return text;
  }
  if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, text, sizeof text);
    return std::string{"["} + text + "]";
  }
  return {};
}

int address_family(const std::string& literal) {
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, literal.c_str(), buf) == 1) return AF_INET;
  if (inet_pton(AF_INET6, literal.c_str(), buf) == 1) return AF_INET6;
  return AF_UNSPEC;
}

bool is_token(const std::string& s) {  // RFC 9110 method token
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

std::string quoted(const std::string& s) {
  constexpr std::size_t kMax = 80;
  if (s.size() <= kMax) return "\"" + s + "\"";
  return "\"" + s.substr(0, kMax) + "...\"";
}

// Everything that can be wrong with a spec, found once. `target` and `regex` are filled when usable.
std::string inspect(const CheckSpec& spec, Target* target, std::optional<std::regex>* regex, int* family) {
  const auto* p = std::get_if<HttpParams>(&spec.params);
  if (p == nullptr || (spec.type != CheckType::kHttp && spec.type != CheckType::kHttps)) {
    return "not an http or https check";
  }
  const char* type_scheme = spec.type == CheckType::kHttps ? "https" : "http";
  // A URL written without a scheme takes the check type's.
  const std::string url = p->url.find("://") == std::string::npos ? type_scheme + ("://" + p->url) : p->url;
  std::string error;
  const std::optional<Target> t = parse_target(url, p->sni, error);
  if (!t) return error;
  if (t->scheme != type_scheme) return "url: scheme " + t->scheme + " does not match check type " + type_scheme;
  if (!is_token(p->method)) return "method: not an HTTP method: " + quoted(p->method);
  if (p->host_header.find_first_of("\r\n") != std::string::npos) return "host_header: contains a line break";
  if (p->expect_status.empty()) return "expect_status: empty";
  for (int s : p->expect_status) {
    if (s < 100 || s > 599) return "expect_status: " + std::to_string(s) + " is not an HTTP status";
  }
  int fam = AF_UNSPEC;
  if (!spec.source_address.empty()) {
    // A name here would make curl resolve it, blocking: only literals.
    fam = address_family(spec.source_address);
    if (fam == AF_UNSPEC) return "source_address: not an IP address: " + quoted(spec.source_address);
  }
  std::optional<std::regex> re;
  if (!p->body_regex.empty()) {
    try {
      // The pattern alone first: its own syntax errors, and back-references (which the linear
      // matcher refuses) reported against what the user wrote.
      std::regex alone{p->body_regex, kRegexFlags};
      // "Somewhere in the body" as one anchored pass instead of regex_search's retry at every
      // offset, which is quadratic in the body. The group cannot leak: the pattern is balanced.
      re.emplace("[\\s\\S]*?(?:" + p->body_regex + ")", kRegexFlags);
    } catch (const std::regex_error& e) {
      if (e.code() == std::regex_constants::error_complexity) {
        return "body_regex: back-references are not supported";
      }
      return std::string{"body_regex: "} + e.what();
    }
  }
  if (target != nullptr) *target = *t;
  if (regex != nullptr) *regex = std::move(re);
  if (family != nullptr) *family = fam;
  return {};
}

class HttpProber final : public Prober {
 public:
  HttpProber(uv_loop_t* loop, CurlMulti& curl, Resolver& resolver, const CheckSpec& spec)
      : curl_(curl),
        resolver_(resolver),
        timeout_(spec.timeout),
        source_address_(spec.source_address),
        easy_(curl_easy_init()),
        timer_(new uv_timer_t) {
    if (const auto* p = std::get_if<HttpParams>(&spec.params)) params_ = *p;
    config_error_ = inspect(spec, &first_target_, &body_regex_, &family_);
    uv_timer_init(loop, timer_);
    timer_->data = this;
  }

  ~HttpProber() override {
    cancel();
    // The timer's memory goes with its close callback, which runs after we are gone.
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }

  void start(ProbeCallback done) override {
    if (done_) cancel();  // one probe at a time: a new start abandons the old one
    done_ = std::move(done);
    started_ = Clock::now();
    if (!config_error_.empty() || !easy_) {
      // Reported from the timer, never from inside start().
      uv_timer_start(timer_, &HttpProber::on_deadline, 0, 0);
      return;
    }
    uv_timer_start(timer_, &HttpProber::on_deadline, static_cast<std::uint64_t>(timeout_.count()), 0);
    target_ = first_target_;
    overrides_ = true;
    method_ = params_.method;
    hops_ = 0;
    resolve();
  }

  void cancel() override {
    uv_timer_stop(timer_);
    resolving_.reset();
    curl_.remove(easy_.get());
    done_ = nullptr;
    std::string{}.swap(body_);
  }

 private:
  static void on_deadline(uv_timer_t* timer) {
    auto* self = static_cast<HttpProber*>(timer->data);
    self->finish(false, !self->config_error_.empty() ? self->config_error_
                        : !self->easy_              ? std::string{"cannot create a curl handle"}
                                                    : self->timeout_reason());
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* userp) {
    auto* self = static_cast<HttpProber*>(userp);
    const std::size_t bytes = size * n;
    // Past the kept prefix the body is read and dropped: the response must still end in time.
    const std::size_t room = kHttpBodyKept - std::min(kHttpBodyKept, self->body_.size());
    self->body_.append(data, std::min(bytes, room));
    return bytes;
  }

  std::string timeout_reason() const { return "timeout after " + std::to_string(timeout_.count()) + " ms"; }

  void resolve() {
    resolving_ = resolver_.resolve(target_.host, target_.port, family_,
                                   [this](ResolvedAddress&& address) { on_resolved(std::move(address)); });
  }

  void on_resolved(ResolvedAddress&& address) {
    if (!address.ok()) return finish(false, "resolve " + target_.host + ": " + address.error);
    connect_host_ = address_literal(address.addr);
    if (connect_host_.empty()) return finish(false, "resolve " + target_.host + ": no usable address");
    begin_transfer();
  }

  void begin_transfer() {
    CURL* e = easy_.get();
    curl_easy_reset(e);
    body_.clear();
    errbuf_[0] = '\0';
    const std::string connect_to = "::" + connect_host_ + ":" + std::to_string(target_.port);
    connect_to_.reset(curl_slist_append(nullptr, connect_to.c_str()));
    headers_.reset();
    if (overrides_ && !params_.host_header.empty()) {
      headers_.reset(curl_slist_append(nullptr, ("Host: " + params_.host_header).c_str()));
    }
    const auto left = std::chrono::duration_cast<Millis>(started_ + timeout_ - Clock::now()).count();

    curl_easy_setopt(e, CURLOPT_URL, target_.curl_url.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_.get());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // never a proxy from the environment
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    // curl only ever sees IP literals (CONNECT_TO above); its host cache would only grow, and it
    // walks the whole cache after every transfer (a quarter of the CPU at 2,000 checks/s).
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long long>(1, left)));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_.data());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpProber::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pharos-health");
    if (headers_) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get());
    if (method_ == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (method_ != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_.c_str());
    }
    if (!source_address_.empty()) {
      curl_easy_setopt(e, CURLOPT_INTERFACE, ("host!" + source_address_).c_str());
    }
    if (target_.scheme == "https") {
      const long verify = params_.tls_verify ? 1L : 0L;
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2);
      curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
      if (!params_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, params_.ca_file.c_str());
      if (!params_.client_cert.empty()) {
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLCERT, params_.client_cert.c_str());
      }
      if (!params_.client_key.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, params_.client_key.c_str());
    }
    if (!curl_.add(e, [this](CURLcode result) { on_transfer_done(result); })) {
      finish(false, "cannot start the transfer");
    }
  }

  void on_transfer_done(CURLcode result) {
    if (result != CURLE_OK) return finish(false, describe(result));
    long status = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
    if (params_.follow_redirects && status >= 300 && status < 400) {
      char* location = nullptr;
      curl_easy_getinfo(easy_.get(), CURLINFO_REDIRECT_URL, &location);
      if (location != nullptr) return follow(location, status);
    }
    std::string why = judge(status);
    std::string{}.swap(body_);
    if (why.empty()) return finish(true, "HTTP " + std::to_string(status));
    finish(false, std::move(why));
  }

  void follow(const std::string& location, long status) {
    if (++hops_ > kHttpMaxRedirects) {
      return finish(false, "more than " + std::to_string(kHttpMaxRedirects) + " redirects");
    }
    std::string error;
    std::optional<Target> next = parse_target(location, {}, error);
    if (!next) return finish(false, "redirect to " + quoted(location) + ": " + error);
    if (status == 303 || ((status == 301 || status == 302) && method_ == "POST")) {
      if (method_ != "HEAD") method_ = "GET";
    }
    const bool same_origin = next->scheme == target_.scheme && next->port == target_.port &&
                             strcasecmp(next->curl_host.c_str(), target_.curl_host.c_str()) == 0;
    if (same_origin) {
      next->host = target_.host;  // same address, and sni/Host overrides still apply
      target_ = std::move(*next);
      return begin_transfer();
    }
    overrides_ = false;
    target_ = std::move(*next);
    resolve();
  }

  // Empty when the response is what the check expects, else why not.
  std::string judge(long status) const {
    const auto& expected = params_.expect_status;
    if (std::find(expected.begin(), expected.end(), status) == expected.end()) {
      std::string why = "HTTP " + std::to_string(status) + " (expected ";
      for (std::size_t i = 0; i < expected.size(); ++i) {
        if (i > 0) why += ", ";
        why += std::to_string(expected[i]);
      }
      return why + ")";
    }
    if (!params_.body_contains.empty() && body_.find(params_.body_contains) == std::string::npos) {
      return "body does not contain " + quoted(params_.body_contains);
    }
    if (body_regex_ &&
        !std::regex_search(body_.begin(), body_.end(), *body_regex_, std::regex_constants::match_continuous)) {
      return "body does not match " + quoted(params_.body_regex);
    }
    return {};
  }

  std::string describe(CURLcode result) const {
    const std::string detail = errbuf_[0] != '\0' ? std::string{" ("} + errbuf_.data() + ")" : std::string{};
    long os_errno = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_OS_ERRNO, &os_errno);
    switch (result) {
      case CURLE_OPERATION_TIMEDOUT: return timeout_reason();
      case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) return "connection refused";
        if (os_errno != 0) return std::string{"connect: "} + std::strerror(static_cast<int>(os_errno));
        return "connect failed" + detail;
      case CURLE_PEER_FAILED_VERIFICATION: return "TLS: certificate verify failed" + detail;
      case CURLE_SSL_CACERT_BADFILE: return "TLS: cannot use the CA file" + detail;
      case CURLE_SSL_CERTPROBLEM: return "TLS: cannot use the client certificate" + detail;
      case CURLE_SSL_CONNECT_ERROR: return "TLS: handshake failed" + detail;
      case CURLE_GOT_NOTHING: return "empty reply from server";
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
        if (os_errno == ECONNRESET) return "connection reset";
        // A TLS 1.3 server refuses a client certificate after the handshake, as an alert here.
        return std::string{target_.scheme == "https" && detail.find("SSL") != std::string::npos ? "TLS: " : ""} +
               (result == CURLE_RECV_ERROR ? "receive failed" : "send failed") + detail;
      case CURLE_WEIRD_SERVER_REPLY: return "not an HTTP response" + detail;
      case CURLE_INTERFACE_FAILED: return "cannot bind source address " + source_address_ + detail;
      default: return curl_easy_strerror(result) + detail;
    }
  }

  void finish(bool up, std::string reason) {
    uv_timer_stop(timer_);
    resolving_.reset();
    curl_.remove(easy_.get());
    ProbeCallback done = std::move(done_);
    done_ = nullptr;
    ProbeResult result;
    result.up = up;
    result.reason = std::move(reason);
    result.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    // Last: the callback may destroy this prober or start the next probe.
    if (done) done(std::move(result));
  }

  CurlMulti& curl_;
  Resolver& resolver_;
  HttpParams params_;
  const Millis timeout_;
  const std::string source_address_;
  int family_ = AF_UNSPEC;      // of the source address, so names resolve to a reachable family
  std::string config_error_;    // not empty: every probe reports this
  Target first_target_;
  std::optional<std::regex> body_regex_;
  CurlEasyPtr easy_;            // reused across probes and hops (curl_easy_reset between them)
  uv_timer_t* timer_;           // the whole probe's deadline; freed by its close callback
  std::array<char, CURL_ERROR_SIZE> errbuf_{};

  // The probe in flight.
  ProbeCallback done_;
  Clock::time_point started_;
  Target target_;
  bool overrides_ = true;       // sni and Host override apply (false after a cross-origin hop)
  std::string method_;
  int hops_ = 0;
  std::string connect_host_;
  CurlSlistPtr connect_to_;
  CurlSlistPtr headers_;
  std::shared_ptr<void> resolving_;
  std::string body_;
};

}  // namespace

std::unique_ptr<Prober> make_http_prober(uv_loop_t* loop, CurlMulti& curl, Resolver& resolver,
                                         const CheckSpec& spec) {
  curl_global_init_once();
  return std::make_unique<HttpProber>(loop, curl, resolver, spec);
}

std::string http_check_error(const CheckSpec& spec) {
  curl_global_init_once();
  return inspect(spec, nullptr, nullptr, nullptr);
}

}  // namespace pharos::health
