// records_reader.cc: see records_reader.h. Every key has its own handler, so a misspelt key is an
// error at its pointer; every rdata goes through ldns, so a record that loads is a record that renders.
#include "scenario/records_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <set>

#include "dns/ldns_compat.h"
#include "dns/zone.h"
#include "scenario/geoip.h"

namespace pharos::scenario {
namespace {

using Handlers = std::map<std::string, JsonReader::Handler>;

struct RrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;

constexpr std::int64_t kMaxTtl = 2147483647;  // RFC 2181 §8

// rdata is parsed with this origin: a name that ends up below it was written relative. Relative
// names are refused because a scenario file has no $ORIGIN, and ldns would silently root them.
constexpr const char* kRelativeMarker = "relative-name.pharos.invalid.";

// Scenario and region names follow the rule of DC and check names (checks_reader.cc): they appear
// next to check IDs in terms ("id!"), messages and the API.
bool valid_name(JsonReader& r, const std::string& name, const std::string& at, const char* what) {
  if (name.empty() || name.find_first_of("|! \t") != std::string::npos)
    return r.fail(at, std::string(what) + " " + in_quotes(name) + " must be non-empty without '|', '!' or spaces");
  return true;
}

bool read_term(JsonReader& r, const Value& v, const std::string& at, Term& out) {
  std::string text;
  if (!r.nonempty_string(v, at, text)) return false;
  std::string id = text;
  out.negated = id.back() == '!';
  if (out.negated) id.pop_back();
  if (id.empty() || id.find_first_of("! \t") != std::string::npos)
    return r.fail(at, in_quotes(text) + " is not a check ID with an optional \"!\" suffix");
  out.check = std::move(id);
  return true;
}

// True when `text` has a ';' outside quotes: ldns would take the rest as a comment, and an
// unquoted TXT such as `v=DKIM1; k=rsa` would lose everything after the first ';'.
bool has_comment(const std::string& text) {
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') ++i;
    else if (text[i] == '"') quoted = !quoted;
    else if (text[i] == ';' && !quoted) return true;
  }
  return false;
}

std::string type_name(std::uint16_t type) {
  char* text = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = text != nullptr ? text : "TYPE" + std::to_string(type);
  free(text);  // NOLINT: ldns allocates with malloc
  return out;
}

class RecordReader {
 public:
  RecordReader(JsonReader& r, GtmRecord& out) : r_(r), out_(out), marker_(ldns_dname_new_frm_str(kRelativeMarker)) {}

  bool read(const Value& v, const std::string& at) {
    if (!v.IsObject()) return r_.fail(at, "must be an object with \"name\", \"type\" and \"chain\"");
    out_.file = r_.file();
    out_.pointer = at;
    // name, type and ttl first: each rdata is parsed as "<name> <ttl> IN <type> <rdata>", so they
    // must be known whatever the key order.
    if (!name(v, at) || !type(v, at) || !ttl(v, at)) return false;
    auto skip = [](const Value&, const std::string&) { return true; };
    bool chain_seen = false;
    const bool ok = r_.object(v, at, {
        {"name", skip}, {"type", skip}, {"ttl", skip},
        {"chain", [&](const Value& x, const std::string& xat) {
           chain_seen = true;
           return chain(x, xat);
         }},
        {"backupBehavior", [&](const Value& x, const std::string& xat) { return backup(x, xat); }},
        {"staleAfter", [&](const Value& x, const std::string& xat) {
           std::uint64_t ms = 0;
           if (!r_.duration(x, xat, ms)) return false;
           out_.stale_after = Millis(ms);
           stale_at_ = xat;
           return true;
         }},
        {"dr", [&](const Value& x, const std::string& xat) { return dr(x, xat); }},
        {"fallbackRecords", [&](const Value& x, const std::string& xat) { return rdata_list(x, xat, false, out_.fallback); }},
        {"allDown", [&](const Value& x, const std::string& xat) { return all_down(x, xat); }},
        {"geo", [&](const Value& x, const std::string& xat) { return geo(x, xat); }},
    });
    if (!ok) return false;
    if (!chain_seen) return r_.fail(at, "missing \"chain\"");
    if (!stale_at_.empty() && out_.backup != BackupBehavior::kOnlyNew)
      return r_.fail(stale_at_, "\"staleAfter\" applies only with \"backupBehavior\": \"onlyNew\"");
    return geo_in_chain();
  }

 private:
  bool name(const Value& v, const std::string& at) {
    const auto m = v.FindMember("name");
    if (m == v.MemberEnd()) return r_.fail(at, "missing \"name\"");
    std::string text;
    if (!r_.nonempty_string(m->value, at + "/name", text)) return false;
    // ldns reads C strings: a NUL would end the name early.
    if (text.find('\0') != std::string::npos) return r_.fail(at + "/name", "must not contain a NUL character");
    std::string absolute = text;
    if (!ldns_dname_str_absolute(absolute.c_str())) absolute += '.';
    std::vector<std::uint8_t> wire;
    if (text.find_first_of(" \t\r\n") != std::string::npos || !dns::name_to_wire(absolute, wire))
      return r_.fail(at + "/name", in_quotes(text) + " is not a domain name");
    // A wildcard's answer would have to be synthesized per query name; the table refuses them too.
    if (wire.size() >= 2 && wire[0] == 1 && wire[1] == '*')
      return r_.fail(at + "/name", in_quotes(text) + ": wildcard names cannot be GTM records");
    out_.name = dns::wire_to_name(wire.data(), wire.size());  // lowercase, canonical escapes
    return true;
  }

  bool type(const Value& v, const std::string& at) {
    const auto m = v.FindMember("type");
    if (m == v.MemberEnd()) return r_.fail(at, "missing \"type\"");
    const std::string tat = at + "/type";
    std::string text;
    if (!r_.nonempty_string(m->value, tat, text)) return false;
    const auto code = static_cast<std::uint16_t>(ldns_get_rr_type_by_name(text.c_str()));
    if (code == 0) return r_.fail(tat, "unknown record type " + in_quotes(text));
    if (code == LDNS_RR_TYPE_SOA || code == LDNS_RR_TYPE_NS)
      return r_.fail(tat, "a GTM record cannot be of type " + type_name(code) + ": the zone file holds SOA and NS");
    // OPT is a pseudo-record; 128-255 are query and meta types (TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY).
    if (code == LDNS_RR_TYPE_OPT || (code >= 128 && code <= 255))
      return r_.fail(tat, in_quotes(text) + " is a query or meta type, not a record type");
    out_.type = code;
    type_name_ = type_name(code);
    return true;
  }

  bool ttl(const Value& v, const std::string& at) {
    const auto m = v.FindMember("ttl");
    if (m == v.MemberEnd()) return true;  // the default, 30
    std::int64_t n = 0;
    if (!r_.integer(m->value, at + "/ttl", 0, kMaxTtl, n)) return false;
    out_.ttl = static_cast<std::uint32_t>(n);
    return true;
  }

  // One rdata in presentation form, parsed by ldns for the record's type.
  bool rdata(const Value& v, const std::string& at, std::string& out, std::vector<RrPtr>& seen) {
    if (!r_.nonempty_string(v, at, out)) return false;
    if (out.find('\0') != std::string::npos) return r_.fail(at, "must not contain a NUL character");
    if (has_comment(out))
      return r_.fail(at, in_quotes(out) + ": ';' would start a comment; quote text that contains it");
    const std::string text = out_.name + " " + std::to_string(out_.ttl) + " IN " + type_name_ + " " + out;
    ldns_rr* raw = nullptr;
    const ldns_status s = ldns_rr_new_frm_str(&raw, text.c_str(), out_.ttl, marker_.get(), nullptr);
    RrPtr rr{raw};
    if (s != LDNS_STATUS_OK)
      return r_.fail(at, in_quotes(out) + " is not " + type_name_ + " rdata: " + ldns_get_errorstr_by_id(s));
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr.get()); ++i) {
      const ldns_rdf* rdf = ldns_rr_rdf(rr.get(), i);
      if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) continue;
      if (ldns_dname_compare(rdf, marker_.get()) == 0 || ldns_dname_is_subdomain(rdf, marker_.get()))
        return r_.fail(at, in_quotes(out) + ": names in rdata must be absolute (end with a dot)");
    }
    for (std::size_t i = 0; i < seen.size(); ++i) {
      if (ldns_rr_compare(seen[i].get(), rr.get()) == 0)
        return r_.fail(at, in_quotes(out) + " repeats rdata " + std::to_string(i) + " of this list");
    }
    seen.push_back(std::move(rr));
    return true;
  }

  bool rdata_list(const Value& v, const std::string& at, bool nonempty, std::vector<std::string>& out) {
    out.clear();
    if (v.IsArray()) out.reserve(v.Size());
    std::vector<RrPtr> seen;
    const bool ok = r_.array(v, at, [&](const Value& x, const std::string& xat) {
      std::string one;
      if (!rdata(x, xat, one, seen)) return false;
      out.push_back(std::move(one));
      return true;
    });
    if (!ok) return false;
    if (nonempty && out.empty()) return r_.fail(at, "must list at least one rdata");
    // A CNAME owner has exactly one target (RFC 2181 §10.1).
    if (out_.type == LDNS_RR_TYPE_CNAME && out.size() > 1)
      return r_.fail(at, "a CNAME record takes exactly one rdata, not " + std::to_string(out.size()));
    return true;
  }

  bool chain(const Value& v, const std::string& at) {
    if (v.IsArray()) out_.chain.reserve(v.Size());
    const bool ok = r_.array(v, at, [&](const Value& ev, const std::string& eat) {
      ChainEntry e;
      bool has_rdata = false;
      const bool entry_ok = r_.object(ev, eat, {
          {"dc", [&](const Value& x, const std::string& xat) { return r_.nonempty_string(x, xat, e.dc); }},
          {"scenario", [&](const Value& x, const std::string& xat) { return r_.nonempty_string(x, xat, e.scenario); }},
          {"rdata", [&](const Value& x, const std::string& xat) {
             has_rdata = true;
             return rdata_list(x, xat, true, e.rdata);
           }},
      });
      if (!entry_ok) return false;
      if (e.dc.empty()) return r_.fail(eat, "missing \"dc\"");
      if (!has_rdata) return r_.fail(eat, "missing \"rdata\"");
      // One entry per DC: geo orders and onlyNew holds name entries by their DC.
      for (std::size_t i = 0; i < out_.chain.size(); ++i) {
        if (out_.chain[i].dc == e.dc)
          return r_.fail(eat + "/dc", "data center " + in_quotes(e.dc) + " is already entry " + std::to_string(i) + " of the chain");
      }
      out_.chain.push_back(std::move(e));
      return true;
    });
    if (!ok) return false;
    return !out_.chain.empty() || r_.fail(at, "needs at least one entry");
  }

  bool backup(const Value& v, const std::string& at) {
    std::string text;
    if (!r_.string(v, at, text)) return false;
    if (text == "noResponse") out_.backup = BackupBehavior::kNoResponse;
    else if (text == "onlyNew") out_.backup = BackupBehavior::kOnlyNew;
    else return r_.fail(at, in_quotes(text) + " is not \"noResponse\" or \"onlyNew\"");
    return true;
  }

  bool all_down(const Value& v, const std::string& at) {
    std::string text;
    if (!r_.string(v, at, text)) return false;
    static const std::pair<const char*, AllDownPolicy> kPolicies[] = {
        {"failOpen", AllDownPolicy::kFailOpen}, {"nodata", AllDownPolicy::kNoData},
        {"servfail", AllDownPolicy::kServFail}, {"refused", AllDownPolicy::kRefused}};
    for (const auto& [word, policy] : kPolicies) {
      if (text == word) {
        out_.all_down = policy;
        return true;
      }
    }
    return r_.fail(at, in_quotes(text) + " is not one of failOpen, nodata, servfail, refused");
  }

  bool dr(const Value& v, const std::string& at) {
    DrSpec d;
    bool has_rdata = false;
    const bool ok = r_.object(v, at, {
        {"rdata", [&](const Value& x, const std::string& xat) {
           has_rdata = true;
           return rdata_list(x, xat, true, d.rdata);
         }},
        {"drCond", [&](const Value& x, const std::string& xat) { return r_.nonempty_string(x, xat, d.dr_cond); }},
        {"drIfNoRecords", [&](const Value& x, const std::string& xat) { return r_.boolean(x, xat, d.dr_if_no_records); }},
    });
    if (!ok) return false;
    if (!has_rdata) return r_.fail(at, "missing \"rdata\"");
    // Without a condition DR rdata could never be served.
    if (d.dr_cond.empty() && !d.dr_if_no_records)
      return r_.fail(at, "needs \"drCond\" or \"drIfNoRecords\": true (or both)");
    out_.dr = std::move(d);
    return true;
  }

  bool geo(const Value& v, const std::string& at) {
    geo_at_ = at;
    return r_.members(v, at, [&](const std::string& region, const Value& gv, const std::string& gat) {
      std::vector<std::string> dcs;
      const bool ok = r_.array(gv, gat, [&](const Value& x, const std::string& xat) {
        std::string dc;
        if (!r_.nonempty_string(x, xat, dc)) return false;
        if (std::find(dcs.begin(), dcs.end(), dc) != dcs.end())
          return r_.fail(xat, "data center " + in_quotes(dc) + " is listed twice");
        dcs.push_back(std::move(dc));
        return true;
      });
      if (!ok) return false;
      if (dcs.empty()) return r_.fail(gat, "must list at least one data center of the chain");
      out_.geo[region] = std::move(dcs);
      return true;
    });
  }

  // Checked after the whole record, since "geo" may come before "chain".
  bool geo_in_chain() {
    for (const auto& [region, dcs] : out_.geo) {
      for (std::size_t i = 0; i < dcs.size(); ++i) {
        const std::string& dc = dcs[i];  // clang 14 cannot capture a structured binding
        const bool in_chain = std::any_of(out_.chain.begin(), out_.chain.end(),
                                          [&dc](const ChainEntry& e) { return e.dc == dc; });
        if (!in_chain)
          return r_.fail(geo_at_ + "/" + pointer_token(region) + "/" + std::to_string(i),
                         "data center " + in_quotes(dcs[i]) + " is not in this record's chain");
      }
    }
    return true;
  }

  JsonReader& r_;
  GtmRecord& out_;
  RdfPtr marker_;
  std::string type_name_;
  std::string stale_at_;
  std::string geo_at_;
};

// " at /records/0" in the same file, " in a.json at /records/0" in another.
std::string place(const GtmRecord& earlier, const GtmRecord& later) {
  return (earlier.file == later.file ? " at " : " in " + earlier.file + " at ") + earlier.pointer;
}

// "auto|dc1|access" and "auto|dc1|maintenanceMode" of every DC; targets are in health.checks.
std::set<std::string> automatic_ids(const health::HealthConfig& health) {
  std::set<std::string> ids;
  for (const auto& dc : health.datacenters) {
    for (const auto d : health::kAllDimensions) ids.insert(health::auto_id(dc.name, d));
    ids.insert(health::maintenance_id(dc.name));
  }
  return ids;
}

std::string unknown_check(const std::string& id, const std::set<std::string>& dcs) {
  std::string message = "unknown check " + in_quotes(id);
  if (id.rfind("auto|", 0) != 0) return message;
  const std::size_t end = id.find('|', 5);
  const std::string dc = id.substr(5, end == std::string::npos ? std::string::npos : end - 5);
  if (dcs.count(dc) == 0) return message + ": no data center " + in_quotes(dc);
  return message + ": automatic IDs are auto|" + dc + "|<access|wanAccess|lanAccess|internet|maintenanceMode>"
                   " and auto|" + dc + "|<dimension>|<n> for a dimension's targets";
}

}  // namespace

bool read_scenarios(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out) {
  return r.members(v, where, [&](const std::string& name, const Value& sv, const std::string& at) {
    if (!valid_name(r, name, at, "scenario")) return false;
    ScenarioSpec spec;
    spec.name = name;
    const bool ok = r.array(sv, at, [&](const Value& gv, const std::string& gat) {
      std::vector<Term> group;
      const bool terms_ok = r.array(gv, gat, [&](const Value& tv, const std::string& tat) {
        Term t;
        if (!read_term(r, tv, tat, t)) return false;
        group.push_back(std::move(t));
        return true;
      });
      if (!terms_ok) return false;
      if (group.empty()) return r.fail(gat, "a group needs at least one term");
      spec.groups.push_back(std::move(group));
      return true;
    });
    if (!ok) return false;
    if (spec.groups.empty()) return r.fail(at, "needs at least one group of terms");
    out.scenarios[name] = std::move(spec);
    return true;
  });
}

// "eu": ["10.1.0.0/16"] or "eu": { "networks": [...], "countries": ["DE"], "continents": ["EU"] }.
bool read_regions(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out) {
  return r.members(v, where, [&](const std::string& name, const Value& rv, const std::string& at) {
    if (!valid_name(r, name, at, "region")) return false;
    RegionSpec region;
    region.name = name;
    region.file = r.file();
    auto networks = [&](const Value& nv, const std::string& nat) {
      region.networks_at = nat;
      return r.array(nv, nat, [&](const Value& one, const std::string& oat) {
        std::string text, error;
        if (!r.nonempty_string(one, oat, text)) return false;
        const std::optional<Cidr> c = parse_cidr(text, error);
        if (!c) return r.fail(oat, error);
        region.networks.push_back(*c);
        return true;
      });
    };
    auto codes = [&](const Value& cv, const std::string& cat, bool countries) {
      std::vector<std::string>& list = countries ? region.countries : region.continents;
      return r.array(cv, cat, [&](const Value& one, const std::string& oat) {
        std::string code;
        if (!r.nonempty_string(one, oat, code)) return false;
        if (countries && !is_country_code(code))
          return r.fail(oat, in_quotes(code) + " is not an ISO 3166-1 alpha-2 country code (two capital letters, such as \"DE\")");
        if (!countries && !is_continent_code(code))
          return r.fail(oat, in_quotes(code) + " is not a continent code (AF, AN, AS, EU, NA, OC or SA)");
        list.push_back(std::move(code));
        return true;
      });
    };
    bool ok = false;
    if (rv.IsObject()) {
      ok = r.object(rv, at, {
          {"networks", networks},
          {"countries", [&](const Value& x, const std::string& xat) { return codes(x, xat, true); }},
          {"continents", [&](const Value& x, const std::string& xat) { return codes(x, xat, false); }},
      });
    } else if (rv.IsArray()) {
      ok = networks(rv, at);
    } else {
      ok = r.fail(at, "must be an array of networks, or an object with \"networks\", \"countries\" and \"continents\"");
    }
    if (!ok) return false;
    if (region.networks.empty() && region.countries.empty() && region.continents.empty())
      return r.fail(at, rv.IsArray() ? "needs at least one network" : "needs at least one network, country or continent");
    out.regions.push_back(std::move(region));
    return true;
  });
}

bool read_records(JsonReader& r, const Value& v, const std::string& where, GtmConfig& out) {
  std::vector<GtmRecord> records;
  if (v.IsArray()) records.reserve(v.Size());  // exact: 100,000 records are ~80 MB, no doubling
  const bool ok = r.array(v, where, [&](const Value& rv, const std::string& at) {
    GtmRecord rec;
    if (!RecordReader(r, rec).read(rv, at)) return false;
    records.push_back(std::move(rec));
    return true;
  });
  if (!ok) return false;
  if (auto e = check_record_names(records)) return r.fail(e->where, e->message);
  if (out.records.empty()) {
    out.records = std::move(records);
  } else {
    out.records.reserve(out.records.size() + records.size());
    for (auto& rec : records) out.records.push_back(std::move(rec));
  }
  return true;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string& error) {
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, address.c_str(), c.address) == 1) {
    c.family = 4;
  } else if (inet_pton(AF_INET6, address.c_str(), c.address) == 1) {
    c.family = 6;
  } else {
    error = in_quotes(text) + " is not a network such as \"10.1.0.0/16\" or \"2001:db8::/32\"";
    return std::nullopt;
  }
  const int bits = c.family == 4 ? 32 : 128;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const bool digits = !p.empty() && p.size() <= 3 && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
                        (p.size() == 1 || p[0] != '0');
    prefix = digits ? std::stoi(std::string(p)) : -1;
    if (prefix < 0 || prefix > bits) {
      error = in_quotes(text) + ": the prefix length must be 0.." + std::to_string(bits);
      return std::nullopt;
    }
  }
  for (int bit = prefix; bit < bits; ++bit) {
    if (c.address[bit / 8] & (0x80 >> (bit % 8))) {
      error = in_quotes(text) + " has bits set past /" + std::to_string(prefix);
      return std::nullopt;
    }
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  return c;
}

std::string to_string(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.address, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(c.prefix);
}

std::optional<Error> check_record_names(const std::vector<GtmRecord>& records) {
  std::map<std::string, const GtmRecord*> by_key, first_at_name, cname_at_name;
  for (const GtmRecord& rec : records) {
    const std::string key = rec.key();
    if (auto [it, fresh] = by_key.emplace(key, &rec); !fresh)
      return Error{rec.file, rec.pointer, "record " + in_quotes(key) + " is also defined" + place(*it->second, rec)};
    const bool cname = rec.type == LDNS_RR_TYPE_CNAME;
    const auto [first, fresh] = first_at_name.emplace(rec.name, &rec);
    if (!fresh && cname)
      return Error{rec.file, rec.pointer, "a CNAME record cannot share its name with record " +
                                              in_quotes(first->second->key()) + place(*first->second, rec)};
    if (const auto c = cname_at_name.find(rec.name); c != cname_at_name.end())
      return Error{rec.file, rec.pointer, "record " + in_quotes(key) + " cannot share its name with CNAME record " +
                                              in_quotes(c->second->key()) + place(*c->second, rec)};
    if (cname) cname_at_name.emplace(rec.name, &rec);
  }
  return std::nullopt;
}

std::optional<Error> validate_gtm(const GtmConfig& gtm, const health::HealthConfig& health,
                                  const GtmSources& sources) {
  std::set<std::string> dcs;
  for (const auto& dc : health.datacenters) dcs.insert(dc.name);
  const std::set<std::string> automatic = automatic_ids(health);
  auto file_of = [](const std::map<std::string, std::string>& files, const std::string& name) {
    const auto it = files.find(name);
    return it == files.end() ? std::string() : it->second;
  };

  for (const auto& [name, spec] : gtm.scenarios) {
    for (std::size_t g = 0; g < spec.groups.size(); ++g) {
      for (std::size_t t = 0; t < spec.groups[g].size(); ++t) {
        const std::string& id = spec.groups[g][t].check;
        if (health.checks.count(id) != 0 || automatic.count(id) != 0) continue;
        return Error{file_of(sources.scenario_file, name),
                     "/scenarios/" + pointer_token(name) + "/" + std::to_string(g) + "/" + std::to_string(t),
                     unknown_check(id, dcs)};
      }
    }
  }

  // The same network, country or continent twice: the later one could never be chosen.
  std::map<std::string, std::string> network_region, country_region, continent_region;
  std::set<std::string> regions;
  for (const RegionSpec& region : gtm.regions) {
    regions.insert(region.name);
    const std::string file = file_of(sources.region_file, region.name);
    auto unique = [&](std::map<std::string, std::string>& seen, const std::string& text, const std::string& at,
                      const char* what) -> std::optional<Error> {
      const auto [it, fresh] = seen.emplace(text, region.name);
      if (fresh) return std::nullopt;
      const std::string other_file = file_of(sources.region_file, it->second);
      return Error{file, at, std::string(what) + in_quotes(text) + " is already listed in region " + in_quotes(it->second) +
                                 (other_file == file ? "" : " in " + other_file)};
    };
    const std::string at = "/regions/" + pointer_token(region.name);
    const std::string networks_at = region.networks_at.empty() ? at : region.networks_at;
    for (std::size_t i = 0; i < region.networks.size(); ++i)
      if (auto e = unique(network_region, to_string(region.networks[i]), networks_at + "/" + std::to_string(i), "")) return e;
    for (std::size_t i = 0; i < region.countries.size(); ++i)
      if (auto e = unique(country_region, region.countries[i], at + "/countries/" + std::to_string(i), "country ")) return e;
    for (std::size_t i = 0; i < region.continents.size(); ++i)
      if (auto e = unique(continent_region, region.continents[i], at + "/continents/" + std::to_string(i), "continent ")) return e;
  }

  for (const GtmRecord& rec : gtm.records) {
    for (std::size_t i = 0; i < rec.chain.size(); ++i) {
      const ChainEntry& e = rec.chain[i];
      const std::string at = rec.pointer + "/chain/" + std::to_string(i);
      if (dcs.count(e.dc) == 0) return Error{rec.file, at + "/dc", "unknown data center " + in_quotes(e.dc)};
      if (!e.scenario.empty() && gtm.scenarios.count(e.scenario) == 0)
        return Error{rec.file, at + "/scenario", "unknown scenario " + in_quotes(e.scenario)};
    }
    if (rec.dr && !rec.dr->dr_cond.empty() && gtm.scenarios.count(rec.dr->dr_cond) == 0)
      return Error{rec.file, rec.pointer + "/dr/drCond", "unknown scenario " + in_quotes(rec.dr->dr_cond)};
    for (const auto& [region, order] : rec.geo) {
      if (regions.count(region) == 0)
        return Error{rec.file, rec.pointer + "/geo/" + pointer_token(region), "unknown region " + in_quotes(region)};
    }
  }
  return std::nullopt;
}

}  // namespace pharos::scenario
