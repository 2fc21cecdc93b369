// pharosctl.cc: the operator's command line for pharosd's control API (docs/api.md): readable
// tables by default, the server's JSON as is with --json. Exit codes: 0 ok, 1 the server said no,
// 2 usage (including an unreadable token file), 3 the daemon cannot be reached.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "app/api_client.h"

namespace {

using pharos::app::url_encode;
using rapidjson::Value;

constexpr int kExitOk = 0, kExitRefused = 1, kExitUsage = 2, kExitUnreachable = 3;

// ---- Rendering: whatever fields are there; a missing one shows as "-". ----

std::string compact(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

std::string text(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsNull()) return "-";
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsArray()) {
    std::string out;
    for (const auto& e : v.GetArray()) out += (out.empty() ? "" : ",") + text(e);
    return out.empty() ? "-" : out;
  }
  return compact(v);  // doubles and objects
}

// The member at a path of keys ("last", "ok"), or null when any step is missing.
const Value* at(const Value& v, std::initializer_list<const char*> path) {
  const Value* cur = &v;
  for (const char* key : path) {
    if (!cur->IsObject()) return nullptr;
    auto it = cur->FindMember(key);
    if (it == cur->MemberEnd()) return nullptr;
    cur = &it->value;
  }
  return cur;
}

struct Column {
  std::string header;
  std::function<std::string(const Value&)> cell;
};

Column col(std::string header, std::initializer_list<const char*> path) {
  std::vector<const char*> keys(path);
  return {std::move(header), [keys](const Value& v) {
            const Value* cur = &v;
            for (const char* k : keys) {
              if (!cur->IsObject() || !cur->HasMember(k)) return std::string("-");
              cur = &(*cur)[k];
            }
            return text(*cur);
          }};
}

void print_table(const std::vector<Column>& cols, const std::vector<const Value*>& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const auto& c : cols) width.push_back(c.header.size());
  for (const Value* r : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      line.push_back(cols[i].cell(*r));
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  const auto emit = [&](const std::vector<std::string>& line) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(width[i] - line[i].size() + 2, ' ');
    }
    std::cout << out << '\n';
  };
  std::vector<std::string> headers;
  for (const auto& c : cols) headers.push_back(c.header);
  emit(headers);
  for (const auto& line : cells) emit(line);
}

std::vector<const Value*> rows_of(const Value& doc, const char* key) {
  std::vector<const Value*> rows;
  const Value* list = at(doc, {key});
  if (list != nullptr && list->IsArray())
    for (const auto& e : list->GetArray()) rows.push_back(&e);
  return rows;
}

// "key: value" lines for every member, nested objects flattened as "outer.inner".
void print_fields(const Value& v, const std::string& prefix = "") {
  if (!v.IsObject()) return;
  for (const auto& m : v.GetObject()) {
    const std::string key = prefix + m.name.GetString();
    if (m.value.IsObject()) print_fields(m.value, key + ".");
    else if (!(m.value.IsArray() && !m.value.Empty() && m.value[0].IsObject())) std::cout << key << ": " << text(m.value) << '\n';
  }
}

void show_status(const Value& d) { print_fields(d); }

void show_dcs(const Value& d) {
  print_table({col("DC", {"name"}), col("STATUS", {"status"}), col("REASON", {"reason"}), col("SINCE", {"since"}),
               {"MAINTENANCE", [](const Value& v) {
                  const Value* on = at(v, {"maintenance", "on"});
                  if (on == nullptr || !on->IsBool() || !on->GetBool()) return std::string("-");
                  std::string s = "on";
                  if (const Value* u = at(v, {"maintenance", "until"}); u && !u->IsNull()) s += " until " + text(*u);
                  if (const Value* b = at(v, {"maintenance", "by"}); b && !b->IsNull()) s += " by " + text(*b);
                  if (const Value* r = at(v, {"maintenance", "reason"}); r && !r->IsNull()) s += ": " + text(*r);
                  return s;
                }}},
              rows_of(d, "datacenters"));
}

void show_checks(const Value& d) {
  print_table({col("CHECK", {"id"}), col("STATE", {"state"}), col("MEASURED", {"measured"}), col("FORCED", {"forced"}),
               col("SINCE", {"since"}), col("LAST OK", {"last", "ok"}), col("LATENCY MS", {"last", "latency_ms"}),
               col("LAST REASON", {"last", "reason"}), col("PROBES", {"counters", "probes"}),
               col("FAILURES", {"counters", "failures"}), col("TRANSITIONS", {"counters", "transitions"})},
              rows_of(d, "checks"));
}

// One check: its fields, then its recent results (newest last).
void show_check(const Value& d) {
  print_fields(d);
  const auto recent = rows_of(d, "recent");
  if (recent.empty()) return;
  std::cout << '\n';
  print_table({col("AT", {"at"}), col("OK", {"ok"}), col("LATENCY MS", {"latency_ms"}), col("REASON", {"reason"})}, recent);
}

void show_scenarios(const Value& d) {
  print_table({col("SCENARIO", {"name"}), col("VALUE", {"value"}), col("KNOWN", {"known"}), col("FORMULA", {"formula"})},
              rows_of(d, "scenarios"));
}

void show_records(const Value& d) {
  // One line per (record, region): the answer each region gets now.
  rapidjson::Document flat(rapidjson::kArrayType);
  auto& a = flat.GetAllocator();
  for (const Value* r : rows_of(d, "records")) {
    const Value* regions = at(*r, {"regions"});
    const auto add = [&](const Value* region) {
      Value row(rapidjson::kObjectType);
      for (const char* k : {"name", "type", "ttl"})
        if (const Value* f = at(*r, {k})) row.AddMember(Value(k, a), Value(*f, a), a);
      if (region != nullptr && region->IsObject())
        for (const auto& m : region->GetObject()) row.AddMember(Value(m.name, a), Value(m.value, a), a);
      flat.PushBack(row, a);
    };
    if (regions == nullptr || !regions->IsArray() || regions->Empty()) add(nullptr);
    else
      for (const auto& g : regions->GetArray()) add(&g);
  }
  std::vector<const Value*> rows;
  for (const auto& e : flat.GetArray()) rows.push_back(&e);
  print_table({col("NAME", {"name"}), col("TYPE", {"type"}), col("TTL", {"ttl"}), col("REGION", {"region"}),
               col("SOURCE", {"source"}), col("ENTRY", {"entry"}), col("DC", {"dc"}), col("RDATA", {"rdata"}),
               col("SINCE", {"since"}), col("REASON", {"reason"})},
              rows);
}

void show_explain(const Value& d) {
  print_fields(d);
  // Every chain entry in the client region's order, and why it serves or not.
  if (const auto entries = rows_of(d, "entries"); !entries.empty()) {
    std::cout << '\n';
    print_table({col("ENTRY", {"index"}), col("DC", {"dc"}), col("HEALTHY", {"healthy"}), col("SERVING", {"serving"}),
                 col("HELD", {"held"}), col("WHY", {"why"})},
                entries);
  }
  const auto checks = rows_of(d, "checks");
  if (checks.empty()) return;
  std::cout << '\n';
  print_table({col("CHECK", {"id"}), col("STATE", {"state"}), col("SINCE", {"since"}), col("REASON", {"reason"})}, checks);
}

void show_audit(const Value& d) {
  print_table({col("AT", {"at"}), col("KIND", {"kind"}), col("SUBJECT", {"subject"}), col("REGION", {"region"}), col("FROM", {"from"}),
               col("TO", {"to"}), col("REASON", {"reason"}), col("BY", {"by"})},
              rows_of(d, "entries"));
}

void show_action(const Value& d) {
  if (!d.IsObject() || d.ObjectEmpty()) {
    std::cout << "ok\n";
    return;
  }
  print_fields(d);
}

// ---- Configuration (GET /v1/config/...) ----

std::string pretty(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return sb.GetString();
}

// One object: where it is, then the object as in the file.
void show_config_object(const Value& d) {
  for (const char* k : {"kind", "id", "file", "pointer", "config_generation"})
    if (const Value* f = at(d, {k})) std::cout << k << ": " << text(*f) << '\n';
  if (const Value* v = at(d, {"value"})) std::cout << pretty(*v) << '\n';
}

void show_config_list(const Value& d) {
  print_table({col("ID", {"id"}), col("FILE", {"file"}), col("POINTER", {"pointer"}),
               {"VALUE", [](const Value& v) {
                  const Value* value = at(v, {"value"});
                  std::string s = value != nullptr ? compact(*value) : "-";
                  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
                }}},
              rows_of(d, "items"));
  if (const Value* g = at(d, {"config_generation"})) std::cout << "config generation: " << text(*g) << '\n';
}

void show_config_changes(const Value& d) {
  print_table({col("OP", {"op"}), col("KIND", {"kind"}), col("ID", {"id"}), col("FILE", {"file"}), col("POINTER", {"pointer"})},
              rows_of(d, "changes"));
  if (const Value* g = at(d, {"config_generation"})) std::cout << "config generation: " << text(*g) << '\n';
}

// "datacenter", "dcs", "records", ... -> the API's path segment.
std::string config_section(const std::string& kind) {
  for (const auto& [names, section] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"datacenter", "datacenters", "dc", "dcs"}, "datacenters"},
           {{"check", "checks"}, "checks"},
           {{"scenario", "scenarios"}, "scenarios"},
           {{"region", "regions"}, "regions"},
           {{"record", "records"}, "records"}})
    for (const auto& n : names)
      if (kind == n) return section;
  return "";
}

// The path of one object; a record's ID is "NAME/TYPE" ("www.example.com./A").
std::string config_path(const std::string& section, const std::string& id) {
  if (section != "records") return "/v1/config/" + section + "/" + url_encode(id);
  const auto slash = id.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == id.size())
    throw CLI::ValidationError("ID", "a record is named NAME/TYPE, such as www.example.com./A");
  return "/v1/config/records/" + url_encode(id.substr(0, slash)) + "/" + url_encode(id.substr(slash + 1));
}

// A JSON file ("-" for stdin), checked here so that a typo is a usage error with its line.
std::string read_json_arg(const std::string& path) {
  std::string body;
  if (path == "-") {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CLI::ValidationError(path, "cannot read the file");
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError()) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < d.GetErrorOffset() && i < body.size(); ++i) line += body[i] == '\n';
    throw CLI::ValidationError(path == "-" ? "stdin" : path,
                               "invalid JSON at line " + std::to_string(line) + ": " + rapidjson::GetParseError_En(d.GetParseError()));
  }
  return body;
}

// ---- Metrics (GET /metrics: Prometheus text, not JSON) ----

// One sample line, `name{key="value",...} value`, as pharosd writes them; false if it is not one.
bool parse_sample(const std::string& line, std::string& name, std::vector<std::pair<std::string, std::string>>& labels,
                  std::string& value) {
  labels.clear();
  std::size_t i = line.find_first_of("{ ");
  if (i == std::string::npos || i == 0 || line[0] == '#') return false;
  name = line.substr(0, i);
  if (line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t eq = line.find('=', i);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      std::string key = line.substr(i, eq - i), v;
      for (i = eq + 2; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          v += line[i] == 'n' ? '\n' : line[i];
        } else {
          v += line[i];
        }
      }
      if (i >= line.size()) return false;
      labels.emplace_back(std::move(key), std::move(v));
      ++i;  // the closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  value = line.substr(i + 1);
  return !value.empty();
}

// The samples whose metric name starts with one of `prefixes` (all when none): as served, or as
// {"samples": [{"name", "labels": {...}, "value"}]} with --json (+Inf, -Inf and NaN as strings).
int show_metrics(const std::string& body, const std::vector<std::string>& prefixes, bool json) {
  const auto wanted = [&](const std::string& n) {
    if (prefixes.empty()) return true;
    for (const auto& p : prefixes)
      if (n.rfind(p, 0) == 0) return true;
    return false;
  };
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("samples");
  w.StartArray();
  std::size_t start = 0;
  std::string name, value;
  std::vector<std::pair<std::string, std::string>> labels;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(start, end - start);
    start = end + 1;
    const bool sample = parse_sample(line, name, labels, value);
    if (!json) {
      // Everything as served; with a filter only the matching samples.
      if (prefixes.empty() || (sample && wanted(name))) std::cout << line << '\n';
      continue;
    }
    if (!sample || !wanted(name)) continue;
    w.StartObject();
    w.Key("name");
    w.String(name.c_str());
    w.Key("labels");
    w.StartObject();
    for (const auto& [k, v] : labels) {
      w.Key(k.c_str());
      w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndObject();
    w.Key("value");
    char* rest = nullptr;
    const double x = std::strtod(value.c_str(), &rest);
    if (rest == nullptr || *rest != '\0' || !std::isfinite(x)) w.String(value.c_str());
    else if (x == std::floor(x) && std::fabs(x) < 9e15) w.Int64(static_cast<std::int64_t>(x));  // counts stay integers
    else w.Double(x);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  if (json) std::cout << sb.GetString() << '\n';
  return 0;
}

// ---- Calls ----

struct Call {
  std::string method = "GET";
  std::string path;
  std::string body;
  void (*show)(const Value&) = show_action;
  // For an answer that is not JSON (/metrics): shows it; returns the exit code.
  std::function<int(const std::string& body, bool json)> raw = {};
};

std::string json_string(const std::string& s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return sb.GetString();
}

const char* status_text(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

int run_call(const pharos::app::ApiClientOptions& options, const Call& call, bool json) {
  const pharos::app::ApiCall r = pharos::app::call_api(options, call.method, call.path, call.body);
  if (r.failure) {
    std::cerr << "pharosctl: " << *r.failure << '\n';
    return kExitUnreachable;
  }
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  const bool parsed = !doc.HasParseError();
  if (call.raw && r.status >= 200 && r.status < 300) return call.raw(r.body, json);
  if (json) {
    std::cout << r.body;
    if (!r.body.empty() && r.body.back() != '\n') std::cout << '\n';
  }
  if (r.status < 200 || r.status >= 300) {
    std::string message = r.body;
    if (const Value* e = parsed ? at(doc, {"error"}) : nullptr; e != nullptr && e->IsString()) message = e->GetString();
    std::cerr << "pharosctl: " << call.method << ' ' << call.path << ": " << r.status << ' ' << status_text(r.status)
              << (message.empty() ? "" : ": " + message) << '\n';
    return kExitRefused;
  }
  if (json) return kExitOk;
  if (!parsed) {
    std::cerr << "pharosctl: the server's answer is not JSON: " << r.body.substr(0, 200) << '\n';
    return kExitRefused;
  }
  call.show(doc);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pharosctl: see and steer pharosd through its control API (docs/api.md)"};
  app.require_subcommand(1);
  app.fallthrough();
  pharos::app::ApiClientOptions options;
  std::string token_file;
  bool json = false;
  app.add_option("--server", options.server, "pharosd's control API, host:port")
      ->envname("PHAROS_SERVER")
      ->capture_default_str();
  app.add_option("--token-file", token_file, "file holding the API token")->envname("PHAROS_TOKEN_FILE");
  app.add_flag("--json", json, "print the server's JSON as is");

  Call call;
  app.add_subcommand("status", "server status, config generation, last reload")->callback([&] {
    call = {"GET", "/v1/status", "", show_status};
  });
  app.add_subcommand("dcs", "data centers: status and reason, maintenance")->callback([&] {
    call = {"GET", "/v1/datacenters", "", show_dcs};
  });
  std::string check_id;
  auto* checks = app.add_subcommand("checks", "checks: real and forced state, last result, counters; one with its recent results");
  checks->add_option("CHECK", check_id, "one check's ID");
  checks->callback([&] {
    call = check_id.empty() ? Call{"GET", "/v1/checks", "", show_checks}
                            : Call{"GET", "/v1/checks/" + url_encode(check_id), "", show_check};
  });
  app.add_subcommand("scenarios", "scenarios and their values")->callback([&] {
    call = {"GET", "/v1/scenarios", "", show_scenarios};
  });
  app.add_subcommand("records", "GTM records and the answer each region gets")->callback([&] {
    call = {"GET", "/v1/records", "", show_records};
  });

  std::string name, type, client;
  auto* explain = app.add_subcommand("explain", "why a name answers what it answers");
  explain->add_option("NAME", name, "owner name")->required();
  explain->add_option("TYPE", type, "record type")->required();
  explain->add_option("--client", client, "client address (picks the region)");
  explain->callback([&] {
    std::string path = "/v1/explain?name=" + url_encode(name) + "&type=" + url_encode(type);
    if (!client.empty()) path += "&client=" + url_encode(client);
    call = {"GET", path, "", show_explain};
  });

  unsigned limit = 0;
  auto* audit = app.add_subcommand("audit", "recent answer changes and operator actions, with their causes");
  audit->add_option("--limit", limit, "at most this many entries");
  audit->callback([&] {
    call = {"GET", limit > 0 ? "/v1/audit?limit=" + std::to_string(limit) : "/v1/audit", "", show_audit};
  });

  std::string dc, duration, reason;
  auto* maint = app.add_subcommand("maintenance", "take a data center out of every answer, or back");
  maint->require_subcommand(1);
  auto* on = maint->add_subcommand("on", "start maintenance");
  on->add_option("DC", dc, "data center")->required();
  on->add_option("--for", duration, "end it after this long (\"30m\", \"2h\")");
  on->add_option("--reason", reason, "why, for the audit journal");
  on->callback([&] {
    std::string body = "{";
    if (!duration.empty()) body += "\"for\":" + json_string(duration);
    if (!reason.empty()) body += std::string(body.size() > 1 ? "," : "") + "\"reason\":" + json_string(reason);
    body += "}";
    call = {"POST", "/v1/datacenters/" + url_encode(dc) + "/maintenance", body, show_dcs};
  });
  auto* off = maint->add_subcommand("off", "end maintenance");
  off->add_option("DC", dc, "data center")->required();
  off->callback([&] { call = {"DELETE", "/v1/datacenters/" + url_encode(dc) + "/maintenance", "", show_dcs}; });

  std::string check, state;
  auto* force = app.add_subcommand("force", "force a check up or down, or clear the forced state");
  force->add_option("CHECK", check, "check ID")->required();
  force->add_option("STATE", state, "up, down or clear")->required()->check(CLI::IsMember({"up", "down", "clear"}));
  force->callback([&] {
    const std::string path = "/v1/checks/" + url_encode(check) + "/force";
    call = state == "clear" ? Call{"DELETE", path, "", show_action}
                            : Call{"POST", path, "{\"state\":" + json_string(state) + "}", show_action};
  });

  auto* resume = app.add_subcommand("resume", "let an onlyNew-held entry serve again");
  resume->add_option("NAME", name, "record name")->required();
  resume->add_option("TYPE", type, "record type")->required();
  resume->add_option("DC", dc, "the data center of the held entry")->required();
  resume->callback([&] {
    call = {"POST", "/v1/records/" + url_encode(name) + "/" + url_encode(type) + "/resume",
            "{\"dc\":" + json_string(dc) + "}", show_action};
  });

  app.add_subcommand("reload", "reload the configuration (all or nothing)")->callback([&] {
    call = {"POST", "/v1/reload", "", show_action};
  });

  std::vector<std::string> metric_prefixes;
  auto* metrics = app.add_subcommand("metrics", "the Prometheus metrics (/metrics), or those whose names start with NAME");
  metrics->add_option("NAME", metric_prefixes, "metric name prefixes, such as pharos_dc_status or pharos_config_");
  metrics->callback([&] {
    call = {"GET", "/metrics", "", show_action,
            [&metric_prefixes](const std::string& body, bool as_json) { return show_metrics(body, metric_prefixes, as_json); }};
  });

  std::string kind, id, object_file = "-", into, changes_file, if_generation;
  auto* config = app.add_subcommand("config", "read and change DCs, checks, scenarios, regions and records");
  config->require_subcommand(1);
  const auto kinds = CLI::IsMember({"datacenter", "datacenters", "dc", "dcs", "check", "checks", "scenario",
                                    "scenarios", "region", "regions", "record", "records"});
  const auto generation_query = [&] { return if_generation.empty() ? std::string() : "?if_generation=" + if_generation; };
  auto* get = config->add_subcommand("get", "objects of a kind as the scenario files hold them, or one of them");
  get->add_option("KIND", kind, "datacenter, check, scenario, region or record")->required()->check(kinds);
  get->add_option("ID", id, "its name; a record's is NAME/TYPE");
  get->callback([&] {
    const std::string section = config_section(kind);
    call = id.empty() ? Call{"GET", "/v1/config/" + section, "", show_config_list}
                      : Call{"GET", config_path(section, id), "", show_config_object};
  });
  auto* set = config->add_subcommand("set", "insert or replace one object (JSON as in the scenario file)");
  set->add_option("KIND", kind, "datacenter, check, scenario, region or record")->required()->check(kinds);
  set->add_option("ID", id, "its name; a record's is NAME/TYPE")->required();
  set->add_option("--file", object_file, "the object's JSON; \"-\" (the default) reads stdin");
  set->add_option("--into", into, "a new object goes into this scenario file (default: the first one)");
  set->add_option("--if-generation", if_generation, "apply only at this config generation")->check(CLI::NonNegativeNumber);
  set->callback([&] {
    std::string body = "{\"value\":" + read_json_arg(object_file);
    if (!into.empty()) body += ",\"file\":" + json_string(into);
    body += "}";
    call = {"PUT", config_path(config_section(kind), id) + generation_query(), body, show_config_changes};
  });
  auto* del = config->add_subcommand("delete", "delete one object");
  del->add_option("KIND", kind, "datacenter, check, scenario, region or record")->required()->check(kinds);
  del->add_option("ID", id, "its name; a record's is NAME/TYPE")->required();
  del->add_option("--if-generation", if_generation, "apply only at this config generation")->check(CLI::NonNegativeNumber);
  del->callback([&] {
    call = {"DELETE", config_path(config_section(kind), id) + generation_query(), "", show_config_changes};
  });
  config->add_subcommand("generation", "the config generation (grows with every reload and change)")->callback([&] {
    call = {"GET", "/v1/config/generation", "", show_action};
  });
  auto* apply = config->add_subcommand("apply", "apply a batch of operations, all or nothing (docs/api.md)");
  apply->add_option("FILE", changes_file, "{\"changes\": [...]}; \"-\" reads stdin")->required();
  apply->add_option("--if-generation", if_generation, "apply only at this config generation")->check(CLI::NonNegativeNumber);
  apply->callback([&] {
    call = {"POST", "/v1/config/changes" + generation_query(), read_json_arg(changes_file), show_config_changes};
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!token_file.empty()) {
    std::string error;
    auto token = pharos::app::read_token_file(token_file, error);
    if (!token) {
      std::cerr << "pharosctl: " << error << '\n';
      return kExitUsage;
    }
    options.token = std::move(*token);
  }
  return run_call(options, call, json);
}
