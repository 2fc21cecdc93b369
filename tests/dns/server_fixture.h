// server_fixture.h: runs the real DNS workers in-process on 127.0.0.1 port 0 with the example
// zone, for event-loop tests of the UDP and TCP paths.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "dns/server.h"
#include "dns/zone.h"
#include "tests/dns/dns_client.h"

namespace pharos::test {

// The example zone plus one GTM record, gtm.example.com A (two alternatives, answered by region),
// and a region holding 127.0.0.0/8, so the workers' dynamic and geo paths run too.
inline std::unique_ptr<const dns::AnswerTable> example_table(const dns::TableOptions& options = {}) {
  auto zone = dns::load_zone("example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
  EXPECT_TRUE(zone.ok()) << (zone.ok() ? "" : zone.error().to_string());
  if (!zone.ok()) return nullptr;
  std::vector<dns::ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  std::vector<dns::DynamicRrset> gtm(1);
  dns::name_to_wire("gtm.example.com.", gtm[0].owner);
  gtm[0].type = dns::rrtype::kA;
  gtm[0].ttl = 30;
  gtm[0].geo = true;
  gtm[0].label = "gtm.example.com./A";
  gtm[0].alternatives = {{{192, 0, 2, 200}}, {{198, 51, 100, 200}}};
  dns::DynamicRegion local;
  local.name = "local";
  local.networks.push_back(dns::DynamicRegion::Network{4, {127}, 8});
  auto table = dns::build_table(std::move(zones), options, std::move(gtm), {local});
  EXPECT_TRUE(table.ok()) << (table.ok() ? "" : table.error().to_string());
  if (!table.ok()) return nullptr;
  return std::move(table.value());
}

inline dns::ServerOptions loopback_options(unsigned workers = 1) {
  dns::ServerOptions o;
  dns::ListenAddress a;
  dns::parse_listen_address("127.0.0.1:0", a);
  o.listen = {a};
  o.workers = workers;
  return o;
}

// A started server; stops (gracefully, joining its workers) on destruction.
class LiveServer {
 public:
  explicit LiveServer(const dns::ServerOptions& o) {
    auto s = dns::Server::create(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
    if (!s.ok()) return;
    server_ = std::move(s.value());
    server_->publish(example_table());
    server_->start();
  }
  bool ok() const { return server_ != nullptr; }
  dns::Server& server() { return *server_; }
  const sockaddr* addr() const { return server_->bound().front().sa(); }
  socklen_t len() const { return server_->bound().front().len; }
  Socket udp() const { return udp_socket(addr(), len()); }
  Socket tcp() const { return tcp_connect(addr(), len()); }

 private:
  std::unique_ptr<dns::Server> server_;
};

}  // namespace pharos::test
