// config_docs.cc: see config_docs.h.
#include "app/config_docs.h"

#include <fcntl.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "dns/ldns_compat.h"
#include "scenario/json_reader.h"
#include "scenario/model.h"

namespace pharos::app {
namespace {

using rapidjson::Value;

constexpr std::size_t kLineWidth = 100;
constexpr int kInlineDepth = 2;  // deeper values get a line per member, however short

std::string scalar_text(const Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}

int depth(const Value& v) {
  int d = 0;
  if (v.IsObject())
    for (const auto& m : v.GetObject()) d = std::max(d, depth(m.value));
  else if (v.IsArray())
    for (const auto& e : v.GetArray()) d = std::max(d, depth(e));
  else
    return 0;
  return d + 1;
}

std::string key_text(const Value& name) { return scalar_text(name) + ": "; }

// The one-line form, spaced as people write it: { "type": "tcp", "target": "..." }, [ "a", "b" ].
std::string inline_text(const Value& v) {
  if (v.IsObject()) {
    if (v.ObjectEmpty()) return "{}";
    std::string out = "{ ";
    bool first = true;
    for (const auto& m : v.GetObject()) {
      out += (first ? "" : ", ") + key_text(m.name) + inline_text(m.value);
      first = false;
    }
    return out + " }";
  }
  if (v.IsArray()) {
    if (v.Empty()) return "[]";
    std::string out = "[ ";
    bool first = true;
    for (const auto& e : v.GetArray()) {
      out += (first ? "" : ", ") + inline_text(e);
      first = false;
    }
    return out + " ]";
  }
  return scalar_text(v);
}

// `column` is where the value starts; `level` 0 is the file, 1 a section: both always get a line
// per member so that every DC, check and record starts on its own line.
void write_pretty(std::string& out, const Value& v, std::size_t indent, std::size_t column, int level) {
  const bool container = v.IsObject() || v.IsArray();
  const bool empty = (v.IsObject() && v.ObjectEmpty()) || (v.IsArray() && v.Empty());
  if (!container || empty) {
    out += inline_text(v);
    return;
  }
  if (level >= 2 && depth(v) <= kInlineDepth) {
    std::string one = inline_text(v);
    if (column + one.size() <= kLineWidth) {
      out += one;
      return;
    }
  }
  const std::string pad(indent + 2, ' ');
  out += v.IsObject() ? "{\n" : "[\n";
  bool first = true;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      out += first ? "" : ",\n";
      first = false;
      const std::string key = key_text(m.name);
      out += pad + key;
      write_pretty(out, m.value, indent + 2, indent + 2 + key.size(), level + 1);
    }
  } else {
    for (const auto& e : v.GetArray()) {
      out += first ? "" : ",\n";
      first = false;
      out += pad;
      write_pretty(out, e, indent + 2, indent + 2, level + 1);
    }
  }
  out += "\n" + std::string(indent, ' ') + (v.IsObject() ? "}" : "]");
}

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

}  // namespace

const char* to_string(ConfigKind k) {
  switch (k) {
    case ConfigKind::kDatacenter: return "datacenter";
    case ConfigKind::kCheck: return "check";
    case ConfigKind::kScenario: return "scenario";
    case ConfigKind::kRegion: return "region";
    case ConfigKind::kRecord: return "record";
  }
  return "?";
}

const char* section_of(ConfigKind k) {
  switch (k) {
    case ConfigKind::kDatacenter: return "datacenters";
    case ConfigKind::kCheck: return "checks";
    case ConfigKind::kScenario: return "scenarios";
    case ConfigKind::kRegion: return "regions";
    case ConfigKind::kRecord: return "records";
  }
  return "?";
}

std::optional<ConfigKind> parse_kind(std::string_view text) {
  for (ConfigKind k : kAllConfigKinds)
    if (text == to_string(k) || text == section_of(k)) return k;
  return std::nullopt;
}

std::optional<std::string> record_id(std::string_view name, std::string_view type) {
  if (name.empty() || type.empty() || name.find('\0') != std::string_view::npos ||
      type.find('\0') != std::string_view::npos)
    return std::nullopt;
  const std::string type_text(type);
  const auto code = static_cast<std::uint16_t>(ldns_get_rr_type_by_name(type_text.c_str()));
  if (code == 0) return std::nullopt;
  std::string n(name);
  for (char& c : n) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (n.back() != '.') n += '.';
  return n + "/" + scenario::type_name(code);
}

std::optional<std::string> record_id_of(const Value& record) {
  if (!record.IsObject()) return std::nullopt;
  const auto name = record.FindMember("name"), type = record.FindMember("type");
  if (name == record.MemberEnd() || type == record.MemberEnd() || !name->value.IsString() || !type->value.IsString())
    return std::nullopt;
  return record_id(std::string_view(name->value.GetString(), name->value.GetStringLength()),
                   std::string_view(type->value.GetString(), type->value.GetStringLength()));
}

Result<ScenarioDocs> ScenarioDocs::read(const std::vector<std::string>& paths) {
  ScenarioDocs out;
  for (const auto& path : paths) {
    Result<std::string> text = scenario::read_text_file(path);
    if (!text) return text.error();
    Result<rapidjson::Document> doc = scenario::parse_json(*text, path);
    if (!doc) return doc.error();
    ScenarioDoc d;
    d.path = path;
    d.text = std::move(*text);
    d.doc = std::move(*doc);
    out.docs_.push_back(std::move(d));
  }
  return out;
}

std::optional<std::size_t> ScenarioDocs::index_of(const std::string& file, const std::string& config_dir) const {
  namespace fs = std::filesystem;
  const fs::path given(file);
  const fs::path resolved = given.is_absolute() || config_dir.empty() ? given : fs::path(config_dir) / given;
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    const fs::path have = fs::path(docs_[i].path).lexically_normal();
    if (have == given.lexically_normal() || have == resolved.lexically_normal()) return i;
  }
  return std::nullopt;
}

std::vector<Located> ScenarioDocs::list(ConfigKind kind) const {
  std::vector<Located> out;
  const char* section = section_of(kind);
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    const rapidjson::Document& d = docs_[i].doc;
    if (!d.IsObject()) continue;
    const auto s = d.FindMember(section);
    if (s == d.MemberEnd()) continue;
    if (kind == ConfigKind::kRecord) {
      if (!s->value.IsArray()) continue;
      for (rapidjson::SizeType k = 0; k < s->value.Size(); ++k) {
        const Value& r = s->value[k];
        out.push_back({i, "/records/" + std::to_string(k), kind, record_id_of(r).value_or(""), &r});
      }
      continue;
    }
    if (!s->value.IsObject()) continue;
    for (const auto& m : s->value.GetObject()) {
      std::string id(m.name.GetString(), m.name.GetStringLength());
      std::string pointer = std::string("/") + section + "/" + scenario::pointer_token(id);
      out.push_back({i, std::move(pointer), kind, std::move(id), &m.value});
    }
  }
  return out;
}

std::optional<Located> ScenarioDocs::find(ConfigKind kind, const std::string& id) const {
  for (Located& at : list(kind))
    if (at.id == id) return std::move(at);
  return std::nullopt;
}

Result<void> ScenarioDocs::insert(std::size_t i, ConfigKind kind, const std::string& id, const Value& value) {
  ScenarioDoc& d = docs_[i];
  auto& a = d.doc.GetAllocator();
  if (!d.doc.IsObject()) return Error{d.path, "", "must be a JSON object"};
  const char* section = section_of(kind);
  const bool array = kind == ConfigKind::kRecord;
  auto s = d.doc.FindMember(section);
  if (s == d.doc.MemberEnd()) {
    d.doc.AddMember(Value(section, a), Value(array ? rapidjson::kArrayType : rapidjson::kObjectType), a);
    s = d.doc.FindMember(section);
  }
  if (array ? !s->value.IsArray() : !s->value.IsObject())
    return Error{d.path, std::string("/") + section, array ? "must be an array" : "must be an object"};
  if (array) {
    s->value.PushBack(Value(value, a), a);
  } else {
    s->value.AddMember(Value(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), a), Value(value, a), a);
  }
  d.changed = true;
  return {};
}

void ScenarioDocs::replace(const Located& at, const Value& value) {
  ScenarioDoc& d = docs_[at.doc];
  Value* v = rapidjson::Pointer(at.pointer.c_str()).Get(d.doc);
  if (v == nullptr) return;
  v->CopyFrom(value, d.doc.GetAllocator());
  d.changed = true;
}

void ScenarioDocs::remove(const Located& at) {
  ScenarioDoc& d = docs_[at.doc];
  Value& section = d.doc[section_of(at.kind)];
  if (at.kind == ConfigKind::kRecord) {
    for (auto it = section.Begin(); it != section.End(); ++it) {
      if (&*it == at.value) {
        section.Erase(it);  // keeps the order of the others
        break;
      }
    }
  } else {
    section.EraseMember(section.FindMember(Value(at.id.c_str(), static_cast<rapidjson::SizeType>(at.id.size()))));
  }
  d.changed = true;
}

std::string pretty_json(const Value& v) {
  std::string out;
  write_pretty(out, v, 0, 0, 0);
  return out + "\n";
}

Result<std::string> write_temp(const std::string& path, const std::string& text) {
  struct stat st {};
  const bool existed = ::stat(path.c_str(), &st) == 0;
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return Error{path, "", errno_text("cannot create a temporary file beside", path)};
  const auto fail = [&](const char* what) {
    Error e{path, "", errno_text(what, temp)};
    ::close(fd);
    ::unlink(temp.c_str());
    return e;
  };
  if (::fchmod(fd, existed ? (st.st_mode & 07777) : 0644) != 0) return fail("cannot set the mode of");
  // Keep the owner when we may (running as root); an unprivileged daemon writes its own files.
  if (existed && (st.st_uid != ::geteuid() || st.st_gid != ::getegid())) (void)::fchown(fd, st.st_uid, st.st_gid);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot flush");
  if (::close(fd) != 0) {
    Error e{path, "", errno_text("cannot close", temp)};
    ::unlink(temp.c_str());
    return e;
  }
  return temp;
}

Result<void> replace_file(const std::string& temp, const std::string& path) {
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Error e{path, "", "cannot rename " + temp + " to " + path + ": " + std::strerror(errno)};
    ::unlink(temp.c_str());
    return e;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{path, "", errno_text("cannot open directory", dir)};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Error{path, "", errno_text("cannot flush directory", dir)};
  return {};
}

}  // namespace pharos::app
