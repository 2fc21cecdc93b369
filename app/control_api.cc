// control_api.cc: see control_api.h. Responses are built with RapidJSON's writer; times are
// RFC 3339 in UTC with milliseconds.
#include "app/control_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "app/status_page.h"
#include "dns/ldns_compat.h"
#include "dns/responder.h"
#include "dns/wire.h"
#include "scenario/explain.h"
#include "scenario/json_reader.h"
#include "scenario/render.h"

namespace pharos::app {
namespace {

using scenario::rfc3339;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A small façade over RapidJSON's writer: key/value pairs in one call.
class Json {
 public:
  Json() : w_(b_) {}
  Json& begin() { w_.StartObject(); return *this; }
  Json& end() { w_.EndObject(); return *this; }
  Json& begin_array(const char* key) { w_.Key(key); w_.StartArray(); return *this; }
  Json& begin_array() { w_.StartArray(); return *this; }
  Json& end_array() { w_.EndArray(); return *this; }
  Json& begin_object(const char* key) { w_.Key(key); w_.StartObject(); return *this; }
  Json& key(const char* k) { w_.Key(k); return *this; }
  Json& str(const std::string& s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); return *this; }
  Json& kv(const char* k, const std::string& v) { key(k); return str(v); }
  Json& kv(const char* k, const char* v) { key(k); return str(v); }
  Json& kv(const char* k, bool v) { key(k); w_.Bool(v); return *this; }
  Json& kv(const char* k, std::uint64_t v) { key(k); w_.Uint64(v); return *this; }
  Json& kv(const char* k, std::int64_t v) { key(k); w_.Int64(v); return *this; }
  Json& kv(const char* k, int v) { key(k); w_.Int(v); return *this; }
  Json& kv(const char* k, double v) { key(k); w_.Double(v); return *this; }
  Json& null(const char* k) { key(k); w_.Null(); return *this; }
  // A time, or null for "never".
  Json& time(const char* k, scenario::SystemTime t) {
    if (t == scenario::SystemTime{}) return null(k);
    return kv(k, rfc3339(t));
  }
  std::string text() const { return std::string(b_.GetString(), b_.GetSize()); }

 private:
  rapidjson::StringBuffer b_;
  Writer w_;
};

using scenario::type_name;

// "www.Example.com" -> "www.example.com."
std::string absolute_lower(std::string name) {
  if (name.empty() || name.back() != '.') name += '.';
  for (char& c : name) c = static_cast<char>(dns::ascii_lower(static_cast<std::uint8_t>(c)));
  return name;
}

std::optional<std::uint16_t> parse_type(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const ldns_rr_type t = ldns_get_rr_type_by_name(text.c_str());
  if (t == 0) return std::nullopt;
  return static_cast<std::uint16_t>(t);
}

const char* rcode_name(int rcode) {
  static constexpr std::array<const char*, 11> kNames = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode >= 0 && static_cast<std::size_t>(rcode) < kNames.size() ? kNames[static_cast<std::size_t>(rcode)] : "?";
}

void write_selection(Json& j, const scenario::GtmRecord& r, const scenario::Selection& s) {
  j.kv("source", scenario::to_string(s.source));
  const bool chain = (s.source == scenario::Source::kChain || s.source == scenario::Source::kFailOpen) &&
                     s.entry >= 0 && static_cast<std::size_t>(s.entry) < r.chain.size();
  if (chain) {
    j.kv("entry", s.entry).kv("dc", r.chain[static_cast<std::size_t>(s.entry)].dc);
  } else {
    j.null("entry").null("dc");
  }
  j.begin_array("rdata");
  if (s.rdata != nullptr)
    for (const auto& rd : *s.rdata) j.str(rd);
  j.end_array();
  j.kv("reason", s.reason);
}

void write_rto(Json& j, const scenario::Rto& rto) {
  j.kv("rto_s", static_cast<double>(rto.total().count()) / 1000.0);
  j.begin_object("rto");
  j.kv("detection_ms", static_cast<std::int64_t>(rto.detection.count()))
      .kv("debounce_ms", static_cast<std::int64_t>(rto.debounce.count()))
      .kv("ttl_s", static_cast<std::uint64_t>(rto.ttl_s))
      .kv("slowest_check", rto.slowest_check);
  j.end();
}

void write_check_why(Json& j, const scenario::CheckWhy& c) {
  j.begin().kv("id", c.id).kv("state", health::to_string(c.state)).kv("forced", c.forced).time("since", c.since)
      .kv("reason", c.reason).end();
}

// A client address as text -> a sockaddr for the responder, and its family and bytes.
struct ClientAddress {
  sockaddr_storage ss{};
  int family = 0;
  std::array<std::uint8_t, 16> bytes{};
};

std::optional<ClientAddress> parse_client(const std::string& text) {
  ClientAddress c;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&c.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&c.ss);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    c.family = 4;
    std::memcpy(c.bytes.data(), &v4->sin_addr, 4);
    return c;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    c.family = 6;
    std::memcpy(c.bytes.data(), &v6->sin6_addr, 16);
    return c;
  }
  return std::nullopt;
}

// A query for (name, type) with EDNS, in wire form; nullopt if the name is not a valid name.
std::optional<std::vector<std::uint8_t>> make_query(const std::string& name, std::uint16_t type) {
  ldns_rdf* owner = nullptr;
  if (ldns_str2rdf_dname(&owner, name.c_str()) != LDNS_STATUS_OK) return std::nullopt;
  std::vector<std::uint8_t> q = {0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  const std::uint8_t* wire = ldns_rdf_data(owner);
  q.insert(q.end(), wire, wire + ldns_rdf_size(owner));
  ldns_rdf_deep_free(owner);
  q.insert(q.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type & 0xFF), 0, 1});
  // OPT: root owner, type 41, payload 4096, no flags, no options.
  q.insert(q.end(), {0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0});
  return q;
}

void write_rr_list(Json& j, const char* key, ldns_rr_list* list) {
  j.begin_array(key);
  for (std::size_t i = 0; list != nullptr && i < ldns_rr_list_rr_count(list); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT) continue;
    char* text = ldns_rr2str(rr);
    std::string s = text != nullptr ? text : "";
    free(text);  // NOLINT: ldns allocates with malloc
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    std::replace(s.begin(), s.end(), '\t', ' ');
    j.str(s);
  }
  j.end_array();
}

// What pharosd answers right now for this question and client: runs the real responder on the
// published table, exactly as a worker would for a TCP query from that address.
bool write_live_answer(Json& j, const dns::AnswerTable& table, const std::string& name, std::uint16_t type,
                       const ClientAddress* client) {
  auto query = make_query(name, type);
  if (!query) return false;
  static thread_local dns::Responder responder;  // the control loop's own: its counters are not the workers'
  std::vector<std::uint8_t> out(65535);
  dns::ClientInfo info;
  info.transport = dns::Transport::kTcp;
  info.addr = client != nullptr ? reinterpret_cast<const sockaddr*>(&client->ss) : nullptr;
  const std::size_t n = responder.respond(table, query->data(), query->size(), out.data(), out.size(), info, 0);
  ldns_pkt* pkt = nullptr;
  if (n == 0 || ldns_wire2pkt(&pkt, out.data(), n) != LDNS_STATUS_OK) return false;
  j.begin_object("answer");
  j.kv("rcode", rcode_name(ldns_pkt_get_rcode(pkt))).kv("aa", ldns_pkt_aa(pkt) != 0);
  write_rr_list(j, "answer", ldns_pkt_answer(pkt));
  write_rr_list(j, "authority", ldns_pkt_authority(pkt));
  write_rr_list(j, "additional", ldns_pkt_additional(pkt));
  j.end();
  ldns_pkt_free(pkt);
  return true;
}

std::optional<std::string> body_string(const rapidjson::Document& d, const char* key) {
  auto it = d.FindMember(key);
  if (it == d.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Unknown keys in an action body are an error: a typo must not silently do something else.
std::optional<ApiResponse> only_keys(const rapidjson::Document& d, std::initializer_list<const char*> allowed) {
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    const std::string k(it->name.GetString(), it->name.GetStringLength());
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
      return api_error(400, "unknown key " + scenario::in_quotes(k));
  }
  return std::nullopt;
}

}  // namespace

std::string ControlApi::who(const ApiRequest& r) const { return r.token_name.empty() ? "operator" : r.token_name; }

void ControlApi::record_action(const std::string& kind, const std::string& subject, std::string from, std::string to,
                               std::string reason, const std::string& by) {
  if (c_.audit == nullptr) return;
  AuditEntry e;
  e.at = std::chrono::system_clock::now();
  e.kind = kind;
  e.subject = subject;
  e.from = std::move(from);
  e.to = std::move(to);
  e.reason = std::move(reason);
  e.by = by;
  c_.audit->append(std::move(e));
}

ApiResponse ControlApi::status() const {
  Json j;
  j.begin();
  j.kv("version", c_.version);
  j.kv("uptime_s", static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                  std::chrono::steady_clock::now() - c_.started)
                                                  .count()));
  j.kv("config_generation", c_.config_generation ? *c_.config_generation : 0);
  j.kv("zones", static_cast<std::uint64_t>(c_.zones ? *c_.zones : 0));
  j.kv("gtm_records", static_cast<std::uint64_t>(c_.gtm->config().records.size()));
  j.kv("checks", static_cast<std::uint64_t>(c_.health->state().checks().size()));
  j.kv("datacenters", static_cast<std::uint64_t>(c_.health->state().datacenters().size()));
  j.kv("regions", static_cast<std::uint64_t>(c_.gtm->region_names().size() - 1));
  j.kv("workers", static_cast<std::uint64_t>(c_.server->worker_count()));
  j.kv("watchdog_age_ms", static_cast<std::int64_t>(c_.health->watchdog_age().count()));
  j.kv("pending_selection", c_.gtm->pending());
  if (c_.last_reload != nullptr && *c_.last_reload) {
    const ReloadOutcome& r = **c_.last_reload;
    j.begin_object("last_reload").kv("id", r.id).time("at", r.at).kv("ok", r.ok).kv("duration_ms", r.duration_ms);
    if (!r.ok) j.kv("error", r.error);
    j.end();
  } else {
    j.null("last_reload");
  }
  if (c_.last_change != nullptr && *c_.last_change) {
    const ConfigChangeNote& n = **c_.last_change;
    j.begin_object("last_config_change").time("at", n.at).kv("by", n.by).kv("config_generation", n.config_generation)
        .kv("summary", n.summary).end();
  } else {
    j.null("last_config_change");
  }
  j.end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::datacenters() const {
  Json j;
  j.begin().begin_array("datacenters");
  for (const auto& [name, dc] : c_.health->state().datacenters()) {
    j.begin().kv("name", name).kv("status", health::to_string(dc.status)).kv("reason", dc.reason).time("since", dc.since);
    j.begin_object("maintenance").kv("on", dc.maintenance).kv("configured", dc.spec.maintenance);
    if (dc.maintenance_until) j.time("until", *dc.maintenance_until);
    else j.null("until");
    j.kv("by", dc.maintenance_by).kv("reason", dc.maintenance_note).end();
    j.begin_object("dimensions");
    for (health::Dimension d : health::kAllDimensions) j.kv(health::to_string(d), health::to_string(dc.dimensions[health::index(d)]));
    j.end();
    j.end();
  }
  j.end_array().end();
  return api_json(200, j.text());
}

namespace {

void write_result(Json& j, const health::ResultRecord& r) {
  j.kv("ok", r.up).kv("reason", r.reason).kv("latency_ms", static_cast<double>(r.latency.count()) / 1000.0).time("at", r.at);
}

// A check as /v1/checks lists it; with `recent`, also its last results (newest last).
void write_check(Json& j, const std::string& id, const health::CheckInfo& c, bool recent) {
  j.begin().kv("id", id).kv("automatic", c.automatic).kv("state", health::to_string(c.effective()))
      .kv("measured", health::to_string(c.measured.state));
  if (c.forced) j.kv("forced", health::to_string(*c.forced));
  else j.null("forced");
  j.time("since", c.since).kv("reason", c.reason);
  if (c.spec) {
    j.kv("type", health::to_string(c.spec->type))
        .kv("interval_ms", static_cast<std::int64_t>(c.spec->interval.count()))
        .kv("timeout_ms", static_cast<std::int64_t>(c.spec->timeout.count()));
  }
  if (!c.recent.empty()) {
    j.begin_object("last");
    write_result(j, c.recent.back());
    j.end();
  } else {
    j.null("last");
  }
  j.begin_object("counters").kv("probes", c.probes).kv("failures", c.failures).kv("transitions", c.transitions)
      .kv("successes_in_a_row", static_cast<std::uint64_t>(c.measured.successes))
      .kv("failures_in_a_row", static_cast<std::uint64_t>(c.measured.failures)).end();
  if (recent) {
    j.begin_array("recent");
    for (const auto& r : c.recent) {
      j.begin();
      write_result(j, r);
      j.end();
    }
    j.end_array();
  }
  j.end();
}

}  // namespace

ApiResponse ControlApi::checks() const {
  Json j;
  j.begin().begin_array("checks");
  for (const auto& [id, c] : c_.health->state().checks()) write_check(j, id, c, false);
  j.end_array().end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::check(const ApiRequest& req) const {
  const std::string& id = req.params.at(0);
  const health::CheckInfo* info = c_.health->state().check(id);
  if (info == nullptr) return api_error(404, "no check " + scenario::in_quotes(id));
  Json j;
  write_check(j, id, *info, true);
  return api_json(200, j.text());
}

ApiResponse ControlApi::scenarios() const {
  Json j;
  j.begin().begin_array("scenarios");
  for (const auto& s : c_.gtm->scenarios()) {
    j.begin().kv("name", s.name).kv("formula", s.formula).kv("value", s.value).kv("known", s.known).end();
  }
  j.end_array().end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::records() const {
  Json j;
  j.begin().begin_array("records");
  const auto& health = c_.health->state();
  for (const auto& v : c_.gtm->view()) {
    const scenario::GtmRecord& r = *v.record;
    j.begin().kv("name", r.name).kv("type", type_name(r.type)).kv("ttl", static_cast<std::uint64_t>(r.ttl))
        .kv("backup", scenario::to_string(r.backup)).kv("geo", !r.geo.empty());
    write_rto(j, scenario::record_rto(r, health, c_.gtm->config().scenarios, c_.gtm->debounce()));
    j.begin_array("chain");
    for (const auto& e : r.chain) j.str(e.dc);
    j.end_array();
    j.begin_array("regions");
    // Without a geo order every region answers alike: one line says it all.
    const std::size_t shown = r.geo.empty() ? std::min<std::size_t>(1, v.regions.size()) : v.regions.size();
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& rv = v.regions[i];
      j.begin().kv("region", rv.region);
      write_selection(j, r, rv.selection);
      j.time("since", rv.since).end();
    }
    j.end_array();
    j.end();
  }
  j.end_array().end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::explain(const ApiRequest& req) const {
  auto q = [&req](const char* k) -> std::string {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  const std::string name_text = q("name");
  if (name_text.empty()) return api_error(400, "missing query parameter \"name\"");
  const std::string type_text = q("type").empty() ? "A" : q("type");
  const auto type = parse_type(type_text);
  if (!type) return api_error(400, "unknown record type " + scenario::in_quotes(type_text));
  const std::string name = absolute_lower(name_text);
  std::optional<ClientAddress> client;
  if (!q("client").empty()) {
    client = parse_client(q("client"));
    if (!client) return api_error(400, "client " + scenario::in_quotes(q("client")) + " is not an IPv4 or IPv6 address");
  }
  const dns::AnswerTable* table = c_.server->current();
  if (table == nullptr) return api_error(503, "no answer table is published yet");
  std::size_t region = 0;
  std::uint8_t prefix = 0;
  if (client) region = table->region_of(client->family, client->bytes.data(), &prefix);

  Json j;
  j.begin().kv("name", name).kv("type", type_name(*type)).kv("client", q("client"));
  const auto& names = c_.gtm->region_names();
  j.kv("region", region < names.size() ? names[region] : std::string());
  if (client && region != 0) j.kv("region_prefix", static_cast<int>(prefix));
  if (!write_live_answer(j, *table, name, *type, client ? &*client : nullptr))
    return api_error(400, "name " + scenario::in_quotes(name_text) + " is not a valid domain name");

  scenario::GtmRecord probe;
  probe.name = name;
  probe.type = *type;
  auto x = c_.gtm->explain(probe.key(), region, c_.health->state());
  if (!x) {
    j.kv("gtm", false).kv("reason", "static zone data: not a GTM record");
    j.end();
    return api_json(200, j.text());
  }
  const scenario::GtmRecord& r = c_.gtm->config().records[*c_.gtm->record_index(probe.key())];
  j.kv("gtm", true);
  write_selection(j, r, x->selection);
  j.kv("scenario", x->scenario).time("since", x->since);
  write_rto(j, x->rto);
  j.begin_array("entries");
  for (const auto& e : x->entries) {
    j.begin().kv("index", e.index).kv("dc", e.dc).kv("scenario", e.scenario).kv("healthy", e.healthy)
        .kv("serving", e.serving).kv("held", e.held).kv("why", e.why);
    j.begin_array("checks");
    for (const auto& c : e.checks) write_check_why(j, c);
    j.end_array().end();
  }
  j.end_array();
  // The checks that keep better entries out, in one list (the first answer to "what failed?").
  j.begin_array("checks");
  for (const auto& e : x->entries) {
    if (e.serving) break;
    for (const auto& c : e.checks) write_check_why(j, c);
  }
  j.end_array();
  j.end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::audit(const ApiRequest& req) const {
  std::size_t limit = 100;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v == 0 || v > AuditJournal::kDefaultRecent)
      return api_error(400, "limit must be a number from 1 to " + std::to_string(AuditJournal::kDefaultRecent));
    limit = static_cast<std::size_t>(v);
  }
  std::string body = "{\"entries\":[";
  bool first = true;
  for (const auto& e : c_.audit->recent(limit)) {
    if (!first) body += ',';
    first = false;
    body += AuditJournal::to_json(e);
  }
  body += "]}";
  return api_json(200, std::move(body));
}

ApiResponse ControlApi::maintenance(const ApiRequest& req, bool on) {
  const std::string& dc = req.params.at(0);
  const health::DcInfo* info = c_.health->state().datacenter(dc);
  if (info == nullptr) return api_error(404, "no data center " + scenario::in_quotes(dc));
  std::optional<scenario::SystemTime> until;
  std::string note;
  if (on && !req.body.empty()) {
    auto parsed = parse_body(req);
    if (auto* err = std::get_if<ApiResponse>(&parsed)) return *err;
    const auto& d = std::get<rapidjson::Document>(parsed);
    if (auto bad = only_keys(d, {"for", "reason"})) return *bad;
    if (d.HasMember("for")) {
      const auto& v = d["for"];
      std::optional<std::uint64_t> ms;
      if (v.IsString()) ms = scenario::parse_duration_ms(std::string_view(v.GetString(), v.GetStringLength()));
      else if (v.IsUint64()) ms = v.GetUint64() * 1000;
      if (!ms || *ms == 0 || *ms > 365ull * 24 * 3600 * 1000)
        return api_error(400, "\"for\" must be a duration such as \"30m\" or \"2h\" (at most a year)");
      until = std::chrono::system_clock::now() + std::chrono::milliseconds(*ms);
    }
    if (d.HasMember("reason")) {
      auto r = body_string(d, "reason");
      if (!r) return api_error(400, "\"reason\" must be a string");
      note = *r;
    }
  }
  const std::string before = info->maintenance ? "on" : "off";
  const std::string by = who(req);
  c_.health->set_maintenance(dc, on, until, by, note);
  c_.gtm->flush_now("maintenance " + std::string(on ? "on" : "off") + " by " + by);  // operator actions apply at once
  std::string after = on ? "on" : "off";
  if (until) after += " until " + rfc3339(*until);
  record_action("maintenance", dc, before, after, note, by);
  return datacenters();
}

ApiResponse ControlApi::force(const ApiRequest& req, bool set) {
  const std::string& id = req.params.at(0);
  const health::CheckInfo* info = c_.health->state().check(id);
  if (info == nullptr) return api_error(404, "no check " + scenario::in_quotes(id));
  std::optional<health::State> state;
  if (set) {
    auto parsed = parse_body(req);
    if (auto* err = std::get_if<ApiResponse>(&parsed)) return *err;
    const auto& d = std::get<rapidjson::Document>(parsed);
    if (auto bad = only_keys(d, {"state"})) return *bad;
    const auto s = body_string(d, "state");
    if (!s || (*s != "up" && *s != "down")) return api_error(400, "\"state\" must be \"up\" or \"down\"");
    state = *s == "up" ? health::State::kUp : health::State::kDown;
  }
  const std::string before = info->forced ? health::to_string(*info->forced) : "not forced";
  const std::string by = who(req);
  c_.health->force(id, state);
  c_.gtm->flush_now("check " + id + (state ? std::string(" forced ") + health::to_string(*state) : " force cleared") +
                    " by " + by);
  record_action("force", id, before, state ? health::to_string(*state) : "not forced", "", by);
  const health::CheckInfo* now = c_.health->state().check(id);
  Json j;
  j.begin().kv("id", id).kv("state", health::to_string(now->effective())).kv("measured", health::to_string(now->measured.state));
  if (now->forced) j.kv("forced", health::to_string(*now->forced));
  else j.null("forced");
  j.end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::resume(const ApiRequest& req) {
  const auto type = parse_type(req.params.at(1));
  if (!type) return api_error(400, "unknown record type " + scenario::in_quotes(req.params.at(1)));
  scenario::GtmRecord probe;
  probe.name = absolute_lower(req.params.at(0));
  probe.type = *type;
  const std::string key = probe.key();
  if (!c_.gtm->record_index(key)) return api_error(404, "no GTM record " + scenario::in_quotes(key));
  auto parsed = parse_body(req);
  if (auto* err = std::get_if<ApiResponse>(&parsed)) return *err;
  const auto& d = std::get<rapidjson::Document>(parsed);
  if (auto bad = only_keys(d, {"dc"})) return *bad;
  const auto dc = body_string(d, "dc");
  if (!dc || dc->empty()) return api_error(400, "\"dc\" must name the data center to resume");
  const std::string by = who(req);
  if (!c_.gtm->resume(key, *dc)) return api_error(409, "nothing of " + *dc + " is held for " + key);
  record_action("resume", key, "held", "resumed", "entry " + *dc, by);
  Json j;
  j.begin().kv("record", key).kv("dc", *dc).kv("resumed", true).end();
  return api_json(200, j.text());
}

ApiResponse ControlApi::page() const {
  const auto now = std::chrono::system_clock::now();
  ApiResponse r{200, render_status_page(collect_status(c_, now), now), "text/html; charset=utf-8", {}};
  // Everything is inline: forbid the page any fetch, script or framing.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
                         "frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

void ControlApi::install(ControlServer& s) {
  // The status page: open to all unless "public" is false (then it needs a read token).
  s.route("GET", "/", Role::kNone, [this](const ApiRequest&) { return page(); });
  s.route("GET", "/status", Role::kNone, [this](const ApiRequest&) { return page(); });
  s.route("GET", "/v1/status", Role::kRead, [this](const ApiRequest&) { return status(); });
  s.route("GET", "/v1/datacenters", Role::kRead, [this](const ApiRequest&) { return datacenters(); });
  s.route("GET", "/v1/checks", Role::kRead, [this](const ApiRequest&) { return checks(); });
  s.route("GET", "/v1/checks/{id}", Role::kRead, [this](const ApiRequest& r) { return check(r); });
  s.route("GET", "/v1/scenarios", Role::kRead, [this](const ApiRequest&) { return scenarios(); });
  s.route("GET", "/v1/records", Role::kRead, [this](const ApiRequest&) { return records(); });
  s.route("GET", "/v1/explain", Role::kRead, [this](const ApiRequest& r) { return explain(r); });
  s.route("GET", "/v1/audit", Role::kRead, [this](const ApiRequest& r) { return audit(r); });
  s.route("GET", "/v1/config/generation", Role::kRead, [this](const ApiRequest&) {
    Json j;
    j.begin().kv("config_generation", c_.config_generation ? *c_.config_generation : 0).end();
    return api_json(200, j.text());
  });
  s.route("POST", "/v1/datacenters/{dc}/maintenance", Role::kOperator,
          [this](const ApiRequest& r) { return maintenance(r, true); });
  s.route("DELETE", "/v1/datacenters/{dc}/maintenance", Role::kOperator,
          [this](const ApiRequest& r) { return maintenance(r, false); });
  s.route("POST", "/v1/checks/{id}/force", Role::kOperator, [this](const ApiRequest& r) { return force(r, true); });
  s.route("DELETE", "/v1/checks/{id}/force", Role::kOperator, [this](const ApiRequest& r) { return force(r, false); });
  // A reload answers when it has finished: a load of a large configuration takes seconds.
  s.route_async(
      "POST", "/v1/reload", Role::kOperator,
      [this](const ApiRequest& r, ControlServer::Reply reply) {
        c_.reload(who(r), [this, reply](const ReloadOutcome& o) {
          Json j;
          j.begin().kv("ok", o.ok).kv("reload", o.id).kv("duration_ms", o.duration_ms)
              .kv("config_generation", c_.config_generation ? *c_.config_generation : 0);
          if (!o.ok) j.kv("error", o.error);
          j.end();
          reply(api_json(o.ok ? 200 : 422, j.text()));
        });
      },
      std::chrono::minutes(5));
  s.route("POST", "/v1/records/{name}/{type}/resume", Role::kOperator, [this](const ApiRequest& r) { return resume(r); });
}

}  // namespace pharos::app
