// health_bench_report.h: what one health_bench case measured, and its rendering as markdown (one
// table per case under a header with the date, command line, nproc and CPU model).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "health/engine.h"

namespace pharos::bench {

// Taken on the control-loop thread at the start and at the end of the measured window.
struct Snapshot {
  double wall = 0;               // steady clock, seconds
  double ctl_user = 0;           // the control-loop thread's CPU, seconds
  double ctl_sys = 0;
  double process_cpu = 0;        // every thread of the process
  double machine_busy = 0;       // every CPU of the machine, busy seconds (/proc/stat)
  std::int64_t ctl_preempted = 0;  // involuntary context switches of the control-loop thread
  health::ScheduleStats stats;
  std::uint64_t completed = 0;   // results recorded, summed over the checks
  std::uint64_t failures = 0;
  std::uint64_t served = 0;      // connections or requests the target saw
};

// Every 5 s of the whole run (warm-up included), to show when a run fell behind and recovered.
struct Tick {
  double at = 0;                 // seconds since apply()
  double completed_per_s = 0;
  double cores = 0;              // control-loop CPU over those 5 s
  std::size_t up = 0;
  std::int64_t watchdog_ms = 0;
};

struct CaseResult {
  std::string name;              // tcp or http
  std::size_t checks = 0;
  std::size_t probers = 0;       // distinct probes the engine runs
  int interval_ms = 0;
  int timeout_ms = 0;
  double warmup = 0;
  std::string target;
  std::string address_range;
  double began = 0;              // steady seconds when apply() started
  double apply_ms = 0;
  int control_tid = 0;
  Snapshot start, end;
  std::array<std::size_t, 3> states{};              // by health::State: unknown, up, down
  std::vector<std::string> not_up_samples;
  std::map<std::string, std::uint64_t> failure_reasons;   // in the last 10 results of each check
  std::array<std::int64_t, 3> latency_us{};         // p50, p99, max of those results
  std::int64_t watchdog_ms = 0;
  std::vector<Tick> ticks;
  long nproc = 0;
  std::uint64_t nofile = 0;                         // RLIMIT_NOFILE in force
  double target_thread_cpu = 0;                     // tcp listener thread, whole run
  std::string shutdown;                             // "clean" or what went wrong
};

struct RunInfo {
  std::string date;
  std::string command;
  long nproc = 0;
  std::string cpu_model;
  std::string kernel;
  double warmup = 0;
  double seconds = 0;
};

RunInfo describe_run(int argc, char** argv);
std::string render_report(const RunInfo& info, const std::vector<CaseResult>& results);

}  // namespace pharos::bench
