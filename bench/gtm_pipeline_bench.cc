// gtm_pipeline_bench.cc: how long a health verdict change takes to become the answer served over
// UDP, through the real components wired as app/daemon.cc wires them: HealthEngine::force() ->
// subscribers -> GtmEngine::on_health (debounce 0) -> selection -> Server::publish_choices ->
// a DNS worker answering a real UDP query on loopback. Not a Google Benchmark: a plain main that
// prints a table (bench/README.md, "GTM benchmarks").
//
//   python3 bench/gen_gtm.py pipeline --out /tmp/p --records 10000 [--geo]
//   build/gtmbench/bench/gtm_pipeline_bench --config /tmp/p/pharos.json --trials 200 [--geo] [--audit-log FILE]
//       [--journal FILE] [--trials-out trials.csv]
//
// A client thread polls one affected name over UDP back to back (one query in flight; its round
// trip is the polling granularity, printed). Each trial: the client first sees the old answer,
// then the control thread takes t0 and forces the check; t1 is when the client receives the
// first reply carrying the new answer. Trials alternate down and up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/answers.h"
#include "app/audit.h"
#include "app/background_writer.h"
#include "app/loader.h"
#include "app/log.h"
#include "dns/listen_socket.h"
#include "dns/server.h"
#include "health/engine.h"
#include "health/probe_services.h"
#include "scenario/gtm_engine.h"

using namespace pharos;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

// The control thread sleeps while the client polls, as pharosd's control loop does once a round is
// out (a spinning wait would take a CPU from the DNS worker, the client and the log writer).
static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);

void wake(std::atomic<int>& word) {
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

// Until `word` == want or the deadline passes. True if it got there.
bool wait_until(std::atomic<int>& word, int want, Clock::time_point deadline) {
  for (;;) {
    const int seen = word.load(std::memory_order_acquire);
    if (seen == want) return true;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
  }
}

// What the client polls for, set by the control thread before each trial.
struct Target {
  std::vector<std::uint8_t> query;   // whole query, ID patched per send
  std::uint8_t expect[4] = {};       // the A rdata that means "changed"
};

struct Shared {
  std::atomic<int> gen{0};           // bumped when a new target is set
  std::atomic<int> ready_gen{0};     // client saw the old answer for this gen (query sent after the bump)
  std::atomic<int> done_gen{0};      // client saw the new answer for this gen
  std::atomic<std::int64_t> t1{0};   // receive time of that reply
  std::atomic<std::int64_t> t1_sent{0};
  std::atomic<bool> stop{false};
  Target target[2];                  // double-buffered by gen parity
  std::vector<std::int64_t> rtts;    // client only, read after join
  std::uint64_t sent = 0, received = 0, timeouts = 0;
};

std::vector<std::uint8_t> make_query(const std::string& name, bool ecs) {
  std::vector<std::uint8_t> q = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(ecs ? 1 : 0)};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    for (std::size_t i = start; i < dot; ++i) q.push_back(static_cast<std::uint8_t>(name[i]));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});  // root, A, IN
  if (ecs) {
    // OPT, payload 1232, Client Subnet 10.1.0.0/24 (region "eu" of gen_gtm.py --geo).
    q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 0});
  }
  return q;
}

// The first A rdata of the answer section, or false.
bool first_a(const std::uint8_t* p, std::size_t n, std::uint8_t out[4]) {
  if (n < 12 || ((p[2] >> 3) & 0xF) != 0 || (p[3] & 0xF) != 0) return false;
  const unsigned an = (p[6] << 8) | p[7];
  std::size_t off = 12;
  while (off < n && p[off] != 0) off += p[off] + 1;  // the question's name (never compressed)
  off += 5;
  for (unsigned i = 0; i < an && off < n; ++i) {
    if ((p[off] & 0xC0) == 0xC0) off += 2;
    else { while (off < n && p[off] != 0) off += p[off] + 1; off += 1; }
    if (off + 10 > n) return false;
    const unsigned type = (p[off] << 8) | p[off + 1], rdlen = (p[off + 8] << 8) | p[off + 9];
    off += 10;
    if (off + rdlen > n) return false;
    if (type == 1 && rdlen == 4) { std::memcpy(out, p + off, 4); return true; }
    off += rdlen;
  }
  return false;
}

void client(Shared& s, const sockaddr_in& server) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server);
  std::uint8_t buf[1500];
  std::uint16_t id = 1;
  s.rtts.reserve(1 << 20);
  while (!s.stop.load(std::memory_order_relaxed)) {
    const int gen = s.gen.load(std::memory_order_acquire);
    if (gen == 0) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); continue; }
    const Target& t = s.target[gen & 1];
    std::vector<std::uint8_t> q = t.query;
    q[0] = static_cast<std::uint8_t>(id >> 8);
    q[1] = static_cast<std::uint8_t>(id);
    const std::int64_t sent = now_ns();
    send(fd, q.data(), q.size(), 0);
    ++s.sent;
    // One query in flight: wait for its reply (stale replies of earlier IDs are skipped).
    for (;;) {
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, 500) <= 0) { ++s.timeouts; break; }
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      const std::int64_t got = now_ns();
      if (n < 12 || ((buf[0] << 8) | buf[1]) != id) continue;
      ++s.received;
      s.rtts.push_back(got - sent);
      std::uint8_t a[4];
      const bool have = first_a(buf, static_cast<std::size_t>(n), a);
      const bool is_new = have && std::memcmp(a, t.expect, 4) == 0;
      if (!is_new) {
        if (s.ready_gen.load(std::memory_order_relaxed) != gen) {
          s.ready_gen.store(gen, std::memory_order_release);
          wake(s.ready_gen);
        }
      } else if (s.ready_gen.load(std::memory_order_relaxed) == gen && s.done_gen.load(std::memory_order_relaxed) != gen) {
        s.t1.store(got, std::memory_order_relaxed);
        s.t1_sent.store(sent, std::memory_order_relaxed);
        s.done_gen.store(gen, std::memory_order_release);
        wake(s.done_gen);
      }
      break;
    }
    ++id;
    if (id == 0) id = 1;
  }
  close(fd);
}

// "1.23 0.98 0.50": /proc/loadavg's 1, 5 and 15 minute load averages.
std::string loadavg() {
  char buf[128] = {};
  const int fd = open("/proc/loadavg", O_RDONLY);
  if (fd < 0) return "?";
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  std::string s(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  std::size_t cut = 0;
  for (int fields = 0; cut < s.size() && fields < 3; ++cut)
    if (s[cut] == ' ') ++fields;
  return s.substr(0, cut > 0 ? cut - 1 : 0);
}

struct Stats {
  std::vector<double> v;
  double pct(double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
  }
};

struct Case {
  const char* label;
  const char* check;
  int poll_record;      // the last record the check moves
  int records_moved;
};

}  // namespace

int main(int argc, char** argv) {
  std::string config, audit_log, journal_path, trials_path;
  int trials = 200;
  int profile = 0;   // --profile N: only N verdict flips of c-all, no client (for perf/callgrind)
  int pause_ms = 2;  // --pause: between trials (after the writer has written the previous round)
  bool geo = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--config") config = next();
    else if (a == "--trials") trials = std::stoi(next());
    else if (a == "--geo") geo = true;
    else if (a == "--audit-log") audit_log = next();
    else if (a == "--journal") journal_path = next();
    else if (a == "--profile") profile = std::stoi(next());
    else if (a == "--trials-out") trials_path = next();
    else if (a == "--pause") pause_ms = std::stoi(next());
    else { std::fprintf(stderr, "usage: %s --config pharos.json [--trials N] [--geo] [--audit-log FILE [--journal FILE]] [--trials-out CSV] [--pause MS]\n", argv[0]); return 2; }
  }
  if (config.empty() || trials < 2 || trials > 100000) { std::fprintf(stderr, "--config required; --trials 2..100000\n"); return 2; }
  if (pause_ms < 0 || pause_ms > 10000) { std::fprintf(stderr, "--pause: 0..10000 ms\n"); return 2; }
  if (!journal_path.empty() && audit_log.empty()) { std::fprintf(stderr, "--journal needs --audit-log\n"); return 2; }

  const auto l0 = Clock::now();
  app::LoadResult r = app::load_everything(config);
  if (!r.loaded) {
    for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }
  app::Loaded& l = *r.loaded;
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - l0).count();
  const int records = static_cast<int>(l.scenarios.gtm.records.size());
  if (l.scenarios.gtm.debounce && l.scenarios.gtm.debounce->count() != 0) {
    std::fprintf(stderr, "the config must set \"debounce\": 0\n");
    return 2;
  }
  auto server_r = dns::Server::create(l.config.server_options());
  if (!server_r) { std::fprintf(stderr, "%s\n", server_r.error().to_string().c_str()); return 1; }
  std::unique_ptr<dns::Server> server = std::move(*server_r);

  // The audit: pharosd logs every answer change and every check change on stderr. With
  // --audit-log, stderr goes to that file and the same lines are written (the daemon's cost).
  const bool audit = !audit_log.empty();
  if (audit) {
    const int fd = open(audit_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { std::perror(audit_log.c_str()); return 1; }
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto probes = std::make_unique<health::ProbeServices>(&loop);
  auto health = std::make_unique<health::HealthEngine>(&loop, *probes);
  std::uint64_t answer_changes = 0;
  std::int64_t published_at = 0, audit_ns = 0;  // of the last round: when its answers went out; its audit's cost
  auto gtm = std::make_unique<scenario::GtmEngine>(
      &loop, [&](std::unique_ptr<const dns::DynamicChoices>&& c) {
        server->publish_choices(std::move(c));
        published_at = now_ns();
      });
  // As pharosd: after the publish, the round's changes go to a low-priority writer thread that
  // formats and writes the log lines and the audit journal (app/answers.h, app/background_writer.h).
  std::unique_ptr<app::BackgroundWriter> writer;
  std::unique_ptr<app::AuditJournal> journal;
  if (audit) {
    writer = std::make_unique<app::BackgroundWriter>();
    app::set_log_writer(writer.get());
  }
  if (!journal_path.empty()) {
    journal = std::make_unique<app::AuditJournal>(journal_path);
    if (auto e = journal->open()) { std::fprintf(stderr, "%s\n", e->to_string().c_str()); return 1; }
    journal->set_writer(writer.get());
  }
  gtm->on_audit([&](const std::shared_ptr<const scenario::AnswerRound>& c) {
    answer_changes += c->size();
    const std::int64_t a0 = now_ns();
    if (audit) app::record_answer_changes(c, journal.get(), writer.get());
    audit_ns = now_ns() - a0;
  });
  health->apply(l.scenarios.health);
  for (const char* id : {"c-one", "c-hundred", "c-all"}) {
    if (!health->force(id, health::State::kUp)) { std::fprintf(stderr, "no check %s (use gen_gtm.py pipeline)\n", id); return 1; }
  }
  if (audit) {
    health->subscribe([](const health::Changes& c) {
      for (const auto& x : c.checks)
        app::log_info("check state changed", {{"check", x.id}, {"from", health::to_string(x.from)},
                                              {"to", health::to_string(x.to)}, {"reason", x.reason}});
    });
  }
  health->subscribe([&](const health::Changes& c) { gtm->on_health(c, health->state()); });
  auto choices = gtm->apply(l.scenarios.gtm, l.table->region_count(), health->state());
  delete l.table->exchange_choices(choices.release());
  server->publish(std::move(l.table));
  server->start();

  if (profile > 0) {
    Stats s;
    for (int i = 0; i < profile; ++i) {
      const std::int64_t t0 = now_ns();
      health->force("c-all", i % 2 == 0 ? health::State::kDown : health::State::kUp);
      s.v.push_back(static_cast<double>(now_ns() - t0) / 1e3);
      server->reclaim();
      if (writer) writer->flush();
    }
    std::printf("--profile: %d flips of c-all (%d records): force()->published p50 %.0f µs, max %.0f µs (load average %s)\n",
                profile, records, s.pct(50), s.pct(100), loadavg().c_str());
    server->stop();
    return 0;
  }

  sockaddr_in sa{};
  std::memcpy(&sa, server->bound().at(0).sa(), sizeof sa);
  // --trials-out: one line per trial, times from the verdict (t0): the publish, the end of the round
  // (force() returns), the log and journal hand-over's own length, the client's query that saw
  // the change, its reply.
  FILE* trials_out = nullptr;
  if (!trials_path.empty()) {
    trials_out = std::fopen(trials_path.c_str(), "w");
    if (trials_out == nullptr) { std::perror(trials_path.c_str()); return 1; }
    std::fprintf(trials_out, "check,trial,published_us,round_us,handover_us,query_sent_us,answer_us\n");
  }
  Shared shared;
  std::thread client_thread(client, std::ref(shared), sa);

  const Case cases[] = {
      {"1 record", "c-one", 0, 1},
      {"100 records", "c-hundred", 100, 100},
      {"all records", "c-all", records - 1, records},
  };
  std::printf("GTM pipeline latency: %d GTM records, %s, %d trials per case (alternating down/up), debounce 0, "
              "log %s, audit journal %s, initial load %.0f ms, load average %s\n",
              records, geo ? "geo (3 regions, client in region eu via ECS)" : "no geo", trials,
              audit ? audit_log.c_str() : "off", journal ? journal_path.c_str() : "off", load_ms, loadavg().c_str());
  std::printf("\n| verdict moves | trials | verdict->published p50 / p99 / max (µs) | whole round p50 / p99 (µs) | "
              "of which log+journal hand-over p50 / p99 (µs) | verdict->answer received p50 / p99 / max (µs) | "
              "verdict->query sent p50 (µs) | failed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  int gen = 0;
  std::string drain_notes, slow_notes;
  int total_failed = 0;
  double worst_p99 = 0;
  for (const Case& c : cases) {
    Stats published, inproc, handover, e2e, sendlat, drain;
    int failed = 0, slow = 0, slow_publish = 0, slow_query = 0, slow_reply = 0;
    bool up = true;
    const std::string name = "g" + std::to_string(c.poll_record) + ".gtm.test";
    std::uint8_t old_a[4] = {10, 1, static_cast<std::uint8_t>(c.poll_record >> 8), static_cast<std::uint8_t>(c.poll_record)};
    std::uint8_t new_a[4] = {10, 2, old_a[2], old_a[3]};
    const std::uint64_t changes_before = answer_changes;
    for (int t = 0; t < trials; ++t) {
      const bool going_down = up;
      Target& tg = shared.target[(gen + 1) & 1];
      tg.query = make_query(name, geo);
      std::memcpy(tg.expect, going_down ? new_a : old_a, 4);
      shared.gen.store(++gen, std::memory_order_release);
      // Wait until the client has seen the old answer with a query sent for this generation.
      const auto deadline = Clock::now() + std::chrono::seconds(2);
      if (!wait_until(shared.ready_gen, gen, deadline)) { ++failed; break; }
      published_at = 0;
      audit_ns = 0;
      const std::int64_t t0 = now_ns();
      health->force(c.check, going_down ? health::State::kDown : health::State::kUp);
      const std::int64_t tp = now_ns();
      up = !going_down;
      if (!wait_until(shared.done_gen, gen, deadline + std::chrono::seconds(1))) { ++failed; continue; }
      const double pub_us = static_cast<double>(published_at - t0) / 1e3;
      const double in_us = static_cast<double>(tp - t0) / 1e3;
      const double e2e_us = static_cast<double>(shared.t1.load() - t0) / 1e3;
      const double sent_us = static_cast<double>(shared.t1_sent.load() - t0) / 1e3;
      published.v.push_back(pub_us);
      inproc.v.push_back(in_us);
      handover.v.push_back(static_cast<double>(audit_ns) / 1e3);
      e2e.v.push_back(e2e_us);
      sendlat.v.push_back(sent_us);
      if (trials_out)
        std::fprintf(trials_out, "%s,%d,%.1f,%.1f,%.1f,%.1f,%.1f\n", c.check, t, pub_us, in_us,
                     static_cast<double>(audit_ns) / 1e3, sent_us, e2e_us);
      if (e2e_us >= 1000) {
        // Where the time went: before the publish; between the publish and the client's query
        // that saw it (the client did not get the CPU); or between that query and its reply.
        ++slow;
        if (pub_us >= 500) ++slow_publish;
        else if (sent_us - pub_us >= 500) ++slow_query;
        else if (e2e_us - sent_us >= 500) ++slow_reply;
      }
      // Between trials: what the daemon's loop does meanwhile (timers; the 100 ms reclaim).
      uv_run(&loop, UV_RUN_NOWAIT);
      server->reclaim();
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      // The next verdict comes once the log and journal of this one are written, as checks change
      // at most once per probe interval: without this, 400 rounds of 10,000 lines a second fill
      // the writer's queue and each round waits for room (the bound), which is the writer's
      // throughput (measured separately below), not the latency of one verdict.
      if (writer) {
        const std::int64_t w0 = now_ns();
        writer->flush();
        drain.v.push_back(static_cast<double>(now_ns() - w0) / 1e3);
      }
    }
    if (!up) health->force(c.check, health::State::kUp);  // leave every record on entry 0
    const std::uint64_t moved = answer_changes - changes_before;
    const int forces = static_cast<int>(e2e.v.size()) + failed + (up ? 0 : 1);
    const double p99 = e2e.pct(99);
    worst_p99 = std::max(worst_p99, p99);
    total_failed += failed;
    std::printf("| %s (%d; %.0f answer changes per verdict) | %zu | %.0f / %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | "
                "%.0f / %.0f / %.0f | %.0f | %d |\n",
                c.label, c.records_moved, forces ? static_cast<double>(moved) / forces : 0.0, e2e.v.size(),
                published.pct(50), published.pct(99), published.pct(100), inproc.pct(50), inproc.pct(99), handover.pct(50),
                handover.pct(99), e2e.pct(50), p99, e2e.pct(100), sendlat.pct(50), failed);
    std::fflush(stdout);
    if (slow > 0) {
      char note[320];
      std::snprintf(note, sizeof note,
                    "- %s: %d of %zu trials took 1 ms or more: %d published 500 µs or more after the verdict, %d whose "
                    "client sent its next query 500 µs or more after the publish, %d whose reply came 500 µs or more "
                    "after its query, %d other\n",
                    c.label, slow, e2e.v.size(), slow_publish, slow_query, slow_reply,
                    slow - slow_publish - slow_query - slow_reply);
      slow_notes += note;
    }
    if (!drain.v.empty()) {
      char note[200];
      std::snprintf(note, sizeof note, "- %s: the round's log and journal were written %.0f / %.0f µs (p50 / p99) after the trial\n",
                    c.label, drain.pct(50), drain.pct(99));
      drain_notes += note;
    }
  }
  shared.stop.store(true);
  client_thread.join();
  Stats rtt;
  for (auto x : shared.rtts) rtt.v.push_back(static_cast<double>(x) / 1e3);
  const auto slow_rtts = std::count_if(rtt.v.begin(), rtt.v.end(), [](double us) { return us >= 1000; });
  std::printf("\nClient polling: %llu queries sent, %llu answered, %llu timed out (500 ms); round trip p50 %.1f µs, "
              "p99 %.1f µs, p99.9 %.1f µs, %lld of 1 ms or more (the polling granularity: one query in flight, sent as "
              "soon as the previous reply arrived; the slow ones are the machine's noise floor).\n",
              static_cast<unsigned long long>(shared.sent), static_cast<unsigned long long>(shared.received),
              static_cast<unsigned long long>(shared.timeouts), rtt.pct(50), rtt.pct(99), rtt.pct(99.9),
              static_cast<long long>(slow_rtts));
  if (!slow_notes.empty()) std::printf("\nSlow trials:\n%s", slow_notes.c_str());
  if (!drain_notes.empty())
    std::printf("\nEach verdict waited for the previous round's log and journal to be written (the writer thread, in the "
                "background; a check changes at most once per probe interval):\n%s", drain_notes.c_str());
  std::printf("Load average at the end: %s\n", loadavg().c_str());
  std::printf("Target: p99 verdict->answer under 1000 µs for every case: %s (worst p99 %.0f µs)%s\n",
              worst_p99 < 1000 ? "met" : "MISSED", worst_p99, total_failed ? "; some trials failed" : "");

  if (trials_out) std::fclose(trials_out);
  gtm->stop();
  health->stop();
  probes->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  app::set_log_writer(nullptr);
  if (journal) journal->set_writer(nullptr);
  server->stop();
  gtm.reset();
  health.reset();
  probes.reset();
  uv_loop_close(&loop);
  return total_failed ? 1 : 0;
}
