// worker.cc: a worker's lifecycle: set up the loop and sockets, run it on its own thread, and stop
// gracefully (stop reading, let TCP answers flush for a bounded time, close every handle).
#include "dns/worker.h"

#include <pthread.h>
#include <signal.h>

#include <cassert>
#include <string>

namespace pharos::dns {

Worker::Worker(unsigned index, SnapshotReader& reader, const WorkerOptions& options)
    : index_(index), options_(options), reader_(reader) {
  responder_.set_thread(reader.index());
}

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, SnapshotReader& reader,
                                               const WorkerOptions& options, WorkerSockets&& sockets) {
  std::unique_ptr<Worker> w{new Worker(index, reader, options)};
  if (const int rc = w->init(std::move(sockets)); rc != 0) {
    return Error{"", "", "worker " + std::to_string(index) + ": " + uv_strerror(rc)};
  }
  return w;
}

int Worker::init(WorkerSockets&& sockets) {
  if (const int rc = uv_loop_init(&loop_); rc != 0) return rc;
  loop_ready_ = true;
  uv_async_init(&loop_, &stop_async_, &Worker::on_stop);
  stop_async_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;

  const WorkerContext ctx{&loop_, &reader_, &responder_, &counters_};
  tcp_ = std::make_unique<TcpListener>(ctx, options_.tcp);
  for (auto& u : sockets.udp) {
    assert(u.reader != nullptr && u.reader != &reader_);
    udp_.push_back(std::make_unique<UdpListener>(*u.reader, counters_, std::move(u.fd), u.wildcard));
    if (const int rc = udp_.back()->init(); rc != 0) return uv_translate_sys_error(-rc);
  }
  for (auto& fd : sockets.tcp) {
    if (const int rc = tcp_->add_listener(std::move(fd)); rc != 0) return rc;
  }
  return 0;
}

Worker::~Worker() {
  if (thread_.joinable()) {
    request_stop();
    join();
  }
  if (loop_ready_) close_loop();  // never started, or create() failed half-way
}

void Worker::start() {
  assert(!thread_.joinable());
  thread_ = std::thread([this] { run(); });
  for (std::size_t i = 0; i < udp_.size(); ++i) {
    udp_[i]->start("pharos-w" + std::to_string(index_) + "u" + std::to_string(i));
  }
}

void Worker::run() {
  // Signals belong to the control loop; a worker's syscalls should never see EINTR from them.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  const std::string name = "pharos-w" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

  uv_run(&loop_, UV_RUN_DEFAULT);
  close_loop();
}

void Worker::request_stop() {
  if (stop_requested_.exchange(true)) return;
  for (auto& u : udp_) u->request_stop();
  // Sent at most once: on_stop closes the async handle.
  uv_async_send(&stop_async_);
}

void Worker::join() {
  for (auto& u : udp_) u->join();
  if (thread_.joinable()) thread_.join();
}

ResponderStats Worker::responder_stats() const {
  ResponderStats sum = responder_stats(Transport::kTcp);
  sum += responder_stats(Transport::kUdp);
  return sum;
}

// The loop's responder answers TCP and each UDP thread's answers UDP, but count by transport
// anyway: a responder keeps them apart.
ResponderStats Worker::responder_stats(Transport t) const {
  ResponderStats sum = load(responder_.stats(t));
  for (const auto& u : udp_) sum += t == Transport::kUdp ? u->responder_stats() : ResponderStats{};
  return sum;
}

void Worker::on_stop(uv_async_t* a) { static_cast<Worker*>(a->data)->begin_stop(); }

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  tcp_->shutdown();
  // The drain bound must not itself keep the loop alive: once every connection has flushed and
  // closed, uv_run returns without waiting for the timer.
  uv_timer_start(&drain_timer_, &Worker::on_drain_timeout, options_.drain_timeout_ms, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&drain_timer_));
}

void Worker::on_drain_timeout(uv_timer_t* t) { static_cast<Worker*>(t->data)->tcp_->close_all(); }

void Worker::close_loop() {
  if (!loop_ready_) return;
  if (tcp_) tcp_->close_all();
  auto close_if_open = [](uv_handle_t* h) {
    if (h->loop != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);
  };
  close_if_open(reinterpret_cast<uv_handle_t*>(&stop_async_));
  close_if_open(reinterpret_cast<uv_handle_t*>(&drain_timer_));
  uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks; every handle is closing
  const int rc = uv_loop_close(&loop_);
  assert(rc == 0 && "a handle is still open");
  (void)rc;
  loop_ready_ = false;
}

}  // namespace pharos::dns
