// probe_test_support.cc: the test loop, the probe recorder and the literal resolver.
#include "tests/health/probe_test_support.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace pharos::test {
namespace {

// A timer that stops the loop after a bound; freed in its close callback.
struct Watchdog {
  uv_timer_t timer{};
  bool fired = false;

  static Watchdog* start(uv_loop_t* loop, Millis bound, bool keep_loop_alive) {
    auto* w = new Watchdog;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, [](uv_timer_t* t) {
      static_cast<Watchdog*>(t->data)->fired = true;
      uv_stop(t->loop);
    }, static_cast<std::uint64_t>(bound.count()), 0);
    if (!keep_loop_alive) uv_unref(reinterpret_cast<uv_handle_t*>(&w->timer));
    return w;
  }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), [](uv_handle_t* h) { delete static_cast<Watchdog*>(h->data); });
  }
};

const char* handle_name(uv_handle_t* h) { return uv_handle_type_name(uv_handle_get_type(h)); }

}  // namespace

TestLoop::TestLoop() { uv_loop_init(&loop_); }

TestLoop::~TestLoop() {
  const bool drained = drain();
  std::string open;
  uv_walk(&loop_, [](uv_handle_t* h, void* arg) {
    auto* list = static_cast<std::string*>(arg);
    *list += std::string(" ") + handle_name(h) + (uv_is_closing(h) ? "(closing)" : "");
  }, &open);
  if (!drained || uv_loop_close(&loop_) != 0) {
    ADD_FAILURE() << "the loop did not drain; handles left:" << open;
    // Close what is left so the loop can go; the state behind them leaks (and ASan says so).
    uv_walk(&loop_, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
  }
}

bool TestLoop::run_until(const std::function<bool()>& pred, Millis bound) {
  if (pred()) return true;
  // The predicate is checked just before the loop would block (prepare) and after it polled
  // (check): an iteration whose timers made it true must not then wait out the next timer.
  // A 2 ms tick also re-checks it, for conditions outside the loop (a process gone, a file written).
  struct Until {
    uv_prepare_t prepare{};
    uv_check_t check{};
    uv_timer_t tick{};
    const std::function<bool()>* pred = nullptr;
  };
  auto* until = new Until;
  until->pred = &pred;
  uv_prepare_init(&loop_, &until->prepare);
  uv_check_init(&loop_, &until->check);
  uv_timer_init(&loop_, &until->tick);
  until->prepare.data = until;
  until->check.data = until;
  until->tick.data = until;
  uv_timer_start(&until->tick, [](uv_timer_t* h) {
    if ((*static_cast<Until*>(h->data)->pred)()) uv_stop(h->loop);
  }, 2, 2);
  uv_prepare_start(&until->prepare, [](uv_prepare_t* h) {
    if ((*static_cast<Until*>(h->data)->pred)()) uv_stop(h->loop);
  });
  uv_check_start(&until->check, [](uv_check_t* h) {
    if ((*static_cast<Until*>(h->data)->pred)()) uv_stop(h->loop);
  });
  Watchdog* w = Watchdog::start(&loop_, bound, true);
  uv_run(&loop_, UV_RUN_DEFAULT);
  w->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&until->prepare), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&until->tick), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&until->check), [](uv_handle_t* h) { delete static_cast<Until*>(h->data); });
  uv_run(&loop_, UV_RUN_NOWAIT);   // runs the close callbacks
  return pred();
}

void TestLoop::run_for(Millis duration) {
  run_until([] { return false; }, duration);
}

bool TestLoop::drain(Millis bound) {
  Watchdog* w = Watchdog::start(&loop_, bound, false);
  uv_run(&loop_, UV_RUN_DEFAULT);
  const bool drained = !w->fired;
  w->close();
  uv_run(&loop_, UV_RUN_NOWAIT);
  return drained && !uv_loop_alive(&loop_);
}

std::shared_ptr<ProbeRecord> start_probe(health::Prober& prober) {
  auto record = std::make_shared<ProbeRecord>();
  auto inside = std::make_shared<bool>(true);
  prober.start([record, inside](health::ProbeResult&& r) {
    ++record->calls;
    if (*inside) record->called_inside_start = true;
    record->result = std::move(r);
  });
  *inside = false;
  return record;
}

std::shared_ptr<ProbeRecord> probe_once(TestLoop& loop, health::Prober& prober, Millis bound) {
  auto record = start_probe(prober);
  loop.run_until([&] { return record->calls > 0; }, bound);
  return record;
}

namespace {

struct LiteralRequest {
  uv_timer_t timer{};
  std::string host;
  std::uint16_t port = 0;
  int family = AF_UNSPEC;
  LiteralResolver::Mode mode;
  health::Resolver::Done done;
  std::shared_ptr<LiteralResolver::Counters> counters;
  bool delivered = false;

  health::ResolvedAddress answer() const {
    health::ResolvedAddress a;
    if (mode == LiteralResolver::Mode::kFail) {
      a.error = "test resolver refuses";
      return a;
    }
    if (family != AF_INET6 && uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&a.addr)) == 0) {
      a.len = sizeof(sockaddr_in);
    } else if (family != AF_INET && uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&a.addr)) == 0) {
      a.len = sizeof(sockaddr_in6);
    } else {
      a.addr = {};
      a.error = "not an IP literal of the requested family";
    }
    return a;
  }
};

}  // namespace

LiteralResolver::LiteralResolver(uv_loop_t* loop, Mode mode) : loop_(loop), mode_(mode) {}

std::shared_ptr<void> LiteralResolver::resolve(const std::string& host, std::uint16_t port, int family, Done done) {
  last_family_ = family;
  ++counters_->requests;
  ++counters_->tokens_alive;
  auto* req = new LiteralRequest;
  req->host = host;
  req->port = port;
  req->family = family;
  req->mode = mode_;
  req->done = std::move(done);
  req->counters = counters_;
  uv_timer_init(loop_, &req->timer);
  req->timer.data = req;
  if (mode_ != Mode::kHang) {
    uv_timer_start(&req->timer, [](uv_timer_t* t) {
      auto* r = static_cast<LiteralRequest*>(t->data);
      r->delivered = true;
      ++r->counters->delivered;
      Done d = std::move(r->done);
      d(r->answer());
    }, 0, 0);
  }
  // Dropping the token cancels: the timer is closed and the request freed in its close callback.
  return std::shared_ptr<void>(req, [](void* p) {
    auto* r = static_cast<LiteralRequest*>(p);
    --r->counters->tokens_alive;
    if (!r->delivered) ++r->counters->cancelled;
    r->done = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&r->timer), [](uv_handle_t* h) { delete static_cast<LiteralRequest*>(h->data); });
  });
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/pharos-probe-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  const std::string tmp = file(name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::rename(tmp, file(name));
}

health::CheckSpec spec_with(health::CheckParams params, Millis timeout) {
  using health::CheckType;
  // In CheckParams order: tcp, http, dns, icmp, exec, file, link, gateway.
  constexpr CheckType kTypes[] = {CheckType::kTcp,  CheckType::kHttp, CheckType::kDns,  CheckType::kIcmp,
                                  CheckType::kExec, CheckType::kFile, CheckType::kLink, CheckType::kGateway};
  health::CheckSpec spec;
  spec.type = kTypes[params.index()];
  spec.params = std::move(params);
  spec.timeout = timeout;
  spec.interval = timeout * 5;
  return spec;
}

}  // namespace pharos::test
