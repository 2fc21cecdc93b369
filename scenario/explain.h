// explain.h: why a GTM record answers what it answers, and how fast it can move.
//
// An explanation walks the record's chain in the client region's order and says, for every entry
// above the one serving, what keeps it out (maintenance, a DC status, the false terms of its
// scenario, an onlyNew hold), down to the checks with their state, cause and time of change.
//
// The effective RTO of a record (DOMAIN.md §5) is the worst case over its chain of
//   interval × requiredFailure + timeout   (of the slowest check an entry depends on)
//   + debounce + the record's TTL (clients keep the old answer that long).
//
//   Rto r = record_rto(record, health.state(), gtm.scenarios, debounce);
//   std::optional<Explanation> e = gtm.explain("www.example.com./A", region, health.state());
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "health/health_state.h"
#include "scenario/model.h"
#include "scenario/selection.h"

namespace pharos::scenario {

struct Rto {
  Millis detection{0};       // slowest failure detection over the chain's checks
  Millis debounce{0};
  std::uint32_t ttl_s = 0;
  std::string slowest_check; // the check behind `detection` ("" when the chain has none)
  Millis total() const { return detection + debounce + std::chrono::seconds(ttl_s); }
};

// Worst-case time for a check to be declared down: interval × requiredFailure + timeout. An
// automatic dimension check ("auto|dc1|wanAccess") counts its slowest target; a maintenance
// check, an unknown ID or an unprobed one counts 0.
Millis detection_time(const std::string& check_id, const health::HealthState& health, std::string* slowest = nullptr);

// Over every chain entry: its scenario's checks, or (without a scenario) every dimension of its DC.
Rto record_rto(const GtmRecord& record, const health::HealthState& health,
               const std::map<std::string, ScenarioSpec>& scenarios, Millis debounce);

// A check that matters to the explanation.
struct CheckWhy {
  std::string id;
  health::State state = health::State::kUnknown;  // effective
  bool forced = false;
  SystemTime since{};
  std::string reason;
};

struct EntryWhy {
  int index = -1;                  // chain index
  std::string dc;
  std::string scenario;            // "" when the entry follows its DC's status
  bool healthy = false;
  bool serving = false;
  bool held = false;               // onlyNew: back after a long outage, waiting for an operator
  std::string why;                 // one line: what keeps it out, or why it serves
  std::vector<CheckWhy> checks;    // the checks that make it unhealthy
};

struct Explanation {
  std::string record;              // key: "www.example.com./A"
  std::string region;              // "" for no region
  Selection selection;             // source, entry, rdata, reason
  std::string dc;                  // the serving entry's DC ("" when not a chain entry)
  std::string scenario;            // the serving entry's scenario
  SystemTime since{};
  std::vector<EntryWhy> entries;   // in the region's order; entries the region does not use are left out
  Rto rto;
};

// Fills `why` and `checks` of an entry whose index, healthy, serving and held are set: what keeps
// it out of the answer (maintenance, its DC's status, its scenario's unmet terms, a hold), or why
// it answers.
void describe_entry(EntryWhy& entry, const GtmRecord& record, const health::HealthState& health,
                    const std::map<std::string, ScenarioSpec>& scenarios);

// "2026-11-23T10:00:00.123Z"; "" for the zero time (never).
std::string rfc3339(SystemTime t);

}  // namespace pharos::scenario
