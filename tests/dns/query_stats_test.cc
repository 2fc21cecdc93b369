// query_stats_test.cc: the responder's per-thread counters (by transport, qtype and RCODE) and the
// table's GTM answer counters (per slot and outcome, per thread), as metrics read them.
#include "dns/query_stats.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "dns/dynamic.h"
#include "tests/dns/test_util.h"

namespace pharos::dns {
namespace {

using testing::ask;
using testing::make_query;

TEST(QueryStats, QtypeSlotsNameTheCommonTypesAndShareTheRest) {
  EXPECT_STREQ(qtype_slot_name(qtype_slot(rrtype::kA)), "A");
  EXPECT_STREQ(qtype_slot_name(qtype_slot(rrtype::kAaaa)), "AAAA");
  EXPECT_STREQ(qtype_slot_name(qtype_slot(257)), "CAA");
  EXPECT_STREQ(qtype_slot_name(qtype_slot(rrtype::kAny)), "ANY");
  EXPECT_EQ(qtype_slot(rrtype::kHinfo), kQtypeOther);
  EXPECT_EQ(qtype_slot(65000), kQtypeOther);
  EXPECT_STREQ(qtype_slot_name(kQtypeOther), "other");
  EXPECT_STREQ(qtype_slot_name(kQtypeNone), "none");
  EXPECT_STREQ(rcode_name(3), "NXDOMAIN");
  EXPECT_EQ(rcode_name(7), nullptr);
}

TEST(QueryStats, ResponderCountsByTransportQtypeAndRcode) {
  auto t = testing::table_from_text(testing::example_zone_text());
  Responder r;
  ask(r, *t, make_query("www.example.com", rrtype::kA));                      // NOERROR
  ask(r, *t, make_query("nope.example.com", rrtype::kAaaa));                  // NXDOMAIN
  ask(r, *t, make_query("other.test", rrtype::kMx), Transport::kTcp);         // REFUSED
  ask(r, *t, make_query("www.example.com", rrtype::kHinfo), Transport::kTcp); // other type
  const ResponderStats& udp = r.stats(Transport::kUdp);
  const ResponderStats& tcp = r.stats(Transport::kTcp);
  EXPECT_EQ(udp.queries, 2u);
  EXPECT_EQ(tcp.queries, 2u);
  EXPECT_EQ(udp.qtype[qtype_slot(rrtype::kA)], 1u);
  EXPECT_EQ(udp.qtype[qtype_slot(rrtype::kAaaa)], 1u);
  EXPECT_EQ(tcp.qtype[qtype_slot(rrtype::kMx)], 1u);
  EXPECT_EQ(tcp.qtype[kQtypeOther], 1u);
  EXPECT_EQ(udp.rcode[0], 1u);
  EXPECT_EQ(udp.rcode[3], 1u);
  EXPECT_EQ(tcp.rcode[5], 1u);
  EXPECT_EQ(tcp.rcode[0], 1u);
  EXPECT_EQ(r.stats().queries, 4u);
}

TEST(QueryStats, UnreadableQuestionCountsAsNoneAndDropped) {
  auto t = testing::table_from_text(testing::example_zone_text());
  Responder r;
  std::vector<std::uint8_t> junk = {0x12, 0x34, 0x80};  // shorter than a header: dropped
  ask(r, *t, junk);
  EXPECT_EQ(r.stats(Transport::kUdp).queries, 1u);
  EXPECT_EQ(r.stats(Transport::kUdp).dropped, 1u);
  EXPECT_EQ(r.stats(Transport::kUdp).qtype[kQtypeNone], 1u);
  // A normal query is still answered and counted.
  ask(r, *t, make_query("www.example.com", rrtype::kA));
  EXPECT_EQ(r.stats(Transport::kUdp).rcode[0], 1u);
}

DynamicRrset gtm_a(const char* name, std::vector<const char*> ips) {
  DynamicRrset d;
  name_to_wire(name, d.owner);
  d.type = rrtype::kA;
  d.ttl = 30;
  d.label = std::string(name) + "/A";
  d.key = std::string(name) + "/A";
  for (std::size_t i = 0; i < ips.size(); ++i) {
    Bytes b(4);
    inet_pton(AF_INET, ips[i], b.data());
    d.alternatives.push_back({b});
    d.info.push_back(AlternativeInfo{"chain", std::to_string(i), "dc" + std::to_string(i + 1)});
  }
  return d;
}

std::unique_ptr<AnswerTable> gtm_table() {
  auto zone = load_zone_text("example.com.", testing::example_zone_text(), "example.zone");
  EXPECT_TRUE(zone.ok());
  std::vector<ZoneData> zones;
  zones.push_back(std::move(zone.value()));
  std::vector<DynamicRrset> dyn;
  dyn.push_back(gtm_a("gtm.example.com.", {"192.0.2.1", "198.51.100.1"}));
  dyn.push_back(gtm_a("gtm2.example.com.", {"192.0.2.2"}));
  auto t = build_table(std::move(zones), TableOptions{}, std::move(dyn));
  EXPECT_TRUE(t.ok());
  return std::move(*t);
}

void choose(const AnswerTable& t, std::size_t slot, std::uint32_t choice) {
  auto c = std::make_unique<DynamicChoices>(t.dynamic_slots(), t.region_count());
  if (const DynamicChoices* old = t.choices())
    for (std::size_t s = 0; s < old->slots(); ++s) c->set(s, 0, old->get(s, 0));
  c->set(slot, 0, choice);
  delete t.exchange_choices(c.release());
}

TEST(DynamicCounters, CountPerSlotOutcomeAndThread) {
  auto t = gtm_table();
  t->attach_counters(3);
  EXPECT_EQ(t->dynamic_info(0).key, "gtm.example.com./A");
  ASSERT_EQ(t->dynamic_info(0).alternatives.size(), 2u);
  EXPECT_EQ(t->dynamic_info(0).alternatives[1].dc, "dc2");
  Responder a, b;
  a.set_thread(0);
  b.set_thread(2);
  ask(a, *t, make_query("gtm.example.com", rrtype::kA));
  ask(b, *t, make_query("gtm.example.com", rrtype::kA));
  choose(*t, 0, 1);
  ask(b, *t, make_query("gtm.example.com", rrtype::kA), Transport::kTcp);
  choose(*t, 0, kChoiceServFail);
  ask(a, *t, make_query("gtm.example.com", rrtype::kA));
  choose(*t, 0, kChoiceNoData);
  ask(a, *t, make_query("gtm.example.com", rrtype::kA));
  choose(*t, 0, kChoiceRefused);
  ask(a, *t, make_query("gtm.example.com", rrtype::kA));
  ask(a, *t, make_query("gtm2.example.com", rrtype::kA));
  ask(a, *t, make_query("www.example.com", rrtype::kA));  // static: not counted
  EXPECT_EQ(t->dynamic_count(0, 0), 2u);
  EXPECT_EQ(t->dynamic_count(0, 1), 1u);
  EXPECT_EQ(t->dynamic_count(0, 2 + AnswerTable::kOutcomeNoData), 1u);
  EXPECT_EQ(t->dynamic_count(0, 2 + AnswerTable::kOutcomeServFail), 1u);
  EXPECT_EQ(t->dynamic_count(0, 2 + AnswerTable::kOutcomeRefused), 1u);
  EXPECT_EQ(t->dynamic_count(1, 0), 1u);
  EXPECT_EQ(t->dynamic_count(0, 5), 0u);  // past the slot's outcomes
}

TEST(DynamicCounters, WithoutCountersOrThreadNothingIsCounted) {
  auto t = gtm_table();
  Responder r;  // no thread index
  ask(r, *t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(t->dynamic_count(0, 0), 0u);
  t->attach_counters(1);
  ask(r, *t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(t->dynamic_count(0, 0), 0u);
  r.set_thread(5);  // beyond the table's threads
  ask(r, *t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(t->dynamic_count(0, 0), 0u);
  r.set_thread(0);
  ask(r, *t, make_query("gtm.example.com", rrtype::kA));
  EXPECT_EQ(t->dynamic_count(0, 0), 1u);
}

}  // namespace
}  // namespace pharos::dns
