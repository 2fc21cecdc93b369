// pharosd_gtm_test.cc: GTM answers of the real pharosd following real TCP targets that the test
// opens and closes, checked with real DNS queries: chain failover to DR and fail-safe records and
// back, maintenance cutover, onlyNew holds, ECS geo steering, all-down policies, a broken reload,
// and NODATA / NXDOMAIN around GTM names.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "tests/app/pharosd_harness.h"

namespace pharos::test {
namespace {

constexpr std::uint16_t kTypeA = 1, kTypeTxt = 16, kTypeAaaa = 28;
constexpr int kNoError = 0, kServFail = 2, kNxDomain = 3, kRefused = 5;

// Each DC answers with its own address; DR and fail-safe records have theirs.
const std::string kDc1 = "192.0.2.1", kDc2 = "192.0.2.2", kDc3 = "192.0.2.3";
const std::string kDr = "203.0.113.1", kFallback = "203.0.113.99";

// The probes of every DC: a failure or a success moves the DC at the next probe, 100 ms apart.
constexpr const char* kProbing =
    R"("accessPeriod": "100ms", "timeout": "50ms", "requiredSuccess": 1, "requiredFailure": 1)";

// debounce 0: a verdict change is published at once, so a test waits for probes, not a timer.
constexpr const char* kConfig = R"({ "listen": ["127.0.0.1:0"], "workers": 1, "debounce": 0,
  "zones": [ { "name": "t.example.", "file": "t.zone" } ], "scenarios": [ "gtm.json" ] })";
constexpr const char* kZone =
    "$ORIGIN t.example.\n@ 60 IN SOA ns1 host 1 2 3 4 5\n@ 60 IN NS ns1\nns1 60 IN A 192.0.2.53\n";

std::string entry(int index, const std::string& dc) { return "entry " + std::to_string(index) + " (" + dc + ")"; }

// The "answer changed" log line of one record and region, as logfmt writes it (values with spaces
// are quoted).
std::string changed(const std::string& record, const std::string& from, const std::string& to,
                    const std::string& region = "-") {
  auto value = [](const std::string& v) { return v.find(' ') == std::string::npos ? v : "\"" + v + "\""; };
  return "msg=\"answer changed\" record=" + record + " region=" + region + " from=" + value(from) +
         " to=" + value(to) + " reason=";
}

std::string dc_status(const std::string& dc, const std::string& from, const std::string& to) {
  return "dc=" + dc + " from=" + from + " to=" + to;
}

// What a response says, beyond dns_client's Parsed: the authority section's types and the ECS
// scope prefix (-1 without a Client Subnet option).
struct Reply {
  Parsed p;
  std::vector<std::string> authority;
  int ecs_scope = -1;

  bool nodata() const {
    return p.ok && p.rcode == kNoError && p.answers == 0 && authority == std::vector<std::string>{"SOA"};
  }
  std::string text() const {
    std::string out = "rcode=" + std::to_string(p.rcode) + " answers=" + std::to_string(p.answers) + " [";
    for (const auto& a : p.addresses) out += a + " ";
    out += "] authority=[";
    for (const auto& t : authority) out += t + " ";
    return out + "] ecs_scope=" + std::to_string(ecs_scope);
  }
};

Reply parse_reply(const Bytes& wire) {
  Reply r;
  r.p = parse_response(wire);
  ldns_pkt* raw = nullptr;
  if (!r.p.ok || ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) return r;
  std::unique_ptr<ldns_pkt, PktDeleter> pkt(raw);
  const ldns_rr_list* ns = ldns_pkt_authority(raw);
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(ns); ++i) {
    char* t = ldns_rr_type2str(ldns_rr_get_type(ldns_rr_list_rr(ns, i)));
    r.authority.push_back(t != nullptr ? t : "?");
    free(t);  // NOLINT: ldns allocates with malloc
  }
  // OPT RDATA: options as code(2) length(2) data; Client Subnet (8) is family(2) source(1) scope(1).
  if (const ldns_rdf* opt = ldns_pkt_edns_data(raw)) {
    const std::uint8_t* d = ldns_rdf_data(opt);
    const std::size_t n = ldns_rdf_size(opt);
    for (std::size_t at = 0; at + 4 <= n;) {
      const int code = (d[at] << 8) | d[at + 1];
      const std::size_t len = static_cast<std::size_t>((d[at + 2] << 8) | d[at + 3]);
      if (code == 8 && len >= 4 && at + 4 + len <= n) r.ecs_scope = d[at + 7];
      at += 4 + len;
    }
  }
  return r;
}

// Adds an RFC 7871 Client Subnet option ("10.2.3.0/24") to a query from make_query, whose OPT
// record comes last with an empty RDATA.
Bytes with_client_subnet(Bytes q, const std::string& subnet) {
  const auto slash = subnet.find('/');
  const int prefix = std::stoi(subnet.substr(slash + 1));
  in_addr a{};
  inet_pton(AF_INET, subnet.substr(0, slash).c_str(), &a);
  const auto* address = reinterpret_cast<const std::uint8_t*>(&a);
  const auto octets = static_cast<std::uint8_t>((prefix + 7) / 8);
  Bytes option = {0, 8, 0, static_cast<std::uint8_t>(4 + octets), 0, 1, static_cast<std::uint8_t>(prefix), 0};
  option.insert(option.end(), address, address + octets);
  q[q.size() - 1] = static_cast<std::uint8_t>(option.size());  // OPT RDLENGTH (< 256 here)
  q.insert(q.end(), option.begin(), option.end());
  return q;
}

// pharosd with dc1..dcN, each probing one TCP target of its own, and GTM records in gtm.json.
class GtmServer {
 public:
  explicit GtmServer(int dcs) {
    for (int i = 0; i < dcs; ++i) targets_.push_back(std::make_unique<Target>());
  }
  Target& target(int dc) { return *targets_[static_cast<std::size_t>(dc - 1)]; }
  const TempDir& dir() const { return dir_; }

  // The DCs (those in `maintenance` with maintenanceMode on), then `gtm_keys`: the "scenarios",
  // "regions" and "records" members as JSON text.
  void write_scenarios(const std::string& gtm_keys, const std::set<int>& maintenance = {}) {
    std::string dcs;
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      const int dc = static_cast<int>(i + 1);
      dcs += std::string(i == 0 ? "" : ",\n") + "\"dc" + std::to_string(dc) + "\": { " + kProbing +
             ", \"maintenanceMode\": " + (maintenance.count(dc) ? "true" : "false") +
             ", \"access\": [ { \"type\": \"tcp\", \"target\": \"127.0.0.1:" + std::to_string(targets_[i]->port()) +
             "\" } ] }";
    }
    dir_.write("gtm.json", "{ \"datacenters\": {\n" + dcs + "\n},\n" + gtm_keys + "\n}\n");
  }

  // Starts pharosd, waits until every DC is ok, then passes a log barrier: from here on the log
  // holds only what the test caused.
  ::testing::AssertionResult start() {
    dir_.write("t.zone", kZone);
    dir_.write("p.json", kConfig);
    daemon_ = std::make_unique<Daemon>(dir_.file("p.json"));
    if (!daemon_->wait_for("health checks started")) return ::testing::AssertionFailure() << log();
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (!daemon_->wait_for(dc_status("dc" + std::to_string(i + 1), "unknown", "ok")))
        return ::testing::AssertionFailure() << log();
    }
    port_ = daemon_->udp_port();
    if (port_ == 0 || !barrier()) return ::testing::AssertionFailure() << log();
    start_mark_ = mark_ = log().size();
    return ::testing::AssertionSuccess();
  }

  // A reload of unchanged files, as a barrier: an answer change is logged in the same control-loop
  // turn as the health change that caused it, so once "reloaded" is in the log, every line caused
  // before the SIGHUP is too.
  bool barrier() {
    const int before = daemon_->count("msg=\"reloaded\"");
    daemon_->signal(SIGHUP);
    return daemon_->wait_for("msg=\"reloaded\"", before + 1);
  }

  // Test actions: what they cause is awaited in the log written after them.
  void close(int dc) {
    mark_ = log().size();
    target(dc).close();
  }
  void reopen(int dc) {
    mark_ = log().size();
    target(dc).reopen();
  }
  void reload() {
    mark_ = log().size();
    daemon_->signal(SIGHUP);
  }
  // Waits (bounded) for `needle` in the log since the last action.
  bool wait(const std::string& needle) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (log().find(needle, mark_) == std::string::npos) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  // Occurrences of `needle` since start().
  int count(const std::string& needle) {
    const std::string l = log();
    int n = 0;
    for (auto at = l.find(needle, start_mark_); at != std::string::npos; at = l.find(needle, at + 1)) ++n;
    return n;
  }
  std::string log() { return daemon_->log(); }
  Daemon& daemon() { return *daemon_; }
  std::uint16_t port() const { return port_; }

  // One UDP query; `subnet` adds a Client Subnet option.
  Reply ask(const std::string& name, std::uint16_t qtype = kTypeA, const std::string& subnet = "") {
    const sockaddr_in to = loopback(port_);
    Socket s = udp_socket(reinterpret_cast<const sockaddr*>(&to), sizeof to);
    Bytes q = make_query(++id_, name, qtype);
    if (!subnet.empty()) q = with_client_subnet(std::move(q), subnet);
    const auto wire = udp_exchange(s.fd(), q);
    return wire ? parse_reply(*wire) : Reply{};
  }

  // The first reply that satisfies `done`, else the last one after a bounded time. The engine
  // logs an answer change just before it swaps the choices the workers read, so a query right
  // after the log line may still see the previous answer for a few microseconds.
  template <typename Done>
  Reply reply_when(const std::string& name, std::uint16_t qtype, const std::string& subnet, Done done) {
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    Reply r = ask(name, qtype, subnet);
    while (!done(r) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      r = ask(name, qtype, subnet);
    }
    return r;
  }
  Reply answer_when(const std::string& name, const std::set<std::string>& expected, const std::string& subnet = "") {
    return reply_when(name, kTypeA, subnet, [&](const Reply& r) { return r.p.addresses == expected; });
  }

  // Stops pharosd gracefully; the whole log is collected afterwards.
  int stop() {
    mark_ = log().size();
    daemon_->signal(SIGTERM);
    const int code = daemon_->wait_exit(10'000);
    wait("msg=\"stopped\"");
    return code;
  }

 private:
  TempDir dir_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
  std::uint16_t id_ = 0;
  std::size_t start_mark_ = 0;  // log offset after start()
  std::size_t mark_ = 0;        // log offset at the last action
};

std::string chain3() {
  return R"([ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 +
         R"("] }, { "dc": "dc3", "rdata": [")" + kDc3 + R"("] } ])";
}

// www: the chain, then DR while every DC's access is down. fb: the same chain without DR, so it
// reaches the fail-safe records.
std::string failover_records() {
  return R"("scenarios": { "all-down": [ ["auto|dc1|access!", "auto|dc2|access!", "auto|dc3|access!"] ] },
  "records": [
    { "name": "www.t.example.", "type": "A", "ttl": 30, "chain": )" + chain3() + R"(,
      "dr": { "rdata": [")" + kDr + R"("], "drCond": "all-down" }, "fallbackRecords": [")" + kFallback + R"("] },
    { "name": "fb.t.example.", "type": "A", "ttl": 30, "chain": )" + chain3() + R"(,
      "fallbackRecords": [")" + kFallback + R"("] } ])";
}

// Stuck-state protection at startup: dc1's entry depends on a check whose first result comes
// at least 300 ms after dc2's; until then the preferred entry keeps answering, with no flip to dc2
// and back.
TEST(PharosdGtm, StartupKeepsThePreferredEntryUntilItsFirstResult) {
  GtmServer s(2);
  s.write_scenarios(R"("checks": { "slow": { "type": "exec", "command": ["/bin/sh", "-c", "sleep 0.3"],
                                  "accessPeriod": "1s", "timeout": "900ms" } },
  "scenarios": { "dc1-serving": [ ["slow", "auto|dc1|access"] ] },
  "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "scenario": "dc1-serving", "rdata": [")" + kDc1 + R"("] },
                 { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ] } ])");
  ASSERT_TRUE(s.start());
  // dc2 is ok, dc1's entry still unknown (when "slow" has not answered yet): dc1 answers.
  if (s.daemon().count("check=slow from=unknown") == 0) {
    const Reply r = s.ask("www.t.example");
    EXPECT_EQ(r.p.addresses, std::set<std::string>{kDc1}) << r.text() << s.log();
  }
  ASSERT_TRUE(s.daemon().wait_for("check=slow from=unknown to=up")) << s.log();
  ASSERT_TRUE(s.barrier()) << s.log();
  EXPECT_EQ(s.daemon().count("msg=\"answer changed\""), 0) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.stop(), 0);
}

// An entry whose first result comes late was never down: onlyNew must not hold it as if it had
// come back from an outage longer than staleAfter.
TEST(PharosdGtm, StartupDoesNotHoldAnOnlyNewEntryThatWasNeverDown) {
  GtmServer s(2);
  s.write_scenarios(R"("checks": { "slow": { "type": "exec", "command": ["/bin/sh", "-c", "sleep 0.3"],
                                  "accessPeriod": "1s", "timeout": "900ms" } },
  "scenarios": { "dc1-serving": [ ["slow", "auto|dc1|access"] ] },
  "records": [ { "name": "www.t.example.", "type": "A", "ttl": 30, "backupBehavior": "onlyNew", "staleAfter": "100ms",
      "chain": [ { "dc": "dc1", "scenario": "dc1-serving", "rdata": [")" + kDc1 + R"("] },
                 { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ] } ])");
  ASSERT_TRUE(s.start());
  ASSERT_TRUE(s.daemon().wait_for("check=slow from=unknown to=up")) << s.log();
  ASSERT_TRUE(s.barrier()) << s.log();
  const Reply r = s.answer_when("www.t.example", {kDc1});
  EXPECT_EQ(r.p.addresses, std::set<std::string>{kDc1}) << r.text() << s.log();
  EXPECT_EQ(s.stop(), 0);
}

TEST(PharosdGtm, ChainFailsOverToDrAndFallbackAndComesBack) {
  GtmServer s(3);
  s.write_scenarios(failover_records());
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();
  EXPECT_EQ(s.answer_when("fb.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();

  // Down the chain, one DC at a time.
  const std::string www = "www.t.example./A", fb = "fb.t.example./A";
  s.close(1);
  ASSERT_TRUE(s.wait(changed(www, entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});
  EXPECT_EQ(s.answer_when("fb.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});

  s.close(2);
  ASSERT_TRUE(s.wait(changed(www, entry(1, "dc2"), entry(2, "dc3")))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, entry(1, "dc2"), entry(2, "dc3")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});
  EXPECT_EQ(s.answer_when("fb.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});

  // Every DC down: DR where its condition holds, the fail-safe records where there is no DR.
  s.close(3);
  ASSERT_TRUE(s.wait(changed(www, entry(2, "dc3"), "dr"))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, entry(2, "dc3"), "fallback"))) << s.log();
  EXPECT_NE(s.log().find("DR condition all-down is true"), std::string::npos) << s.log();
  const Reply dr = s.answer_when("www.t.example", {kDr});
  EXPECT_EQ(dr.p.rcode, kNoError);
  EXPECT_EQ(dr.p.addresses, std::set<std::string>{kDr}) << dr.text();
  EXPECT_EQ(s.answer_when("fb.t.example", {kFallback}).p.addresses, std::set<std::string>{kFallback});

  // And back up, the last one down first.
  s.reopen(3);
  ASSERT_TRUE(s.wait(changed(www, "dr", entry(2, "dc3")))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, "fallback", entry(2, "dc3")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});
  EXPECT_EQ(s.answer_when("fb.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});

  s.reopen(2);
  ASSERT_TRUE(s.wait(changed(www, entry(2, "dc3"), entry(1, "dc2")))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, entry(2, "dc3"), entry(1, "dc2")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});

  s.reopen(1);
  ASSERT_TRUE(s.wait(changed(www, entry(1, "dc2"), entry(0, "dc1")))) << s.log();
  ASSERT_TRUE(s.wait(changed(fb, entry(1, "dc2"), entry(0, "dc1")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.answer_when("fb.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.stop(), 0);
  // Each of the six steps moved each record exactly once.
  EXPECT_EQ(s.count("msg=\"answer changed\""), 12) << s.log();
}

std::string two_dc_record() {
  return R"("records": [ { "name": "www.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ] } ])";
}

TEST(PharosdGtm, MaintenanceModeMovesAHealthyDcOutAndBack) {
  GtmServer s(2);
  s.write_scenarios(two_dc_record());
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();

  s.write_scenarios(two_dc_record(), {1});
  s.reload();
  ASSERT_TRUE(s.wait(dc_status("dc1", "ok", "maintenance"))) << s.log();
  ASSERT_TRUE(s.wait(changed("www.t.example./A", entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});
  // dc1 itself stayed healthy all along.
  EXPECT_EQ(s.count("check=auto|dc1|access|0 from=up to=down"), 0) << s.log();

  s.write_scenarios(two_dc_record());
  s.reload();
  ASSERT_TRUE(s.wait(dc_status("dc1", "maintenance", "ok"))) << s.log();
  ASSERT_TRUE(s.wait(changed("www.t.example./A", entry(1, "dc2"), entry(0, "dc1")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.stop(), 0);
}

// a: dc1, dc2, dc3; b: dc1, dc3, dc2. Both onlyNew with a short staleAfter.
std::string only_new_records() {
  const std::string e1 = R"({ "dc": "dc1", "rdata": [")" + kDc1 + R"("] })";
  const std::string e2 = R"({ "dc": "dc2", "rdata": [")" + kDc2 + R"("] })";
  const std::string e3 = R"({ "dc": "dc3", "rdata": [")" + kDc3 + R"("] })";
  return R"("records": [
    { "name": "a.t.example.", "type": "A", "ttl": 30, "backupBehavior": "onlyNew", "staleAfter": "1s",
      "chain": [ )" + e1 + ", " + e2 + ", " + e3 + R"( ] },
    { "name": "b.t.example.", "type": "A", "ttl": 30, "backupBehavior": "onlyNew", "staleAfter": "1s",
      "chain": [ )" + e1 + ", " + e3 + ", " + e2 + R"( ] } ])";
}

TEST(PharosdGtm, OnlyNewHoldsADcBackFromALongOutageUntilTheServingOneFails) {
  GtmServer s(3);
  s.write_scenarios(only_new_records());
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.answer_when("a.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();
  EXPECT_EQ(s.answer_when("b.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();
  const std::string a = "a.t.example./A", b = "b.t.example./A";

  s.close(1);
  ASSERT_TRUE(s.wait(changed(a, entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  ASSERT_TRUE(s.wait(changed(b, entry(0, "dc1"), entry(1, "dc3")))) << s.log();
  // Nothing in the log marks staleAfter passing: this is the outage that makes dc1 "long" gone.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));

  // b moves to dc2 for a short dc3 outage, so that dc3 comes back by itself below.
  s.close(3);
  ASSERT_TRUE(s.wait(changed(b, entry(1, "dc3"), entry(2, "dc2")))) << s.log();

  // dc1 is back but held: a stays on dc2, b on dc2.
  s.reopen(1);
  ASSERT_TRUE(s.wait(dc_status("dc1", "noAccess", "ok"))) << s.log();
  // dc3 was down briefly: it answers again for b, above the held dc1's place, and says why dc1 does not.
  s.reopen(3);
  ASSERT_TRUE(s.wait(changed(b, entry(2, "dc2"), entry(1, "dc3")))) << s.log();
  EXPECT_NE(s.log().find("entry 1 (dc3) is the first healthy entry; entry 0 (dc1) is held (onlyNew) until an "
                         "operator resumes it"),
            std::string::npos)
      << s.log();
  // dc1's return was handled before dc3's (one control loop): a did not move.
  EXPECT_EQ(s.count(changed(a, entry(1, "dc2"), entry(0, "dc1"))), 0) << s.log();
  EXPECT_EQ(s.answer_when("a.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});
  EXPECT_EQ(s.answer_when("b.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});

  // a's serving DC fails: its held dc1 serves. b is not served by dc2 and keeps dc3 (dc1 held).
  s.close(2);
  ASSERT_TRUE(s.wait(changed(a, entry(1, "dc2"), entry(0, "dc1")))) << s.log();
  EXPECT_EQ(s.answer_when("a.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.answer_when("b.t.example", {kDc3}).p.addresses, std::set<std::string>{kDc3});
  EXPECT_EQ(s.stop(), 0);
  EXPECT_EQ(s.count("msg=\"answer changed\" record=" + b), 3) << s.log();
}

std::string geo_records() {
  return R"("regions": { "eu": ["10.1.0.0/16"], "us": ["10.2.0.0/16"] },
  "records": [ { "name": "geo.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] }, { "dc": "dc2", "rdata": [")" + kDc2 + R"("] } ],
      "geo": { "eu": ["dc1", "dc2"], "us": ["dc2", "dc1"] } } ])";
}

// dig's view, for a readable end-to-end check: its exit status and output.
std::string dig(std::uint16_t port, const std::string& args) {
  const std::string cmd = "dig @127.0.0.1 -p " + std::to_string(port) + " +time=2 +tries=1 " + args + " 2>&1";
  return run_shell(cmd).out;
}

TEST(PharosdGtm, ClientSubnetPicksTheRegionOrderAndFailsOverInsideIt) {
  GtmServer s(2);
  s.write_scenarios(geo_records());
  ASSERT_TRUE(s.start());

  const Reply us = s.answer_when("geo.t.example", {kDc2}, "10.2.3.0/24");
  EXPECT_EQ(us.p.addresses, std::set<std::string>{kDc2}) << us.text() << s.log();
  EXPECT_EQ(us.ecs_scope, 16) << us.text();
  const Reply eu = s.ask("geo.t.example", kTypeA, "10.1.3.0/24");
  EXPECT_EQ(eu.p.addresses, std::set<std::string>{kDc1}) << eu.text();
  EXPECT_EQ(eu.ecs_scope, 16) << eu.text();
  // No region: the chain as written, valid only for the client's own subnet.
  const Reply none = s.ask("geo.t.example", kTypeA, "10.9.3.0/24");
  EXPECT_EQ(none.p.addresses, std::set<std::string>{kDc1}) << none.text();
  EXPECT_EQ(none.ecs_scope, 24) << none.text();
  // Without ECS the source (127.0.0.1, in no region) decides, and no option comes back.
  const Reply source = s.ask("geo.t.example");
  EXPECT_EQ(source.p.addresses, std::set<std::string>{kDc1}) << source.text();
  EXPECT_EQ(source.ecs_scope, -1) << source.text();

  const std::string out = dig(s.port(), "+subnet=10.2.3.0/24 geo.t.example. A");
  EXPECT_NE(out.find("CLIENT-SUBNET: 10.2.3.0/24/16"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("geo\\.t\\.example\\.\\s+30\\s+IN\\s+A\\s+192\\.0\\.2\\.2"))) << out;

  // us fails over to dc1 inside its own order; eu and no-region clients saw no change.
  s.close(2);
  ASSERT_TRUE(s.wait(changed("geo.t.example./A", entry(1, "dc2"), entry(0, "dc1"), "us"))) << s.log();
  const Reply us_down = s.answer_when("geo.t.example", {kDc1}, "10.2.3.0/24");
  EXPECT_EQ(us_down.p.addresses, std::set<std::string>{kDc1}) << us_down.text();
  EXPECT_EQ(us_down.ecs_scope, 16) << us_down.text();
  EXPECT_EQ(s.ask("geo.t.example", kTypeA, "10.1.3.0/24").p.addresses, std::set<std::string>{kDc1});

  s.reopen(2);
  ASSERT_TRUE(s.wait(changed("geo.t.example./A", entry(0, "dc1"), entry(1, "dc2"), "us"))) << s.log();
  EXPECT_EQ(s.answer_when("geo.t.example", {kDc2}, "10.2.3.0/24").p.addresses, std::set<std::string>{kDc2});
  EXPECT_EQ(s.stop(), 0);
  EXPECT_EQ(s.count("msg=\"answer changed\""), 2) << s.log();
}

std::string all_down_records() {
  std::string out = R"("records": [)";
  const char* policies[][2] = {{"nd", "nodata"}, {"sf", "servfail"}, {"rf", "refused"}};
  for (const auto& [name, policy] : policies) {
    out += std::string(out.back() == '[' ? "" : ",") + R"( { "name": ")" + name +
           R"(.t.example.", "type": "A", "ttl": 30,
      "chain": [ { "dc": "dc1", "rdata": [")" + kDc1 + R"("] } ], "allDown": ")" + policy + R"(" })";
  }
  return out + " ]";
}

TEST(PharosdGtm, AllDownPoliciesAnswerNodataServfailRefused) {
  GtmServer s(1);
  s.write_scenarios(all_down_records());
  ASSERT_TRUE(s.start());
  for (const char* name : {"nd.t.example", "sf.t.example", "rf.t.example"})
    EXPECT_EQ(s.answer_when(name, {kDc1}).p.addresses, std::set<std::string>{kDc1}) << name << s.log();

  s.close(1);
  ASSERT_TRUE(s.wait(changed("nd.t.example./A", entry(0, "dc1"), "nodata"))) << s.log();
  ASSERT_TRUE(s.wait(changed("sf.t.example./A", entry(0, "dc1"), "servfail"))) << s.log();
  ASSERT_TRUE(s.wait(changed("rf.t.example./A", entry(0, "dc1"), "refused"))) << s.log();
  const Reply nd = s.reply_when("nd.t.example", kTypeA, "", [](const Reply& r) { return r.nodata(); });
  EXPECT_TRUE(nd.nodata()) << nd.text();
  EXPECT_TRUE(nd.p.aa) << nd.text();
  const Reply sf = s.reply_when("sf.t.example", kTypeA, "", [](const Reply& r) { return r.p.rcode == kServFail; });
  EXPECT_EQ(sf.p.rcode, kServFail) << sf.text();
  EXPECT_EQ(sf.p.answers, 0u) << sf.text();
  const Reply rf = s.reply_when("rf.t.example", kTypeA, "", [](const Reply& r) { return r.p.rcode == kRefused; });
  EXPECT_EQ(rf.p.rcode, kRefused) << rf.text();
  EXPECT_EQ(rf.p.answers, 0u) << rf.text();
  // The zone's static data is unaffected.
  EXPECT_EQ(s.ask("ns1.t.example").p.addresses, std::set<std::string>{"192.0.2.53"});

  s.reopen(1);
  ASSERT_TRUE(s.wait(changed("nd.t.example./A", "nodata", entry(0, "dc1")))) << s.log();
  ASSERT_TRUE(s.wait(changed("sf.t.example./A", "servfail", entry(0, "dc1")))) << s.log();
  ASSERT_TRUE(s.wait(changed("rf.t.example./A", "refused", entry(0, "dc1")))) << s.log();
  for (const char* name : {"nd.t.example", "sf.t.example", "rf.t.example"}) {
    const Reply r = s.answer_when(name, {kDc1});
    EXPECT_EQ(r.p.rcode, kNoError) << name << " " << r.text();
    EXPECT_EQ(r.p.addresses, std::set<std::string>{kDc1}) << name << " " << r.text();
  }
  EXPECT_EQ(s.stop(), 0);
}

TEST(PharosdGtm, BrokenScenarioFileOnReloadKeepsAnswersFollowingHealth) {
  GtmServer s(2);
  s.write_scenarios(two_dc_record());
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();

  std::string broken = two_dc_record();
  broken.replace(broken.find(kDc1), kDc1.size(), "999.1.1.1");
  s.write_scenarios(broken);
  s.reload();
  ASSERT_TRUE(s.wait("reload failed")) << s.log();
  EXPECT_NE(s.log().find(s.dir().file("gtm.json") + ": /records/0/chain/0/rdata/0"), std::string::npos) << s.log();
  EXPECT_EQ(s.ask("www.t.example").p.addresses, std::set<std::string>{kDc1});

  // The running records still follow health.
  s.close(1);
  ASSERT_TRUE(s.wait(changed("www.t.example./A", entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});
  s.reopen(1);
  ASSERT_TRUE(s.wait(changed("www.t.example./A", entry(1, "dc2"), entry(0, "dc1")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1});
  EXPECT_EQ(s.ask("ns1.t.example").p.addresses, std::set<std::string>{"192.0.2.53"});
  EXPECT_EQ(s.stop(), 0);
}

TEST(PharosdGtm, OtherTypesAtAGtmNameAreNodataAndASiblingIsNxdomain) {
  GtmServer s(2);
  s.write_scenarios(two_dc_record());
  ASSERT_TRUE(s.start());
  EXPECT_EQ(s.answer_when("www.t.example", {kDc1}).p.addresses, std::set<std::string>{kDc1}) << s.log();

  for (std::uint16_t qtype : {kTypeAaaa, kTypeTxt}) {
    const Reply r = s.ask("www.t.example", qtype);
    EXPECT_TRUE(r.nodata()) << "qtype " << qtype << ": " << r.text();
    EXPECT_TRUE(r.p.aa) << r.text();
  }
  const Reply nx = s.ask("nope.t.example");
  EXPECT_EQ(nx.p.rcode, kNxDomain) << nx.text();
  EXPECT_EQ(nx.authority, std::vector<std::string>{"SOA"}) << nx.text();

  // Still NODATA while the record answers from its second entry.
  s.close(1);
  ASSERT_TRUE(s.wait(changed("www.t.example./A", entry(0, "dc1"), entry(1, "dc2")))) << s.log();
  EXPECT_EQ(s.answer_when("www.t.example", {kDc2}).p.addresses, std::set<std::string>{kDc2});
  EXPECT_TRUE(s.ask("www.t.example", kTypeAaaa).nodata());
  EXPECT_EQ(s.stop(), 0);
}

}  // namespace
}  // namespace pharos::test
