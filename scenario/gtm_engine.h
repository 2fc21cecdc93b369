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
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/dynamic.h"
#include "health/health_state.h"
#include "scenario/explain.h"
#include "scenario/model.h"
#include "scenario/selection.h"
#include "scenario/window_timer.h"

namespace pharos::scenario {

// One answer change, for the log and the audit journal: views into the AnswerRound it comes from.
struct AnswerChange {
  std::string_view record;   // "www.example.com./A"
  std::string_view region;   // "" for clients in no region
  std::string_view from;     // "entry 0 (dc1)", "dr", "fallback", "nodata", ...
  std::string_view to;
  std::string_view reason;   // why it answers `to` now
  std::string_view cause;    // what started the round: "health change", "configuration", ...
  SystemTime at{};
  // "<reason> (<cause>)", as the log and the audit journal write it.
  std::string full_reason() const;
};

// The answer changes of one selection round, as the engine hands them over after it has
// published the new answers. A round owns its texts and shares the record and region names of
// its configuration (immutable), so it can go to another thread (the log writer, the audit
// journal's memory) and outlive a reload. The changes of the slots that share a unit share one
// set of texts: a verdict that moves 30,000 answers is 30,000 index triples and a few strings,
// so handing it over costs the control loop little after the publish.
//
// The changes come in groups: a group's changes are in one region and say the same (from, to,
// reason, cause, time); only the record differs. Groups are in the order of their first
// change's record, and a group's changes in record order. A DC failure that moves 10,000
// records alike is one group of 10,000, which the log and the journal write as one entry.
//
//   engine.on_audit([&](const std::shared_ptr<const AnswerRound>& round) {
//     for (const AnswerChange& c : *round) ...;           // or keep `round` for later
//     for (const AnswerRound::Group& g : round->groups()) ... (*round)[g.begin] ...;
//   });
class AnswerRound {
 public:
  struct Names {                          // of one configuration
    std::vector<std::string> records;     // GtmRecord::key() by record index
    std::vector<std::string> regions;     // by region index; [0] = ""
  };
  // A round that copies `changes` (every text): for changes not made by the engine.
  static std::shared_ptr<const AnswerRound> copy_of(const std::vector<AnswerChange>& changes);

  struct Group {
    std::uint32_t begin, end;             // changes [begin, end)
    std::size_t size() const { return end - begin; }
  };

  std::size_t size() const { return changes_.size(); }
  bool empty() const { return changes_.empty(); }
  const std::vector<Group>& groups() const { return groups_; }
  AnswerChange operator[](std::size_t i) const {
    const Change& c = changes_[i];
    const Texts& t = texts_[c.texts];
    return AnswerChange{names_->records[c.record], names_->regions[c.region], t.from, t.to, t.reason, t.cause, t.at};
  }

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = AnswerChange;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = AnswerChange;
    Iterator(const AnswerRound* round, std::size_t i) : round_(round), i_(i) {}
    AnswerChange operator*() const { return (*round_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const AnswerRound* round_;
    std::size_t i_;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  friend class GtmEngine;
  struct Texts {                          // what the changes of one unit say
    std::string from, to, reason, cause;
    SystemTime at{};
  };
  struct Change {
    std::uint32_t record, region, texts;  // Names::records, Names::regions, texts_
  };
  // Puts changes_ in groups (stable) and fills groups_. O(changes + texts x regions).
  void group_changes();
  // Lets go of the memory of a burst bigger than `keep` changes.
  void shrink(std::size_t keep);

  std::shared_ptr<const Names> names_;
  std::vector<Texts> texts_;              // kept at their size when a round is reused (their memory)
  std::vector<Change> changes_;
  std::vector<Group> groups_;
  std::vector<Change> sorted_;            // group_changes()'s scratch, kept with the round
  std::vector<std::uint32_t> slot_group_; // group_changes()'s scratch: group by texts x region
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
  // Every answer change of one selection round (in record order), after the publish. The
  // callback may keep the round (or hand it to another thread): the engine reuses a round's
  // memory only once nobody else holds it.
  using Audit = std::function<void(const std::shared_ptr<const AnswerRound>&)>;
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
  // The config is taken by value: move it in when the caller no longer needs it.
  std::unique_ptr<dns::DynamicChoices> apply(GtmConfig gtm, std::size_t regions, const health::HealthState& health);

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
  std::vector<RecordView> view() const;  // with reason texts: for a few records or rare reads
  // What record `record` answers in `region` now and why, as codes: no text is built, so a
  // periodic read of every record stays cheap. Records without a geo order answer region 0's.
  Decision decision(std::size_t record, std::size_t region) const {
    return state(record, region).decision;
  }
  const std::string& key(std::size_t record) const { return names_->records[record]; }  // GtmRecord::key()
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
  // Record selections so far (a record decided in all its regions counts once): a health change
  // re-selects only the records that depend on what changed.
  std::uint64_t record_selections() const { return record_selections_; }
  bool pending() const { return dirty_count_ > 0; }
  // Distinct selection states (units) now: records of one shape in one state share one.
  std::size_t units() const { return units_.size(); }

  // Closes the debounce timer; run the loop afterwards.
  void stop();

 private:
  // Everything the selection of one record needs, resolved to integer IDs at apply().
  struct EntryRef {
    std::int32_t dc = -1;                       // dc_names_ index
    std::int32_t scenario = -1;                 // scenario_names_ index; -1: the DC's status
  };
  struct RecordInfo {
    std::uint32_t entries = 0;                  // first EntryRef in entries_
    std::uint32_t size = 0;                     // chain length
    std::int32_t dr_cond = -1;                  // scenario index
    std::uint32_t orders = 0;                   // geo: first of its regions_ orders in geo_orders_
    bool geo = false;                           // has a per-region order: decided in every region
  };
  // Per record and region; records without a geo order are decided in region 0 only.
  struct RegionState {
    SelectionMemory memory;
    Decision decision;                          // what it answers now, and why
    SystemTime since{};
    bool selected = false;                      // selected at least once (or restored)
  };
  // Records that decide alike share one decision. A shape is everything selection reads of a
  // record in one region: its chain's DCs and scenarios, DR, fail-safe and all-down settings,
  // onlyNew and staleAfter, and the region's chain order. A unit is the selection state shared
  // by every (record, region) slot of one shape whose state was equal when the units were built
  // (at apply()): a verdict that moves 10,000 records of one shape is decided once. A slot
  // leaves its unit only when its own state must diverge (an operator resume).
  struct Shape {
    std::uint32_t record = 0;                   // its first record: stands for all (same DCs, scenarios, flags)
    std::uint32_t region = 0;                   // ... and region (same order)
  };
  struct Unit {
    std::uint32_t shape = 0;                    // shapes_ index
    std::uint32_t slots = 0;                    // slots that use it
    std::uint32_t choice = 0;                   // what its slots answer (a DynamicChoices value)
    RegionState state;
    std::uint64_t round = 0;                    // the last round that decided it
    bool moved = false;                         // in that round: its answer changed
    bool audit = false;                         // ... and the change is reported (not a first selection)
    Decision from;                              // its decision before that round
    std::uint64_t texts_round = 0;              // round of `texts` (report())
    std::uint32_t texts = 0;                    // its AnswerRound::texts_ index in that round
  };
  struct Moved {                                // an answer that moved in the running round
    std::uint32_t record;
    std::uint32_t region;                       // its unit has the decision before and after
  };

  void refresh_inputs(const health::HealthState& health, const health::Changes* changes);
  void mark_dirty(const std::vector<std::uint32_t>& records);
  bool entry_healthy(std::size_t record, std::size_t entry) const;
  bool entry_known(std::size_t record, std::size_t entry) const;
  const std::vector<int>& order(std::size_t record, std::size_t region) const;
  std::size_t decided_region(std::size_t record, std::size_t region) const { return info_[record].geo ? region : 0; }
  Unit& unit(std::size_t record, std::size_t region) { return units_[slot_unit_[record * regions_ + region]]; }
  const Unit& unit(std::size_t record, std::size_t region) const { return units_[slot_unit_[record * regions_ + region]]; }
  const RegionState& state(std::size_t record, std::size_t region) const {
    return unit(record, decided_region(record, region)).state;
  }
  // Groups the slots' states (by slot, as apply() built them) into shapes and units.
  void build_units(std::vector<RegionState>&& state);
  // Decides a unit for the running round (once per round).
  void decide_unit(Unit& u, SystemTime now);
  // Gives record i units of its own (copies), so that its state can change alone.
  void detach(std::size_t record);
  // Selects record i in every region (its units, if this round has not decided them yet);
  // returns true if an answer changed.
  bool select_record(std::size_t i, SystemTime now);
  void flush(const std::string& cause);
  void publish();
  void report(const std::string& cause, SystemTime now);  // the audit of moved_, then clears it
  std::shared_ptr<AnswerRound> take_round();
  std::string_view label(const GtmRecord& r, const Decision& d);          // describe(), cached
  // The selection reason text: cached, or built in `scratch`.
  std::string_view reason(const Unit& u, std::string& scratch);
  std::uint32_t choice_of(const GtmRecord& r, const Decision& d) const;
  Selection selection(std::size_t record, std::size_t region) const;
  void apply_saved(const SavedGtm& saved, std::vector<RegionState>& state);

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
  std::shared_ptr<AnswerRound::Names> names_;    // record keys and region names, for rounds too
  std::unordered_map<std::string_view, std::uint32_t> index_;  // key (in names_) -> record
  std::vector<RecordInfo> info_;                 // by record
  std::vector<EntryRef> entries_;                // chain entries of every record, in record order
  std::vector<std::vector<int>> identity_;       // [n]: 0..n-1, the order of records without geo
  std::vector<std::vector<int>> geo_orders_;     // per geo record and region: chain indexes by preference
  std::vector<Shape> shapes_;
  std::vector<Unit> units_;
  std::vector<std::uint32_t> slot_unit_;         // [record * regions_ + region] -> units_ index
  std::vector<std::uint32_t> choices_;           // [record * regions_ + region]
  std::uint64_t round_ = 0;                      // selection rounds so far
  // report()'s: this round's texts by content ("from\nto\nreason"), so that units that say
  // the same share texts and their records one group in the log and the journal.
  std::unordered_map<std::string, std::uint32_t> round_texts_;

  // Scenarios and DCs by index. Scenarios: those of the config (map order), then any name a
  // record uses that the config lacks (never true).
  std::vector<std::string> scenario_names_;
  std::vector<const ScenarioSpec*> scenario_specs_;             // null for the missing ones
  std::vector<char> scenario_value_;                            // settled (stuck-state protected)
  std::vector<char> scenario_known_;
  std::vector<std::vector<std::uint32_t>> scenario_records_;    // scenario -> records
  std::unordered_map<std::string, std::vector<std::int32_t>> check_scenarios_;  // check ID -> scenarios
  std::vector<std::string> dc_names_;
  std::unordered_map<std::string, std::int32_t> dc_ids_;
  std::vector<char> dc_ok_;                                     // settled: status ok
  std::vector<char> dc_maintenance_;
  std::vector<char> dc_known_;
  std::vector<std::vector<std::uint32_t>> dc_records_;          // DC -> records

  std::vector<std::uint64_t> dirty_;             // bitmap by record
  std::size_t dirty_count_ = 0;
  std::vector<Moved> moved_;                     // reused between rounds
  std::unordered_map<std::uint64_t, std::string> labels_;  // entry labels and reasons by (kind, DC, entry)
  std::vector<std::shared_ptr<AnswerRound>> rounds_;  // reused once the audit no longer holds them
  std::vector<bool> healthy_, known_;            // reused by select_record
  std::vector<char> scenario_touched_;           // reused by refresh_inputs
  std::vector<std::int32_t> scenario_work_;
  std::uint64_t publishes_ = 0;
  std::uint64_t record_selections_ = 0;
};

}  // namespace pharos::scenario
