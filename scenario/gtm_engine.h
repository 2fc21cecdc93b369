// gtm_engine.h: the decision pipeline from health to DNS answers. Health changes mark only the
// records whose scenarios or data centers they touch; after the debounce (0 = at once) those
// records are selected again per region, and when an answer moved the new choices are published
// to the DNS workers. Operator actions apply at once. Runs on the control loop.
//
//   GtmEngine gtm(loop, [&](auto&& c) { server.publish_choices(std::move(c)); });
//   auto choices = gtm.apply(config.gtm, table.region_count(), health.state());  // before publishing
//   health.subscribe([&](const health::Changes& c) { gtm.on_health(c, health.state()); });
//
// Across a restart: save() what selection remembers; on start, restore(saved) before the first
// apply() so that apply selects from the saved memory instead of from scratch.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dns/dynamic.h"
#include "health/health_state.h"
#include "scenario/explain.h"
#include "scenario/model.h"
#include "scenario/selection.h"
#include "scenario/window_timer.h"

namespace pharos::scenario {

// One answer change, for the log and the audit journal.
struct AnswerChange {
  std::string record;        // "www.example.com./A"
  std::string region;        // "" for clients in no region
  std::string from;          // "entry 0 (dc1)", "dr", "fallback", "nodata", ...
  std::string to;
  std::string reason;
  SystemTime at{};
};

// What of the pipeline survives a restart (scenario/state_file.h writes it).
struct SavedScenario {
  std::string name;
  std::string formula;                 // scenario_formula(): a changed formula is not restored
  bool value = false;                  // settled
  bool operator==(const SavedScenario&) const = default;
};

struct SavedRegion {
  std::string region;                  // "" for clients in no region
  SelectionMemory memory;
  bool operator==(const SavedRegion&) const = default;
};

struct SavedRecord {
  std::string key;                     // GtmRecord::key()
  std::vector<std::string> chain;      // its chain's DCs: memory is by chain index
  std::vector<SavedRegion> regions;    // regions selected at least once
  bool operator==(const SavedRecord&) const = default;
};

struct SavedGtm {
  std::vector<SavedScenario> scenarios;       // known ones
  std::map<std::string, bool> dc_ok;          // settled "status ok", known DCs
  std::vector<SavedRecord> records;
  bool operator==(const SavedGtm&) const = default;
};

// "a&!b|c": a scenario's groups as text, to tell whether a saved value is about the same formula.
std::string scenario_formula(const ScenarioSpec& scenario);

class GtmEngine {
 public:
  using Publish = std::function<void(std::unique_ptr<const dns::DynamicChoices>&&)>;
  using Audit = std::function<void(const AnswerChange&)>;
  using WallClock = std::function<SystemTime()>;

  GtmEngine(uv_loop_t* loop, Publish publish, WallClock wall = [] { return std::chrono::system_clock::now(); });
  ~GtmEngine();
  GtmEngine(const GtmEngine&) = delete;
  GtmEngine& operator=(const GtmEngine&) = delete;

  void on_audit(Audit audit) { audit_ = std::move(audit); }
  void set_debounce(Millis debounce) { debounce_ = debounce; }

  // A new configuration, for a table whose slots are gtm.records in order and which has
  // `regions` regions (including region 0). Records whose key and chain are unchanged keep their
  // selection memory. Returns the choices to install in that table before publishing it.
  std::unique_ptr<dns::DynamicChoices> apply(const GtmConfig& gtm, std::size_t regions,
                                             const health::HealthState& health);

  // Health moved: re-select the records that depend on what changed, after the debounce.
  void on_health(const health::Changes& changes, const health::HealthState& health);

  // Called after every selection round (after a debounce, an operator's resume): selection
  // memory may have moved even when no answer did.
  void on_selection(std::function<void()> f) { on_selection_ = std::move(f); }

  SavedGtm save() const;
  // Saved memory for the next apply() (call it before the first one): records whose key and
  // chain DCs match, and regions whose names match, select from it; scenario values and DC states
  // whose formula or DC is unchanged are the starting point of stuck-state protection.
  void restore(SavedGtm&& saved) { saved_ = std::move(saved); }
  std::size_t restored_records() const { return restored_records_; }

  // Operator: resume held onlyNew entries of `dc` for the record `key` (every region). Applies
  // at once. False if nothing was held.
  bool resume(const std::string& key, const std::string& dc);

  struct RegionView {
    std::string region;
    Selection selection;
    SystemTime since{};
  };
  struct RecordView {
    const GtmRecord* record = nullptr;
    std::vector<RegionView> regions;
  };
  std::vector<RecordView> view() const;
  struct ScenarioView {
    std::string name;
    std::string formula;   // scenario_formula()
    bool value = false;    // settled: what entries use
    bool known = false;    // has had a known result at least once
  };
  std::vector<ScenarioView> scenarios() const;
  // Operator actions apply at once: selects the records a health change marked, now, without
  // waiting for the debounce window (which then has nothing left to do).
  void flush_now(const std::string& cause);
  // Why the record `key` answers what it does in `region` (a table region index; 0 = no region),
  // with its effective RTO. nullopt for an unknown record or region.
  std::optional<Explanation> explain(const std::string& key, std::size_t region, const health::HealthState& health) const;
  std::optional<std::size_t> record_index(const std::string& key) const;
  const GtmConfig& config() const { return gtm_; }
  const std::vector<std::string>& region_names() const { return region_names_; }  // [0] = ""
  Millis debounce() const { return debounce_; }
  std::uint64_t publishes() const { return publishes_; }
  bool pending() const { return !dirty_.empty(); }

  // Closes the debounce timer; run the loop afterwards.
  void stop();

 private:
  struct RecordState {
    std::vector<std::vector<int>> order;        // per region: chain indexes in preference order
    std::vector<SelectionMemory> memory;        // per region
    std::vector<Selection> current;             // per region
    std::vector<SystemTime> since;              // per region
    std::vector<bool> selected;                 // per region: selected at least once
  };

  void refresh_inputs(const health::HealthState& health, const health::Changes* changes);
  bool entry_healthy(const GtmRecord& r, const ChainEntry& e) const;
  bool entry_known(const ChainEntry& e) const;
  // Selects record i in every region; returns true if an answer changed.
  bool select_record(std::size_t i, SystemTime now, const std::string& cause);
  void flush(const std::string& cause);
  void publish();
  std::uint32_t choice_of(const GtmRecord& r, const Selection& s) const;
  std::string describe(const GtmRecord& r, const Selection& s) const;
  void apply_saved(const SavedGtm& saved);

  uv_loop_t* loop_;
  Publish publish_;
  WallClock wall_;
  Audit audit_;
  std::function<void()> on_selection_;
  std::optional<SavedGtm> saved_;
  std::size_t restored_records_ = 0;
  Millis debounce_{3000};
  WindowTimer window_;                           // the debounce

  GtmConfig gtm_;
  std::size_t regions_ = 1;
  std::vector<std::string> region_names_;        // by region index; [0] = ""
  std::vector<RecordState> state_;               // by record index
  std::map<std::string, std::size_t> index_;     // record key -> index
  std::vector<std::uint32_t> choices_;           // [record * regions + region]
  std::map<std::string, bool> scenario_value_;   // settled (stuck-state protected)
  std::set<std::string> scenario_known_;
  std::map<std::string, bool> dc_ok_;            // settled: status ok
  std::map<std::string, bool> dc_maintenance_;
  std::set<std::string> dc_known_;
  std::map<std::string, std::set<std::string>> check_scenarios_;   // check ID -> scenarios using it
  std::map<std::string, std::set<std::size_t>> scenario_records_;  // scenario -> records
  std::map<std::string, std::set<std::size_t>> dc_records_;        // DC -> records
  std::set<std::size_t> dirty_;
  std::uint64_t publishes_ = 0;
};

}  // namespace pharos::scenario
