// server.h: the DNS serving side as one object: binds every listen address, runs the workers and
// owns the snapshot publisher they read answer tables from.
//
//   ServerOptions o;  o.listen = {addr};  o.workers = 0;        // 0 = one per CPU
//   Result<std::unique_ptr<Server>> s = Server::create(o);
//   (*s)->publish(std::move(table));  (*s)->start();             // control thread
//   for (auto& b : (*s)->bound()) log(format_address(b.sa()));   // real ports when port 0
//   (*s)->reclaim();                                             // from a control-loop timer
//   (*s)->stop();                                                // graceful, joins the workers
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "dns/listen_socket.h"
#include "dns/result.h"
#include "dns/snapshot.h"
#include "dns/worker.h"

namespace pharos::dns {

struct ServerOptions {
  std::vector<ListenAddress> listen;
  unsigned workers = 0;                  // 0 = one per CPU
  std::uint64_t tcp_idle_timeout_ms = 10'000;
  std::uint64_t tcp_message_timeout_ms = 5'000;
  std::uint32_t tcp_max_connections = 1024;  // server-wide; split evenly across workers
  std::uint64_t drain_timeout_ms = 2'000;
};

class Server {
 public:
  // Binds every socket (a configured port 0 becomes one real port per address) and prepares the
  // workers; nothing is served until start().
  static Result<std::unique_ptr<Server>> create(const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Control thread only: publish, reclaim and current follow SnapshotPublisher's rules. A
  // published table gets GTM answer counters for every DNS thread.
  void publish(std::unique_ptr<const AnswerTable>&& table);
  void publish_choices(std::unique_ptr<const DynamicChoices>&& c) { publisher_->publish_choices(std::move(c)); }
  std::size_t reclaim() { return publisher_->reclaim(); }
  const AnswerTable* current() const { return publisher_->current(); }

  void start();
  // Graceful: workers stop accepting and reading, flush TCP answers (bounded), then exit. Joins.
  void stop();

  // The addresses as bound, in configuration order.
  const std::vector<ListenAddress>& bound() const { return bound_; }
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }
  Worker& worker(unsigned i) { return *workers_[i]; }
  const Worker& worker(unsigned i) const { return *workers_[i]; }

  // Query counters of every worker thread for one transport; any thread, at any time.
  ResponderStats query_stats(Transport t) const;
  // Runs `f` on the current table (null before the first publish), which stays alive meanwhile:
  // any thread (metrics), calls serialized. Keep `f` short: it delays freeing replaced tables.
  void inspect(const std::function<void(const AnswerTable*)>& f);

 private:
  Server() = default;

  std::vector<ListenAddress> bound_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex inspect_mu_;           // one inspect() at a time: it has one reader slot
  std::size_t inspect_reader_ = 0;  // the publisher's last reader, used by no DNS thread
  bool started_ = false;
};

// The worker count `configured` resolves to (0 = one per CPU).
unsigned resolve_worker_count(unsigned configured);

}  // namespace pharos::dns
