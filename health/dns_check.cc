// dns_check.cc: the DNS prober. Queries go out on a c-ares channel shared with the other probers
// asking the same server (dns_channel.h): one try, the check's timeout, and SERVFAIL or REFUSED
// handed to us as answers, so the rcode is read from the answer itself. ldns parses the answer
// section when a value is expected.
#include "health/dns_check.h"

#include <stdbool.h>   // before ldns: ldns/common.h otherwise defines bool/true/false as macros
#include <ldns/ldns.h>
#include <netinet/in.h>

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

#include "health/dns_channel.h"
#include "health/ip_literal.h"

namespace pharos::health {
namespace {

constexpr std::array<const char*, 11> kRcodeNames = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                     "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                                     "NXRRSET", "NOTAUTH", "NOTZONE"};
enum Rcode : int { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };
constexpr std::size_t kHeaderSize = 12;
constexpr unsigned kRcodeMask = 0x0F;        // low nibble of the fourth header byte
constexpr std::size_t kRcodeOffset = 3;
constexpr std::uint16_t kQtypeAny = 255;
constexpr std::size_t kMaxListedAnswers = 4;
constexpr int kClassIn = 1;

struct RrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct PktDeleter {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;

std::string take_string(char* s) {
  std::string out = s != nullptr ? s : "";
  free(s);   // ldns hands out malloc'd strings
  return out;
}

std::string rdata_text(const ldns_rr* rr) {
  std::string text;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    if (i > 0) text += ' ';
    text += take_string(ldns_rdf2str(ldns_rr_rdf(rr, i)));
  }
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// The expected value as an RR of the query type, so that "2001:DB8:0::1" matches "2001:db8::1"
// and "10 Mail.Example.com" matches "10 mail.example.com.". nullptr when it does not parse as
// that type (then the comparison falls back to text).
RrPtr parse_expected(std::uint16_t qtype, const std::string& expect) {
  if (qtype == kQtypeAny) return nullptr;
  const std::string type = take_string(ldns_rr_type2str(static_cast<ldns_rr_type>(qtype)));
  const std::string text = ". 0 IN " + type + " " + expect;
  RdfPtr origin(ldns_dname_new_frm_str("."));
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, origin.get(), nullptr) != LDNS_STATUS_OK) return nullptr;
  ldns_rr2canonical(rr);
  return RrPtr(rr);
}

bool same_rdata(const ldns_rr* canonical_expected, const ldns_rr* answer) {
  RrPtr copy(ldns_rr_clone(answer));
  ldns_rr2canonical(copy.get());
  if (ldns_rr_rd_count(copy.get()) != ldns_rr_rd_count(canonical_expected)) return false;
  for (std::size_t i = 0; i < ldns_rr_rd_count(copy.get()); ++i) {
    if (ldns_rdf_compare(ldns_rr_rdf(copy.get(), i), ldns_rr_rdf(canonical_expected, i)) != 0) return false;
  }
  return true;
}

class DnsProber final : public Prober, private DnsChannel::Listener {
 public:
  DnsProber(uv_loop_t* loop, const CheckSpec& spec);
  ~DnsProber() override;
  void start(ProbeCallback done) override;
  void cancel() override;

 private:
  enum class Phase { kIdle, kRunning, kFinished };

  void configure(const CheckSpec& spec);
  void finish(ProbeResult&& result);
  ProbeResult evaluate(int status, const unsigned char* answer, int length) const;
  ProbeResult evaluate_rcode(int rcode, const unsigned char* answer, int length) const;
  std::string timeout_reason() const { return "timeout after " + std::to_string(timeout_.count()) + " ms"; }
  void on_dns_answer(int status, const unsigned char* answer, int length) override;
  static void on_timer(uv_timer_t* timer);

  uv_loop_t* loop_;
  DnsParams params_;
  Millis timeout_;
  std::string config_error_;     // the spec cannot be probed: every probe reports this
  int expect_rcode_ = 0;
  RrPtr expect_rr_;              // canonical form of expect_answer, when it parses as qtype
  std::vector<unsigned char> query_;
  std::string server_;           // "addr:port" for reasons
  std::shared_ptr<DnsChannel> channel_;
  DnsChannel::Query* in_flight_ = nullptr;
  uv_timer_t* timer_;            // hard timeout, then a 0 ms hop to deliver; freed on close
  ProbeCallback done_;
  ProbeResult result_;
  Phase phase_ = Phase::kIdle;
  std::uint64_t started_ns_ = 0;
};

DnsProber::DnsProber(uv_loop_t* loop, const CheckSpec& spec)
    : loop_(loop), timeout_(spec.timeout), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  if (const auto* params = std::get_if<DnsParams>(&spec.params)) {
    params_ = *params;
    configure(spec);
  } else {
    config_error_ = "not a dns check";
  }
}

void DnsProber::configure(const CheckSpec& spec) {
  const auto rcode = parse_rcode(params_.expect_rcode);
  if (!rcode) {
    config_error_ = "unknown rcode \"" + params_.expect_rcode + "\"";
    return;
  }
  expect_rcode_ = *rcode;
  sockaddr_storage server;
  socklen_t server_len = 0;
  if (!parse_ip_port(params_.server, 53, server, server_len)) {
    config_error_ = "bad DNS server \"" + params_.server + "\" (want addr or addr:port)";
    return;
  }
  server_ = format_address_port(reinterpret_cast<const sockaddr*>(&server));
  unsigned char* buf = nullptr;
  int len = 0;
  if (const int status = ares_create_query(params_.qname.c_str(), kClassIn, params_.qtype, 0, 1, &buf, &len, 0);
      status != ARES_SUCCESS) {
    config_error_ = "bad qname \"" + params_.qname + "\": " + ares_strerror(status);
    return;
  }
  query_.assign(buf, buf + len);
  ares_free_string(buf);
  if (!params_.expect_answer.empty()) expect_rr_ = parse_expected(params_.qtype, params_.expect_answer);

  std::string error;
  channel_ = DnsChannel::get(loop_, server_, spec.source_address, timeout_, error);
  if (!channel_) config_error_ = error;
}

DnsProber::~DnsProber() {
  cancel();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

void DnsProber::start(ProbeCallback done) {
  if (phase_ != Phase::kIdle) cancel();   // the engine never overlaps probes; be safe if it does
  done_ = std::move(done);
  phase_ = Phase::kRunning;
  started_ns_ = uv_hrtime();
  if (!config_error_.empty()) {
    finish(ProbeResult{.up = false, .reason = config_error_});
    return;
  }
  uv_timer_start(timer_, &DnsProber::on_timer, static_cast<std::uint64_t>(timeout_.count()), 0);
  // c-ares may fail the query inside send(); finish() only records it, the timer delivers it.
  in_flight_ = channel_->send(query_, this);
}

void DnsProber::cancel() {
  if (phase_ == Phase::kIdle) return;
  phase_ = Phase::kIdle;
  done_ = nullptr;
  uv_timer_stop(timer_);
  // Other probers' queries share the channel, so no ares_cancel: c-ares ends ours by its timeout.
  DnsChannel::abandon(in_flight_);
  in_flight_ = nullptr;
}

void DnsProber::finish(ProbeResult&& result) {
  if (phase_ != Phase::kRunning) return;
  phase_ = Phase::kFinished;
  result.latency = std::chrono::microseconds((uv_hrtime() - started_ns_) / 1000);
  result_ = std::move(result);
  // Deliver from the loop, never from inside start() or a c-ares callback: the callback may
  // destroy this prober, and c-ares must not be inside our channel then.
  uv_timer_start(timer_, &DnsProber::on_timer, 0, 0);
}

void DnsProber::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<DnsProber*>(timer->data);
  if (self->phase_ == Phase::kRunning) {
    DnsChannel::abandon(self->in_flight_);
    self->in_flight_ = nullptr;
    self->finish(ProbeResult{.up = false, .reason = self->timeout_reason()});
    return;   // finish() re-armed the timer at 0 ms
  }
  if (self->phase_ != Phase::kFinished) return;
  self->phase_ = Phase::kIdle;
  ProbeCallback done = std::move(self->done_);
  self->done_ = nullptr;
  done(std::move(self->result_));   // may destroy self
}

void DnsProber::on_dns_answer(int status, const unsigned char* answer, int length) {
  in_flight_ = nullptr;   // the channel frees the query after this call
  if (phase_ != Phase::kRunning) return;
  finish(evaluate(status, answer, length));
}

ProbeResult DnsProber::evaluate(int status, const unsigned char* answer, int length) const {
  if (status == ARES_SUCCESS && answer != nullptr && length >= static_cast<int>(kHeaderSize)) {
    return evaluate_rcode(answer[kRcodeOffset] & kRcodeMask, answer, length);
  }
  // No answer to read: c-ares' own status says what happened; some of them are rcodes.
  switch (status) {
    case ARES_ETIMEOUT: return {.up = false, .reason = timeout_reason()};
    case ARES_ECONNREFUSED: return {.up = false, .reason = "connection refused by " + server_};
    case ARES_EFORMERR: return evaluate_rcode(kFormErr, nullptr, 0);
    case ARES_ESERVFAIL: return evaluate_rcode(kServFail, nullptr, 0);
    case ARES_ENOTFOUND: return evaluate_rcode(kNxDomain, nullptr, 0);
    case ARES_ENOTIMP: return evaluate_rcode(kNotImp, nullptr, 0);
    case ARES_EREFUSED: return evaluate_rcode(kRefused, nullptr, 0);
    case ARES_SUCCESS:
    case ARES_EBADRESP: return {.up = false, .reason = "malformed answer from " + server_};
    default: return {.up = false, .reason = std::string("query to ") + server_ + ": " + ares_strerror(status)};
  }
}

ProbeResult DnsProber::evaluate_rcode(int rcode, const unsigned char* answer, int length) const {
  if (rcode != expect_rcode_) {
    return {.up = false, .reason = "rcode " + rcode_name(rcode) + " (expected " + rcode_name(expect_rcode_) + ")"};
  }
  if (params_.expect_answer.empty()) return {.up = true, .reason = "rcode " + rcode_name(rcode)};
  const std::string missing = "no answer " + params_.expect_answer;
  if (answer == nullptr) return {.up = false, .reason = missing + " (got nothing)"};
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, answer, static_cast<std::size_t>(length)) != LDNS_STATUS_OK) {
    return {.up = false, .reason = "malformed answer from " + server_};
  }
  const PktPtr pkt(raw);
  const ldns_rr_list* rrs = ldns_pkt_answer(pkt.get());
  std::string got;
  std::size_t listed = 0;
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(rrs); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(rrs, i);
    // Only records of the asked type count (a CNAME on the way to an A record is not the answer).
    if (params_.qtype != kQtypeAny && ldns_rr_get_type(rr) != params_.qtype) continue;
    const std::string text = rdata_text(rr);
    const bool match = expect_rr_ ? same_rdata(expect_rr_.get(), rr) : iequals(text, params_.expect_answer);
    if (match) return {.up = true, .reason = "answer " + text};
    if (listed < kMaxListedAnswers) {
      got += (listed > 0 ? ", " : "") + text;
    } else if (listed == kMaxListedAnswers) {
      got += ", ...";
    }
    ++listed;
  }
  return {.up = false, .reason = missing + " (got " + (listed == 0 ? std::string("nothing") : got) + ")"};
}

}  // namespace

std::optional<int> parse_rcode(std::string_view name) {
  for (std::size_t i = 0; i < kRcodeNames.size(); ++i) {
    if (iequals(name, kRcodeNames[i])) return static_cast<int>(i);
  }
  if (iequals(name, "NOTIMPL")) return kNotImp;
  int value = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (ec == std::errc() && end == name.data() + name.size() && value >= 0 && value <= 15) return value;
  return std::nullopt;
}

std::string rcode_name(int rcode) {
  if (rcode >= 0 && static_cast<std::size_t>(rcode) < kRcodeNames.size()) return kRcodeNames[rcode];
  return "RCODE" + std::to_string(rcode);
}

std::unique_ptr<Prober> make_dns_prober(uv_loop_t* loop, const CheckSpec& spec) {
  return std::make_unique<DnsProber>(loop, spec);
}

}  // namespace pharos::health
