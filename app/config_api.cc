// config_api.cc: see config_api.h.
#include "app/config_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

#include "scenario/json_reader.h"

namespace pharos::app {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A change waits for the reload or change before it and then loads everything: as long as a reload.
constexpr auto kChangeTimeout = std::chrono::minutes(5);

void str(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void kv(Writer& w, const char* k, const std::string& v) {
  w.Key(k);
  str(w, v);
}

void write_located(Writer& w, const ScenarioDocs& docs, const Located& at) {
  kv(w, "id", at.id);
  kv(w, "file", docs.doc(at.doc).path);
  kv(w, "pointer", at.pointer);
  w.Key("value");
  at.value->Accept(w);
}

ApiResponse with_etag(ApiResponse r, std::uint64_t generation) {
  r.headers.emplace_back("ETag", "\"" + std::to_string(generation) + "\"");
  return r;
}

// A failure as JSON: the whole message, and its file, JSON Pointer and text apart for scripts.
ApiResponse failure(int status, const Error& e, std::uint64_t generation) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  // A request error has no file: its pointer is into the request body.
  kv(w, "error", !e.file.empty() || e.where.empty() ? e.to_string() : e.where + ": " + e.message);
  kv(w, "file", e.file);
  kv(w, "where", e.where);
  kv(w, "message", e.message);
  w.Key("config_generation");
  w.Uint64(generation);
  w.EndObject();
  return api_json(status, std::string(b.GetString(), b.GetSize()));
}

std::string who(const ApiRequest& r) { return r.token_name.empty() ? "operator" : r.token_name; }

// The object's ID from the path: a name, or a record's name and type.
std::string path_id(const ApiRequest& r, ConfigKind kind) {
  return kind == ConfigKind::kRecord ? r.params.at(0) + "/" + r.params.at(1) : r.params.at(0);
}

// The generation a change is conditional on may come in the body, as ?if_generation=N, or as an
// If-Match header holding the ETag of a GET ("7", W/"7"; * means any). Given twice, it must agree.
std::optional<ApiResponse> preconditions(const ApiRequest& r, ChangeBatch& batch) {
  const auto take = [&](std::optional<std::uint64_t> g, const char* where) -> std::optional<ApiResponse> {
    if (!g) return api_error(400, std::string(where) + " must be a config generation (a whole number, as the ETag gives it)");
    if (batch.if_generation && *batch.if_generation != *g)
      return api_error(400, std::string(where) + " says generation " + std::to_string(*g) + " but the request also says " +
                                std::to_string(*batch.if_generation));
    batch.if_generation = g;
    return std::nullopt;
  };
  if (auto it = r.query.find("if_generation"); it != r.query.end())
    if (auto e = take(parse_generation(it->second), "if_generation")) return e;
  if (r.if_match) {
    std::string tag = *r.if_match;
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.erase(0, 1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.pop_back();
    if (tag == "*") return std::nullopt;
    if (tag.rfind("W/", 0) == 0) tag.erase(0, 2);
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
    if (auto e = take(parse_generation(tag), "If-Match")) return e;
  }
  return std::nullopt;
}

}  // namespace

ApiResponse ConfigApi::get(ConfigKind kind, const std::string* id) const {
  const std::uint64_t generation = this->generation();
  Result<Config> config = load_config(c_.config_path);
  if (!config) return failure(500, config.error(), generation);
  Result<ScenarioDocs> docs = ScenarioDocs::read(config->scenarios);
  if (!docs) return failure(500, docs.error(), generation);
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  kv(w, "kind", to_string(kind));
  w.Key("config_generation");
  w.Uint64(generation);
  if (id != nullptr) {
    std::string want = *id;
    if (kind == ConfigKind::kRecord) {
      const auto slash = id->rfind('/');
      auto canonical = record_id(std::string_view(*id).substr(0, slash), std::string_view(*id).substr(slash + 1));
      if (!canonical) return api_error(400, "unknown record type in " + scenario::in_quotes(*id));
      want = *canonical;
    }
    const auto at = docs->find(kind, want);
    if (!at) return api_error(404, "no " + std::string(to_string(kind)) + " " + scenario::in_quotes(want));
    write_located(w, *docs, *at);
  } else {
    w.Key("items");
    w.StartArray();
    for (const Located& at : docs->list(kind)) {
      w.StartObject();
      write_located(w, *docs, at);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return with_etag(api_json(200, std::string(b.GetString(), b.GetSize())), generation);
}

ApiResponse ConfigApi::answer(const ChangeOutcome& o) {
  if (o.status != 200) return failure(o.status, o.error, o.config_generation);
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("ok");
  w.Bool(true);
  w.Key("config_generation");
  w.Uint64(o.config_generation);
  w.Key("changes");
  w.StartArray();
  for (const AppliedChange& a : o.applied) {
    w.StartObject();
    kv(w, "op", to_string(a.op));
    kv(w, "kind", to_string(a.kind));
    kv(w, "id", a.id);
    kv(w, "file", a.file);
    kv(w, "pointer", a.pointer);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return with_etag(api_json(200, std::string(b.GetString(), b.GetSize())), o.config_generation);
}

std::variant<ChangeBatch, ApiResponse> ConfigApi::single(const ApiRequest& r, ConfigKind kind, ChangeOp op) const {
  ChangeBatch batch;
  ConfigChange c;
  c.op = op;
  c.kind = kind;
  c.id = path_id(r, kind);
  if (op != ChangeOp::kDelete || !r.body.empty()) {
    auto parsed = parse_body(r);
    if (auto* e = std::get_if<ApiResponse>(&parsed)) return *e;
    const auto& d = std::get<rapidjson::Document>(parsed);
    for (const auto& m : d.GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      if (key == "value" && op != ChangeOp::kDelete) {
        c.value = scenario::json_text(m.value);
      } else if (key == "file" && op != ChangeOp::kDelete) {
        if (!m.value.IsString() || m.value.GetStringLength() == 0) return api_error(400, "\"file\" must be a non-empty string");
        c.file = m.value.GetString();
      } else if (key == "if_generation") {
        batch.if_generation = parse_generation(m.value);
        if (!batch.if_generation) return api_error(400, "\"if_generation\" must be a config generation (a whole number)");
      } else {
        return api_error(400, "unknown key " + scenario::in_quotes(key) +
                                  (op == ChangeOp::kDelete ? " (a delete takes only \"if_generation\")"
                                                           : " (send {\"value\": ..., \"file\": ..., \"if_generation\": ...})"));
      }
    }
    if (op != ChangeOp::kDelete && c.value.empty())
      return api_error(400, "missing \"value\": the " + std::string(to_string(kind)) + " as in the scenario file");
  }
  if (auto e = preconditions(r, batch)) return *e;
  batch.changes.push_back(std::move(c));
  return batch;
}

void ConfigApi::submit(const ApiRequest& r, std::variant<ChangeBatch, ApiResponse>&& batch, ControlServer::Reply reply) {
  if (auto* e = std::get_if<ApiResponse>(&batch)) {
    reply(std::move(*e));
    return;
  }
  c_.change(std::move(std::get<ChangeBatch>(batch)), who(r),
            [reply = std::move(reply)](const ChangeOutcome& o) { reply(answer(o)); });
}

ControlServer::Reply ConfigApi::counted(ControlServer::Reply reply) const {
  if (!c_.answered) return reply;
  return [answered = c_.answered, reply = std::move(reply)](ApiResponse r) {
    answered(r.status);
    reply(std::move(r));
  };
}

void ConfigApi::install(ControlServer& s) {
  s.route_async(
      "POST", "/v1/config/changes", Role::kOperator,
      [this](const ApiRequest& r, ControlServer::Reply plain) {
        auto reply = counted(std::move(plain));
        auto parsed = parse_body(r);
        if (auto* e = std::get_if<ApiResponse>(&parsed)) return reply(std::move(*e));
        auto batch = parse_change_batch(std::get<rapidjson::Document>(parsed));
        if (auto* e = std::get_if<Error>(&batch)) return reply(failure(400, *e, generation()));
        auto& b = std::get<ChangeBatch>(batch);
        if (auto e = preconditions(r, b)) return reply(std::move(*e));
        submit(r, std::move(b), std::move(reply));
      },
      kChangeTimeout);
  for (ConfigKind kind : kAllConfigKinds) {
    const std::string list = std::string("/v1/config/") + section_of(kind);
    const std::string one = list + (kind == ConfigKind::kRecord ? "/{name}/{type}" : "/{id}");
    s.route("GET", list, Role::kRead, [this, kind](const ApiRequest&) { return get(kind, nullptr); });
    s.route("GET", one, Role::kRead, [this, kind](const ApiRequest& r) {
      const std::string id = path_id(r, kind);
      return get(kind, &id);
    });
    s.route_async(
        "PUT", one, Role::kOperator,
        [this, kind](const ApiRequest& r, ControlServer::Reply reply) {
          submit(r, single(r, kind, ChangeOp::kUpsert), counted(std::move(reply)));
        },
        kChangeTimeout);
    s.route_async(
        "DELETE", one, Role::kOperator,
        [this, kind](const ApiRequest& r, ControlServer::Reply reply) {
          submit(r, single(r, kind, ChangeOp::kDelete), counted(std::move(reply)));
        },
        kChangeTimeout);
  }
}

}  // namespace pharos::app
