// state_file.cc: see state_file.h. The layout, with every time in unix milliseconds:
//   { "version": 1, "written_at_ms": ...,
//     "checks": { "<id>": { "automatic", "probe_key", "state", "successes", "failures", "forced"?,
//                           "since_ms", "reason", "probes", "probe_failures", "transitions" } },
//     "datacenters": { "<dc>": { "maintenance", "configured_maintenance", "maintenance_until_ms"?,
//                                "maintenance_by"?, "maintenance_note"?, "status", "since_ms", "reason" } },
//     "scenarios": { "<name>": { "formula", "value" } }, "dc_ok": { "<dc>": true },
//     "records": [ { "key", "chain": [dc...], "regions": [ { "region", "serving",
//                    "entries": [ { "healthy", "down_since_ms", "held" } ] } ] } ] }
#include "scenario/state_file.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <utility>

#include "scenario/json_reader.h"

namespace pharos::scenario {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using health::DcStatus;
using health::State;

// Year 9999: far beyond any real time, and still within SystemTime's nanoseconds.
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;
constexpr std::int64_t kMaxCounter = std::numeric_limits<std::int64_t>::max();

std::int64_t unix_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SystemTime from_unix_ms(std::int64_t ms) { return SystemTime{} + std::chrono::milliseconds(ms); }

void key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void write_check(Writer& w, const health::SavedCheck& c) {
  key(w, c.id);
  w.StartObject();
  key(w, "automatic"); w.Bool(c.automatic);
  key(w, "probe_key"); str(w, c.probe_key);
  key(w, "state"); str(w, health::to_string(c.measured.state));
  key(w, "successes"); w.Uint(c.measured.successes);
  key(w, "failures"); w.Uint(c.measured.failures);
  if (c.forced) {
    key(w, "forced");
    str(w, health::to_string(*c.forced));
  }
  key(w, "since_ms"); w.Int64(unix_ms(c.since));
  key(w, "reason"); str(w, c.reason);
  key(w, "probes"); w.Uint64(c.probes);
  key(w, "probe_failures"); w.Uint64(c.failures);
  key(w, "transitions"); w.Uint64(c.transitions);
  w.EndObject();
}

void write_dc(Writer& w, const health::SavedDc& d) {
  key(w, d.name);
  w.StartObject();
  key(w, "maintenance"); w.Bool(d.maintenance);
  key(w, "configured_maintenance"); w.Bool(d.configured_maintenance);
  if (d.maintenance_until) {
    key(w, "maintenance_until_ms");
    w.Int64(unix_ms(*d.maintenance_until));
  }
  if (!d.maintenance_by.empty()) {
    key(w, "maintenance_by");
    str(w, d.maintenance_by);
  }
  if (!d.maintenance_note.empty()) {
    key(w, "maintenance_note");
    str(w, d.maintenance_note);
  }
  key(w, "status"); str(w, health::to_string(d.status));
  key(w, "since_ms"); w.Int64(unix_ms(d.since));
  key(w, "reason"); str(w, d.reason);
  w.EndObject();
}

void write_record(Writer& w, const SavedRecord& r) {
  w.StartObject();
  key(w, "key"); str(w, r.key);
  key(w, "chain");
  w.StartArray();
  for (const auto& dc : r.chain) str(w, dc);
  w.EndArray();
  key(w, "regions");
  w.StartArray();
  for (const auto& reg : r.regions) {
    w.StartObject();
    key(w, "region"); str(w, reg.region);
    key(w, "serving"); w.Int(reg.memory.serving);
    key(w, "entries");
    w.StartArray();
    for (const auto& e : reg.memory.entries) {
      w.StartObject();
      key(w, "healthy"); w.Bool(e.healthy);
      key(w, "down_since_ms"); w.Int64(unix_ms(e.down_since));
      key(w, "held"); w.Bool(e.held);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// Reads what to_json wrote; anything else is a damaged or foreign file.
class StateReader : public JsonReader {
 public:
  explicit StateReader(const std::string& file) : JsonReader(file) {}

  // Every listed key must be there (object() then rejects any other).
  bool require(const Value& v, const std::string& where, std::initializer_list<const char*> keys) {
    if (!v.IsObject()) return fail(where, "must be an object");
    for (const char* k : keys)
      if (!v.HasMember(k)) return fail(where, std::string("missing ") + in_quotes(k));
    return true;
  }
  bool time(const Value& v, const std::string& where, SystemTime& out) {
    std::int64_t ms = 0;
    if (!integer(v, where, 0, kMaxTimeMs, ms)) return false;
    out = from_unix_ms(ms);
    return true;
  }
  bool counter(const Value& v, const std::string& where, std::uint64_t& out) {
    std::int64_t n = 0;
    if (!integer(v, where, 0, kMaxCounter, n)) return false;
    out = static_cast<std::uint64_t>(n);
    return true;
  }
  bool run(const Value& v, const std::string& where, std::uint32_t& out) {
    std::int64_t n = 0;
    if (!integer(v, where, 0, std::numeric_limits<std::uint32_t>::max(), n)) return false;
    out = static_cast<std::uint32_t>(n);
    return true;
  }
  bool state(const Value& v, const std::string& where, State& out) {
    std::string s;
    if (!string(v, where, s)) return false;
    for (State x : {State::kUnknown, State::kUp, State::kDown}) {
      if (s == health::to_string(x)) {
        out = x;
        return true;
      }
    }
    return fail(where, in_quotes(s) + " is not a check state");
  }
  bool status(const Value& v, const std::string& where, DcStatus& out) {
    std::string s;
    if (!string(v, where, s)) return false;
    for (DcStatus x : {DcStatus::kUnknown, DcStatus::kOk, DcStatus::kNoAccess, DcStatus::kNoWan, DcStatus::kNoLan,
                       DcStatus::kNoInternet, DcStatus::kMaintenance}) {
      if (s == health::to_string(x)) {
        out = x;
        return true;
      }
    }
    return fail(where, in_quotes(s) + " is not a data center status");
  }

  bool check(const std::string& id, const Value& v, const std::string& at, health::SavedCheck& c) {
    c.id = id;
    if (!require(v, at, {"automatic", "probe_key", "state", "successes", "failures", "since_ms", "reason", "probes",
                         "probe_failures", "transitions"}))
      return false;
    const bool ok = object(v, at, {
        {"automatic", [&](const Value& x, const std::string& w) { return boolean(x, w, c.automatic); }},
        {"probe_key", [&](const Value& x, const std::string& w) { return string(x, w, c.probe_key); }},
        {"state", [&](const Value& x, const std::string& w) { return state(x, w, c.measured.state); }},
        {"successes", [&](const Value& x, const std::string& w) { return run(x, w, c.measured.successes); }},
        {"failures", [&](const Value& x, const std::string& w) { return run(x, w, c.measured.failures); }},
        {"forced", [&](const Value& x, const std::string& w) {
           State s = State::kUnknown;
           if (!state(x, w, s)) return false;
           if (s == State::kUnknown) return fail(w, "a check is forced up or down, never unknown");
           c.forced = s;
           return true;
         }},
        {"since_ms", [&](const Value& x, const std::string& w) { return time(x, w, c.since); }},
        {"reason", [&](const Value& x, const std::string& w) { return string(x, w, c.reason); }},
        {"probes", [&](const Value& x, const std::string& w) { return counter(x, w, c.probes); }},
        {"probe_failures", [&](const Value& x, const std::string& w) { return counter(x, w, c.failures); }},
        {"transitions", [&](const Value& x, const std::string& w) { return counter(x, w, c.transitions); }},
    });
    if (!ok) return false;
    if (!c.automatic && c.probe_key.empty()) return fail(at + "/probe_key", "a probed check needs its probe key");
    return true;
  }

  bool datacenter(const std::string& name, const Value& v, const std::string& at, health::SavedDc& d) {
    d.name = name;
    if (!require(v, at, {"maintenance", "configured_maintenance", "status", "since_ms", "reason"})) return false;
    return object(v, at, {
        {"maintenance", [&](const Value& x, const std::string& w) { return boolean(x, w, d.maintenance); }},
        {"configured_maintenance", [&](const Value& x, const std::string& w) { return boolean(x, w, d.configured_maintenance); }},
        {"maintenance_until_ms", [&](const Value& x, const std::string& w) {
           SystemTime t{};
           if (!time(x, w, t)) return false;
           d.maintenance_until = t;
           return true;
         }},
        {"maintenance_by", [&](const Value& x, const std::string& w) { return string(x, w, d.maintenance_by); }},
        {"maintenance_note", [&](const Value& x, const std::string& w) { return string(x, w, d.maintenance_note); }},
        {"status", [&](const Value& x, const std::string& w) { return status(x, w, d.status); }},
        {"since_ms", [&](const Value& x, const std::string& w) { return time(x, w, d.since); }},
        {"reason", [&](const Value& x, const std::string& w) { return string(x, w, d.reason); }},
    });
  }

  bool region(const Value& v, const std::string& at, SavedRegion& r) {
    if (!require(v, at, {"region", "serving", "entries"})) return false;
    std::int64_t serving = -1;
    const bool ok = object(v, at, {
        {"region", [&](const Value& x, const std::string& w) { return string(x, w, r.region); }},
        {"serving", [&](const Value& x, const std::string& w) { return integer(x, w, -1, 1 << 20, serving); }},
        {"entries", [&](const Value& x, const std::string& w) {
           return array(x, w, [&](const Value& e, const std::string& ew) {
             EntryMemory m;
             if (!require(e, ew, {"healthy", "down_since_ms", "held"})) return false;
             const bool entry_ok = object(e, ew, {
                 {"healthy", [&](const Value& y, const std::string& yw) { return boolean(y, yw, m.healthy); }},
                 {"down_since_ms", [&](const Value& y, const std::string& yw) { return time(y, yw, m.down_since); }},
                 {"held", [&](const Value& y, const std::string& yw) { return boolean(y, yw, m.held); }},
             });
             r.memory.entries.push_back(m);
             return entry_ok;
           });
         }},
    });
    if (!ok) return false;
    if (serving >= static_cast<std::int64_t>(r.memory.entries.size()))
      return fail(at + "/serving", std::to_string(serving) + " is not an entry of this chain");
    r.memory.serving = static_cast<int>(serving);
    return true;
  }

  bool record(const Value& v, const std::string& at, SavedRecord& r) {
    if (!require(v, at, {"key", "chain", "regions"})) return false;
    return object(v, at, {
        {"key", [&](const Value& x, const std::string& w) { return nonempty_string(x, w, r.key); }},
        {"chain", [&](const Value& x, const std::string& w) { return strings(x, w, r.chain); }},
        {"regions", [&](const Value& x, const std::string& w) {
           return array(x, w, [&](const Value& e, const std::string& ew) {
             r.regions.emplace_back();
             return region(e, ew, r.regions.back());
           });
         }},
    });
  }

  bool top(const Value& root, StateFile& s) {
    if (!root.IsObject()) return fail("", "must be an object");
    // The version first: a file from another release is "not supported", not "malformed".
    if (!root.HasMember("version")) return fail("", "missing \"version\"");
    std::int64_t version = 0;
    if (!integer(root["version"], "/version", 0, std::numeric_limits<std::int32_t>::max(), version)) return false;
    if (version != kStateVersion)
      return fail("/version", "version " + std::to_string(version) + " is not supported (this pharosd reads " +
                                  std::to_string(kStateVersion) + ")");
    if (!require(root, "", {"written_at_ms", "checks", "datacenters", "scenarios", "dc_ok", "records"})) return false;
    return object(root, "", {
        {"version", [](const Value&, const std::string&) { return true; }},
        {"written_at_ms", [&](const Value& x, const std::string& w) { return time(x, w, s.written_at); }},
        {"checks", [&](const Value& x, const std::string& w) {
           return members(x, w, [&](const std::string& id, const Value& c, const std::string& at) {
             s.health.checks.emplace_back();
             return check(id, c, at, s.health.checks.back());
           });
         }},
        {"datacenters", [&](const Value& x, const std::string& w) {
           return members(x, w, [&](const std::string& name, const Value& d, const std::string& at) {
             s.health.datacenters.emplace_back();
             return datacenter(name, d, at, s.health.datacenters.back());
           });
         }},
        {"scenarios", [&](const Value& x, const std::string& w) {
           return members(x, w, [&](const std::string& name, const Value& v, const std::string& at) {
             SavedScenario sc;
             sc.name = name;
             if (!require(v, at, {"formula", "value"})) return false;
             const bool ok = object(v, at, {
                 {"formula", [&](const Value& y, const std::string& yw) { return string(y, yw, sc.formula); }},
                 {"value", [&](const Value& y, const std::string& yw) { return boolean(y, yw, sc.value); }},
             });
             s.gtm.scenarios.push_back(std::move(sc));
             return ok;
           });
         }},
        {"dc_ok", [&](const Value& x, const std::string& w) {
           return members(x, w, [&](const std::string& dc, const Value& v, const std::string& at) {
             return boolean(v, at, s.gtm.dc_ok[dc]);
           });
         }},
        {"records", [&](const Value& x, const std::string& w) {
           return array(x, w, [&](const Value& r, const std::string& at) {
             s.gtm.records.emplace_back();
             return record(r, at, s.gtm.records.back());
           });
         }},
    });
  }
};

// Closes a file descriptor on every path out.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

Error sys_error(const std::string& file, const char* what) { return Error{file, "", std::string(what) + ": " + std::strerror(errno)}; }

}  // namespace

std::string state_path(const std::string& dir) { return dir + "/" + kStateFileName; }

std::string to_json(const StateFile& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  key(w, "version"); w.Int(kStateVersion);
  key(w, "written_at_ms"); w.Int64(unix_ms(s.written_at));
  key(w, "checks");
  w.StartObject();
  for (const auto& c : s.health.checks) write_check(w, c);
  w.EndObject();
  key(w, "datacenters");
  w.StartObject();
  for (const auto& d : s.health.datacenters) write_dc(w, d);
  w.EndObject();
  key(w, "scenarios");
  w.StartObject();
  for (const auto& sc : s.gtm.scenarios) {
    key(w, sc.name);
    w.StartObject();
    key(w, "formula"); str(w, sc.formula);
    key(w, "value"); w.Bool(sc.value);
    w.EndObject();
  }
  w.EndObject();
  key(w, "dc_ok");
  w.StartObject();
  for (const auto& [dc, ok] : s.gtm.dc_ok) {
    key(w, dc);
    w.Bool(ok);
  }
  w.EndObject();
  key(w, "records");
  w.StartArray();
  for (const auto& r : s.gtm.records) write_record(w, r);
  w.EndArray();
  w.EndObject();
  std::string out(buf.GetString(), buf.GetSize());
  out += '\n';
  return out;
}

Result<StateFile> parse_state(std::string_view text, const std::string& path) {
  Result<rapidjson::Document> doc = parse_json(text, path);
  if (!doc) return doc.error();
  StateFile s;
  StateReader reader(path);
  if (!reader.top(*doc, s)) return *reader.err;
  return s;
}

Result<StateFile> read_state_file(const std::string& path) {
  Result<std::string> text = read_text_file(path);
  if (!text) return text.error();
  return parse_state(*text, path);
}

std::optional<Error> make_state_dir(const std::string& dir) {
  if (dir.empty()) return Error{"", "", "no state_dir"};
  // Each missing component in turn, so that every directory we create gets 0750 (the umask may
  // only narrow it), not just the last one.
  for (std::size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    const std::string part = at == std::string::npos ? dir : dir.substr(0, at);
    struct stat st {};
    if (!part.empty() && stat(part.c_str(), &st) != 0) {
      if (errno != ENOENT) return sys_error(part, "cannot use as state_dir");
      if (mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) return sys_error(part, "cannot create state_dir");
    } else if (!part.empty() && !S_ISDIR(st.st_mode)) {
      return Error{part, "", "is not a directory"};
    }
    if (at == std::string::npos) return std::nullopt;
  }
}

std::optional<Error> write_state_file(const std::string& dir, std::string_view text) {
  const std::string tmp = dir + "/" + kStateTempName;
  const std::string target = state_path(dir);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (fd.fd < 0) return sys_error(tmp, "cannot create");
  auto fail = [&](const char* what) {
    Error e = sys_error(tmp, what);
    ::close(fd.release());
    ::unlink(tmp.c_str());  // never leave a partial file that looks like a state
    return e;
  };
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  // The data must be on disk before the rename makes it the state; otherwise a crash could leave
  // a renamed but empty file.
  if (::fsync(fd.fd) != 0) return fail("cannot sync");
  if (::close(fd.release()) != 0) {
    Error e = sys_error(tmp, "cannot close");
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    Error e = sys_error(target, "cannot replace");
    ::unlink(tmp.c_str());
    return e;
  }
  // The rename itself is durable only once the directory is synced.
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0 || ::fsync(d.fd) != 0) return sys_error(dir, "cannot sync the directory");
  return std::nullopt;
}

}  // namespace pharos::scenario
