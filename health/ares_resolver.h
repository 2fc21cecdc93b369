// ares_resolver.h: the Resolver for checks: c-ares (hosts file, then DNS, as the system is set up)
// on the control loop, with a short answer cache and one lookup in flight per name, so ten
// thousand checks on one hostname cost one query per TTL.
//
//   AresResolver resolver(loop);
//   auto token = resolver.resolve("www.example.com", 443, AF_UNSPEC, [](ResolvedAddress&& a) {
//     if (!a.ok()) return fail(a.error);
//     connect_to(a.addr, a.len);
//   });
//   token.reset();        // the callback will not run
//   resolver.close();     // before the loop stops; pending callbacks never run
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "health/ares_uv.h"
#include "health/check.h"
#include "health/resolver.h"

namespace pharos::health {

class AresResolver : public Resolver {
 public:
  struct Options {
    std::string servers;        // "addr:port,..." instead of resolv.conf's, if not empty (tests)
    std::string lookups;        // c-ares lookup order: "fb" hosts file then DNS, "b" DNS only; "" = system
    Millis query_timeout{0};    // per try; 0 = the system's
    int tries = 0;              // 0 = the system's
    Millis min_cache{1000};     // answers are kept for their TTL, clamped to [min_cache, max_cache]
    Millis max_cache{60000};
    Millis negative_cache{5000};  // failures are kept this long (0: not at all)
  };

  explicit AresResolver(uv_loop_t* loop);
  AresResolver(uv_loop_t* loop, Options options);
  ~AresResolver() override;
  AresResolver(const AresResolver&) = delete;
  AresResolver& operator=(const AresResolver&) = delete;

  // After close(), resolve() still returns a token but never calls back.
  std::shared_ptr<void> resolve(const std::string& host, std::uint16_t port, int family, Done done) override;

  // Abandons every pending request (their callbacks never run) and closes the c-ares channel and
  // the timer. Run the loop afterwards so the close callbacks free them.
  void close();

  std::uint64_t lookups_started() const { return lookups_started_; }   // c-ares lookups, for tests

 private:
  struct Request;
  struct Lookup;
  struct Entry {
    std::vector<sockaddr_storage> addresses;   // port 0; empty when `error` is set
    std::string error;
    std::uint64_t expires_ms = 0;              // uv_now() scale
  };
  struct Ready {
    std::shared_ptr<Request> request;
    ResolvedAddress result;
  };

  static void on_addrinfo(void* arg, int status, int timeouts, struct ares_addrinfo* result);
  static void on_flush(uv_timer_t* timer);

  void complete(std::unique_ptr<Lookup> lookup, Entry entry);
  void answer(const std::shared_ptr<Request>& request, const Entry& entry);
  void answer(const std::shared_ptr<Request>& request, ResolvedAddress&& result);
  void flush();
  void prune_cache(std::uint64_t now);

  uv_loop_t* loop_;
  Options options_;
  AresUvPtr ares_;
  std::string setup_error_;                    // c-ares could not be set up: every lookup fails so
  uv_timer_t* flush_timer_ = nullptr;          // freed in its close callback
  std::unordered_map<std::string, Entry> cache_;                     // by lookup key
  std::unordered_map<std::string, std::unique_ptr<Lookup>> in_flight_;  // by lookup key
  std::deque<Ready> ready_;                    // answered, waiting for the flush timer
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t lookups_started_ = 0;
  bool closed_ = false;
};

}  // namespace pharos::health
