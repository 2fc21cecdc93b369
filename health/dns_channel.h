// dns_channel.h: a c-ares channel shared by the DNS probers of one loop that ask the same server,
// from the same source address, with the same timeout. c-ares 1.18 preallocates about 75 KB of
// query tables per channel: one channel per check would cost 750 MB for ten thousand checks.
//
//   auto channel = DnsChannel::get(loop, "192.0.2.53:53", "", Millis{2000}, error);
//   DnsChannel::Query* q = channel->send(query_bytes, this);   // nullptr: answered already
//   ... on_dns_answer(status, answer, length) ...               // once, unless abandoned
//   DnsChannel::abandon(q);                                     // cancel: c-ares ends it by itself
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "health/ares_uv.h"
#include "health/check.h"

namespace pharos::health {

class DnsChannel {
 public:
  class Listener {
   public:
    // The c-ares outcome: ARES_SUCCESS with the answer (any rcode: the channel uses
    // ARES_FLAG_NOCHECKRESP), or an error status (ARES_ETIMEOUT, ARES_ECONNREFUSED, ...).
    virtual void on_dns_answer(int status, const unsigned char* answer, int length) = 0;

   protected:
    ~Listener() = default;
  };
  struct Query;

  // `server` is "addr:port". nullptr with `error` when c-ares cannot be set up so (bad source).
  static std::shared_ptr<DnsChannel> get(uv_loop_t* loop, const std::string& server, const std::string& source_address,
                                         Millis timeout, std::string& error);
  ~DnsChannel();
  DnsChannel(const DnsChannel&) = delete;
  DnsChannel& operator=(const DnsChannel&) = delete;

  // Sends one query, one try, after giving it an ID unique among this channel's queries in
  // flight. The listener hears the outcome once, from the loop; when c-ares fails the query at
  // once it hears it inside send(), which then returns nullptr.
  Query* send(std::vector<unsigned char>& query, Listener* listener);
  // The listener no longer wants the outcome (it must not be told after this). c-ares keeps the
  // query until its answer or timeout, and then frees it.
  static void abandon(Query* query);

  std::size_t in_flight() const { return ids_.size(); }

 private:
  explicit DnsChannel(AresUvPtr ares) : ares_(std::move(ares)) {}
  static void on_answer(void* arg, int status, int timeouts, unsigned char* answer, int length);

  AresUvPtr ares_;
  std::unordered_set<std::uint16_t> ids_;   // query IDs in flight
  std::mt19937 rng_{std::random_device{}()};
  Query* sending_ = nullptr;                // the query inside ares_send(), if any
  bool answered_in_send_ = false;
};

}  // namespace pharos::health
