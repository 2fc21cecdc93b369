// probe_services.cc: see probe_services.h.
#include "health/probe_services.h"

#include "health/ares_resolver.h"
#include "health/curl_multi.h"
#include "health/dns_check.h"
#include "health/exec_check.h"
#include "health/file_check.h"
#include "health/http_check.h"
#include "health/icmp_check.h"
#include "health/link_check.h"
#include "health/tcp_check.h"

namespace pharos::health {

ProbeServices::ProbeServices(uv_loop_t* loop)
    : loop_(loop), resolver_(std::make_unique<AresResolver>(loop)), curl_(std::make_unique<CurlMulti>(loop)) {}

ProbeServices::~ProbeServices() = default;

std::unique_ptr<Prober> ProbeServices::make(const CheckSpec& spec, std::string& error) {
  std::unique_ptr<Prober> p;
  if (spec.type == CheckType::kHttp || spec.type == CheckType::kHttps) {
    // A spec libcurl cannot run (URL, regex, method) is a configuration problem: say so.
    error = http_check_error(spec);
    if (!error.empty()) return nullptr;
  }
  switch (spec.type) {
    case CheckType::kTcp: p = make_tcp_prober(loop_, *resolver_, spec); break;
    case CheckType::kHttp:
    case CheckType::kHttps: p = make_http_prober(loop_, *curl_, *resolver_, spec); break;
    case CheckType::kDns: p = make_dns_prober(loop_, spec); break;
    case CheckType::kIcmp: p = make_icmp_prober(loop_, *resolver_, spec); break;
    case CheckType::kExec: p = make_exec_prober(loop_, spec); break;
    case CheckType::kFile: p = make_file_prober(loop_, spec); break;
    case CheckType::kLink: p = make_link_prober(loop_, spec); break;
    case CheckType::kGateway: p = make_gateway_prober(loop_, spec); break;
  }
  if (!p) error = std::string("cannot run a ") + to_string(spec.type) + " check here";
  return p;
}

void ProbeServices::close() {
  if (curl_) curl_->close();
  if (resolver_) resolver_->close();
}

}  // namespace pharos::health
