// state_file_test.cc: the state file: every field survives a round trip, damaged, partial and
// foreign files are refused with a reason, the replace is atomic (a failed write leaves the old
// file whole), and a verdict table restored through the file keeps only checks whose probe is
// unchanged.
#include "scenario/state_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pharos::scenario {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const SystemTime kT0 = SystemTime{} + milliseconds(1'750'000'000'123);

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pharos-state-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every field set to something other than its default.
StateFile full_state() {
  StateFile s;
  s.written_at = kT0;
  health::SavedCheck probed;
  probed.id = "web \"1\"/x~y";  // quotes and pointer characters in a key
  probed.probe_key = "tcp4:50004:2000";
  probed.measured = health::CheckState{health::State::kDown, 0, 3};
  probed.forced = health::State::kUp;
  probed.since = kT0 - milliseconds(5000);
  probed.reason = "3 consecutive failures: connection refused";
  probed.probes = 1'000'000'000'000;
  probed.failures = 17;
  probed.transitions = 4;
  health::SavedCheck automatic;
  automatic.id = "auto|dc1|access";
  automatic.automatic = true;
  automatic.measured = health::CheckState{health::State::kUp, 0, 0};
  automatic.since = kT0 - milliseconds(1);
  automatic.reason = "access: 1 of 1 targets up, 1 needed";
  automatic.transitions = 1;
  health::SavedCheck unknown;
  unknown.id = "new";
  unknown.probe_key = "exec4:true";
  s.health.checks = {probed, automatic, unknown};
  s.health.datacenters = {
      health::SavedDc{"dc1", true, false, kT0 + milliseconds(60'000), "alice", "kernel upgrade", health::DcStatus::kMaintenance, kT0, "maintenance mode on"},
      health::SavedDc{"dc2", false, false, std::nullopt, "", "", health::DcStatus::kNoWan, kT0 - milliseconds(7), "wanAccess: 0 of 2"},
  };
  s.gtm.scenarios = {SavedScenario{"s1", "a&!b|c", true}, SavedScenario{"s2", "d", false}};
  s.gtm.dc_ok = {{"dc1", false}, {"dc2", true}};
  SavedRecord r;
  r.key = "www.example.com./A";
  r.chain = {"dc1", "dc2", "dc3"};
  SelectionMemory m;
  m.serving = 1;
  m.entries = {EntryMemory{true, kT0 - milliseconds(900'000), true}, EntryMemory{true, SystemTime{}, false},
               EntryMemory{false, kT0 - milliseconds(3), false}};
  r.regions = {SavedRegion{"", m}, SavedRegion{"eu", SelectionMemory{-1, {{}, {}, {}}}}};
  s.gtm.records = {r};
  return s;
}

TEST(StateFile, RoundTripKeepsEveryField) {
  const StateFile s = full_state();
  const std::string text = to_json(s);
  Result<StateFile> back = parse_state(text, "state.json");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(to_json(*back), text);
}

TEST(StateFile, EmptyStateRoundTrips) {
  StateFile s;
  s.written_at = kT0;
  Result<StateFile> back = parse_state(to_json(s), "state.json");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
}

std::string error_of(std::string_view text) {
  Result<StateFile> r = parse_state(text, "state.json");
  return r ? std::string("parsed") : r.error().to_string();
}

TEST(StateFile, DamagedFilesAreRefusedWithAReason) {
  EXPECT_NE(error_of("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("must be an object"), std::string::npos);
  EXPECT_EQ(error_of(R"({"written_at_ms": 1})"), "state.json: missing \"version\"");
  // Any prefix of a real file (a write cut short) is refused, never half-applied.
  const std::string text = to_json(full_state());
  for (std::size_t n : {text.size() / 4, text.size() / 2, text.size() - 3}) {
    EXPECT_NE(error_of(text.substr(0, n)).find("invalid JSON"), std::string::npos) << n;
  }
}

TEST(StateFile, OtherVersionsAreNotSupported) {
  std::string text = to_json(full_state());
  text.replace(text.find("\"version\":1"), 11, "\"version\":2");
  EXPECT_EQ(error_of(text), "state.json: /version: version 2 is not supported (this pharosd reads 1)");
  text.replace(text.find("\"version\":2"), 11, "\"version\":0");
  EXPECT_NE(error_of(text).find("version 0 is not supported"), std::string::npos);
}

TEST(StateFile, WrongValuesNameTheirPointer) {
  auto with = [](std::string from, const std::string& to) {
    std::string text = to_json(full_state());
    text.replace(text.find(from), from.size(), to);
    return error_of(text);
  };
  EXPECT_EQ(with("\"state\":\"down\"", "\"state\":\"sideways\""),
            "state.json: /checks/web \"1\"~1x~0y/state: \"sideways\" is not a check state");
  EXPECT_EQ(with("\"serving\":1", "\"serving\":3"), "state.json: /records/0/regions/0/serving: 3 is not an entry of this chain");
  EXPECT_EQ(with("\"held\":true", "\"held\":1"), "state.json: /records/0/regions/0/entries/0/held: must be true or false");
  EXPECT_EQ(with("\"probes\":1000000000000", "\"probes\":-1"),
            "state.json: /checks/web \"1\"~1x~0y/probes: -1 is out of range 0..9223372036854775807");
  EXPECT_EQ(with("\"status\":\"noWan\"", "\"status\":\"fine\""),
            "state.json: /datacenters/dc2/status: \"fine\" is not a data center status");
  EXPECT_EQ(with("\"forced\":\"up\"", "\"forced\":\"unknown\""),
            "state.json: /checks/web \"1\"~1x~0y/forced: a check is forced up or down, never unknown");
  EXPECT_EQ(with("\"probe_key\":\"exec4:true\"", "\"probe_key\":\"\""),
            "state.json: /checks/new/probe_key: a probed check needs its probe key");
  EXPECT_EQ(with(",\"transitions\":4", ""), "state.json: /checks/web \"1\"~1x~0y: missing \"transitions\"");
  EXPECT_EQ(with("\"dc_ok\":", "\"extra\":1,\"dc_ok\":"), "state.json: /extra: unknown key \"extra\"");
}

TEST(StateFile, WriteReplacesAtomicallyAndLeavesNoTemporaryFile) {
  TempDir d;
  StateFile s = full_state();
  ASSERT_EQ(write_state_file(d.path(), to_json(s)), std::nullopt);
  s.written_at += milliseconds(1000);
  ASSERT_EQ(write_state_file(d.path(), to_json(s)), std::nullopt);
  Result<StateFile> back = read_state_file(state_path(d.path()));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->written_at, kT0 + milliseconds(1000));
  EXPECT_FALSE(fs::exists(d.path() + "/state.json.tmp"));
  struct stat st {};
  ASSERT_EQ(stat(state_path(d.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << "the state is not world-readable";
}

TEST(StateFile, FailedWriteLeavesTheOldFileWhole) {
  TempDir d;
  const std::string old_text = to_json(full_state());
  ASSERT_EQ(write_state_file(d.path(), old_text), std::nullopt);
  // The temporary name is taken by a directory: the write fails before anything is renamed
  // (a directory cannot be opened for writing, even by root).
  fs::create_directory(d.path() + "/state.json.tmp");
  StateFile next = full_state();
  next.written_at += milliseconds(5);
  const auto e = write_state_file(d.path(), to_json(next));
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->to_string().find("state.json.tmp: cannot create"), std::string::npos) << e->to_string();
  EXPECT_EQ(slurp(state_path(d.path())), old_text);
}

TEST(StateFile, StateDirCreatedWithItsParentsAndAFileInTheWayIsAnError) {
  TempDir d;
  const mode_t old_mask = umask(022);
  const std::string dir = d.path() + "/var/lib/pharos";
  EXPECT_EQ(make_state_dir(dir), std::nullopt);
  umask(old_mask);
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_EQ(make_state_dir(dir), std::nullopt);  // exists: nothing to do

  std::ofstream(d.path() + "/file") << "x";
  const auto e = make_state_dir(d.path() + "/file");
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->to_string().find("is not a directory"), std::string::npos);
  EXPECT_TRUE(write_state_file(d.path() + "/file", "{}").has_value());
}

TEST(StateFile, MissingFileIsAnError) {
  TempDir d;
  Result<StateFile> r = read_state_file(state_path(d.path()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("cannot read"), std::string::npos);
}

health::CheckSpec tcp(std::uint16_t port) {
  health::CheckSpec s;
  s.params = health::TcpParams{"127.0.0.1", port, "", ""};
  s.thresholds = {1, 1};
  return s;
}

TEST(StateFile, ThroughTheFileOnlyUnchangedProbesAreRestored) {
  health::HealthConfig c;
  c.checks["web1"] = tcp(80);
  c.checks["web2"] = tcp(81);
  health::HealthState before;
  before.configure(c, kT0);
  before.record("web1", health::ProbeResult{false, "refused", {}}, kT0);
  before.record("web2", health::ProbeResult{false, "refused", {}}, kT0);
  StateFile s;
  s.written_at = kT0;
  s.health = before.save();
  Result<StateFile> back = parse_state(to_json(s), "state.json");
  ASSERT_TRUE(back) << back.error().to_string();

  c.checks["web2"] = tcp(8081);  // web2 now probes something else
  health::HealthState after;
  after.configure(c, kT0 + milliseconds(1000));
  const health::RestoreOutcome r = after.restore(back->health, kT0 + milliseconds(1000));
  EXPECT_EQ(r.checks, 1u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(after.effective("web1"), health::State::kDown);
  EXPECT_EQ(after.check("web1")->since, kT0);
  EXPECT_EQ(after.effective("web2"), health::State::kUnknown);
}

}  // namespace
}  // namespace pharos::scenario
