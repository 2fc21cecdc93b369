// checks_reader.cc: see checks_reader.h. One reader per check type, each accepting only its own
// keys, so a misspelt key is an error at its pointer rather than a silently ignored setting.
#include "scenario/checks_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <regex>

#include "dns/ldns_compat.h"

namespace pharos::scenario {
namespace {

using health::CheckSpec;
using health::CheckType;
using Handlers = std::map<std::string, JsonReader::Handler>;

constexpr std::uint64_t kMaxDefaultTimeoutMs = 2000;

bool valid_ip(const std::string& s) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// "host:port", "[v6]:port"; `need_port` false accepts a bare host too (port = fallback).
bool split_host_port(const std::string& text, bool need_port, std::uint16_t fallback, std::string& host,
                     std::uint16_t& port) {
  std::string p;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 == text.size()) {
      if (need_port) return false;
      port = fallback;
      return !host.empty();
    }
    if (text[close + 1] != ':') return false;
    p = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      // No port, or a bare IPv6 address.
      if (need_port) return false;
      host = text;
      port = fallback;
      return !host.empty();
    }
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (host.empty() || p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
  const int n = std::stoi(p);
  if (n < 1 || n > 65535) return false;
  port = static_cast<std::uint16_t>(n);
  return true;
}

bool valid_host(const std::string& h) {
  if (valid_ip(h)) return true;
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
}

class CheckReader {
 public:
  CheckReader(JsonReader& r, CheckSpec& out) : r_(r), out_(out) {}

  // Keys every check accepts.
  Handlers common() {
    return {
        {"type", [](const Value&, const std::string&) { return true; }},  // read before dispatch
        {"accessPeriod", [this](const Value& v, const std::string& at) { return r_.duration(v, at, interval_ms_); }},
        {"timeout", [this](const Value& v, const std::string& at) {
           std::uint64_t ms = 0;
           if (!r_.duration(v, at, ms)) return false;
           timeout_ms_ = ms;
           timeout_at_ = at;
           return true;
         }},
        {"requiredSuccess", [this](const Value& v, const std::string& at) { return threshold(v, at, out_.thresholds.required_success); }},
        {"requiredFailure", [this](const Value& v, const std::string& at) { return threshold(v, at, out_.thresholds.required_failure); }},
        {"sourceAddress", [this](const Value& v, const std::string& at) {
           if (!r_.nonempty_string(v, at, out_.source_address)) return false;
           return valid_ip(out_.source_address) || r_.fail(at, in_quotes(out_.source_address) + " is not an IP address");
         }},
    };
  }

  bool read(const Value& v, const std::string& where, const CheckDefaults& d) {
    if (!v.IsObject()) return r_.fail(where, "must be an object with a \"type\"");
    const auto type_it = v.FindMember("type");
    if (type_it == v.MemberEnd()) return r_.fail(where, "missing \"type\"");
    std::string type;
    if (!r_.string(type_it->value, where + "/type", type)) return false;
    interval_ms_ = d.interval_ms;
    timeout_ms_ = d.timeout_ms;
    out_.thresholds = {d.required_success, d.required_failure};
    Handlers keys = common();
    bool ok = false;
    if (type == "tcp") ok = tcp(v, where, keys);
    else if (type == "http" || type == "https") ok = http(v, where, keys, type == "https");
    else if (type == "dns") ok = dns(v, where, keys);
    else if (type == "icmp") ok = icmp(v, where, keys);
    else if (type == "exec") ok = exec(v, where, keys);
    else if (type == "file") ok = file(v, where, keys);
    else if (type == "link") ok = link(v, where, keys);
    else if (type == "gateway") ok = gateway(v, where, keys);
    else
      return r_.fail(where + "/type", "unknown check type " + in_quotes(type) +
                                          " (tcp, http, https, dns, icmp, exec, file, link, gateway)");
    if (!ok) return false;
    // Timing: a probe must end before the next one is due.
    std::uint64_t timeout = timeout_ms_.value_or(std::min(kMaxDefaultTimeoutMs, std::max<std::uint64_t>(1, interval_ms_ / 2)));
    if (timeout >= interval_ms_) {
      return r_.fail(timeout_at_.empty() ? where : timeout_at_,
                     "timeout " + std::to_string(timeout) + " ms must be below accessPeriod " +
                         std::to_string(interval_ms_) + " ms");
    }
    out_.interval = health::Millis(interval_ms_);
    out_.timeout = health::Millis(timeout);
    return true;
  }

 private:
  bool threshold(const Value& v, const std::string& at, int& out) {
    std::int64_t n = 0;
    if (!r_.integer(v, at, 1, 100, n)) return false;
    out = static_cast<int>(n);
    return true;
  }

  bool require(bool seen, const std::string& where, const char* key) {
    return seen || r_.fail(where, std::string("missing \"") + key + "\"");
  }

  bool tcp(const Value& v, const std::string& where, Handlers& keys) {
    health::TcpParams p;
    bool target = false;
    keys["target"] = [&](const Value& x, const std::string& at) {
      std::string text;
      if (!r_.nonempty_string(x, at, text)) return false;
      target = true;
      if (!split_host_port(text, true, 0, p.host, p.port) || !valid_host(p.host))
        return r_.fail(at, in_quotes(text) + " is not host:port");
      return true;
    };
    keys["send"] = [&](const Value& x, const std::string& at) { return r_.string(x, at, p.send); };
    keys["expect"] = [&](const Value& x, const std::string& at) { return r_.string(x, at, p.expect); };
    if (!r_.object(v, where, keys) || !require(target, where, "target")) return false;
    out_.type = CheckType::kTcp;
    out_.params = p;
    return true;
  }

  bool http(const Value& v, const std::string& where, Handlers& keys, bool https) {
    health::HttpParams p;
    bool url = false;
    keys["url"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.url)) return false;
      url = true;
      const std::string scheme = https ? "https://" : "http://";
      if (p.url.rfind(scheme, 0) != 0) return r_.fail(at, in_quotes(p.url) + " must start with " + scheme);
      return true;
    };
    keys["method"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.method)) return false;
      static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "OPTIONS"};
      if (std::find(std::begin(kMethods), std::end(kMethods), p.method) == std::end(kMethods))
        return r_.fail(at, in_quotes(p.method) + " is not one of GET, HEAD, POST, PUT, OPTIONS");
      return true;
    };
    keys["host"] = [&](const Value& x, const std::string& at) { return r_.nonempty_string(x, at, p.host_header); };
    keys["expectStatus"] = [&](const Value& x, const std::string& at) {
      p.expect_status.clear();
      const bool ok = r_.array(x, at, [&](const Value& s, const std::string& sat) {
        std::int64_t code = 0;
        if (!r_.integer(s, sat, 100, 599, code)) return false;
        p.expect_status.push_back(static_cast<int>(code));
        return true;
      });
      return ok && (!p.expect_status.empty() || r_.fail(at, "must list at least one status code"));
    };
    keys["expectBody"] = [&](const Value& x, const std::string& at) { return r_.nonempty_string(x, at, p.body_contains); };
    keys["expectBodyRegex"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.body_regex)) return false;
      try {
        std::regex re(p.body_regex, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return r_.fail(at, in_quotes(p.body_regex) + " is not a valid regular expression: " + e.what());
      }
      return true;
    };
    keys["tlsVerify"] = [&](const Value& x, const std::string& at) { return r_.boolean(x, at, p.tls_verify); };
    keys["caFile"] = [&](const Value& x, const std::string& at) { return r_.path(x, at, p.ca_file); };
    keys["clientCert"] = [&](const Value& x, const std::string& at) { return r_.path(x, at, p.client_cert); };
    keys["clientKey"] = [&](const Value& x, const std::string& at) { return r_.path(x, at, p.client_key); };
    keys["sni"] = [&](const Value& x, const std::string& at) { return r_.nonempty_string(x, at, p.sni); };
    keys["followRedirects"] = [&](const Value& x, const std::string& at) { return r_.boolean(x, at, p.follow_redirects); };
    if (!r_.object(v, where, keys) || !require(url, where, "url")) return false;
    if (!https && (!p.ca_file.empty() || !p.client_cert.empty() || !p.sni.empty() || !p.tls_verify))
      return r_.fail(where, "TLS settings need \"type\": \"https\"");
    if (p.client_cert.empty() != p.client_key.empty())
      return r_.fail(where, "\"clientCert\" and \"clientKey\" go together");
    out_.type = https ? CheckType::kHttps : CheckType::kHttp;
    out_.params = p;
    return true;
  }

  bool dns(const Value& v, const std::string& where, Handlers& keys) {
    health::DnsParams p;
    bool server = false, query = false;
    keys["server"] = [&](const Value& x, const std::string& at) {
      std::string text, host;
      std::uint16_t port = 53;
      if (!r_.nonempty_string(x, at, text)) return false;
      server = true;
      if (!split_host_port(text, false, 53, host, port) || !valid_ip(host))
        return r_.fail(at, in_quotes(text) + " is not an IP address with an optional port");
      p.server = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                      : host + ":" + std::to_string(port);
      return true;
    };
    keys["query"] = [&](const Value& x, const std::string& at) {
      std::string text;
      if (!r_.nonempty_string(x, at, text)) return false;
      query = true;
      const auto sp = text.find_last_of(" \t");
      std::string name = text.substr(0, sp == std::string::npos ? text.size() : sp);
      const std::string type = sp == std::string::npos ? "A" : text.substr(sp + 1);
      name.erase(name.find_last_not_of(" \t") + 1);
      const ldns_rr_type t = ldns_get_rr_type_by_name(type.c_str());
      if (t == 0) return r_.fail(at, "unknown type " + in_quotes(type) + " in " + in_quotes(text));
      if (name.empty() || name.back() != '.') name += '.';
      ldns_rdf* rdf = ldns_dname_new_frm_str(name.c_str());
      if (rdf == nullptr) return r_.fail(at, in_quotes(name) + " is not a domain name");
      ldns_rdf_deep_free(rdf);
      p.qname = name;
      p.qtype = static_cast<std::uint16_t>(t);
      return true;
    };
    keys["expectRcode"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.expect_rcode)) return false;
      static const char* kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
      if (std::find(std::begin(kRcodes), std::end(kRcodes), p.expect_rcode) == std::end(kRcodes))
        return r_.fail(at, in_quotes(p.expect_rcode) + " is not one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED");
      return true;
    };
    keys["expectAnswer"] = [&](const Value& x, const std::string& at) { return r_.nonempty_string(x, at, p.expect_answer); };
    if (!r_.object(v, where, keys) || !require(server, where, "server") || !require(query, where, "query")) return false;
    out_.type = CheckType::kDns;
    out_.params = p;
    return true;
  }

  bool icmp(const Value& v, const std::string& where, Handlers& keys) {
    health::IcmpParams p;
    bool target = false;
    keys["target"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.host)) return false;
      target = true;
      return valid_host(p.host) || r_.fail(at, in_quotes(p.host) + " is not a host name or address");
    };
    if (!r_.object(v, where, keys) || !require(target, where, "target")) return false;
    out_.type = CheckType::kIcmp;
    out_.params = p;
    return true;
  }

  bool exec(const Value& v, const std::string& where, Handlers& keys) {
    health::ExecParams p;
    keys["command"] = [&](const Value& x, const std::string& at) {
      if (!r_.strings(x, at, p.argv)) return false;
      return !p.argv.empty() || r_.fail(at, "must name the program to run");
    };
    if (!r_.object(v, where, keys) || !require(!p.argv.empty(), where, "command")) return false;
    out_.type = CheckType::kExec;
    out_.params = p;
    return true;
  }

  bool file(const Value& v, const std::string& where, Handlers& keys) {
    health::FileParams p;
    keys["path"] = [&](const Value& x, const std::string& at) { return r_.path(x, at, p.path); };
    if (!r_.object(v, where, keys) || !require(!p.path.empty(), where, "path")) return false;
    out_.type = CheckType::kFile;
    out_.params = p;
    return true;
  }

  bool link(const Value& v, const std::string& where, Handlers& keys) {
    health::LinkParams p;
    keys["interface"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.interface)) return false;
      return (p.interface.size() < 16 && p.interface.find('/') == std::string::npos) ||
             r_.fail(at, in_quotes(p.interface) + " is not an interface name");
    };
    if (!r_.object(v, where, keys) || !require(!p.interface.empty(), where, "interface")) return false;
    out_.type = CheckType::kLink;
    out_.params = p;
    return true;
  }

  bool gateway(const Value& v, const std::string& where, Handlers& keys) {
    health::GatewayParams p;
    keys["family"] = [&](const Value& x, const std::string& at) {
      std::string f;
      if (!r_.string(x, at, f)) return false;
      if (f == "ipv4") p.family = 4;
      else if (f == "ipv6") p.family = 6;
      else return r_.fail(at, in_quotes(f) + " is not \"ipv4\" or \"ipv6\"");
      return true;
    };
    keys["address"] = [&](const Value& x, const std::string& at) {
      if (!r_.nonempty_string(x, at, p.address)) return false;
      return valid_ip(p.address) || r_.fail(at, in_quotes(p.address) + " is not an IP address");
    };
    if (!r_.object(v, where, keys)) return false;
    if (!p.address.empty() && (p.address.find(':') != std::string::npos) != (p.family == 6))
      return r_.fail(where + "/address", in_quotes(p.address) + " is not an IPv" + std::to_string(p.family) + " address");
    out_.type = CheckType::kGateway;
    out_.params = p;
    return true;
  }

  JsonReader& r_;
  CheckSpec& out_;
  std::uint64_t interval_ms_ = 5000;
  std::optional<std::uint64_t> timeout_ms_;
  std::string timeout_at_;
};

// DC and check names appear inside "auto|<dc>|..." IDs and scenario terms ("id!").
bool valid_name(JsonReader& r, const std::string& name, const std::string& at, const char* what) {
  if (name.empty() || name.find_first_of("|! \t") != std::string::npos)
    return r.fail(at, std::string(what) + " " + in_quotes(name) + " must be non-empty without '|', '!' or spaces");
  return true;
}

bool read_dimension(JsonReader& r, const Value& v, const std::string& where, const std::string& dc,
                    health::Dimension dim, const CheckDefaults& d, health::DimensionSpec& spec,
                    health::HealthConfig& out) {
  const Value* targets = &v;
  std::string targets_at = where;
  if (v.IsObject()) {
    const Value* list = nullptr;
    const bool ok = r.object(v, where, {
        {"minUp", [&](const Value& x, const std::string& at) {
           std::int64_t n = 0;
           if (!r.integer(x, at, 1, 1000, n)) return false;
           spec.min_up = static_cast<int>(n);
           return true;
         }},
        {"targets", [&](const Value& x, const std::string& at) {
           list = &x;
           targets_at = at;
           return true;
         }},
    });
    if (!ok) return false;
    if (list == nullptr) return r.fail(where, "missing \"targets\"");
    targets = list;
  } else if (!v.IsArray()) {
    return r.fail(where, "must be a list of checks, or { \"minUp\": n, \"targets\": [ ... ] }");
  }
  const bool ok = r.array(*targets, targets_at, [&](const Value& t, const std::string& at) {
    health::CheckSpec check;
    if (!read_check(r, t, at, d, check)) return false;
    const std::string id = health::target_id(dc, dim, spec.targets.size());
    spec.targets.push_back(id);
    out.checks[id] = std::move(check);
    return true;
  });
  if (!ok) return false;
  if (spec.min_up > static_cast<int>(spec.targets.size()) && !spec.targets.empty())
    return r.fail(where + "/minUp", "minUp " + std::to_string(spec.min_up) + " is more than the " +
                                        std::to_string(spec.targets.size()) + " targets listed");
  return true;
}

}  // namespace

bool read_check(JsonReader& r, const Value& v, const std::string& where, const CheckDefaults& defaults,
                health::CheckSpec& out) {
  return CheckReader(r, out).read(v, where, defaults);
}

bool read_datacenters(JsonReader& r, const Value& v, const std::string& where, health::HealthConfig& out) {
  return r.members(v, where, [&](const std::string& name, const Value& dcv, const std::string& at) {
    if (!valid_name(r, name, at, "data center")) return false;
    health::DcSpec dc;
    dc.name = name;
    CheckDefaults d;
    // Timing keys first, so every target sees the DC's defaults whatever the key order.
    if (!dcv.IsObject()) return r.fail(at, "must be an object");
    for (const char* key : {"accessPeriod", "timeout", "requiredSuccess", "requiredFailure"}) {
      const auto m = dcv.FindMember(key);
      if (m == dcv.MemberEnd()) continue;
      const std::string kat = at + "/" + key;
      std::int64_t n = 0;
      std::uint64_t ms = 0;
      if (std::string(key) == "accessPeriod") {
        if (!r.duration(m->value, kat, ms)) return false;
        d.interval_ms = ms;
      } else if (std::string(key) == "timeout") {
        if (!r.duration(m->value, kat, ms)) return false;
        d.timeout_ms = ms;
      } else {
        if (!r.integer(m->value, kat, 1, 100, n)) return false;
        (std::string(key) == "requiredSuccess" ? d.required_success : d.required_failure) = static_cast<int>(n);
      }
    }
    auto skip = [](const Value&, const std::string&) { return true; };
    auto dimension = [&](health::Dimension dim) {
      return [&, dim](const Value& x, const std::string& dat) {
        return read_dimension(r, x, dat, name, dim, d, dc.dimensions[health::index(dim)], out);
      };
    };
    const bool ok = r.object(dcv, at, {
        {"accessPeriod", skip}, {"timeout", skip}, {"requiredSuccess", skip}, {"requiredFailure", skip},
        {"access", dimension(health::Dimension::kAccess)},
        {"wanAccess", dimension(health::Dimension::kWanAccess)},
        {"lanAccess", dimension(health::Dimension::kLanAccess)},
        {"internet", dimension(health::Dimension::kInternet)},
        {"maintenanceMode", [&](const Value& x, const std::string& mat) { return r.boolean(x, mat, dc.maintenance); }},
    });
    if (!ok) return false;
    out.datacenters.push_back(std::move(dc));
    return true;
  });
}

bool read_checks(JsonReader& r, const Value& v, const std::string& where, health::HealthConfig& out) {
  return r.members(v, where, [&](const std::string& id, const Value& cv, const std::string& at) {
    if (id.rfind("auto|", 0) == 0) return r.fail(at, "check IDs starting with \"auto|\" are reserved");
    if (!valid_name(r, id, at, "check ID")) return false;
    health::CheckSpec spec;
    if (!read_check(r, cv, at, CheckDefaults{}, spec)) return false;
    out.checks[id] = std::move(spec);
    return true;
  });
}

}  // namespace pharos::scenario
