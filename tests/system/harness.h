// harness.h: system-test harness: starts a real pharosd on ephemeral loopback ports and talks to it
// with raw UDP/TCP packets, an ldns-based client and the dig/kdig command-line tools.
//
//   Server* srv = default_server();                   // example.com on 127.0.0.1:0
//   Bytes q = build_query(next_id(), "www.example.com", rrtype::kA);
//   std::optional<Response> r = udp_exchange(srv->udp(), q);
//   EXPECT_EQ(r->rcode(), Rcode::kNoError);
//   EXPECT_TRUE(udp_silent(srv->udp(), malformed));     // "drop": no reply within 300 ms
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ldns/ldns.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dns/wire.h"

namespace pharos::system_test {

using Bytes = std::vector<std::uint8_t>;
namespace rrtype = pharos::dns::rrtype;
namespace rrclass = pharos::dns::rrclass;
using pharos::dns::Rcode;

// ---------------------------------------------------------------------------------------------
// Endpoints and the server under test.

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // "127.0.0.1" or "::1", for dig/kdig
  std::uint16_t port = 0;
  int family() const { return addr.ss_family; }
};
Endpoint make_endpoint(const std::string& host, std::uint16_t port);

struct ServerOptions {
  std::vector<std::string> listen = {"127.0.0.1:0"};
  // Zones as {name, absolute path}; the harness copies each file next to the temp config.
  std::vector<std::pair<std::string, std::string>> zones = {
      {"example.com.", std::string(PHAROS_SOURCE_DIR) + "/zones/example.com.zone"}};
  // JSON object text for "identity"; empty = every identity string empty (hidden).
  std::string identity_json;
  int workers = 1;
  int max_udp_payload = 1232;
  std::string tcp_idle_timeout = "2s";
  std::string tcp_message_timeout = "1s";
  int tcp_max_connections = 64;
};

class Server {
 public:
  // Starts pharosd, waits for its listeners and for a first answer. Returns nullptr (after an
  // ADD_FAILURE with the captured log) if it does not come up within a few seconds.
  static std::unique_ptr<Server> start(const ServerOptions& opts);
  ~Server();  // SIGTERM, then SIGKILL after a bounded wait; removes the temp directory
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Endpoint udp(int family = AF_INET) const;
  Endpoint tcp(int family = AF_INET) const;
  bool alive();               // the process has not exited
  std::string log() const;    // everything it printed so far
  pid_t pid() const { return pid_; }

 private:
  Server() = default;
  void reader_loop();

  struct Listener {
    bool tcp = false;
    std::string host;
    std::uint16_t port = 0;
  };
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string dir_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
  std::vector<Listener> listeners_;
  bool exited_ = false;
};

// Shared servers for a test binary: started on first use, restarted if a previous test killed it.
// Each returns nullptr (after reporting the failure) when pharosd does not come up.
Server* default_server();     // example.com, 127.0.0.1:0, identity hidden
Server* identity_server();    // same zone, identity strings and NSID configured (kIdentity* below)
Server* dual_stack_server();  // 127.0.0.1:0 and [::1]:0

inline constexpr const char* kIdentityIdServer = "pharos-test-id";
inline constexpr const char* kIdentityHostname = "pharos-test-host";
inline constexpr const char* kIdentityVersion = "pharos-test-version-1";
inline constexpr const char* kIdentityNsid = "pharos-nsid";

// ---------------------------------------------------------------------------------------------
// Building raw queries.

// A message ID never used before in this process, so FORMERR loop suppression (row 4) keyed on
// (client, ID) never swallows an unrelated test's answer.
std::uint16_t next_id();

inline constexpr std::uint16_t opcode_bits(int opcode) {
  return static_cast<std::uint16_t>((opcode & 0xF) << pharos::dns::kOpcodeShift);
}

void put_u8(Bytes& b, std::uint8_t v);
void put_u16(Bytes& b, std::uint16_t v);
void put_u32(Bytes& b, std::uint32_t v);
void put_bytes(Bytes& b, const Bytes& v);
void put_bytes(Bytes& b, std::string_view v);
// Uncompressed wire name from presentation form, case preserved ("" or "." = root).
void put_name(Bytes& b, std::string_view name);
Bytes wire_name(std::string_view name);

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an = 0,
             std::uint16_t ns = 0, std::uint16_t ar = 0);
void put_question(Bytes& b, std::string_view name, std::uint16_t type,
                  std::uint16_t cls = rrclass::kIn);

struct EdnsOption {
  std::uint16_t code;
  Bytes data;
};
struct Opt {
  std::uint16_t udp_size = 1232;
  std::uint8_t ext_rcode = 0;
  std::uint8_t version = 0;
  std::uint16_t flags = 0;  // DO = 0x8000
  std::vector<EdnsOption> options;
};
Bytes opt_rr(const Opt& opt);
// A generic RR: owner, type, class, ttl and raw rdata (RDLENGTH computed).
Bytes rr(std::string_view owner, std::uint16_t type, std::uint16_t cls, std::uint32_t ttl,
         const Bytes& rdata);
// A TSIG RR for key `key` with a 32-byte MAC of zeros (HMAC-SHA256 shape).
Bytes tsig_rr(std::string_view key, std::uint16_t original_id, std::uint16_t cls = rrclass::kAny);

// A QUERY with one question and an optional OPT in the additional section.
Bytes build_query(std::uint16_t id, std::string_view name, std::uint16_t type,
                  std::uint16_t cls = rrclass::kIn, std::uint16_t flags = 0,
                  const std::optional<Opt>& opt = std::nullopt);
// The same through ldns (ldns_pkt_query_new + ldns_pkt2wire): the "real client" path.
Bytes ldns_query(std::uint16_t id, const std::string& name, ldns_rr_type type,
                 ldns_rr_class cls = LDNS_RR_CLASS_IN, bool rd = false,
                 std::optional<std::uint16_t> edns_udp = std::nullopt, bool do_bit = false);

// ---------------------------------------------------------------------------------------------
// Parsed responses: ldns for the records, and an independent raw walk for header, OPT and TSIG.

struct RawRr {
  int section = 0;  // 0 question, 1 answer, 2 authority, 3 additional
  std::string owner;
  std::size_t owner_offset = 0;
  std::uint16_t type = 0, cls = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_offset = 0;
  std::uint16_t rdlength = 0;
};

struct OptView {
  bool present = false;
  int count = 0;
  bool owner_root = false;
  std::uint16_t udp_size = 0;
  std::uint8_t ext_rcode = 0;
  std::uint8_t version = 0;
  std::uint16_t flags = 0;
  std::vector<EdnsOption> options;
  bool has_option(std::uint16_t code) const;
  const EdnsOption* option(std::uint16_t code) const;
};

struct TsigView {
  std::string key;
  std::uint16_t cls = 0;
  std::uint32_t ttl = 0;
  std::string algorithm;
  std::uint16_t fudge = 0;
  std::uint16_t mac_size = 0;
  std::uint16_t original_id = 0;
  std::uint16_t error = 0;
  std::uint16_t other_len = 0;
};

struct LdnsPktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};

class Response {
 public:
  explicit Response(Bytes wire);
  Response(Response&&) = default;
  Response& operator=(Response&&) = default;

  const Bytes& wire() const { return wire_; }
  std::size_t size() const { return wire_.size(); }
  bool parsed() const { return pkt_ != nullptr && walked_; }  // both ldns and the raw walk agree
  const std::string& parse_error() const { return error_; }
  ldns_pkt* pkt() const { return pkt_.get(); }

  std::uint16_t id() const;
  std::uint16_t flags() const;  // the raw 16-bit flags word
  int opcode() const { return (flags() >> pharos::dns::kOpcodeShift) & 0xF; }
  int header_rcode() const { return flags() & pharos::dns::kRcodeMask; }
  int rcode() const;  // extended: header RCODE | OPT ext-rcode << 4
  bool qr() const { return flags() & pharos::dns::kFlagQr; }
  bool aa() const { return flags() & pharos::dns::kFlagAa; }
  bool tc() const { return flags() & pharos::dns::kFlagTc; }
  bool rd() const { return flags() & pharos::dns::kFlagRd; }
  bool ra() const { return flags() & pharos::dns::kFlagRa; }
  bool z() const { return flags() & pharos::dns::kFlagZ; }
  bool ad() const { return flags() & pharos::dns::kFlagAd; }
  bool cd() const { return flags() & pharos::dns::kFlagCd; }
  std::uint16_t qdcount() const;
  std::uint16_t ancount() const;
  std::uint16_t nscount() const;
  std::uint16_t arcount() const;

  const OptView& opt() const { return opt_; }
  const std::vector<RawRr>& raw_rrs() const { return rrs_; }
  std::optional<TsigView> tsig() const;
  // The question bytes exactly as sent back (name + type + class), empty if QDCOUNT=0.
  Bytes question_bytes() const;

  // Records of a section as normalised text "owner ttl class type rdata", owner lowercased,
  // sorted; OPT and TSIG excluded. section: 1 answer, 2 authority, 3 additional.
  std::vector<std::string> section(int section) const;
  // Same, in wire order and without lowercasing.
  std::vector<std::string> section_in_order(int section) const;

  std::string describe() const;  // for failure messages

 private:
  void walk();
  Bytes wire_;
  std::unique_ptr<ldns_pkt, LdnsPktDeleter> pkt_;
  bool walked_ = false;
  std::string error_;
  OptView opt_;
  std::vector<RawRr> rrs_;
  std::size_t question_end_ = 12;
};

// Decodes a (possibly compressed) name at `off`; returns false on any malformation.
bool decode_name(const Bytes& msg, std::size_t off, std::string& out, std::size_t& next);
std::string to_lower(std::string s);

// ---------------------------------------------------------------------------------------------
// Transports.

class UdpClient {
 public:
  // Binds to `local_port` on the loopback address of `server`'s family (0 = ephemeral).
  explicit UdpClient(const Endpoint& server, std::uint16_t local_port = 0);
  ~UdpClient();
  bool ok() const { return fd_ >= 0; }
  int bind_errno() const { return bind_errno_; }
  bool send(const Bytes& msg);
  std::optional<Bytes> recv(int timeout_ms);

 private:
  int fd_ = -1;
  int bind_errno_ = 0;
};

class TcpClient {
 public:
  explicit TcpClient(const Endpoint& server);
  ~TcpClient();
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  std::uint16_t local_port() const;
  bool send_raw(const Bytes& bytes);
  bool send_framed(const Bytes& msg);
  std::optional<Bytes> recv_framed(int timeout_ms);
  // True if the peer closes (EOF or reset) within timeout_ms without sending anything more.
  bool wait_closed(int timeout_ms, std::size_t* bytes_seen = nullptr);
  void shutdown_write();

 private:
  bool read_exact(std::uint8_t* p, std::size_t n, int timeout_ms);
  int fd_ = -1;
};

inline constexpr int kReplyTimeoutMs = 2000;
inline constexpr int kSilenceMs = 300;

std::optional<Response> udp_exchange(const Endpoint& server, const Bytes& query,
                                     int timeout_ms = kReplyTimeoutMs);
std::optional<Response> tcp_exchange(const Endpoint& server, const Bytes& query,
                                     int timeout_ms = kReplyTimeoutMs);
// True when the server sends nothing back within timeout_ms ("drop").
bool udp_silent(const Endpoint& server, const Bytes& query, int timeout_ms = kSilenceMs);

// TCP sockets in CLOSE_WAIT whose local port is `port` (from /proc/net/tcp and tcp6).
int close_wait_count(std::uint16_t port);

// ---------------------------------------------------------------------------------------------
// Command-line clients.

struct ToolAnswer {
  bool ran = false;
  std::string status;              // "NOERROR"
  std::vector<std::string> flags;  // {"qr", "aa"}
  std::vector<std::string> answer; // normalised "owner ttl class type rdata", sorted, lowercased owner
  std::string output;
};
std::string run_command(const std::string& cmd);
ToolAnswer run_dig(const Endpoint& server, const std::string& args);
ToolAnswer run_kdig(const Endpoint& server, const std::string& args);

}  // namespace pharos::system_test
