// control_fixture.h: a ControlServer on loopback port 0 with its handlers on a real libuv loop
// running in its own thread (the "control loop"), a tokens file in a temporary directory, and a
// libcurl client that returns status, headers and body.
#pragma once

#include <curl/curl.h>
#include <sys/stat.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "app/control_server.h"

namespace pharos::test {

inline constexpr const char* kReadToken = "read-token-0123456789";
inline constexpr const char* kOperatorToken = "operator-token-0123456789";

inline std::string tokens_json(const std::string& read = kReadToken, const std::string& op = kOperatorToken) {
  return R"({"tokens": [{"name": "rita", "role": "read", "token": ")" + read +
         R"("}, {"name": "otto", "role": "operator", "token": ")" + op + R"("}]})";
}

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/pharos-api-test-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::trunc) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

// A libuv loop on its own thread. Its own handles are created before the server's, and libuv runs
// pending async handles in creation order: after hold() returns, a pending stop runs before the
// server's queue is drained.
class LoopThread {
 public:
  LoopThread() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &holder_, [](uv_async_t* a) {
      auto* self = static_cast<LoopThread*>(a->data);
      if (self->on_hold_) self->on_hold_();
    });
    holder_.data = this;
    uv_async_init(&loop_, &stopper_, [](uv_async_t* a) {
      auto* self = static_cast<LoopThread*>(a->data);
      if (self->at_stop_) self->at_stop_();
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&self->holder_), nullptr);
    });
    stopper_.data = this;
  }
  ~LoopThread() { stop({}); }
  uv_loop_t* loop() { return &loop_; }
  void start() {
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  // Runs `fn` on the loop, closes the stopper, and waits for the loop to end (every handle closed).
  void stop(std::function<void()> fn) {
    if (!thread_.joinable()) {
      if (!closed_) {
        closed_ = true;
        if (fn) fn();
        uv_close(reinterpret_cast<uv_handle_t*>(&stopper_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&holder_), nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
      }
      return;
    }
    request_stop(std::move(fn));
    join();
  }
  // Runs `fn` on the loop thread (it may block the loop: that is what it is for).
  void hold(std::function<void()> fn) {
    on_hold_ = std::move(fn);
    uv_async_send(&holder_);
  }
  void request_stop(std::function<void()> fn) {
    at_stop_ = std::move(fn);
    uv_async_send(&stopper_);
  }
  void join() {
    if (!thread_.joinable()) return;
    thread_.join();
    closed_ = true;
    uv_loop_close(&loop_);
  }
  bool running() const { return thread_.joinable(); }

 private:
  uv_loop_t loop_{};
  uv_async_t holder_{};
  uv_async_t stopper_{};
  std::function<void()> on_hold_;
  std::function<void()> at_stop_;
  std::thread thread_;
  bool closed_ = false;
};

struct HttpOptions {
  std::string method = "GET";
  std::string path = "/";
  std::optional<std::string> token;          // sent as "Authorization: Bearer <token>"
  std::optional<std::string> authorization;  // the whole header value, as is
  std::optional<std::string> body;
  std::string content_type = "application/json";  // with a body; empty: none
  bool chunked = false;
  std::string host = "127.0.0.1";
  std::vector<std::string> headers;          // more header lines, "Name: value"
};

struct HttpResult {
  CURLcode rc = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline std::size_t on_body(char* d, std::size_t s, std::size_t n, void* u) {
  static_cast<std::string*>(u)->append(d, s * n);
  return s * n;
}

inline std::size_t on_header(char* d, std::size_t s, std::size_t n, void* u) {
  std::string line(d, s * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(u))[name] = value;
  }
  return s * n;
}

inline HttpResult http(std::uint16_t port, const HttpOptions& o) {
  HttpResult out;
  CURL* c = curl_easy_init();
  const std::string url = "http://" + o.host + ":" + std::to_string(port) + o.path;
  curl_slist* h = nullptr;
  if (o.token) h = curl_slist_append(h, ("Authorization: Bearer " + *o.token).c_str());
  if (o.authorization) h = curl_slist_append(h, ("Authorization: " + *o.authorization).c_str());
  for (const auto& line : o.headers) h = curl_slist_append(h, line.c_str());
  if (o.body) {
    h = curl_slist_append(h, o.content_type.empty() ? "Content-Type:" : ("Content-Type: " + o.content_type).c_str());
    if (o.chunked) h = curl_slist_append(h, "Transfer-Encoding: chunked");
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o.method.c_str());
  if (o.body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, o.body->data());
    if (!o.chunked) curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(o.body->size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.headers);
  out.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return out;
}

// A ControlServer with its tokens file, started by start() after the test adds its routes.
class ApiHarness {
 public:
  ApiHarness() {
    config.enabled = true;
    config.listen = "127.0.0.1:0";
    config.tokens = dir.write("tokens.json", tokens_json());
  }
  ~ApiHarness() { shutdown(); }

  app::ControlServer& server() {
    if (!server_) server_ = std::make_unique<app::ControlServer>(loop.loop(), config);
    return *server_;
  }
  void start() {
    auto r = server().start();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    loop.start();
  }
  void shutdown() {
    if (server_) loop.stop([this] { server_->stop(); });
  }
  HttpResult call(HttpOptions o) { return http(server_->port(), o); }
  HttpResult get(const std::string& path, std::optional<std::string> token = std::nullopt) {
    HttpOptions o;
    o.path = path;
    o.token = std::move(token);
    return call(o);
  }
  HttpResult post(const std::string& path, std::string body, std::optional<std::string> token) {
    HttpOptions o;
    o.method = "POST";
    o.path = path;
    o.body = std::move(body);
    o.token = std::move(token);
    return call(o);
  }

  ScratchDir dir;
  app::ControlConfig config;
  LoopThread loop;

 private:
  std::unique_ptr<app::ControlServer> server_;
};

using app::ControlServer;

}  // namespace pharos::test
