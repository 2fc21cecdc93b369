// probe_test_support.h: running probers on a real libuv loop in tests: a loop that must end with
// every handle closed, a recorder for probe callbacks, and a Resolver for IP literals (the c-ares
// resolver is tested on its own).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "health/check.h"
#include "health/prober.h"
#include "health/resolver.h"

namespace pharos::test {

using health::Millis;

class TestLoop {
 public:
  TestLoop();
  // Drains the loop (bounded) and fails the test if a handle is left: a probe that leaks a handle
  // or never frees its state shows up here (and under ASan as a leak).
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }
  // Runs the loop until pred() holds or `bound` of wall time has passed; returns pred().
  bool run_until(const std::function<bool()>& pred, Millis bound = Millis{5000});
  // Runs the loop for `duration`.
  void run_for(Millis duration);
  // Runs the loop until no handle is active (bounded); true if it got there.
  bool drain(Millis bound = Millis{5000});

 private:
  uv_loop_t loop_{};
};

struct ProbeRecord {
  int calls = 0;
  bool called_inside_start = false;
  health::ProbeResult result;
};

// Starts a probe whose callback fills the returned record.
std::shared_ptr<ProbeRecord> start_probe(health::Prober& prober);
// start_probe, then runs the loop until the callback or `bound`.
std::shared_ptr<ProbeRecord> probe_once(TestLoop& loop, health::Prober& prober, Millis bound = Millis{5000});

// Answers IP literals on the next loop iteration; or fails every request; or never answers.
class LiteralResolver final : public health::Resolver {
 public:
  enum class Mode { kAnswer, kFail, kHang };
  struct Counters {
    int requests = 0;
    int delivered = 0;
    int cancelled = 0;       // tokens dropped before an answer
    int tokens_alive = 0;
  };

  explicit LiteralResolver(uv_loop_t* loop, Mode mode = Mode::kAnswer);
  std::shared_ptr<void> resolve(const std::string& host, std::uint16_t port, int family, Done done) override;
  const Counters& counters() const { return *counters_; }
  int last_family() const { return last_family_; }

 private:
  uv_loop_t* loop_;
  Mode mode_;
  int last_family_ = -1;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` atomically (rename), as a state-writing program should.
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// A spec for `params` (its type set to match) with the given timeout.
health::CheckSpec spec_with(health::CheckParams params, Millis timeout = Millis{2000});

}  // namespace pharos::test
