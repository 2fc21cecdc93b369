// ares_resolver.cc: literals, the cache and lookup coalescing in front of ares_getaddrinfo. Every
// answer, even one known at once, is delivered from a 0 ms timer: never inside resolve(), and never
// inside a c-ares callback (so a callback may drop its check, its token or even the resolver).
#include "health/ares_resolver.h"

#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "health/ip_literal.h"

namespace pharos::health {

struct AresResolver::Request {
  Done done;
  std::uint16_t port = 0;
  bool cancelled = false;
};

struct AresResolver::Lookup {
  AresResolver* owner = nullptr;
  std::string key;
  std::string host;
  int family = AF_UNSPEC;
  std::vector<std::shared_ptr<Request>> waiters;
};

namespace {

std::string lookup_key(const std::string& host, int family) {
  std::string key = host;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  key += family == AF_INET ? "/4" : family == AF_INET6 ? "/6" : "/*";
  return key;
}

const char* family_name(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

void set_port(sockaddr_storage& sa, std::uint16_t port) {
  if (sa.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&sa)->sin_port = htons(port);
  if (sa.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port = htons(port);
}

}  // namespace

AresResolver::AresResolver(uv_loop_t* loop) : AresResolver(loop, Options{}) {}

AresResolver::AresResolver(uv_loop_t* loop, Options options) : loop_(loop), options_(std::move(options)) {
  AresConfig config;
  config.timeout = options_.query_timeout;
  config.tries = options_.tries;
  config.lookups = options_.lookups;
  config.servers = options_.servers;
  ares_ = AresUv::create(loop_, config, setup_error_);
  flush_timer_ = new uv_timer_t;
  uv_timer_init(loop_, flush_timer_);
  flush_timer_->data = this;
}

AresResolver::~AresResolver() { close(); }

void AresResolver::close() {
  if (closed_) return;
  closed_ = true;
  *alive_ = false;
  ares_.reset();            // lookups in flight end with ARES_EDESTRUCTION, which is ignored
  in_flight_.clear();
  ready_.clear();
  cache_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(flush_timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  flush_timer_ = nullptr;
}

std::shared_ptr<void> AresResolver::resolve(const std::string& host, std::uint16_t port, int family,
                                            Done done) {
  auto request = std::make_shared<Request>();
  request->done = std::move(done);
  request->port = port;
  // The token is not the request: the resolver keeps its own references, and the caller's going
  // away is what cancels. Dropping the callback at once also frees whatever it captured.
  std::shared_ptr<void> token(request.get(), [request](void*) {
    request->cancelled = true;
    request->done = nullptr;
  });
  if (closed_) return token;

  if (host.empty()) {
    answer(request, ResolvedAddress{.error = "empty host name"});
    return token;
  }
  ResolvedAddress literal;
  if (parse_ip_literal(host, port, AF_UNSPEC, literal.addr, literal.len)) {
    if (family != AF_UNSPEC && literal.addr.ss_family != family) {
      answer(request, ResolvedAddress{.error = host + " is not an " + family_name(family) + " address"});
    } else {
      answer(request, std::move(literal));
    }
    return token;
  }
  if (!setup_error_.empty()) {
    answer(request, ResolvedAddress{.error = "resolve " + host + ": " + setup_error_});
    return token;
  }

  const std::string key = lookup_key(host, family);
  const std::uint64_t now = uv_now(loop_);
  if (const auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires_ms > now) {
      answer(request, it->second);
      return token;
    }
    cache_.erase(it);
  }
  if (const auto it = in_flight_.find(key); it != in_flight_.end()) {
    it->second->waiters.push_back(std::move(request));
    return token;
  }

  auto lookup = std::make_unique<Lookup>();
  lookup->owner = this;
  lookup->key = key;
  lookup->host = host;
  lookup->family = family;
  lookup->waiters.push_back(std::move(request));
  Lookup* arg = lookup.get();
  in_flight_.emplace(key, std::move(lookup));
  ++lookups_started_;
  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;   // one node per address, not one per socket type
  // c-ares may answer inside this call (hosts file): on_addrinfo only queues, so that is fine.
  ares_->run([&](ares_channel channel) { ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, &on_addrinfo, arg); });
  return token;
}

void AresResolver::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> owned(result, &ares_freeaddrinfo);
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;   // closing
  auto* lookup = static_cast<Lookup*>(arg);
  AresResolver* self = lookup->owner;
  const auto it = self->in_flight_.find(lookup->key);
  if (it == self->in_flight_.end() || it->second.get() != lookup) return;
  std::unique_ptr<Lookup> done = std::move(it->second);
  self->in_flight_.erase(it);

  Entry entry;
  const std::uint64_t now = uv_now(self->loop_);
  if (status != ARES_SUCCESS) {
    entry.error = "resolve " + done->host + ": " + ares_strerror(status);
    entry.expires_ms = now + static_cast<std::uint64_t>(self->options_.negative_cache.count());
  } else {
    int ttl = -1;
    for (const ares_addrinfo_node* node = result != nullptr ? result->nodes : nullptr; node != nullptr;
         node = node->ai_next) {
      if (node->ai_family != AF_INET && node->ai_family != AF_INET6) continue;
      if (done->family != AF_UNSPEC && node->ai_family != done->family) continue;
      sockaddr_storage sa{};
      std::memcpy(&sa, node->ai_addr, std::min<std::size_t>(node->ai_addrlen, sizeof sa));
      set_port(sa, 0);
      entry.addresses.push_back(sa);
      ttl = ttl < 0 ? node->ai_ttl : std::min(ttl, node->ai_ttl);
    }
    if (entry.addresses.empty()) {
      entry.error = "resolve " + done->host + ": no " +
                    (done->family == AF_UNSPEC ? std::string("") : std::string(family_name(done->family)) + " ") +
                    "address";
      entry.expires_ms = now + static_cast<std::uint64_t>(self->options_.negative_cache.count());
    } else {
      const auto keep = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::max(ttl, 0)) * 1000,
                                                 self->options_.min_cache.count(), self->options_.max_cache.count());
      entry.expires_ms = now + static_cast<std::uint64_t>(keep);
    }
  }
  self->complete(std::move(done), std::move(entry));
}

void AresResolver::complete(std::unique_ptr<Lookup> lookup, Entry entry) {
  for (const auto& request : lookup->waiters) answer(request, entry);
  const std::uint64_t now = uv_now(loop_);
  if (entry.expires_ms > now) {
    prune_cache(now);
    cache_[lookup->key] = std::move(entry);
  }
}

void AresResolver::prune_cache(std::uint64_t now) {
  // Checks name a bounded set of hosts; sweep only when the map has grown, to keep this O(1) amortised.
  static constexpr std::size_t kSweepAt = 1024;
  if (cache_.size() < kSweepAt) return;
  std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires_ms <= now; });
}

void AresResolver::answer(const std::shared_ptr<Request>& request, const Entry& entry) {
  ResolvedAddress result;
  if (!entry.error.empty()) {
    result.error = entry.error;
  } else {
    const sockaddr_storage& sa = entry.addresses.front();
    result.addr = sa;
    result.len = sa.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    set_port(result.addr, request->port);
  }
  answer(request, std::move(result));
}

void AresResolver::answer(const std::shared_ptr<Request>& request, ResolvedAddress&& result) {
  if (request->cancelled) return;
  ready_.push_back(Ready{request, std::move(result)});
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(flush_timer_)) == 0) {
    uv_timer_start(flush_timer_, &AresResolver::on_flush, 0, 0);
  }
}

void AresResolver::on_flush(uv_timer_t* timer) { static_cast<AresResolver*>(timer->data)->flush(); }

void AresResolver::flush() {
  std::deque<Ready> batch;
  batch.swap(ready_);
  // A callback may close or destroy the resolver; `alive` tells us to stop touching it.
  const std::shared_ptr<bool> alive = alive_;
  for (auto& ready : batch) {
    if (!*alive) return;
    Request& request = *ready.request;
    if (request.cancelled || !request.done) continue;
    Done done = std::move(request.done);
    request.done = nullptr;
    done(std::move(ready.result));
  }
}

}  // namespace pharos::health
