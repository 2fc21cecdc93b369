// dns_test_support.cc: the test DNS server and the bounded loop runners.
#include "tests/health/dns_test_support.h"

#include <stdbool.h>   // before ldns: ldns/common.h otherwise defines bool/true/false as macros
#include <ldns/ldns.h>
#include <netinet/in.h>

#include <cstdlib>
#include <stdexcept>

namespace pharos::health::testing {
namespace {

struct Guard {
  uv_timer_t timer;
  bool expired = false;
};

void start_guard(uv_loop_t* loop, Guard& guard, std::chrono::milliseconds limit, bool ref) {
  uv_timer_init(loop, &guard.timer);
  guard.timer.data = &guard;
  if (!ref) uv_unref(reinterpret_cast<uv_handle_t*>(&guard.timer));
  uv_timer_start(
      &guard.timer,
      [](uv_timer_t* t) {
        static_cast<Guard*>(t->data)->expired = true;
        uv_stop(t->loop);
      },
      static_cast<std::uint64_t>(limit.count()), 0);
}

void close_guard(uv_loop_t* loop, Guard& guard) {
  uv_close(reinterpret_cast<uv_handle_t*>(&guard.timer), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);   // runs the close callback: the guard lives on our stack
}

}  // namespace

bool run_until(uv_loop_t* loop, const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  // The prepare handle runs just before the loop would block in poll: stopping there makes that
  // poll return at once, so the loop never sleeps past the moment pred() became true.
  struct Watch {
    uv_prepare_t prepare;
    const std::function<bool()>* pred;
  } watch{{}, &pred};
  uv_prepare_init(loop, &watch.prepare);
  watch.prepare.data = &watch;
  uv_prepare_start(&watch.prepare, [](uv_prepare_t* p) {
    if ((*static_cast<Watch*>(p->data)->pred)()) uv_stop(p->loop);
  });
  Guard guard;
  start_guard(loop, guard, limit, true);
  while (!pred() && !guard.expired) uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch.prepare), nullptr);
  close_guard(loop, guard);
  return pred();
}

void run_for(uv_loop_t* loop, std::chrono::milliseconds duration) {
  Guard guard;
  start_guard(loop, guard, duration, true);
  while (!guard.expired) uv_run(loop, UV_RUN_DEFAULT);
  close_guard(loop, guard);
}

int drain_and_close(uv_loop_t* loop) {
  Guard guard;
  start_guard(loop, guard, std::chrono::seconds(10), false);
  uv_run(loop, UV_RUN_DEFAULT);   // returns once only the (unreferenced) guard is left
  close_guard(loop, guard);
  return uv_loop_close(loop);
}

TestDnsServer::TestDnsServer(uv_loop_t* loop, const char* address) : udp_(new uv_udp_t), host_(address) {
  answers_[1] = Answers{{"192.0.2.1"}, 60};
  sockaddr_storage sa{};
  if (uv_ip4_addr(address, 0, reinterpret_cast<sockaddr_in*>(&sa)) != 0 &&
      uv_ip6_addr(address, 0, reinterpret_cast<sockaddr_in6*>(&sa)) != 0) {
    throw std::runtime_error("bad test server address");
  }
  uv_udp_init(loop, udp_);
  udp_->data = this;
  if (uv_udp_bind(udp_, reinterpret_cast<const sockaddr*>(&sa), 0) != 0) throw std::runtime_error("bind failed");
  int len = sizeof sa;
  uv_udp_getsockname(udp_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  uv_udp_recv_start(udp_, &TestDnsServer::on_alloc, &TestDnsServer::on_recv);
}

TestDnsServer::~TestDnsServer() {
  uv_close(reinterpret_cast<uv_handle_t*>(udp_), [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
}

void TestDnsServer::set_answers(std::uint16_t qtype, std::vector<std::string> rdata, std::uint32_t ttl) {
  answers_[qtype] = Answers{std::move(rdata), ttl};
}

std::string TestDnsServer::address() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void TestDnsServer::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<TestDnsServer*>(handle->data);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void TestDnsServer::on_recv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned) {
  if (nread <= 0 || from == nullptr) return;
  auto* self = static_cast<TestDnsServer*>(udp->data);
  self->answer(reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread), from);
}

void TestDnsServer::answer(const std::uint8_t* wire, std::size_t len, const sockaddr* from) {
  ldns_pkt* query = nullptr;
  if (ldns_wire2pkt(&query, wire, len) != LDNS_STATUS_OK) return;
  ++queries_;
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(query), 0);
  if (question == nullptr || mode_ == Mode::kSilent) {
    ldns_pkt_free(query);
    return;
  }
  char* qname = ldns_rdf2str(ldns_rr_owner(question));
  last_qname_ = qname;
  const auto qtype = static_cast<std::uint16_t>(ldns_rr_get_type(question));

  ldns_pkt* response = ldns_pkt_new();
  ldns_pkt_set_id(response, ldns_pkt_id(query));
  ldns_pkt_set_qr(response, true);
  ldns_pkt_set_aa(response, true);
  ldns_pkt_set_rd(response, ldns_pkt_rd(query));
  ldns_pkt_push_rr(response, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  switch (mode_) {
    case Mode::kServfail: ldns_pkt_set_rcode(response, LDNS_RCODE_SERVFAIL); break;
    case Mode::kNxdomain: ldns_pkt_set_rcode(response, LDNS_RCODE_NXDOMAIN); break;
    case Mode::kRefused: ldns_pkt_set_rcode(response, LDNS_RCODE_REFUSED); break;
    default: {
      const auto it = answers_.find(qtype);
      if (it == answers_.end()) break;
      char* type = ldns_rr_type2str(static_cast<ldns_rr_type>(qtype));
      for (const auto& rdata : it->second.rdata) {
        const std::string text = std::string(qname) + " " + std::to_string(it->second.ttl) + " IN " + type + " " + rdata;
        ldns_rr* rr = nullptr;
        if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) {
          ldns_pkt_push_rr(response, LDNS_SECTION_ANSWER, rr);
        }
      }
      free(type);
    }
  }
  std::uint8_t* out = nullptr;
  std::size_t out_len = 0;
  if (ldns_pkt2wire(&out, response, &out_len) == LDNS_STATUS_OK) {
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(out), static_cast<unsigned>(out_len));
    uv_udp_try_send(udp_, &b, 1, from);
    free(out);
  }
  free(qname);
  ldns_pkt_free(response);
  ldns_pkt_free(query);
}

}  // namespace pharos::health::testing
