// server.cc: binds the listen sockets, hands each worker its share, and starts and stops them.
#include "dns/server.h"

#include <signal.h>
#include <uv.h>

namespace pharos::dns {

unsigned resolve_worker_count(unsigned configured) {
  if (configured != 0) return configured;
  const unsigned n = uv_available_parallelism();
  return n == 0 ? 1 : n;
}

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options) {
  // libuv writes to sockets with write(2); a peer that went away must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);

  const unsigned n = resolve_worker_count(options.workers);
  auto sockets = open_listen_sockets(options.listen, n);
  if (!sockets) return sockets.error();

  std::unique_ptr<Server> s{new Server()};
  // One snapshot reader per thread: each worker's loop (TCP), then each worker's UDP threads,
  // then one for inspect().
  const std::size_t n_addr = sockets->size();
  s->inspect_reader_ = n * (1 + n_addr);
  s->publisher_ = std::make_unique<SnapshotPublisher>(s->inspect_reader_ + 1);
  for (const auto& b : *sockets) s->bound_.push_back(b.address);

  WorkerOptions wo;
  wo.tcp.idle_timeout_ms = options.tcp_idle_timeout_ms;
  wo.tcp.message_timeout_ms = options.tcp_message_timeout_ms;
  // Round up so the server-wide cap is never below what was configured.
  wo.tcp.max_connections = (options.tcp_max_connections + n - 1) / n;
  wo.drain_timeout_ms = options.drain_timeout_ms;
  for (unsigned w = 0; w < n; ++w) {
    WorkerSockets ws;
    for (std::size_t a = 0; a < n_addr; ++a) {
      BoundAddress& b = (*sockets)[a];
      ws.udp.push_back({std::move(b.udp[w]), b.address.is_wildcard(), &s->publisher_->reader(n + w * n_addr + a)});
      ws.tcp.push_back(std::move(b.tcp[w]));
    }
    auto worker = Worker::create(w, s->publisher_->reader(w), wo, std::move(ws));
    if (!worker) return worker.error();
    s->workers_.push_back(std::move(*worker));
  }
  return s;
}

Server::~Server() { stop(); }

void Server::publish(std::unique_ptr<const AnswerTable>&& table) {
  if (table) table->attach_counters(inspect_reader_);  // DNS threads are readers 0..inspect_reader_-1
  publisher_->publish(std::move(table));
}

ResponderStats Server::query_stats(Transport t) const {
  ResponderStats sum;
  for (const auto& w : workers_) sum += w->responder_stats(t);
  return sum;
}

void Server::inspect(const std::function<void(const AnswerTable*)>& f) {
  std::lock_guard lock(inspect_mu_);
  ReadSection section{publisher_->reader(inspect_reader_)};
  f(section.table());
}

void Server::start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) w->start();
}

void Server::stop() {
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->join();
}

}  // namespace pharos::dns
