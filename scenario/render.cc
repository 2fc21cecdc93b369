// render.cc: see render.h.
#include "scenario/render.h"

#include <cstring>
#include <memory>

#include "dns/ldns_compat.h"
#include "dns/zone.h"

namespace pharos::scenario {
namespace {

struct RrDeleter {
  void operator()(ldns_rr* p) const { ldns_rr_free(p); }
};
struct BufferDeleter {
  void operator()(ldns_buffer* p) const { ldns_buffer_free(p); }
};

std::string type_text(std::uint16_t type) {
  char* s = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = s ? s : "TYPE" + std::to_string(type);
  free(s);  // NOLINT: ldns allocates with malloc
  return out;
}

// One rdata in presentation form -> uncompressed wire, or an error message.
std::string encode(const GtmRecord& r, const std::string& rdata, ldns_buffer* buf, dns::Bytes& out) {
  const std::string text = r.name + " " + std::to_string(r.ttl) + " IN " + type_text(r.type) + " " + rdata;
  ldns_rr* raw = nullptr;
  const ldns_status s = ldns_rr_new_frm_str(&raw, text.c_str(), r.ttl, nullptr, nullptr);
  std::unique_ptr<ldns_rr, RrDeleter> rr{raw};
  if (s != LDNS_STATUS_OK) return std::string("\"") + rdata + "\": " + ldns_get_errorstr_by_id(s);
  ldns_buffer_clear(buf);
  if (ldns_rr_rdata2buffer_wire(buf, rr.get()) != LDNS_STATUS_OK) return "\"" + rdata + "\" cannot be encoded";
  out.assign(ldns_buffer_begin(buf), ldns_buffer_begin(buf) + ldns_buffer_position(buf));
  return {};
}

}  // namespace

int dr_alternative(const GtmRecord& r) { return r.dr ? static_cast<int>(r.chain.size()) : -1; }

int fallback_alternative(const GtmRecord& r) {
  if (r.fallback.empty()) return -1;
  return static_cast<int>(r.chain.size()) + (r.dr ? 1 : 0);
}

Result<std::vector<dns::DynamicRrset>> render_records(const GtmConfig& gtm) {
  std::unique_ptr<ldns_buffer, BufferDeleter> buf{ldns_buffer_new(512)};
  std::vector<dns::DynamicRrset> out;
  out.reserve(gtm.records.size());
  for (const GtmRecord& r : gtm.records) {
    dns::DynamicRrset d;
    if (!dns::name_to_wire(r.name, d.owner)) return Error{r.file, r.pointer + "/name", "\"" + r.name + "\" is not a domain name"};
    d.type = r.type;
    d.ttl = r.ttl;
    d.geo = !r.geo.empty();
    d.label = r.file + ": " + r.pointer + ": " + r.name + " " + type_text(r.type);
    auto add = [&](const std::vector<std::string>& rdatas, const std::string& where) -> std::optional<Error> {
      std::vector<dns::Bytes> alternative;
      for (std::size_t i = 0; i < rdatas.size(); ++i) {
        dns::Bytes wire;
        if (std::string e = encode(r, rdatas[i], buf.get(), wire); !e.empty())
          return Error{r.file, r.pointer + where + "/" + std::to_string(i), e};
        alternative.push_back(std::move(wire));
      }
      d.alternatives.push_back(std::move(alternative));
      return std::nullopt;
    };
    d.key = r.key();
    for (std::size_t e = 0; e < r.chain.size(); ++e) {
      if (auto err = add(r.chain[e].rdata, "/chain/" + std::to_string(e) + "/rdata")) return *err;
      d.info.push_back(dns::AlternativeInfo{"chain", std::to_string(e), r.chain[e].dc});
    }
    if (r.dr) {
      if (auto err = add(r.dr->rdata, "/dr/rdata")) return *err;
      d.info.push_back(dns::AlternativeInfo{"dr", "", ""});
    }
    if (!r.fallback.empty()) {
      if (auto err = add(r.fallback, "/fallbackRecords")) return *err;
      d.info.push_back(dns::AlternativeInfo{"fallback", "", ""});
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<dns::DynamicRegion> render_regions(const GtmConfig& gtm, const GeoIpExpansion* geo) {
  auto network = [](const Cidr& c) {
    dns::DynamicRegion::Network n;
    n.family = c.family;
    std::memcpy(n.address, c.address, sizeof n.address);
    n.prefix = c.prefix;
    return n;
  };
  std::vector<dns::DynamicRegion> out;
  for (std::size_t i = 0; i < gtm.regions.size(); ++i) {
    const RegionSpec& r = gtm.regions[i];
    dns::DynamicRegion d;
    d.name = r.name;
    for (const Cidr& c : r.networks) d.networks.push_back(network(c));
    if (geo != nullptr && i < geo->networks.size()) {
      d.geo_networks.reserve(geo->networks[i].size());
      for (const Cidr& c : geo->networks[i]) d.geo_networks.push_back(network(c));
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace pharos::scenario
