// message.cc: query builders and the two-way response parser of the system tests (message.h).
#include "tests/system/message.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <sstream>
#include <utility>

namespace pharos::system_test {

// ---------------------------------------------------------------------------------------------
// Building queries.

std::uint16_t next_id() {
  static std::atomic<std::uint16_t> next{static_cast<std::uint16_t>(std::random_device{}())};
  return next.fetch_add(1);
}

void put_u8(Bytes& b, std::uint8_t v) { b.push_back(v); }
void put_u16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(Bytes& b, std::uint32_t v) {
  put_u16(b, static_cast<std::uint16_t>(v >> 16));
  put_u16(b, static_cast<std::uint16_t>(v));
}
void put_bytes(Bytes& b, const Bytes& v) { b.insert(b.end(), v.begin(), v.end()); }
void put_bytes(Bytes& b, std::string_view v) { b.insert(b.end(), v.begin(), v.end()); }

void put_name(Bytes& b, std::string_view name) {
  while (!name.empty() && name != ".") {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    b.push_back(static_cast<std::uint8_t>(label.size()));
    put_bytes(b, label);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

Bytes wire_name(std::string_view name) {
  Bytes b;
  put_name(b, name);
  return b;
}

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
             std::uint16_t ns, std::uint16_t ar) {
  Bytes b;
  for (std::uint16_t v : {id, flags, qd, an, ns, ar}) put_u16(b, v);
  return b;
}

void put_question(Bytes& b, std::string_view name, std::uint16_t type, std::uint16_t cls) {
  put_name(b, name);
  put_u16(b, type);
  put_u16(b, cls);
}

Bytes opt_rr(const Opt& opt) {
  Bytes rdata;
  for (const auto& o : opt.options) {
    put_u16(rdata, o.code);
    put_u16(rdata, static_cast<std::uint16_t>(o.data.size()));
    put_bytes(rdata, o.data);
  }
  Bytes b;
  b.push_back(0);
  put_u16(b, rrtype::kOpt);
  put_u16(b, opt.udp_size);
  put_u8(b, opt.ext_rcode);
  put_u8(b, opt.version);
  put_u16(b, opt.flags);
  put_u16(b, static_cast<std::uint16_t>(rdata.size()));
  put_bytes(b, rdata);
  return b;
}

Bytes rr(std::string_view owner, std::uint16_t type, std::uint16_t cls, std::uint32_t ttl,
         const Bytes& rdata) {
  Bytes b;
  put_name(b, owner);
  put_u16(b, type);
  put_u16(b, cls);
  put_u32(b, ttl);
  put_u16(b, static_cast<std::uint16_t>(rdata.size()));
  put_bytes(b, rdata);
  return b;
}

Bytes tsig_rr(std::string_view key, std::uint16_t original_id, std::uint16_t cls) {
  Bytes rdata;
  put_name(rdata, "hmac-sha256");
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  put_u16(rdata, static_cast<std::uint16_t>(now >> 32));
  put_u32(rdata, static_cast<std::uint32_t>(now));
  put_u16(rdata, 300);  // fudge
  put_u16(rdata, 32);   // MAC size
  rdata.insert(rdata.end(), 32, 0xAB);
  put_u16(rdata, original_id);
  put_u16(rdata, 0);  // error
  put_u16(rdata, 0);  // other len
  return rr(key, rrtype::kTsig, cls, 0, rdata);
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes txt_rdata(std::string_view s) {
  Bytes b;
  b.reserve(1 + s.size());  // also keeps GCC 12 from a false -Warray-bounds on the growth
  put_u8(b, static_cast<std::uint8_t>(s.size()));
  put_bytes(b, s);
  return b;
}

Bytes soa_rdata(std::uint32_t serial) {
  Bytes b;
  put_name(b, "ns1.example.com");
  put_name(b, "hostmaster.example.com");
  for (std::uint32_t v : {serial, 7200u, 900u, 1209600u, 60u}) put_u32(b, v);
  return b;
}

Opt opt_with(std::vector<EdnsOption> options, std::uint16_t udp) {
  Opt o;
  o.udp_size = udp;
  o.options = std::move(options);
  return o;
}

Bytes build_query(std::uint16_t id, std::string_view name, std::uint16_t type, std::uint16_t cls,
                  std::uint16_t flags, const std::optional<Opt>& opt) {
  Bytes b = header(id, flags, 1, 0, 0, opt ? 1 : 0);
  put_question(b, name, type, cls);
  if (opt) put_bytes(b, opt_rr(*opt));
  return b;
}

Bytes ldns_query(std::uint16_t id, const std::string& name, ldns_rr_type type, ldns_rr_class cls,
                 bool rd, std::optional<std::uint16_t> edns_udp, bool do_bit) {
  ldns_rdf* qname = ldns_dname_new_frm_str(name.c_str());
  if (qname == nullptr) return {};
  std::unique_ptr<ldns_pkt, LdnsPktDeleter> pkt(
      ldns_pkt_query_new(qname, type, cls, rd ? LDNS_RD : 0));
  ldns_pkt_set_id(pkt.get(), id);
  if (edns_udp) {
    ldns_pkt_set_edns_udp_size(pkt.get(), *edns_udp);
    ldns_pkt_set_edns_do(pkt.get(), do_bit);
  }
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) return {};
  Bytes out(wire, wire + size);
  std::free(wire);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Responses.

std::string to_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool decode_name(const Bytes& msg, std::size_t off, std::string& out, std::size_t& next) {
  out.clear();
  bool jumped = false;
  std::size_t wire_len = 0;
  for (int hops = 0; hops < 128; ++hops) {
    if (off >= msg.size()) return false;
    const std::uint8_t len = msg[off];
    if ((len & 0xC0) == 0xC0) {
      if (off + 1 >= msg.size()) return false;
      const std::size_t target = static_cast<std::size_t>(((len & 0x3F) << 8) | msg[off + 1]);
      if (target >= off) return false;  // pointers must point strictly backwards
      if (!jumped) next = off + 2;
      jumped = true;
      off = target;
      continue;
    }
    if ((len & 0xC0) != 0) return false;
    wire_len += len + 1u;
    if (wire_len > 255) return false;
    if (len == 0) {
      if (!jumped) next = off + 1;
      if (out.empty()) out = ".";
      return true;
    }
    if (off + 1 + len > msg.size()) return false;
    out.append(reinterpret_cast<const char*>(&msg[off + 1]), len);
    out += '.';
    off += 1 + len;
  }
  return false;
}

Response::Response(Bytes wire) : wire_(std::move(wire)) {
  ldns_pkt* p = nullptr;
  const ldns_status st = ldns_wire2pkt(&p, wire_.data(), wire_.size());
  if (st == LDNS_STATUS_OK) {
    pkt_.reset(p);
  } else {
    error_ = std::string("ldns_wire2pkt: ") + ldns_get_errorstr_by_id(st);
  }
  walk();
}

void Response::walk() {
  if (wire_.size() < 12) {
    error_ += " shorter than a header";
    return;
  }
  std::size_t off = 12;
  const std::uint16_t counts[4] = {qdcount(), ancount(), nscount(), arcount()};
  for (int sec = 0; sec < 4; ++sec) {
    for (std::uint16_t i = 0; i < counts[sec]; ++i) {
      RawRr r;
      r.section = sec;
      r.owner_offset = off;
      if (!decode_name(wire_, off, r.owner, off) || off + 4 > wire_.size()) {
        error_ += " bad name or truncated record";
        return;
      }
      r.type = pharos::dns::load_u16(&wire_[off]);
      r.cls = pharos::dns::load_u16(&wire_[off + 2]);
      off += 4;
      if (sec == 0) {
        question_end_ = off;
        rrs_.push_back(r);
        continue;
      }
      if (off + 6 > wire_.size()) {
        error_ += " truncated RR header";
        return;
      }
      r.ttl = pharos::dns::load_u32(&wire_[off]);
      r.rdlength = pharos::dns::load_u16(&wire_[off + 4]);
      off += 6;
      r.rdata_offset = off;
      if (off + r.rdlength > wire_.size()) {
        error_ += " RDATA past the end";
        return;
      }
      off += r.rdlength;
      if (r.type == rrtype::kOpt) {
        opt_.count++;
        if (!opt_.present) {
          opt_.present = true;
          opt_.owner_root = r.owner == ".";
          opt_.udp_size = r.cls;
          opt_.ext_rcode = static_cast<std::uint8_t>(r.ttl >> 24);
          opt_.version = static_cast<std::uint8_t>(r.ttl >> 16);
          opt_.flags = static_cast<std::uint16_t>(r.ttl);
          std::size_t o = r.rdata_offset;
          const std::size_t end = r.rdata_offset + r.rdlength;
          while (o + 4 <= end) {
            EdnsOption opt;
            opt.code = pharos::dns::load_u16(&wire_[o]);
            const std::uint16_t len = pharos::dns::load_u16(&wire_[o + 2]);
            o += 4;
            if (o + len > end) {
              error_ += " EDNS option overruns OPT";
              return;
            }
            opt.data.assign(wire_.begin() + static_cast<long>(o), wire_.begin() + static_cast<long>(o + len));
            o += len;
            opt_.options.push_back(std::move(opt));
          }
          if (o != end) {
            error_ += " OPT RDATA has trailing bytes";
            return;
          }
        }
      }
      rrs_.push_back(r);
    }
  }
  if (off != wire_.size()) {
    error_ += " trailing bytes after the counted records";
    return;
  }
  walked_ = true;
}

std::uint16_t Response::id() const { return wire_.size() >= 2 ? pharos::dns::load_u16(&wire_[0]) : 0; }
std::uint16_t Response::flags() const { return wire_.size() >= 4 ? pharos::dns::load_u16(&wire_[2]) : 0; }
std::uint16_t Response::qdcount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[4]) : 0; }
std::uint16_t Response::ancount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[6]) : 0; }
std::uint16_t Response::nscount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[8]) : 0; }
std::uint16_t Response::arcount() const { return wire_.size() >= 12 ? pharos::dns::load_u16(&wire_[10]) : 0; }

int Response::rcode() const { return header_rcode() | (opt_.present ? opt_.ext_rcode << 4 : 0); }

bool OptView::has_option(std::uint16_t code) const { return option(code) != nullptr; }
const EdnsOption* OptView::option(std::uint16_t code) const {
  for (const auto& o : options) {
    if (o.code == code) return &o;
  }
  return nullptr;
}

std::optional<TsigView> Response::tsig() const {
  for (const auto& r : rrs_) {
    if (r.section != 3 || r.type != rrtype::kTsig) continue;
    TsigView t;
    t.key = to_lower(r.owner);
    t.cls = r.cls;
    t.ttl = r.ttl;
    std::size_t off = r.rdata_offset;
    const std::size_t end = r.rdata_offset + r.rdlength;
    if (!decode_name(wire_, off, t.algorithm, off)) return std::nullopt;
    t.algorithm = to_lower(t.algorithm);
    if (off + 10 > end) return std::nullopt;
    off += 6;  // time signed
    t.fudge = pharos::dns::load_u16(&wire_[off]);
    t.mac_size = pharos::dns::load_u16(&wire_[off + 2]);
    off += 4 + t.mac_size;
    if (off + 6 > end) return std::nullopt;
    t.original_id = pharos::dns::load_u16(&wire_[off]);
    t.error = pharos::dns::load_u16(&wire_[off + 2]);
    t.other_len = pharos::dns::load_u16(&wire_[off + 4]);
    return t;
  }
  return std::nullopt;
}

Bytes Response::question_bytes() const {
  if (qdcount() == 0 || !walked_) return {};
  return Bytes(wire_.begin() + 12, wire_.begin() + static_cast<long>(question_end_));
}

namespace {

std::string rr_text(const ldns_rr* rr, bool lower_owner) {
  char* s = ldns_rr2str(rr);
  std::string t = s ? s : "";
  std::free(s);
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  std::replace(t.begin(), t.end(), '\t', ' ');
  if (lower_owner) {
    const std::size_t sp = t.find(' ');
    for (std::size_t i = 0; i < sp && i < t.size(); ++i) {
      t[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(t[i])));
    }
  }
  return t;
}

}  // namespace

std::vector<std::string> Response::section_in_order(int section) const {
  std::vector<std::string> out;
  if (!pkt_) return out;
  const ldns_rr_list* list = section == 1   ? ldns_pkt_answer(pkt_.get())
                             : section == 2 ? ldns_pkt_authority(pkt_.get())
                                            : ldns_pkt_additional(pkt_.get());
  for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* r = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(r) == LDNS_RR_TYPE_OPT || ldns_rr_get_type(r) == LDNS_RR_TYPE_TSIG) continue;
    out.push_back(rr_text(r, false));
  }
  return out;
}

std::vector<std::string> Response::section(int section) const {
  std::vector<std::string> out;
  if (!pkt_) return out;
  const ldns_rr_list* list = section == 1   ? ldns_pkt_answer(pkt_.get())
                             : section == 2 ? ldns_pkt_authority(pkt_.get())
                                            : ldns_pkt_additional(pkt_.get());
  for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* r = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(r) == LDNS_RR_TYPE_OPT || ldns_rr_get_type(r) == LDNS_RR_TYPE_TSIG) continue;
    out.push_back(rr_text(r, true));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Response::describe() const {
  std::ostringstream o;
  o << "response of " << wire_.size() << " bytes: id=" << id() << " flags=0x" << std::hex << flags()
    << std::dec << " opcode=" << opcode() << " rcode=" << rcode() << " qd/an/ns/ar=" << qdcount()
    << "/" << ancount() << "/" << nscount() << "/" << arcount();
  if (opt_.present) {
    o << " OPT{udp=" << opt_.udp_size << " ext=" << int(opt_.ext_rcode) << " v=" << int(opt_.version)
      << " flags=0x" << std::hex << opt_.flags << std::dec << " options=" << opt_.options.size() << "}";
  }
  if (!error_.empty()) o << " [" << error_ << "]";
  o << "\n";
  if (pkt_) {
    char* s = ldns_pkt2str(pkt_.get());
    if (s) o << s;
    std::free(s);
  }
  o << "hex:";
  for (std::size_t i = 0; i < wire_.size() && i < 256; ++i) {
    char h[4];
    std::snprintf(h, sizeof h, " %02x", wire_[i]);
    o << h;
  }
  return o.str();
}


}  // namespace pharos::system_test
