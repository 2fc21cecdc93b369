// health_bench.cc: a load run of the health engine (not a Google Benchmark): thousands of tcp or http
// checks against local targets; reports the control loop's CPU, probes/s, the checks' states and how
// late probes start against their schedule, as markdown for bench/RESULTS.md.
//
//   health_bench --case both --seconds 30        # also writes bench/health_results.md
//   health_bench --case tcp --checks 20000 --seconds 10 --out -
//
// The engine and the real probers (ProbeServices) run on a control-loop thread of their own; its CPU
// is that thread's getrusage(RUSAGE_THREAD), so the targets' threads are not counted in it. They do
// share the machine's cores with it, which the lateness figures reflect.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/health_bench_report.h"
#include "bench/health_bench_targets.h"
#include "health/engine.h"
#include "health/probe_services.h"

#ifndef PHAROS_SOURCE_DIR
#define PHAROS_SOURCE_DIR "."
#endif

namespace pharos::bench {
namespace {

using health::CheckSpec;
using health::CheckType;
using health::HealthConfig;
using health::HealthEngine;
using health::Millis;
using health::ProbeServices;
using health::State;

struct Options {
  std::string which = "both";
  std::size_t checks = 0;          // 0: the case's default
  double seconds = 30;
  double warmup = 5;
  int interval_ms = 1000;
  int timeout_ms = 500;
  unsigned http_threads = 2;
  std::string out = PHAROS_SOURCE_DIR "/bench/health_results.md";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: health_bench [--case tcp|http|both] [--checks N] [--seconds S] [--warmup S]\n"
               "                    [--interval-ms MS] [--timeout-ms MS] [--http-threads N] [--out FILE|-]\n"
               "  defaults: both cases, 10000 tcp / 2000 http checks, 30 s measured after 5 s warm-up,\n"
               "  1000 ms interval, 500 ms timeout, 2 server threads, bench/health_results.md\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("health_bench: load run of the health engine");
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    const std::string v = argv[++i];
    try {
      if (a == "--case") o.which = v;
      else if (a == "--checks") o.checks = std::stoul(v);
      else if (a == "--seconds") o.seconds = std::stod(v);
      else if (a == "--warmup") o.warmup = std::stod(v);
      else if (a == "--interval-ms") o.interval_ms = std::stoi(v);
      else if (a == "--timeout-ms") o.timeout_ms = std::stoi(v);
      else if (a == "--http-threads") o.http_threads = static_cast<unsigned>(std::stoul(v));
      else if (a == "--out") o.out = v;
      else usage(("unknown option " + a).c_str());
    } catch (const std::exception&) {
      usage(("bad value for " + a + ": " + v).c_str());
    }
  }
  if (o.which != "tcp" && o.which != "http" && o.which != "both") usage("--case must be tcp, http or both");
  if (o.seconds <= 0 || o.seconds > 3600 || o.warmup < 0 || o.warmup > 600) usage("--seconds in (0, 3600], --warmup in [0, 600]");
  if (o.interval_ms < 10 || o.timeout_ms < 1 || o.timeout_ms >= o.interval_ms) usage("need 1 <= timeout < interval, interval >= 10");
  if (o.http_threads < 1 || o.http_threads > 16) usage("--http-threads in 1..16");
  return o;
}

// Enough descriptors for every probe in flight at once plus the targets' side of them (one
// process holds both). Returns the soft limit in force afterwards.
std::uint64_t raise_nofile(std::size_t checks) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = std::max<rlim_t>(65536, 4 * static_cast<rlim_t>(checks) + 1024);
  if (rl.rlim_cur < want) {
    rlimit raised{want, std::max(want, rl.rlim_max)};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      raised = {rl.rlim_max, rl.rlim_max};   // no CAP_SYS_RESOURCE: as far as the hard limit allows
      setrlimit(RLIMIT_NOFILE, &raised);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

HealthConfig make_config(const std::string& which, std::size_t checks, const Options& o, std::uint16_t port) {
  HealthConfig config;
  for (std::size_t i = 0; i < checks; ++i) {
    CheckSpec spec;
    spec.interval = Millis{o.interval_ms};
    spec.timeout = Millis{o.timeout_ms};
    spec.thresholds = {2, 2};
    const std::string address = loopback_address(static_cast<std::uint32_t>(i));
    if (which == "tcp") {
      spec.type = CheckType::kTcp;
      spec.params = health::TcpParams{.host = address, .port = port};
    } else {
      spec.type = CheckType::kHttp;
      health::HttpParams p;
      p.url = "http://" + address + ":" + std::to_string(port) + "/health?i=" + std::to_string(i);
      p.body_contains = "ok";
      spec.params = p;
    }
    char id[32];
    std::snprintf(id, sizeof id, "%s-%06zu", which.c_str(), i);
    config.checks.emplace(id, std::move(spec));
  }
  return config;
}

double seconds_of(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Busy time of all CPUs (user, nice, system, irq, softirq, steal), to tell how much else ran.
double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Everything the control loop needs; the timers' data points here.
struct ControlRun {
  const Target* target = nullptr;
  CaseResult* out = nullptr;
  HealthEngine* engine = nullptr;
  ProbeServices* services = nullptr;
  uv_timer_t warm{}, tick{}, end{}, guard{};
  Snapshot last_tick;
  bool guard_fired = false;
};

Snapshot take_snapshot(const HealthEngine& engine, const Target& target) {
  Snapshot s;
  s.wall = steady_seconds();
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  s.ctl_user = seconds_of(ru.ru_utime);
  s.ctl_sys = seconds_of(ru.ru_stime);
  s.ctl_preempted = ru.ru_nivcsw;
  s.machine_busy = machine_busy_seconds();
  getrusage(RUSAGE_SELF, &ru);
  s.process_cpu = seconds_of(ru.ru_utime) + seconds_of(ru.ru_stime);
  s.stats = engine.stats();
  for (const auto& [id, info] : engine.state().checks()) {
    s.completed += info.probes;
    s.failures += info.failures;
  }
  s.served = target.served();
  return s;
}

// States, reasons and latencies at the end of the window.
void collect_end(const HealthEngine& engine, CaseResult& r) {
  std::vector<std::int64_t> latencies;
  latencies.reserve(engine.state().checks().size() * health::CheckInfo::kRecent);
  for (const auto& [id, info] : engine.state().checks()) {
    const State s = info.effective();
    ++r.states[static_cast<std::size_t>(s)];
    if (s != State::kUp && r.not_up_samples.size() < 5) {
      r.not_up_samples.push_back(id + " " + health::to_string(s) + ": " + info.reason);
    }
    for (const auto& rec : info.recent) {
      latencies.push_back(rec.latency.count());
      if (!rec.up) ++r.failure_reasons[rec.reason];
    }
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    const auto at = [&](double q) { return latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))]; };
    r.latency_us = {at(0.5), at(0.99), latencies.back()};
  }
  r.watchdog_ms = engine.watchdog_age().count();
}

void on_warm(uv_timer_t* t) {
  auto* c = static_cast<ControlRun*>(t->data);
  c->out->start = take_snapshot(*c->engine, *c->target);
}

void on_tick(uv_timer_t* t) {
  auto* c = static_cast<ControlRun*>(t->data);
  const Snapshot now = take_snapshot(*c->engine, *c->target);
  const double dt = now.wall - c->last_tick.wall;
  std::size_t up = 0;
  for (const auto& [id, info] : c->engine->state().checks()) up += info.effective() == State::kUp ? 1 : 0;
  Tick tick;
  tick.at = now.wall - c->out->began;
  tick.completed_per_s = static_cast<double>(now.completed - c->last_tick.completed) / dt;
  tick.cores = (now.ctl_user + now.ctl_sys - c->last_tick.ctl_user - c->last_tick.ctl_sys) / dt;
  tick.up = up;
  tick.watchdog_ms = c->engine->watchdog_age().count();
  std::fprintf(stderr, "  %-4s t=%5.1fs  probes %7.0f/s  control loop %.3f core  up %zu/%zu  watchdog %lld ms\n",
               c->out->name.c_str(), tick.at, tick.completed_per_s, tick.cores, up, c->engine->state().checks().size(),
               static_cast<long long>(tick.watchdog_ms));
  c->out->ticks.push_back(tick);
  c->last_tick = now;
}

void on_end(uv_timer_t* t) {
  auto* c = static_cast<ControlRun*>(t->data);
  c->out->end = take_snapshot(*c->engine, *c->target);
  collect_end(*c->engine, *c->out);
  c->engine->stop();
  c->services->close();
  for (uv_timer_t* timer : {&c->warm, &c->tick, &c->end}) uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
}

void on_guard(uv_timer_t* t) {
  auto* c = static_cast<ControlRun*>(t->data);
  c->guard_fired = true;
  uv_stop(t->loop);
}

// The control-loop thread: the engine and the probers, warm-up, the window, then an orderly close.
void control_loop(const HealthConfig& config, const Options& o, const Target& target, CaseResult& r) {
  pthread_setname_np(pthread_self(), "ctl-loop");
  r.control_tid = static_cast<int>(gettid());
  std::fprintf(stderr, "  control loop: thread %d (perf record -g -t %d)\n", r.control_tid, r.control_tid);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto services = std::make_unique<ProbeServices>(&loop);
  auto engine = std::make_unique<HealthEngine>(&loop, *services);
  ControlRun c{&target, &r, engine.get(), services.get()};
  r.began = steady_seconds();
  engine->apply(config);
  r.apply_ms = (steady_seconds() - r.began) * 1000;
  r.probers = engine->prober_count();
  c.last_tick = take_snapshot(*engine, target);

  const auto ms = [](double s) { return static_cast<std::uint64_t>(s * 1000); };
  for (uv_timer_t* timer : {&c.warm, &c.tick, &c.end, &c.guard}) {
    uv_timer_init(&loop, timer);
    timer->data = &c;
  }
  uv_timer_start(&c.warm, on_warm, ms(o.warmup), 0);
  uv_timer_start(&c.tick, on_tick, 5000, 5000);
  uv_timer_start(&c.end, on_end, ms(o.warmup + o.seconds), 0);
  // Bounds the shutdown: unreferenced, so it never keeps the loop alive on its own.
  uv_timer_start(&c.guard, on_guard, ms(o.warmup + o.seconds + 10), 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&c.guard));
  uv_run(&loop, UV_RUN_DEFAULT);
  if (c.guard_fired) {
    r.shutdown = "the loop did not finish closing within 10 s (handles leaked)";
    return;   // the loop, engine and services are left as they are
  }
  engine.reset();
  services.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&c.guard), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  r.shutdown = uv_loop_close(&loop) == 0 ? "clean" : "uv_loop_close: handles still open";
}

CaseResult run_case(const std::string& which, const Options& o) {
  CaseResult r;
  r.name = which;
  r.checks = o.checks != 0 ? o.checks : (which == "tcp" ? 10000 : 2000);
  r.interval_ms = o.interval_ms;
  r.timeout_ms = o.timeout_ms;
  r.warmup = o.warmup;
  r.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  r.nofile = raise_nofile(r.checks);

  std::unique_ptr<Target> target;
  if (which == "tcp") target = std::make_unique<TcpAcceptCloseTarget>();
  else target = std::make_unique<HttpOkTarget>(o.http_threads);
  if (!target->ok()) {
    r.shutdown = "target did not start: " + target->error();
    return r;
  }
  r.target = target->describe();
  r.address_range = loopback_address(0) + " … " + loopback_address(static_cast<std::uint32_t>(r.checks - 1));
  const HealthConfig config = make_config(which, r.checks, o, target->port());

  std::fprintf(stderr, "%s: %zu checks against %s, %.0f s warm-up + %.0f s measured\n", which.c_str(), r.checks,
               r.target.c_str(), o.warmup, o.seconds);
  std::atomic<bool> done{false};
  std::thread control([&] {
    control_loop(config, o, *target, r);
    done = true;
  });
  // Every loop here is bounded: the control loop ends itself (guard timer), and if even that fails
  // the process exits instead of hanging.
  const double deadline = steady_seconds() + o.warmup + o.seconds + 30;
  while (!done && steady_seconds() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!done) {
    std::fprintf(stderr, "health_bench: the control loop did not end in time; exiting\n");
    std::_Exit(3);
  }
  control.join();
  target->stop();
  if (auto* tcp = dynamic_cast<TcpAcceptCloseTarget*>(target.get())) r.target_thread_cpu = tcp->cpu_seconds();
  return r;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) {
  using namespace pharos::bench;
  const Options o = parse(argc, argv);
  RunInfo info = describe_run(argc, argv);
  info.warmup = o.warmup;
  info.seconds = o.seconds;
  std::vector<CaseResult> results;
  if (o.which == "tcp" || o.which == "both") results.push_back(run_case("tcp", o));
  if (o.which == "http" || o.which == "both") results.push_back(run_case("http", o));

  const std::string report = render_report(info, results);
  std::cout << report;
  if (o.out != "-") {
    std::ofstream f(o.out);
    f << report;
    if (!f) std::fprintf(stderr, "health_bench: cannot write %s\n", o.out.c_str());
    else std::fprintf(stderr, "written to %s\n", o.out.c_str());
  }
  bool ok = true;
  for (const auto& r : results) ok = ok && r.shutdown == "clean" && r.states[1] == r.checks;
  return ok ? 0 : 1;
}
