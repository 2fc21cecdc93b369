// metrics_test.cc: /metrics in the Prometheus text format. The renderer's escaping and values;
// the test's strict parser rejecting what Prometheus would; DaemonMetrics answering over real
// HTTP while its control loop is stuck (watchdog age grows, DNS counts still move); and the real
// pharosd: exact count changes for real UDP and TCP queries, GTM answer counters, a check going
// down, reloads, and the token rules.
#include "app/metrics.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <memory>
#include <sstream>

#include "app/daemon_metrics.h"
#include "tests/app/control_fixture.h"
#include "tests/app/pharosd_harness.h"
#include "tests/app/prometheus_parser.h"
#include "tests/dns/server_fixture.h"

namespace pharos::test {
namespace {

using app::EngineMetrics;
using app::Histogram;
using app::MetricsWriter;
using Labels = std::map<std::string, std::string>;

// ---- The writer ----

TEST(MetricsWriter, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(app::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(app::escape_label_value("plain é"), "plain é");
  EXPECT_EQ(app::escape_help("x \\ \"y\"\nz"), "x \\\\ \"y\"\\nz");
}

TEST(MetricsWriter, FormatsValues) {
  EXPECT_EQ(app::format_value(0), "0");
  EXPECT_EQ(app::format_value(42), "42");
  EXPECT_EQ(app::format_value(-3), "-3");
  EXPECT_EQ(app::format_value(0.001), "0.001");
  EXPECT_EQ(app::format_value(2.5), "2.5");
  EXPECT_EQ(app::format_value(1e300), "1e+300");
  EXPECT_EQ(app::format_value(HUGE_VAL), "+Inf");
  EXPECT_EQ(app::format_value(-HUGE_VAL), "-Inf");
  EXPECT_EQ(app::format_value(std::nan("")), "NaN");
}

TEST(MetricsWriter, LabelValuesRoundTripThroughTheParser) {
  MetricsWriter w;
  w.family("pharos_x", "gauge", "Help with a \\ backslash\nand a newline.");
  const std::string odd = "dc\"1\\\nend";
  w.sample("pharos_x", {{"check", odd}, {"empty", ""}}, 1.5);
  w.sample("pharos_x", {{"check", "plain"}, {"empty", ""}}, std::uint64_t{18446744073709551615u});
  const Exposition e = parse_prometheus(w.take());
  ASSERT_TRUE(e.ok()) << e.error;
  EXPECT_EQ(e.helps.at("pharos_x"), "Help with a \\ backslash\nand a newline.");
  EXPECT_EQ(e.get("pharos_x", {{"check", odd}, {"empty", ""}}), 1.5);
  EXPECT_EQ(e.get("pharos_x", {{"check", "plain"}, {"empty", ""}}), 18446744073709551615.0);
}

TEST(MetricsWriter, HistogramBucketsAreCumulativeAndEndInInf) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 5.0, 50.0, 0.2}) h.observe(v);
  MetricsWriter w;
  w.family("pharos_h_seconds", "histogram", "h");
  w.histogram("pharos_h_seconds", {{"check", "a"}}, h);
  const std::string text = w.take();
  const Exposition e = parse_prometheus(text);
  ASSERT_TRUE(e.ok()) << e.error << "\n" << text;
  EXPECT_EQ(e.get("pharos_h_seconds_bucket", {{"check", "a"}, {"le", "0.1"}}), 2);  // le is inclusive
  EXPECT_EQ(e.get("pharos_h_seconds_bucket", {{"check", "a"}, {"le", "1"}}), 4);
  EXPECT_EQ(e.get("pharos_h_seconds_bucket", {{"check", "a"}, {"le", "10"}}), 5);
  EXPECT_EQ(e.get("pharos_h_seconds_bucket", {{"check", "a"}, {"le", "+Inf"}}), 6);
  EXPECT_EQ(e.get("pharos_h_seconds_count", {{"check", "a"}}), 6);
  EXPECT_DOUBLE_EQ(*e.get("pharos_h_seconds_sum", {{"check", "a"}}), 55.85);
}

TEST(MetricsWriter, WholeRenderingIsValidWithOddNames) {
  EngineMetrics m;
  m.version = "1.0 \"beta\"";
  EngineMetrics::Check c;
  c.id = "auto|dc\"1|access|0";
  c.state = "down";
  c.latency = Histogram(app::probe_latency_bounds());
  c.latency->observe(0.003);
  m.checks = std::make_shared<std::vector<EngineMetrics::Check>>(std::vector<EngineMetrics::Check>{c});
  m.dcs = std::make_shared<std::vector<EngineMetrics::Dc>>(std::vector<EngineMetrics::Dc>{{"dc\\1", "noAccess", false}});
  m.serving = std::make_shared<std::vector<EngineMetrics::Serving>>(
      std::vector<EngineMetrics::Serving>{{"www.example.com./A", "", "chain", "0", "dc\\1"}});
  m.last_reload_time_s = 1.7e9;
  m.last_reload_duration_s = 0.25;
  app::DnsMetrics d;
  d.by_transport[0].rcode[17] = 2;  // an RCODE without a name shows as its number
  d.answers.push_back({"www.example.com./A", "chain", "0", "dc\\1", 7});
  const Exposition e = parse_prometheus(app::render_metrics(&m, d, 0.5));
  ASSERT_TRUE(e.ok()) << e.error;
  for (const auto& s : e.samples) EXPECT_EQ(s.name.rfind("pharos_", 0), 0u) << s.name;
  EXPECT_EQ(e.get("pharos_check_state", {{"check", c.id}, {"state", "down"}}), 1);
  EXPECT_EQ(e.get("pharos_check_state", {{"check", c.id}, {"state", "up"}}), 0);
  EXPECT_EQ(e.get("pharos_dc_status", {{"dc", "dc\\1"}, {"status", "noAccess"}}), 1);
  EXPECT_EQ(e.get("pharos_build_info", {{"version", "1.0 \"beta\""}}), 1);
  EXPECT_EQ(e.get("pharos_dns_responses_total", {{"transport", "udp"}, {"rcode", "17"}}), 2);
  EXPECT_EQ(e.get("pharos_gtm_answers_total", {{"record", "www.example.com./A"}, {"source", "chain"}, {"entry", "0"}, {"dc", "dc\\1"}}), 7);
  EXPECT_EQ(e.get("pharos_watchdog_age_seconds", {{"loop", "control"}}), 0.5);
  EXPECT_EQ(e.get("pharos_check_probe_duration_seconds_count", {{"check", c.id}}), 1);
  EXPECT_EQ(e.types.at("pharos_pipeline_latency_seconds"), "histogram");
}

// ---- The parser is strict ----

TEST(PrometheusParser, RejectsWhatPrometheusWould) {
  const std::string head = "# TYPE pharos_a gauge\n";
  EXPECT_TRUE(parse_prometheus(head + "pharos_a{x=\"1\"} 1\npharos_a{x=\"2\"} +Inf\npharos_a{x=\"3\"} NaN\n").ok());
  EXPECT_FALSE(parse_prometheus("pharos_a 1\n").ok());                              // no TYPE
  EXPECT_FALSE(parse_prometheus(head + "pharos_a 1").ok());                         // no final newline
  EXPECT_FALSE(parse_prometheus(head + "pharos_a{x=\"a\\tb\"} 1\n").ok());          // bad escape
  EXPECT_FALSE(parse_prometheus(head + "pharos_a{x=\"1\",} 1\n").ok());             // trailing comma
  EXPECT_FALSE(parse_prometheus(head + "pharos_a{x=1} 1\n").ok());                  // unquoted
  EXPECT_FALSE(parse_prometheus(head + "pharos_a{1x=\"1\"} 1\n").ok());             // label name
  EXPECT_FALSE(parse_prometheus(head + "pharos_a{x=\"1\",x=\"2\"} 1\n").ok());      // label twice
  EXPECT_FALSE(parse_prometheus(head + "pharos_a 1,5\n").ok());                     // value
  EXPECT_FALSE(parse_prometheus(head + "pharos_a 1\npharos_a 2\n").ok());           // duplicate series
  EXPECT_FALSE(parse_prometheus("# TYPE pharos_c_total counter\npharos_c_total -1\n").ok());
  EXPECT_FALSE(parse_prometheus("# TYPE pharos_c counter\npharos_c 1\n").ok());     // not *_total
  EXPECT_FALSE(parse_prometheus(head + "pharos_a 1\n# TYPE pharos_b gauge\npharos_b 1\npharos_a{x=\"1\"} 1\n").ok());
  EXPECT_FALSE(parse_prometheus(head + head + "pharos_a 1\n").ok());                // TYPE twice
  const std::string h = "# TYPE pharos_h histogram\n";
  const std::string good = h + "pharos_h_bucket{le=\"1\"} 1\npharos_h_bucket{le=\"+Inf\"} 2\npharos_h_sum 3\npharos_h_count 2\n";
  EXPECT_TRUE(parse_prometheus(good).ok()) << parse_prometheus(good).error;
  EXPECT_FALSE(parse_prometheus(h + "pharos_h_bucket{le=\"1\"} 3\npharos_h_bucket{le=\"+Inf\"} 2\npharos_h_sum 3\npharos_h_count 2\n").ok());
  EXPECT_FALSE(parse_prometheus(h + "pharos_h_bucket{le=\"1\"} 1\npharos_h_sum 3\npharos_h_count 1\n").ok());
  EXPECT_FALSE(parse_prometheus(h + "pharos_h_bucket{le=\"1\"} 1\npharos_h_bucket{le=\"+Inf\"} 2\npharos_h_sum 3\npharos_h_count 5\n").ok());
  EXPECT_FALSE(parse_prometheus(h + "pharos_h_bucket{le=\"1\"} 1\npharos_h_bucket{le=\"+Inf\"} 2\npharos_h_count 2\n").ok());
  EXPECT_FALSE(parse_prometheus(h + "pharos_h_bucket{le=\"2\"} 1\npharos_h_bucket{le=\"1\"} 1\npharos_h_bucket{le=\"+Inf\"} 1\npharos_h_sum 3\npharos_h_count 1\n").ok());
}

// ---- DaemonMetrics in-process: a stuck control loop ----

TEST(DaemonMetrics, AnswersOverHttpWhileTheLoopIsStuckAndTheWatchdogAgeGrows) {
  LiveServer dns(loopback_options(1));
  ASSERT_TRUE(dns.ok());
  ApiHarness h;
  std::uint64_t generation = 7;
  auto m = std::make_unique<app::DaemonMetrics>(
      h.loop.loop(), app::DaemonMetrics::Sources{&dns.server(), nullptr, nullptr, &generation, "test"});
  h.server().route_direct("GET", "/metrics", app::Role::kNone, [&](const app::ApiRequest&) { return m->respond(); });
  h.start();
  auto scrape = [&] {
    const HttpResult r = h.get("/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    Exposition e = parse_prometheus(r.body);
    EXPECT_TRUE(e.ok()) << e.error;
    return e;
  };
  auto age = [](const Exposition& e) { return e.get("pharos_watchdog_age_seconds", {{"loop", "control"}}).value_or(-1); };
  const Exposition before = scrape();
  EXPECT_EQ(before.get("pharos_config_generation"), 7);
  EXPECT_EQ(before.get("pharos_dns_serving"), 1);

  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  h.loop.hold([&] {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  // Stuck: /metrics still answers; the heartbeat's age passes its one-second period.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  Exposition stuck = scrape();
  while (age(stuck) < 1.5 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stuck = scrape();
  }
  EXPECT_GE(age(stuck), 1.5);
  // DNS is not behind the control loop: a query counts at once.
  Socket c = dns.udp();
  ASSERT_TRUE(udp_exchange(c.fd(), make_query(1, "www.example.com", 1)).has_value());
  const Exposition during = scrape();
  EXPECT_EQ(during.sum("pharos_dns_queries_total", {{"transport", "udp"}, {"qtype", "A"}}) -
                before.sum("pharos_dns_queries_total", {{"transport", "udp"}, {"qtype", "A"}}),
            1);
  release.set_value();
  Exposition after = scrape();
  const auto deadline2 = Clock::now() + std::chrono::seconds(5);
  while (age(after) >= 1.5 && Clock::now() < deadline2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    after = scrape();
  }
  EXPECT_LT(age(after), 1.5);
  h.loop.stop([&] {
    m->stop();
    h.server().stop();
  });
}

// ---- The real pharosd ----

const std::string kDc1 = "192.0.2.1", kDc2 = "192.0.2.2";
const std::string kRecord = "www.t.example./A";
const std::string kProbe = "auto|dc1|access|0";

class PharosdMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("t.zone", "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n");
    dir_.write("tokens.json", R"({ "tokens": [ { "name": "bob", "role": "read", "token": "bob-0123456789abcdef01" },
      { "name": "alice", "role": "operator", "token": "alice-0123456789abcdef" } ] })");
    chmod(dir_.file("tokens.json").c_str(), 0600);
    write_config("");
    write_scenarios();
  }
  void write_config(const std::string& control_extra) {
    dir_.write("p.json", R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": "0s",
      "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ],
      "control": { "listen": "127.0.0.1:0", "tokens": "tokens.json" )" + control_extra + " } }");
  }
  void write_scenarios(const std::string& broken = "") {
    std::string dcs;
    for (int i = 0; i < 2; ++i)
      dcs += std::string(i ? ",\n" : "") + "\"dc" + std::to_string(i + 1) +
             R"(": { "accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1,
               "access": [ { "type": "tcp", "target": "127.0.0.1:)" + std::to_string(targets_[i].port()) + "\" } ] }";
    dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + R"(},
      "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30, "chain": [
        { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + "\"] } ] } ]" +
                              broken + "\n}\n");
  }
  ::testing::AssertionResult start() {
    daemon_ = std::make_unique<Daemon>(dir_.file("p.json"));
    if (!daemon_->wait_for("control API ready")) return ::testing::AssertionFailure() << daemon_->log();
    const std::string l = daemon_->log();
    const auto port = l.find(" port=", l.find("control API ready"));
    const auto eol = l.find('\n', port);
    if (port == std::string::npos || eol == std::string::npos) return ::testing::AssertionFailure() << l;
    api_port_ = static_cast<std::uint16_t>(std::stoi(l.substr(port + 6, eol - port - 6)));
    dns_port_ = daemon_->udp_port();
    return ::testing::AssertionSuccess();
  }
  HttpResult get(std::optional<std::string> token = std::nullopt) {
    HttpOptions o;
    o.path = "/metrics";
    o.token = std::move(token);
    return http(api_port_, o);
  }
  Exposition scrape() {
    const HttpResult r = get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    Exposition e = parse_prometheus(r.body);
    EXPECT_TRUE(e.ok()) << e.error << "\n" << r.body;
    for (const auto& s : e.samples) EXPECT_EQ(s.name.rfind("pharos_", 0), 0u) << s.name;
    return e;
  }
  // Scrapes until `pred` holds (bounded); returns the last scrape.
  template <typename Pred>
  Exposition scrape_until(Pred pred) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    Exposition e = scrape();
    while (!pred(e) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      e = scrape();
    }
    return e;
  }
  Parsed udp(const std::string& name, std::uint16_t type) {
    const sockaddr_in to = loopback(dns_port_);
    Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    const auto wire = udp_exchange(s.fd(), make_query(++id_, name, type));
    return wire ? parse_response(*wire) : Parsed{};
  }
  static Labels serving(const std::string& entry, const std::string& dc) {
    return {{"record", kRecord}, {"region", ""}, {"source", "chain"}, {"entry", entry}, {"dc", dc}};
  }
  static Labels answered(const std::string& entry, const std::string& dc) {
    return {{"record", kRecord}, {"source", "chain"}, {"entry", entry}, {"dc", dc}};
  }

  TempDir dir_;
  Target targets_[2];
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t api_port_ = 0;
  std::uint16_t dns_port_ = 0;
  std::uint16_t id_ = 0;
};

double delta(const Exposition& a, const Exposition& b, const std::string& name, const Labels& match = {}) {
  return b.sum(name, match) - a.sum(name, match);
}

TEST_F(PharosdMetrics, QueryCountersMoveByExactlyWhatWasSent) {
  ASSERT_TRUE(start());
  // dc1 is up and serves the record before counting starts.
  const Exposition m0 = scrape_until([](const Exposition& e) {
    return e.get("pharos_gtm_serving", serving("0", "dc1")) == 1 && e.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}) == 1;
  });
  ASSERT_EQ(m0.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}), 1);

  // UDP: 3 GTM answers, 2 NODATA (AAAA), 1 NXDOMAIN, 1 REFUSED, 1 junk datagram (dropped).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(udp("www.t.example", 1).addresses, std::set<std::string>{kDc1});
  for (int i = 0; i < 2; ++i) EXPECT_EQ(udp("ns1.t.example", 28).rcode, 0);
  EXPECT_EQ(udp("nope.t.example", 1).rcode, 3);
  EXPECT_EQ(udp("other.test", 15).rcode, 5);
  {
    const sockaddr_in to = loopback(dns_port_);
    Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    const Bytes junk = {0x12, 0x34, 0x01};
    ASSERT_EQ(send(s.fd(), junk.data(), junk.size(), 0), 3);
  }
  // TCP, one connection: 2 SOA, 1 TXT (NODATA).
  {
    const sockaddr_in to = loopback(dns_port_);
    Socket t = tcp_connect(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ASSERT_TRUE(t);
    for (auto [name, type] : {std::pair{"t.example", 6}, {"t.example", 6}, {"ns1.t.example", 16}}) {
      ASSERT_TRUE(send_all(t.fd(), framed(make_query(++id_, name, static_cast<std::uint16_t>(type)))));
      const auto reply = tcp_read_message(t.fd());
      ASSERT_TRUE(reply.has_value());
      EXPECT_EQ(parse_response(*reply).rcode, 0);
    }
  }
  // The normal query after the junk is answered (and counted) too.
  EXPECT_EQ(udp("www.t.example", 1).addresses, std::set<std::string>{kDc1});

  const Exposition m1 = scrape_until([&](const Exposition& e) { return delta(m0, e, "pharos_dns_queries_total") >= 12; });
  auto q = [&](const char* transport, const char* qtype) {
    return delta(m0, m1, "pharos_dns_queries_total", {{"transport", transport}, {"qtype", qtype}});
  };
  auto r = [&](const char* transport, const char* rcode) {
    return delta(m0, m1, "pharos_dns_responses_total", {{"transport", transport}, {"rcode", rcode}});
  };
  EXPECT_EQ(q("udp", "A"), 5);
  EXPECT_EQ(q("udp", "AAAA"), 2);
  EXPECT_EQ(q("udp", "MX"), 1);
  EXPECT_EQ(q("udp", "none"), 1);
  EXPECT_EQ(q("tcp", "SOA"), 2);
  EXPECT_EQ(q("tcp", "TXT"), 1);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_queries_total"), 12);
  EXPECT_EQ(r("udp", "NOERROR"), 6);
  EXPECT_EQ(r("udp", "NXDOMAIN"), 1);
  EXPECT_EQ(r("udp", "REFUSED"), 1);
  EXPECT_EQ(r("tcp", "NOERROR"), 3);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_responses_total"), 11);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_dropped_total", {{"transport", "udp"}}), 1);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_dropped_total", {{"transport", "tcp"}}), 0);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_truncated_total"), 0);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_udp_received_total"), 9);
  EXPECT_EQ(delta(m0, m1, "pharos_dns_tcp_accepted_total"), 1);
  EXPECT_EQ(delta(m0, m1, "pharos_gtm_answers_total", answered("0", "dc1")), 4);
  EXPECT_EQ(delta(m0, m1, "pharos_gtm_answers_total", answered("1", "dc2")), 0);
  EXPECT_EQ(m1.get("pharos_dns_serving"), 1);
  EXPECT_GE(*m1.get("pharos_watchdog_age_seconds", {{"loop", "control"}}), 0);
  EXPECT_EQ(m1.get("pharos_config_generation"), 1);
}

// The whole exposition also goes through the official Python client's parser, which is not ours
// (prometheus_client.parser, Debian's python3-prometheus-client): it accepts every line, and it
// reads the same samples with the same values as our strict parser.
TEST_F(PharosdMetrics, TheOfficialClientParserReadsTheSameSamples) {
  ASSERT_TRUE(start());
  scrape_until([](const Exposition& e) { return e.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}) == 1; });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(udp("www.t.example", 1).addresses, std::set<std::string>{kDc1});
  const Exposition counted = scrape_until([](const Exposition& e) {
    return e.get("pharos_dns_queries_total", {{"transport", "udp"}, {"qtype", "A"}}).value_or(0) >= 3;
  });
  ASSERT_GE(counted.get("pharos_dns_queries_total", {{"transport", "udp"}, {"qtype", "A"}}).value_or(0), 3);

  const HttpResult r = get();
  ASSERT_EQ(r.status, 200) << r.body;
  const Exposition ours = parse_prometheus(r.body);
  ASSERT_TRUE(ours.ok()) << ours.error;
  dir_.write("metrics.txt", r.body);
  const std::string cmd = "/usr/bin/python3 " PHAROS_SOURCE_DIR "/tests/app/prometheus_client_parse.py " +
                          dir_.file("metrics.txt") + " 2>&1";
  const RunResult parsed = run_shell(cmd);
  ASSERT_EQ(parsed.exit_code, 0) << parsed.out;
  const std::string& out = parsed.out;

  std::map<std::string, double> theirs;  // "name\tlabel=value,..." -> value
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const auto value_at = line.rfind('\t');
    ASSERT_NE(value_at, std::string::npos) << line;
    theirs[line.substr(0, value_at)] = std::stod(line.substr(value_at + 1));
  }
  EXPECT_EQ(theirs.size(), ours.samples.size()) << out;
  for (const PromSample& s : ours.samples) {
    std::string key = s.name + "\t";
    for (const auto& [k, v] : s.labels) key += (key.back() == '\t' ? "" : ",") + k + "=" + v;
    const auto it = theirs.find(key);
    ASSERT_NE(it, theirs.end()) << key << "\n" << out;
    EXPECT_DOUBLE_EQ(it->second, s.value) << key;
  }
  EXPECT_GE(theirs["pharos_dns_queries_total\tqtype=A,transport=udp"], 3);
}

TEST_F(PharosdMetrics, ACheckGoingDownMovesStateTransitionsDcStatusAndTheAnswer) {
  ASSERT_TRUE(start());
  const Exposition m0 = scrape_until([](const Exposition& e) {
    // Both DCs up (an entry with no result yet may serve too: stuck-state protection).
    return e.get("pharos_gtm_serving", serving("0", "dc1")) == 1 && e.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}) == 1 &&
           e.get("pharos_dc_status", {{"dc", "dc2"}, {"status", "ok"}}) == 1;
  });
  ASSERT_EQ(m0.get("pharos_check_state", {{"check", kProbe}, {"state", "up"}}), 1);
  EXPECT_EQ(m0.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}), 1);
  EXPECT_EQ(m0.types.at("pharos_check_probe_duration_seconds"), "histogram");

  targets_[0].close();
  const Exposition m1 = scrape_until([](const Exposition& e) { return e.get("pharos_gtm_serving", serving("1", "dc2")) == 1; });
  EXPECT_EQ(m1.get("pharos_check_state", {{"check", kProbe}, {"state", "down"}}), 1);
  EXPECT_EQ(m1.get("pharos_check_state", {{"check", kProbe}, {"state", "up"}}), 0);
  EXPECT_EQ(delta(m0, m1, "pharos_check_transitions_total", {{"check", kProbe}}), 1);
  EXPECT_EQ(m1.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "noAccess"}}), 1);
  EXPECT_EQ(m1.get("pharos_dc_status", {{"dc", "dc1"}, {"status", "ok"}}), 0);
  EXPECT_EQ(m1.get("pharos_gtm_serving", serving("0", "dc1")), std::nullopt);
  EXPECT_GE(delta(m0, m1, "pharos_gtm_publishes_total"), 1);
  EXPECT_GE(delta(m0, m1, "pharos_pipeline_latency_seconds_count"), 1);
  EXPECT_GE(delta(m0, m1, "pharos_check_failures_total", {{"check", kProbe}}), 1);
  // Both come from the same snapshot: every probe result is in the latency histogram.
  EXPECT_EQ(m1.get("pharos_check_probe_duration_seconds_count", {{"check", kProbe}}),
            m1.get("pharos_check_probes_total", {{"check", kProbe}}));
  EXPECT_GT(*m1.get("pharos_check_probes_total", {{"check", kProbe}}), 0);

  EXPECT_EQ(udp("www.t.example", 1).addresses, std::set<std::string>{kDc2});
  const Exposition m2 = scrape();
  EXPECT_EQ(delta(m1, m2, "pharos_gtm_answers_total", answered("1", "dc2")), 1);
}

TEST_F(PharosdMetrics, ReloadsAreCountedByResult) {
  ASSERT_TRUE(start());
  const Exposition m0 = scrape();
  EXPECT_EQ(m0.get("pharos_reloads_total", {{"result", "ok"}}), 0);
  EXPECT_EQ(m0.get("pharos_reload_last_success"), std::nullopt);  // no reload yet
  daemon_->signal(SIGHUP);
  const Exposition m1 = scrape_until([](const Exposition& e) { return e.get("pharos_reloads_total", {{"result", "ok"}}) == 1; });
  EXPECT_EQ(m1.get("pharos_reloads_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(m1.get("pharos_config_generation"), 2);
  EXPECT_EQ(m1.get("pharos_reload_last_success"), 1);
  EXPECT_GE(*m1.get("pharos_reload_last_duration_seconds"), 0);
  EXPECT_GT(*m1.get("pharos_reload_last_timestamp_seconds"), 1.6e9);

  write_scenarios(",");  // a trailing comma: not JSON, the reload fails
  daemon_->signal(SIGHUP);
  const Exposition m2 = scrape_until([](const Exposition& e) { return e.get("pharos_reloads_total", {{"result", "error"}}) == 1; });
  EXPECT_EQ(m2.get("pharos_reloads_total", {{"result", "error"}}), 1);
  EXPECT_EQ(m2.get("pharos_reloads_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(m2.get("pharos_reload_last_success"), 0);
  EXPECT_EQ(m2.get("pharos_config_generation"), 2);
  // Still serving.
  EXPECT_EQ(udp("ns1.t.example", 1).rcode, 0);
}

TEST_F(PharosdMetrics, ConfigChangesAreCountedByResult) {
  ASSERT_TRUE(start());
  const auto change = [&](const std::string& method, const std::string& path, const std::string& body,
                          const std::string& token = "alice-0123456789abcdef") {
    HttpOptions o;
    o.method = method;
    o.path = path;
    o.body = body;
    o.token = token;
    return http(api_port_, o).status;
  };
  const auto counts = [](const Exposition& e) {
    return std::vector<std::optional<double>>{e.get("pharos_config_changes_total", {{"result", "applied"}}),
                                              e.get("pharos_config_changes_total", {{"result", "rejected"}}),
                                              e.get("pharos_config_changes_total", {{"result", "conflict"}})};
  };
  using Counts = std::vector<std::optional<double>>;
  const Exposition m0 = scrape();
  EXPECT_EQ(counts(m0), (Counts{0, 0, 0}));
  EXPECT_EQ(m0.get("pharos_config_change_last_timestamp_seconds"), std::nullopt);  // none yet

  ASSERT_EQ(change("PUT", "/v1/config/checks/flag", R"({ "value": { "type": "file", "path": "flag.state" } })"), 200);
  const Exposition m1 = scrape_until([&](const Exposition& e) { return counts(e) == Counts{1, 0, 0}; });
  EXPECT_EQ(counts(m1), (Counts{1, 0, 0}));
  EXPECT_EQ(m1.get("pharos_config_generation"), 2);
  EXPECT_GT(*m1.get("pharos_config_change_last_timestamp_seconds"), 1.6e9);

  // Refused: malformed JSON, files that would not load, an unknown ID; conflicts: a stale
  // generation, an insert of an existing ID. A role too low is not a change request: not counted.
  EXPECT_EQ(change("PUT", "/v1/config/checks/flag", R"({ "value": )"), 400);
  EXPECT_EQ(change("PUT", "/v1/config/checks/bad", R"({ "value": { "type": "file" } })"), 422);
  EXPECT_EQ(change("DELETE", "/v1/config/checks/nope", ""), 404);
  EXPECT_EQ(change("PUT", "/v1/config/checks/flag?if_generation=1", R"({ "value": { "type": "file", "path": "x" } })"), 409);
  EXPECT_EQ(change("POST", "/v1/config/changes",
                   R"({ "op": "insert", "kind": "check", "id": "flag", "value": { "type": "file", "path": "x" } })"),
            409);
  EXPECT_EQ(change("DELETE", "/v1/config/checks/flag", "", "bob-0123456789abcdef01"), 403);
  const Exposition m2 = scrape_until([&](const Exposition& e) { return counts(e) == Counts{1, 3, 2}; });
  EXPECT_EQ(counts(m2), (Counts{1, 3, 2}));
  EXPECT_EQ(m2.get("pharos_config_generation"), 2);
  EXPECT_EQ(m2.get("pharos_config_change_last_timestamp_seconds"), m1.get("pharos_config_change_last_timestamp_seconds"));
  EXPECT_EQ(udp("ns1.t.example", 1).rcode, 0);
}

TEST_F(PharosdMetrics, PublicByDefaultAWrongTokenIsRefused) {
  ASSERT_TRUE(start());
  EXPECT_EQ(get().status, 200);
  EXPECT_EQ(get("bob-0123456789abcdef01").status, 200);
  EXPECT_EQ(get("nobody-0123456789abcdef").status, 401);
  EXPECT_EQ(get().status, 200);
}

TEST_F(PharosdMetrics, NotPublicNeedsAReadToken) {
  write_config(", \"public\": false");
  ASSERT_TRUE(start());
  const HttpResult anonymous = get();
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.body.find("error"), std::string::npos);
  const HttpResult bob = get("bob-0123456789abcdef01");
  EXPECT_EQ(bob.status, 200);
  EXPECT_TRUE(parse_prometheus(bob.body).ok());
}

}  // namespace
}  // namespace pharos::test
