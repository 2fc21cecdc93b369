// check.h: what a health check is: its type, its parameters, its timing and its thresholds.
// Plain data, validated by whoever builds it (scenario/ parses the users' JSON into these).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pharos::health {

using Millis = std::chrono::milliseconds;

enum class CheckType : std::uint8_t { kTcp, kHttp, kHttps, kDns, kIcmp, kExec, kFile, kLink, kGateway };
const char* to_string(CheckType t);

// Connect to host:port; optionally send bytes and expect a substring of the reply.
struct TcpParams {
  std::string host;            // IP literal or hostname (resolved with c-ares)
  std::uint16_t port = 0;
  std::string send;            // sent after connecting, if not empty
  std::string expect;          // must appear in what the target sends back, if not empty
  bool operator==(const TcpParams&) const = default;
};

// http:// or https:// (the scheme decides; CheckType says which was configured).
struct HttpParams {
  std::string url;
  std::string method = "GET";
  std::string host_header;                    // Host: override, if not empty
  std::vector<int> expect_status = {200};     // any of these is up
  std::string body_contains;                  // substring the body must hold, if not empty
  std::string body_regex;                     // ECMAScript regex the body must match, if not empty
  bool tls_verify = true;
  std::string ca_file;
  std::string client_cert;                    // PEM file
  std::string client_key;                     // PEM file
  std::string sni;                            // server name for TLS, if not the URL's host
  bool follow_redirects = false;
  bool operator==(const HttpParams&) const = default;
};

// Query qname/qtype at server; expect an rcode and optionally one answer value.
struct DnsParams {
  std::string server;                 // "addr:port" or "addr" (port 53)
  std::string qname;                  // absolute
  std::uint16_t qtype = 1;
  std::string expect_rcode = "NOERROR";
  std::string expect_answer;          // presentation form of one answer's rdata, if not empty
  bool operator==(const DnsParams&) const = default;
};

struct IcmpParams {
  std::string host;
  bool operator==(const IcmpParams&) const = default;
};

// Run a command; exit status 0 is up. Killed (the whole process group) on timeout.
struct ExecParams {
  std::vector<std::string> argv;
  bool operator==(const ExecParams&) const = default;
};

// State written by another program: first word "up" or "down", the rest of the line a reason.
struct FileParams {
  std::string path;
  bool operator==(const FileParams&) const = default;
};

// Interface carrier.
struct LinkParams {
  std::string interface;
  bool operator==(const LinkParams&) const = default;
};

// Reachability of a gateway, per address family (ICMP echo). Empty address = the default route's.
struct GatewayParams {
  int family = 4;                     // 4 or 6
  std::string address;
  bool operator==(const GatewayParams&) const = default;
};

using CheckParams = std::variant<TcpParams, HttpParams, DnsParams, IcmpParams, ExecParams, FileParams,
                                 LinkParams, GatewayParams>;

// Consecutive results needed to change state (gdnsd and F5 both debounce; one result never flips
// a known state unless the threshold is 1).
struct Thresholds {
  int required_success = 2;
  int required_failure = 2;
  bool operator==(const Thresholds&) const = default;
};

struct CheckSpec {
  CheckType type = CheckType::kTcp;
  CheckParams params;
  Millis interval{5000};
  Millis timeout{2000};              // always below interval (validated)
  std::string source_address;        // bind probes to this local address, if not empty
  Thresholds thresholds;

  // Identical probes run once: checks with the same key share one prober and its results.
  std::string probe_key() const;
  bool operator==(const CheckSpec&) const = default;
};

}  // namespace pharos::health
