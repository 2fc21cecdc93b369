// engine_test.cc: scheduling on a real libuv loop with scripted probers: results reach the
// verdict table, identical checks share one probe, a hung probe never stacks nor delays others,
// reload keeps and stops the right probers.
#include "health/engine.h"

#include <gtest/gtest.h>

#include <map>

namespace pharos::health {
namespace {

using std::chrono::milliseconds;

// A prober whose answers the test scripts: each probe answers after `delay_ms` with `up`, or never
// (hang) until cancelled.
struct Script {
  bool up = true;
  std::uint64_t delay_ms = 1;
  bool hang = false;
  int started = 0;
  int cancelled = 0;
  int in_flight = 0;
  int max_in_flight = 0;
};

class FakeProber : public Prober {
 public:
  FakeProber(uv_loop_t* loop, Script& s) : script_(s) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
  }
  ~FakeProber() override {
    cancel();
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  void start(ProbeCallback done) override {
    ++script_.started;
    script_.max_in_flight = std::max(script_.max_in_flight, ++script_.in_flight);
    done_ = std::move(done);
    if (script_.hang) return;
    uv_timer_start(
        timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<FakeProber*>(t->data);
          --self->script_.in_flight;
          auto finish = std::move(self->done_);
          self->done_ = nullptr;
          finish(ProbeResult{self->script_.up, self->script_.up ? "" : "scripted failure", {}});
        },
        script_.delay_ms, 0);
  }
  void cancel() override {
    if (!done_) return;
    ++script_.cancelled;
    --script_.in_flight;
    done_ = nullptr;
    uv_timer_stop(timer_);
  }

 private:
  Script& script_;
  uv_timer_t* timer_;
  ProbeCallback done_;
};

class FakeFactory : public ProberFactory {
 public:
  explicit FakeFactory(uv_loop_t* loop) : loop_(loop) {}
  std::unique_ptr<Prober> make(const CheckSpec& spec, std::string& error) override {
    ++made;
    const auto& p = std::get<TcpParams>(spec.params);
    if (p.host == "unprobeable") {
      error = "no such thing";
      return nullptr;
    }
    return std::make_unique<FakeProber>(loop_, scripts[p.port]);
  }
  std::map<std::uint16_t, Script> scripts;  // by port
  int made = 0;

 private:
  uv_loop_t* loop_;
};

CheckSpec spec(std::uint16_t port, std::int64_t interval_ms, std::int64_t timeout_ms = 5,
               const char* host = "127.0.0.1") {
  CheckSpec s;
  s.type = CheckType::kTcp;
  s.params = TcpParams{host, port, "", ""};
  s.interval = milliseconds(interval_ms);
  s.timeout = milliseconds(timeout_ms);
  s.thresholds = {1, 1};
  return s;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    engine_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  // Runs the loop for about `ms` milliseconds of loop time.
  void run_for(std::uint64_t ms) {
    uv_timer_t stop;
    uv_timer_init(&loop_, &stop);
    uv_timer_start(&stop, [](uv_timer_t* t) { uv_stop(t->loop); }, ms, 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  HealthEngine& make_engine() {
    engine_ = std::make_unique<HealthEngine>(&loop_, factory_);
    engine_->subscribe([this](const Changes& c) {
      for (const auto& v : c.checks) changes_.push_back(v.id + ":" + to_string(v.to));
    });
    return *engine_;
  }

  uv_loop_t loop_;
  FakeFactory factory_{&loop_};
  std::unique_ptr<HealthEngine> engine_;
  std::vector<std::string> changes_;
};

TEST_F(EngineTest, ProbesOnScheduleAndReportsChanges) {
  HealthEngine& e = make_engine();
  HealthConfig c;
  c.checks["web1"] = spec(1, 20);
  e.apply(c);
  run_for(210);
  // Interval 20 ms for ~210 ms: about 10 probes (first at a random point of the first interval).
  EXPECT_GE(factory_.scripts[1].started, 7);
  EXPECT_LE(factory_.scripts[1].started, 12);
  EXPECT_EQ(e.state().effective("web1"), State::kUp);
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_.front(), "web1:up");
  factory_.scripts[1].up = false;
  run_for(60);
  EXPECT_EQ(e.state().effective("web1"), State::kDown);
  EXPECT_EQ(changes_.back(), "web1:down");
  EXPECT_EQ(e.state().check("web1")->recent.back().reason, "scripted failure");
}

TEST_F(EngineTest, IdenticalChecksShareOneProbe) {
  HealthEngine& e = make_engine();
  HealthConfig c;
  c.checks["a"] = spec(2, 20);
  c.checks["b"] = spec(2, 20);
  c.checks["b"].thresholds = {3, 3};  // thresholds are per check, the probe is shared
  e.apply(c);
  run_for(100);
  EXPECT_EQ(factory_.made, 1);
  EXPECT_EQ(e.prober_count(), 1u);
  EXPECT_EQ(e.state().check("a")->probes, e.state().check("b")->probes);
  EXPECT_GT(e.state().check("a")->probes, 0u);
}

TEST_F(EngineTest, NeverStacksProbesOnAHungTargetAndOthersKeepTheirRate) {
  HealthEngine& e = make_engine();
  factory_.scripts[3].hang = true;  // breaks the contract on purpose: never answers
  HealthConfig c;
  c.checks["hung"] = spec(3, 10);
  c.checks["fine"] = spec(4, 10);
  e.apply(c);
  run_for(205);
  EXPECT_EQ(factory_.scripts[3].started, 1);
  EXPECT_EQ(factory_.scripts[3].max_in_flight, 1);
  EXPECT_GT(e.stats().skipped, 10u);
  EXPECT_GE(factory_.scripts[4].started, 15);  // ~20 expected at 10 ms
  // The hung probe started within the first 10 ms and is far past 2 x its 5 ms timeout.
  EXPECT_GT(e.watchdog_age().count(), 100);
}

TEST_F(EngineTest, ReloadStopsRemovedProbesAndKeepsUnchangedState) {
  HealthEngine& e = make_engine();
  HealthConfig c;
  c.checks["keep"] = spec(5, 10);
  c.checks["drop"] = spec(6, 10);
  factory_.scripts[6].delay_ms = 8;
  e.apply(c);
  run_for(100);
  const auto probes = e.state().check("keep")->probes;
  ASSERT_GT(probes, 0u);
  c.checks.erase("drop");
  e.apply(c);
  const int dropped_before = factory_.scripts[6].started;
  run_for(50);
  EXPECT_EQ(factory_.scripts[6].started, dropped_before);
  EXPECT_EQ(factory_.scripts[6].in_flight, 0);
  EXPECT_EQ(factory_.made, 2);  // "keep" was not rebuilt
  EXPECT_GT(e.state().check("keep")->probes, probes);
  EXPECT_EQ(e.state().check("drop"), nullptr);
}

TEST_F(EngineTest, UnprobeableCheckIsDownWithTheReason) {
  HealthEngine& e = make_engine();
  HealthConfig c;
  c.checks["x"] = spec(7, 10, 5, "unprobeable");
  e.apply(c);
  EXPECT_EQ(e.state().effective("x"), State::kDown);
  EXPECT_EQ(e.state().check("x")->recent.back().reason, "no such thing");
  EXPECT_EQ(e.stats().unprobeable, 1u);
}

TEST_F(EngineTest, ForceAndMaintenanceReachSubscribers) {
  HealthEngine& e = make_engine();
  HealthConfig c;
  c.checks["web1"] = spec(8, 10);
  DcSpec dc;
  dc.name = "dc1";
  c.datacenters.push_back(dc);
  std::vector<std::string> dcs;
  e.subscribe([&dcs](const Changes& ch) {
    for (const auto& d : ch.datacenters) dcs.push_back(d.dc + ":" + to_string(d.to));
  });
  e.apply(c);
  EXPECT_TRUE(e.force("web1", State::kDown));
  EXPECT_EQ(changes_.back(), "web1:down");
  EXPECT_TRUE(e.set_maintenance("dc1", true));
  EXPECT_EQ(dcs.back(), "dc1:maintenance");
  EXPECT_FALSE(e.force("nope", State::kUp));
}

TEST_F(EngineTest, MaintenanceExpiryFollowsTheWallClockAndItsTimerFires) {
  SystemTime wall = SystemTime{} + std::chrono::hours(1000);
  engine_ = std::make_unique<HealthEngine>(&loop_, factory_, [&wall] { return wall; });
  HealthEngine& e = *engine_;
  HealthConfig c;
  DcSpec dc;
  dc.name = "dc1";
  c.datacenters.push_back(dc);
  std::vector<std::string> dcs;
  int actions = 0;
  e.subscribe([&dcs](const Changes& ch) {
    for (const auto& d : ch.datacenters) dcs.push_back(d.dc + ":" + to_string(d.to) + ":" + d.reason);
  });
  e.on_operator_action([&actions] { ++actions; });
  e.apply(c);
  EXPECT_FALSE(e.expiry_timer_due());

  ASSERT_TRUE(e.set_maintenance("dc1", true, wall + std::chrono::hours(2), "alice"));
  EXPECT_EQ(dcs.back(), "dc1:maintenance:maintenance mode on by alice");
  EXPECT_EQ(e.expiry_timer_due(), milliseconds(60'000));  // re-reads the clock at least once a minute

  wall += std::chrono::hours(2) - std::chrono::seconds(10);
  e.expire_maintenance();
  EXPECT_EQ(e.state().datacenter("dc1")->status, DcStatus::kMaintenance);
  EXPECT_EQ(e.expiry_timer_due(), milliseconds(10'000));

  // The clock passes the expiry: the timer, re-armed for 0 ms, ends the maintenance on the loop.
  wall += std::chrono::seconds(10);
  e.expire_maintenance();
  EXPECT_NE(e.state().datacenter("dc1")->status, DcStatus::kMaintenance);
  EXPECT_EQ(dcs.back().substr(0, 4), "dc1:");
  EXPECT_NE(dcs.back().find("maintenance mode expired"), std::string::npos);
  EXPECT_FALSE(e.expiry_timer_due());
  EXPECT_EQ(actions, 2);  // set and expired: both must reach the state file

  ASSERT_TRUE(e.set_maintenance("dc1", true, wall, "bob"));  // due now
  EXPECT_EQ(e.expiry_timer_due(), milliseconds(0));
  run_for(20);
  EXPECT_NE(e.state().datacenter("dc1")->status, DcStatus::kMaintenance);
  EXPECT_FALSE(e.expiry_timer_due());
}

TEST_F(EngineTest, StopCancelsInFlightProbes) {
  HealthEngine& e = make_engine();
  factory_.scripts[9].hang = true;
  HealthConfig c;
  c.checks["h"] = spec(9, 5);
  e.apply(c);
  run_for(30);
  ASSERT_EQ(factory_.scripts[9].in_flight, 1);
  e.stop();
  EXPECT_EQ(factory_.scripts[9].cancelled, 1);
  EXPECT_EQ(factory_.scripts[9].in_flight, 0);
}

}  // namespace
}  // namespace pharos::health
