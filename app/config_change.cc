// config_change.cc: see config_change.h.
#include "app/config_change.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

using rapidjson::Value;
using scenario::in_quotes;

constexpr std::size_t kSummaryChars = 200;  // of an object, in the audit journal

std::string summary(const Value& v) {
  std::string s = scenario::json_text(v);
  if (s.size() > kSummaryChars) s = s.substr(0, kSummaryChars - 3) + "...";
  return s;
}

std::string str(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

Error bad(const std::string& where, std::string message) { return Error{"", where, std::move(message)}; }

// "www.Example.com/a" -> "www.example.com./A".
std::optional<std::string> canonical_record_id(const std::string& id) {
  const auto slash = id.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return record_id(std::string_view(id).substr(0, slash), std::string_view(id).substr(slash + 1));
}

std::string thing(ConfigKind kind, const std::string& id) { return std::string(to_string(kind)) + " " + in_quotes(id); }

// The ID the operation is about: records take it from their value when none is given, and the
// two must agree (a rename is a delete and an insert).
std::variant<std::string, ChangeFailure> resolve_id(const ConfigChange& c, const Value* value, const std::string& where) {
  if (c.kind != ConfigKind::kRecord) {
    if (c.id.empty()) return ChangeFailure{400, bad(where + "/id", "missing: name the " + std::string(to_string(c.kind)))};
    return c.id;
  }
  std::optional<std::string> given;
  if (!c.id.empty()) {
    given = canonical_record_id(c.id);
    if (!given)
      return ChangeFailure{400, bad(where + "/id", in_quotes(c.id) + " is not a record ID such as \"www.example.com./A\"")};
  }
  if (value == nullptr) {
    if (!given) return ChangeFailure{400, bad(where + "/id", "missing: name the record as \"www.example.com./A\"")};
    return *given;
  }
  const std::optional<std::string> named = record_id_of(*value);
  if (!named)
    return ChangeFailure{400, bad(where + "/value", "a record needs a \"name\" and a \"type\" (a known record type)")};
  if (given && *given != *named)
    return ChangeFailure{400, bad(where + "/value", "the value is record " + in_quotes(*named) + " but the change names " +
                                                        in_quotes(*given) + ": to rename a record, delete it and insert the new one")};
  return *named;
}

}  // namespace

const char* to_string(ChangeOp op) {
  switch (op) {
    case ChangeOp::kInsert: return "insert";
    case ChangeOp::kUpdate: return "update";
    case ChangeOp::kUpsert: return "upsert";
    case ChangeOp::kDelete: return "delete";
  }
  return "?";
}

std::optional<std::uint64_t> parse_generation(const std::string& text) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> parse_generation(const Value& v) {
  if (v.IsUint64()) return v.GetUint64();
  if (v.IsString()) return parse_generation(str(v));
  return std::nullopt;
}

std::variant<ConfigChange, Error> parse_change(const Value& v, const std::string& where) {
  if (!v.IsObject()) return bad(where, "an operation must be an object with \"op\", \"kind\", \"id\" and \"value\"");
  ConfigChange c;
  bool has_op = false, has_kind = false, has_value = false;
  for (const auto& m : v.GetObject()) {
    const std::string key = str(m.name);
    const std::string at = where + "/" + scenario::pointer_token(key);
    if (key == "op") {
      const std::string op = m.value.IsString() ? str(m.value) : "";
      if (op == "insert") c.op = ChangeOp::kInsert;
      else if (op == "update") c.op = ChangeOp::kUpdate;
      else if (op == "upsert") c.op = ChangeOp::kUpsert;
      else if (op == "delete") c.op = ChangeOp::kDelete;
      else return bad(at, "must be \"insert\", \"update\", \"upsert\" or \"delete\"");
      has_op = true;
    } else if (key == "kind") {
      const auto kind = m.value.IsString() ? parse_kind(str(m.value)) : std::nullopt;
      if (!kind) return bad(at, "must be \"datacenter\", \"check\", \"scenario\", \"region\" or \"record\"");
      c.kind = *kind;
      has_kind = true;
    } else if (key == "id" || key == "file") {
      if (!m.value.IsString() || m.value.GetStringLength() == 0) return bad(at, "must be a non-empty string");
      (key == "id" ? c.id : c.file) = str(m.value);
    } else if (key == "value") {
      c.value = scenario::json_text(m.value);
      has_value = true;
    } else if (!(key == "if_generation" && where.empty())) {  // a single operation may carry the batch's
      return bad(at, "unknown key " + in_quotes(key));
    }
  }
  if (!has_op) return bad(where + "/op", "missing: \"insert\", \"update\", \"upsert\" or \"delete\"");
  if (!has_kind) return bad(where + "/kind", "missing: \"datacenter\", \"check\", \"scenario\", \"region\" or \"record\"");
  if (c.op == ChangeOp::kDelete && has_value) return bad(where + "/value", "a delete takes no value");
  if (c.op != ChangeOp::kDelete && !has_value) return bad(where + "/value", "missing: the object as in the scenario file");
  if (c.op != ChangeOp::kInsert && c.op != ChangeOp::kUpsert && !c.file.empty())
    return bad(where + "/file", "only an insert chooses its file; an object is updated and deleted where it is");
  return c;
}

std::variant<ChangeBatch, Error> parse_change_batch(const Value& body) {
  if (!body.IsObject()) return bad("", "the body must be a JSON object");
  ChangeBatch batch;
  if (const auto g = body.FindMember("if_generation"); g != body.MemberEnd()) {
    batch.if_generation = parse_generation(g->value);
    if (!batch.if_generation) return bad("/if_generation", "must be a config generation (a whole number)");
  }
  const auto list = body.FindMember("changes");
  if (list == body.MemberEnd()) {
    auto one = parse_change(body, "");
    if (auto* e = std::get_if<Error>(&one)) return *e;
    batch.changes.push_back(std::move(std::get<ConfigChange>(one)));
    return batch;
  }
  for (const auto& m : body.GetObject()) {
    const std::string key = str(m.name);
    if (key != "changes" && key != "if_generation") return bad("/" + scenario::pointer_token(key), "unknown key " + in_quotes(key));
  }
  if (!list->value.IsArray() || list->value.Empty()) return bad("/changes", "must be a non-empty array of operations");
  for (rapidjson::SizeType i = 0; i < list->value.Size(); ++i) {
    auto one = parse_change(list->value[i], "/changes/" + std::to_string(i));
    if (auto* e = std::get_if<Error>(&one)) return *e;
    batch.changes.push_back(std::move(std::get<ConfigChange>(one)));
  }
  return batch;
}

std::variant<PreparedChange, ChangeFailure> prepare_change(const std::string& config_path, const ChangeBatch& batch) {
  Result<Config> config = load_config(config_path);
  if (!config) return ChangeFailure{422, config.error()};
  if (config->scenarios.empty())
    return ChangeFailure{422, Error{config_path, "/scenarios", "lists no scenario file to hold the configuration"}};
  Result<ScenarioDocs> docs = ScenarioDocs::read(config->scenarios);
  if (!docs) return ChangeFailure{422, docs.error()};
  const std::string config_dir = std::filesystem::path(config_path).parent_path().string();

  PreparedChange out;
  for (std::size_t i = 0; i < batch.changes.size(); ++i) {
    const ConfigChange& c = batch.changes[i];
    const std::string where = batch.changes.size() == 1 ? "" : "/changes/" + std::to_string(i);
    rapidjson::Document value;
    if (!c.value.empty()) value.Parse(c.value.data(), c.value.size());  // our own compact text
    auto id = resolve_id(c, c.value.empty() ? nullptr : &value, where);
    if (auto* f = std::get_if<ChangeFailure>(&id)) return *f;
    AppliedChange a{c.op, c.kind, std::get<std::string>(id), "", "", "", ""};
    const std::optional<Located> at = docs->find(c.kind, a.id);
    if (a.op == ChangeOp::kUpsert) a.op = at ? ChangeOp::kUpdate : ChangeOp::kInsert;
    if (a.op != ChangeOp::kInsert && !at) return ChangeFailure{404, bad(where + "/id", "no " + thing(c.kind, a.id))};
    if (a.op == ChangeOp::kInsert) {
      if (at)
        return ChangeFailure{409, Error{docs->doc(at->doc).path, at->pointer, thing(c.kind, a.id) + " already exists"}};
      std::size_t target = 0;
      if (!c.file.empty()) {
        const auto found = docs->index_of(c.file, config_dir);
        if (!found)
          return ChangeFailure{400, bad(where + "/file", in_quotes(c.file) + " is not one of the scenario files in " + config_path)};
        target = *found;
      }
      if (auto r = docs->insert(target, c.kind, a.id, value); !r) return ChangeFailure{422, r.error()};
      const auto now = docs->find(c.kind, a.id);
      a.file = docs->doc(target).path;
      a.pointer = now ? now->pointer : "";
      a.after = summary(value);
    } else {
      if (!c.file.empty() && docs->index_of(c.file, config_dir) != at->doc)
        return ChangeFailure{400, bad(where + "/file", thing(c.kind, a.id) + " is in " + docs->doc(at->doc).path +
                                                           ": to move it, delete it and insert it into the other file")};
      a.file = docs->doc(at->doc).path;
      a.pointer = at->pointer;
      a.before = summary(*at->value);
      if (a.op == ChangeOp::kUpdate) {
        docs->replace(*at, value);
        a.after = summary(value);
      } else {
        docs->remove(*at);
      }
    }
    out.applied.push_back(std::move(a));
  }

  scenario::FileTexts texts;
  for (std::size_t i = 0; i < docs->size(); ++i) {
    const ScenarioDoc& d = docs->doc(i);
    if (!d.changed) continue;
    std::string text = pretty_json(d.doc);
    texts.emplace(d.path, text);
    out.files.emplace_back(d.path, std::move(text));
  }
  out.load = load_everything(config_path, &texts);
  if (!out.load.loaded) {
    Error e = out.load.errors.empty() ? Error{config_path, "", "the configuration does not load"} : out.load.errors.front();
    return ChangeFailure{422, std::move(e)};
  }
  return out;
}

Result<void> write_change(const PreparedChange& change) {
  std::vector<std::string> temps;
  for (const auto& [path, text] : change.files) {
    Result<std::string> t = write_temp(path, text);
    if (!t) {
      for (const auto& done : temps) ::unlink(done.c_str());
      return t.error();
    }
    temps.push_back(std::move(*t));
  }
  for (std::size_t i = 0; i < temps.size(); ++i) {
    if (auto r = replace_file(temps[i], change.files[i].first); !r) {
      for (std::size_t k = i + 1; k < temps.size(); ++k) ::unlink(temps[k].c_str());
      return r;
    }
  }
  return {};
}

}  // namespace pharos::app
