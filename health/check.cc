// check.cc: names and probe keys for check specs.
#include "health/check.h"

#include <type_traits>

namespace pharos::health {
namespace {

void add(std::string& key, const std::string& field) {
  // Length-prefixed so that no two different specs can produce the same key.
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

}  // namespace

const char* to_string(CheckType t) {
  switch (t) {
    case CheckType::kTcp: return "tcp";
    case CheckType::kHttp: return "http";
    case CheckType::kHttps: return "https";
    case CheckType::kDns: return "dns";
    case CheckType::kIcmp: return "icmp";
    case CheckType::kExec: return "exec";
    case CheckType::kFile: return "file";
    case CheckType::kLink: return "link";
    case CheckType::kGateway: return "gateway";
  }
  return "?";
}

std::string CheckSpec::probe_key() const {
  std::string key = to_string(type);
  add(key, std::to_string(interval.count()));
  add(key, std::to_string(timeout.count()));
  add(key, source_address);
  std::visit(
      [&key](const auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, TcpParams>) {
          add(key, p.host); add(key, std::to_string(p.port)); add(key, p.send); add(key, p.expect);
        } else if constexpr (std::is_same_v<P, HttpParams>) {
          add(key, p.url); add(key, p.method); add(key, p.host_header);
          for (int s : p.expect_status) add(key, std::to_string(s));
          add(key, p.body_contains); add(key, p.body_regex); add(key, p.tls_verify ? "v" : "n");
          add(key, p.ca_file); add(key, p.client_cert); add(key, p.client_key); add(key, p.sni);
          add(key, p.follow_redirects ? "r" : "n");
        } else if constexpr (std::is_same_v<P, DnsParams>) {
          add(key, p.server); add(key, p.qname); add(key, std::to_string(p.qtype));
          add(key, p.expect_rcode); add(key, p.expect_answer);
        } else if constexpr (std::is_same_v<P, IcmpParams>) {
          add(key, p.host);
        } else if constexpr (std::is_same_v<P, ExecParams>) {
          for (const auto& a : p.argv) add(key, a);
        } else if constexpr (std::is_same_v<P, FileParams>) {
          add(key, p.path);
        } else if constexpr (std::is_same_v<P, LinkParams>) {
          add(key, p.interface);
        } else if constexpr (std::is_same_v<P, GatewayParams>) {
          add(key, std::to_string(p.family)); add(key, p.address);
        }
      },
      params);
  return key;
}

}  // namespace pharos::health
