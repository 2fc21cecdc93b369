// health_bench_report.cc: see health_bench_report.h.
#include "bench/health_bench_report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace pharos::bench {
namespace {

constexpr double kTargetCores = 0.5;   // the target for the tcp case

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// 12345678 -> "12,345,678"
std::string grouped(std::uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string quote_arg(const std::string& a) {
  if (a.find_first_of(" \t'\"$") == std::string::npos) return a;
  return "'" + a + "'";
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string lateness_histogram(const health::ScheduleStats& a, const health::ScheduleStats& b, std::uint64_t probes) {
  std::string out;
  for (std::size_t i = 0; i < a.lateness.size(); ++i) {
    const std::uint64_t n = b.lateness[i] - a.lateness[i];
    if (n == 0) continue;
    const auto limit = health::ScheduleStats::kBucketsMs[i];
    if (!out.empty()) out += " · ";
    out += limit == 0xFFFFFFFF ? "> 1000 ms" : "≤ " + std::to_string(limit) + " ms";
    out += ": " + fmt("%.2f", 100.0 * static_cast<double>(n) / static_cast<double>(std::max<std::uint64_t>(probes, 1))) + "%";
  }
  return out.empty() ? "no probes" : out;
}

// The engine keeps one maximum since it started; when it did not grow during the window, the
// window's own maximum is only bounded (by the old maximum and by the highest bucket used).
std::string lateness_max(const Snapshot& s, const Snapshot& e) {
  if (e.stats.lateness_max_ms > s.stats.lateness_max_ms) return std::to_string(e.stats.lateness_max_ms) + " ms";
  std::uint64_t highest_bucket = 0;
  for (std::size_t i = 0; i < e.stats.lateness.size(); ++i) {
    if (e.stats.lateness[i] != s.stats.lateness[i]) highest_bucket = health::ScheduleStats::kBucketsMs[i];
  }
  const std::uint64_t bound = std::min<std::uint64_t>(s.stats.lateness_max_ms, highest_bucket);
  return "≤ " + std::to_string(bound) + " ms (engine maximum since start: " + std::to_string(s.stats.lateness_max_ms) +
         " ms, reached before the window)";
}

void render_case(std::ostringstream& o, const CaseResult& r) {
  o << "### " << r.name << ": " << grouped(r.checks) << " checks, " << r.interval_ms << " ms interval, " << r.timeout_ms
    << " ms timeout, thresholds 2/2\n\n";
  if (r.end.wall == 0) {
    o << "Not measured: " << r.shutdown << "\n\n";
    return;
  }
  const Snapshot& s = r.start;
  const Snapshot& e = r.end;
  const double wall = e.wall - s.wall;
  const double user = (e.ctl_user - s.ctl_user) / wall;
  const double sys = (e.ctl_sys - s.ctl_sys) / wall;
  const double cores = user + sys;
  const std::uint64_t started = e.stats.probes - s.stats.probes;
  const std::uint64_t completed = e.completed - s.completed;
  const std::uint64_t failed = e.failures - s.failures;
  const double scheduled = static_cast<double>(r.probers) * 1000.0 / r.interval_ms;
  const double mean_ms = started == 0 ? 0 : static_cast<double>(e.stats.lateness_sum_us - s.stats.lateness_sum_us) / 1000.0 / static_cast<double>(started);

  o << "| measure | value |\n|---|---|\n";
  o << "| target | " << r.target << "; checks to " << r.address_range << " |\n";
  o << "| RLIMIT_NOFILE | " << grouped(r.nofile) << " (the probes' sockets and the target's share it) |\n";
  o << "| distinct probes | " << grouped(r.probers) << " (apply() took " << fmt("%.0f", r.apply_ms) << " ms) |\n";
  o << "| window | " << fmt("%.1f", wall) << " s after " << fmt("%.0f", r.warmup) << " s of warm-up |\n";
  o << "| **control-loop CPU** | **" << fmt("%.3f", cores) << " core** (user " << fmt("%.3f", user) << " + sys "
    << fmt("%.3f", sys) << "); " << fmt("%.1f", cores * 1e6 / std::max(1.0, static_cast<double>(completed) / wall))
    << " µs per probe |\n";
  if (r.name == "tcp") {
    // A loop that fell behind does less work than scheduled: its CPU figure then proves nothing.
    const bool kept_up = static_cast<double>(completed) / wall >= 0.95 * scheduled && r.states[1] == r.checks;
    const char* verdict = !kept_up ? "**not met**: the schedule was not kept (see probes/s and states), so the CPU figure does not count"
                          : cores < kTargetCores ? "**met**"
                                                 : "**missed**";
    o << "| target < " << kTargetCores << " core at the full schedule | " << verdict << " |\n";
  }
  o << "| process CPU, all threads | " << fmt("%.3f", (e.process_cpu - s.process_cpu) / wall)
    << " core (control loop + target threads; they share the machine's cores) |\n";
  const double others = (e.machine_busy - s.machine_busy - (e.process_cpu - s.process_cpu)) / wall;
  o << "| other processes on the machine | " << fmt("%.2f", std::max(0.0, others)) << " core of " << r.nproc
    << "; control loop preempted " << grouped(static_cast<std::uint64_t>(e.ctl_preempted - s.ctl_preempted))
    << " times |\n";
  o << "| probes started / completed | " << fmt("%.0f", static_cast<double>(started) / wall) << "/s / "
    << fmt("%.0f", static_cast<double>(completed) / wall) << "/s (schedule: " << fmt("%.0f", scheduled) << "/s) |\n";
  o << "| target served in window | " << fmt("%.0f", static_cast<double>(e.served - s.served) / wall) << "/s |\n";
  o << "| failed probes in window | " << grouped(failed) << " |\n";
  if (!r.failure_reasons.empty()) {
    auto top = std::max_element(r.failure_reasons.begin(), r.failure_reasons.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    o << "| most frequent failure (last 10 results per check) | " << grouped(top->second) << " × \"" << top->first
      << "\" (" << r.failure_reasons.size() << " distinct reasons) |\n";
  }
  o << "| states at end | " << grouped(r.states[1]) << " up, " << grouped(r.states[2]) << " down, "
    << grouped(r.states[0]) << " unknown |\n";
  for (const auto& sample : r.not_up_samples) o << "| not up (sample) | " << sample << " |\n";
  o << "| lateness (start − scheduled) mean / max | " << fmt("%.3f", mean_ms) << " ms / " << lateness_max(s, e) << " |\n";
  o << "| lateness histogram | " << lateness_histogram(s.stats, e.stats, started) << " |\n";
  o << "| skipped (previous probe still in flight) | " << grouped(e.stats.skipped - s.stats.skipped) << " |\n";
  o << "| probe latency p50 / p99 / max (last 10 results per check) | " << r.latency_us[0] << " µs / "
    << r.latency_us[1] << " µs / " << r.latency_us[2] << " µs |\n";
  o << "| watchdog_age at end | " << r.watchdog_ms << " ms |\n";
  if (r.target_thread_cpu > 0) {
    o << "| listener thread CPU (whole run) | " << fmt("%.1f", r.target_thread_cpu) << " s |\n";
  }
  o << "| shutdown | " << r.shutdown << " |\n";
  if (!r.ticks.empty()) {
    o << "| every 5 s: t, completed/s, control-loop core, up, watchdog | ";
    for (std::size_t i = 0; i < r.ticks.size(); ++i) {
      const Tick& t = r.ticks[i];
      if (i > 0) o << " · ";
      o << fmt("%.0f s ", t.at) << fmt("%.0f/s ", t.completed_per_s) << fmt("%.2f ", t.cores) << grouped(t.up) << " up "
        << t.watchdog_ms << " ms";
    }
    o << " |\n";
  }
  o << "\n";
}

}  // namespace

RunInfo describe_run(int argc, char** argv) {
  RunInfo info;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", std::localtime(&now));
  info.date = date;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) info.command.push_back(' ');
    info.command.append(quote_arg(argv[i]));
  }
  info.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  info.cpu_model = cpu_model();
  utsname u{};
  if (uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;
  return info;
}

std::string render_report(const RunInfo& info, const std::vector<CaseResult>& results) {
  std::ostringstream o;
  o << "## Health engine load (health_bench)\n\n";
  o << "- date: " << info.date << "\n";
  o << "- command: `" << info.command << "`\n";
  o << "- machine: nproc " << info.nproc << ", " << info.cpu_model << ", " << info.kernel << "\n";
  o << "- method: HealthEngine + ProbeServices (the real probers) on one libuv control-loop thread; "
       "its CPU is getrusage(RUSAGE_THREAD) over the window divided by wall time. The targets run on "
       "threads of their own, so their CPU is not in that figure";
  if (info.nproc <= 2) {
    o << ", but with " << info.nproc << " cores the target's threads and the control loop compete for "
         "the CPU: lateness and latency include waiting for a core";
  }
  o << ".\n- on loopback the kernel runs both ends of every TCP handshake and reset in the connecting "
       "thread's softirq, so the control loop's sys time also holds work that a remote target's kernel "
       "would do.\n";
  o << "- lateness = actual probe start − scheduled time (engine ScheduleStats, deltas over the window).\n";
  o << "- \"other processes\" = busy CPU of the whole machine (/proc/stat) minus this process, over the window: "
       "when it is high, the control loop was competing for a core with unrelated work.\n\n";
  for (const auto& r : results) render_case(o, r);
  return o.str();
}

}  // namespace pharos::bench
