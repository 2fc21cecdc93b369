// test_util.cc: see test_util.h.
#include "tests/dns/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace pharos::dns::testing {

std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t type, std::uint16_t cls,
                                     std::uint16_t edns_payload, std::uint16_t id, bool rd) {
  std::vector<std::uint8_t> q = {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                                 static_cast<std::uint8_t>(rd ? 0x01 : 0x00), 0, 0, 1, 0, 0, 0, 0, 0,
                                 static_cast<std::uint8_t>(edns_payload ? 1 : 0)};
  std::vector<std::uint8_t> wire;
  std::string n = name;
  if (n.empty() || n.back() != '.') n += '.';
  std::size_t start = 0;
  while (start < n.size()) {
    const std::size_t dot = n.find('.', start);
    if (dot == start) break;  // the root
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), n.begin() + static_cast<long>(start), n.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<std::uint8_t>(type >> 8));
  q.push_back(static_cast<std::uint8_t>(type));
  q.push_back(static_cast<std::uint8_t>(cls >> 8));
  q.push_back(static_cast<std::uint8_t>(cls));
  if (edns_payload) {
    const std::uint8_t opt[] = {0, 0, 41, static_cast<std::uint8_t>(edns_payload >> 8),
                                static_cast<std::uint8_t>(edns_payload), 0, 0, 0, 0, 0, 0};
    q.insert(q.end(), opt, opt + sizeof opt);
  }
  return q;
}

std::vector<std::uint8_t> hex(const std::string& s) {
  std::vector<std::uint8_t> out;
  std::string digits;
  for (char c : s)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

std::unique_ptr<AnswerTable> table_from_text(const std::string& text, const TableOptions& options,
                                             const std::string& origin) {
  auto zone = load_zone_text(origin, text, "test.zone");
  EXPECT_TRUE(zone.ok()) << (zone.ok() ? "" : zone.error().to_string());
  if (!zone) return nullptr;
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  auto table = build_table(std::move(zones), options);
  EXPECT_TRUE(table.ok()) << (table.ok() ? "" : table.error().to_string());
  if (!table) return nullptr;
  return std::move(table.value());
}

std::string example_zone_text() {
  std::ifstream in(std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Reply ask(Responder& r, const AnswerTable& t, const std::vector<std::uint8_t>& query, Transport transport,
          const sockaddr* from) {
  std::vector<std::uint8_t> out(65535);
  ClientInfo c;
  c.transport = transport;
  c.addr = from;
  const std::size_t n = r.respond(t, query.data(), query.size(), out.data(),
                                  transport == Transport::kTcp ? 65535 : 4096, c, 1000);
  Reply reply;
  out.resize(n);
  reply.wire = out;
  if (n > 0) {
    ldns_pkt* p = nullptr;
    if (ldns_wire2pkt(&p, out.data(), n) == LDNS_STATUS_OK) reply.pkt.reset(p);
  }
  return reply;
}

std::vector<std::string> section(const ldns_pkt* p, ldns_pkt_section s) {
  std::vector<std::string> out;
  ldns_rr_list* list = ldns_pkt_get_section_clone(p, s);
  for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    char* str = ldns_rr2str(ldns_rr_list_rr(list, i));
    std::string line = str;
    free(str);  // NOLINT
    while (!line.empty() && line.back() == '\n') line.pop_back();
    for (auto& ch : line)
      if (ch == '\t') ch = ' ';
    out.push_back(line);
  }
  ldns_rr_list_deep_free(list);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pharos::dns::testing
