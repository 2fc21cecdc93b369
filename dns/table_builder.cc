// table_builder.cc: turns validated zones into an AnswerTable. Decides, once per name and type,
// everything the responder would otherwise work out per query: CNAME chains inside the zone,
// wildcard sources, referrals and glue, additional addresses, negative answers with their SOA.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>

#include "dns/answer_table.h"
#include "dns/fragment_writer.h"
#include "dns/wire.h"

namespace pharos::dns {
namespace {

constexpr std::uint32_t kNoZone = std::numeric_limits<std::uint32_t>::max();
constexpr int kMaxCnameChain = 8;
// An answer must leave room for a 255-byte question and an OPT record with options.
constexpr std::size_t kMaxFragment = kMaxMessage - kHeaderSize - kMaxNameWire - 4 - 64;
constexpr std::uint8_t kWildcardLabel[] = {1, '*'};

// Where a table node's records live: a run of ZoneData::rrs grouped by type.
struct Source {
  std::uint32_t zone = kNoZone;
  std::uint32_t begin = 0;
  std::uint32_t count = 0;
};

// A record set: [first, last) inside one zone's rrs.
struct RrSet {
  const ZoneData* zone = nullptr;
  const ZoneRr* first = nullptr;
  const ZoneRr* last = nullptr;
  bool empty() const { return first == last; }
  std::uint16_t type() const { return first->type; }
};

std::size_t parent_offset(const std::uint8_t* name) { return 1u + name[0]; }

// Name offsets inside rdata that may be compressed (RFC 3597 §4: only the RFC 1035 types).
int compressible_names(std::uint16_t type, std::size_t* name_at) {
  switch (type) {
    case rrtype::kNs: case rrtype::kCname: case rrtype::kPtr: name_at[0] = 0; return 1;
    case rrtype::kMx: name_at[0] = 2; return 1;
    case rrtype::kSoa: name_at[0] = 0; return 2;  // second name follows the first
    default: return 0;
  }
}

std::size_t name_length(const std::uint8_t* p, std::size_t max) {
  std::size_t n = 0;
  while (n < max && p[n] != 0) n += 1u + p[n];
  return n + 1;
}

}  // namespace

class TableBuilder {
 public:
  TableBuilder(std::vector<ZoneData>&& zones, const TableOptions& options, std::vector<DynamicRrset>&& dynamic,
               const std::vector<DynamicRegion>& regions)
      : zones_(std::move(zones)), dyn_(std::move(dynamic)), t_(std::make_unique<AnswerTable>()) {
    t_->options_ = options;
    add_regions(regions);
  }

  Result<std::unique_ptr<AnswerTable>> build() {
    if (auto e = intern_names()) return *e;
    mark_nodes();
    if (auto e = check_dynamic()) return *e;
    reserve_answers();
    add_shared_answers();
    for (std::uint32_t z = 0; z < zones_.size(); ++z) add_zone_answers(z);
    add_dynamic_alternatives();
    for (std::uint32_t id = 0; id < nodes().size(); ++id) {
      if (auto e = add_node_answers(id)) return *e;
    }
    if (error_) return *error_;
    // The zone data is all in the answers now; free it before the index takes its copy of the
    // names, so a large zone's peak memory does not hold both.
    std::vector<ZoneData>().swap(zones_);
    t_->index_.build(std::move(names()), std::move(nodes()));
    // Until the first choices are published every dynamic RRset answers its alternative 0.
    t_->choices_.store(new DynamicChoices(t_->slots_.size(), t_->region_count()));
    return std::move(t_);
  }

 private:
  std::vector<AnswerTable::Node>& nodes() { return t_->nodes_; }
  NameSet& names() { return t_->names_; }

  // ---- names and nodes -------------------------------------------------------------------

  // Deepest served zone containing `name`, or kNoZone.
  std::uint32_t owning_zone(const std::uint8_t* name, std::size_t len) const {
    if (zones_.size() == 1) return 0;
    for (std::size_t p = 0;; p += parent_offset(name + p)) {
      const std::int64_t z = apexes_.find(name + p, len - p, hash_name(name + p, len - p));
      if (z != NameSet::kMissing) return apex_zone_[static_cast<std::size_t>(z)];
      if (name[p] == 0) return kNoZone;
    }
  }

  std::optional<Error> intern_names() {
    for (std::uint32_t z = 0; z < zones_.size(); ++z) {
      const auto& apex = zones_[z].apex;
      bool added = false;
      apexes_.intern(apex.data(), apex.size(), hash_name(apex.data(), apex.size()), &added);
      if (!added) return Error{zones_[z].file, "", "zone " + zones_[z].name + " is configured twice"};
      apex_zone_.push_back(z);
    }
    id_maps_.resize(zones_.size());
    if (zones_.size() == 1) {
      // The common large case: reuse the loader's name set instead of building a second one.
      names() = std::move(zones_[0].owners);
    } else {
      std::size_t total = 0;
      for (const auto& z : zones_) total += z.owners.size();
      names().reserve(total + total / 4, 0);
      for (std::uint32_t z = 0; z < zones_.size(); ++z) {
        const NameSet& owners = zones_[z].owners;
        id_maps_[z].assign(owners.size(), kNoZone);
        for (std::uint32_t i = 0; i < owners.size(); ++i) {
          if (owning_zone(owners.name(i), owners.length(i)) != z) continue;  // inside a deeper zone
          id_maps_[z][i] = names().intern(owners.name(i), owners.length(i),
                                           hash_name(owners.name(i), owners.length(i)), nullptr);
        }
      }
    }
    sources_.resize(names().size());
    for (std::uint32_t z = 0; z < zones_.size(); ++z) {
      const auto& rrs = zones_[z].rrs;
      for (std::uint32_t i = 0; i < rrs.size();) {
        std::uint32_t j = i;
        while (j < rrs.size() && rrs[j].owner == rrs[i].owner) ++j;
        const std::uint32_t id = table_id(z, rrs[i].owner);
        if (id != kNoZone) sources_[id] = Source{z, i, j - i};
        i = j;
      }
    }
    // Empty non-terminals: every name between an owner and its apex exists (NODATA, not NXDOMAIN).
    const std::size_t owners = names().size();
    for (std::uint32_t id = 0; id < owners; ++id) {
      const std::uint32_t z = sources_[id].zone;
      if (z == kNoZone) continue;
      const std::size_t apex_len = zones_[z].apex.size();
      std::uint8_t buf[kMaxNameWire];
      std::size_t len = names().length(id);
      std::memcpy(buf, names().name(id), len);
      for (std::size_t p = parent_offset(buf); len - p >= apex_len && buf[0] != 0; p = parent_offset(buf)) {
        len -= p;
        std::memmove(buf, buf + p, len);
        bool added = false;
        const auto parent = names().intern(buf, len, hash_name(buf, len), &added);
        if (!added) break;
        if (parent >= sources_.size()) sources_.resize(parent + 1);
        sources_[parent] = Source{z, 0, 0};
      }
    }
    if (auto e = intern_dynamic()) return e;
    sources_.resize(names().size());
    nodes().assign(names().size(), AnswerTable::Node{});
    return std::nullopt;
  }

  // Names of dynamic RRsets, and the empty non-terminals between them and their apex.
  std::optional<Error> intern_dynamic() {
    for (std::uint32_t slot = 0; slot < dyn_.size(); ++slot) {
      const DynamicRrset& d = dyn_[slot];
      const std::uint8_t* name = d.owner.data();
      const std::size_t len = d.owner.size();
      std::uint32_t zone = owning_zone(name, len);
      if (zone != kNoZone && !under(name, len, zones_[zone].apex)) zone = kNoZone;
      if (zone == kNoZone) return Error{"", "", d.label + " is not inside a served zone"};
      if (len >= 2 && name[0] == 1 && name[1] == '*') return Error{"", "", d.label + ": wildcard names cannot be GTM records"};
      std::uint8_t buf[kMaxNameWire];
      std::memcpy(buf, name, len);
      std::size_t cur = len;
      bool added = false;
      std::uint32_t id = names().intern(buf, cur, hash_name(buf, cur), &added);
      dyn_node_.push_back(id);
      node_dyn_[id].push_back(slot);
      if (id >= sources_.size()) sources_.resize(id + 1);
      if (added) sources_[id] = Source{zone, 0, 0};
      const std::size_t apex_len = zones_[zone].apex.size();
      while (added && cur > apex_len) {
        const std::size_t p = parent_offset(buf);
        cur -= p;
        std::memmove(buf, buf + p, cur);
        const auto parent = names().intern(buf, cur, hash_name(buf, cur), &added);
        if (parent >= sources_.size()) sources_.resize(parent + 1);
        if (added) sources_[parent] = Source{zone, 0, 0};
      }
    }
    return std::nullopt;
  }

  static bool under(const std::uint8_t* name, std::size_t len, const std::vector<std::uint8_t>& apex) {
    for (std::size_t p = 0; len - p >= apex.size(); p += parent_offset(name + p)) {
      if (len - p == apex.size()) return std::memcmp(name + p, apex.data(), apex.size()) == 0;
      if (name[p] == 0) break;
    }
    return false;
  }

  // A dynamic RRset must not clash with zone data at its name.
  std::optional<Error> check_dynamic() {
    for (std::uint32_t slot = 0; slot < dyn_.size(); ++slot) {
      const DynamicRrset& d = dyn_[slot];
      const std::uint32_t id = dyn_node_[slot];
      AnswerTable::Node& n = nodes()[id];
      if (n.flags & AnswerTable::kDelegated) return Error{"", "", d.label + " is at or below a zone cut"};
      for (const RrSet& set : rrsets(id)) {
        if (set.type() == d.type) return Error{"", "", d.label + " is also in the zone file"};
        if (set.type() == rrtype::kCname) return Error{"", "", d.label + ": the zone file has a CNAME at this name"};
        if (d.type == rrtype::kCname) return Error{"", "", d.label + ": a CNAME cannot sit next to the zone's data"};
      }
      for (std::uint32_t other : node_dyn_[id]) {
        if (other == slot) continue;
        if (dyn_[other].type == d.type) return Error{"", "", d.label + " is defined twice"};
        if (d.type == rrtype::kCname) return Error{"", "", d.label + ": a CNAME cannot sit next to other GTM records"};
      }
      if (d.alternatives.empty()) return Error{"", "", d.label + " has nothing to answer"};
      n.flags |= AnswerTable::kHasData;
      if (d.type == rrtype::kCname) n.flags |= AnswerTable::kHasCname;
    }
    return std::nullopt;
  }

  // Every answer a dynamic RRset can give, precomputed like static ones.
  void add_dynamic_alternatives() {
    for (std::uint32_t slot = 0; slot < dyn_.size(); ++slot) {
      const DynamicRrset& d = dyn_[slot];
      const std::uint32_t id = dyn_node_[slot];
      AnswerTable::DynamicSlot ds;
      ds.first_alternative = static_cast<std::uint32_t>(t_->answers_.size());
      ds.alternatives = static_cast<std::uint32_t>(d.alternatives.size());
      ds.zone = nodes()[id].zone;
      ds.geo = d.geo;
      ds.first_outcome = t_->outcomes_;
      t_->outcomes_ += ds.alternatives + AnswerTable::kSpecialOutcomes;
      t_->info_.push_back(AnswerTable::DynamicInfo{d.key, d.info});
      for (const auto& alternative : d.alternatives) {
        reset_for(id);
        std::vector<Rdata> rdatas;
        for (const Bytes& rd : alternative) {
          write_raw_rr(w_, Owner{}, d.type, rrclass::kIn, d.ttl, rd.data(), rd.size());
          rdatas.push_back(Rdata{d.type, rd.data(), rd.size()});
        }
        const std::size_t len_req = w_.size();
        const std::uint16_t ar = write_additional(w_, rdatas, false, nullptr, 0);
        add_answer(w_, len_req, d.type, 0, static_cast<std::uint16_t>(alternative.size()), 0, 0, ar);
      }
      t_->slots_.push_back(ds);
    }
  }

  void add_regions(const std::vector<DynamicRegion>& regions) {
    for (const auto& r : regions) t_->region_names_.push_back(r.name);
    t_->regions_ = RegionTable::build(regions);
  }

  std::uint32_t table_id(std::uint32_t zone, std::uint32_t owner) const {
    return id_maps_[zone].empty() ? owner : id_maps_[zone][owner];
  }

  std::vector<RrSet> rrsets(std::uint32_t id) const {
    std::vector<RrSet> out;
    const Source& s = sources_[id];
    if (s.count == 0) return out;
    const ZoneData& z = zones_[s.zone];
    const ZoneRr* p = z.rrs.data() + s.begin;
    const ZoneRr* end = p + s.count;
    while (p != end) {
      const ZoneRr* q = p;
      while (q != end && q->type == p->type) ++q;
      out.push_back(RrSet{&z, p, q});
      p = q;
    }
    return out;
  }

  RrSet find_rrset(std::uint32_t id, std::uint16_t type) const {
    for (const RrSet& s : rrsets(id))
      if (s.type() == type) return s;
    return RrSet{};
  }

  std::int64_t find_name(const std::uint8_t* name, std::size_t len) {
    return names().find(name, len, hash_name(name, len));
  }

  void mark_nodes() {
    auto& n = nodes();
    for (std::uint32_t id = 0; id < n.size(); ++id) {
      const Source& s = sources_[id];
      n[id].zone = static_cast<std::uint16_t>(s.zone);
      for (const RrSet& set : rrsets(id)) {
        n[id].flags |= AnswerTable::kHasData;
        if (set.type() == rrtype::kCname) n[id].flags |= AnswerTable::kHasCname;
        if (set.type() == rrtype::kNs && names().length(id) != zones_[s.zone].apex.size()) {
          n[id].flags |= AnswerTable::kCut | AnswerTable::kDelegated;
          has_cuts_ = true;
        }
      }
      const std::uint8_t* name = names().name(id);
      if (name[0] == 1 && name[1] == '*') {
        const std::int64_t parent = find_name(name + 2, names().length(id) - 2);
        if (parent != NameSet::kMissing) n[static_cast<std::size_t>(parent)].flags |= AnswerTable::kWildcardChild;
      }
    }
    if (!has_cuts_) return;
    // Everything below a zone cut is delegated: it answers with the cut's referral.
    cut_of_.assign(n.size(), kNoZone);
    for (std::uint32_t id = 0; id < n.size(); ++id) {
      const std::size_t apex_len = zones_[sources_[id].zone].apex.size();
      const std::uint8_t* name = names().name(id);
      const std::size_t len = names().length(id);
      std::uint32_t cut = kNoZone;
      for (std::size_t p = 0; len - p > apex_len; p += parent_offset(name + p)) {
        const std::int64_t a = find_name(name + p, len - p);
        if (a != NameSet::kMissing && (n[static_cast<std::size_t>(a)].flags & AnswerTable::kCut)) {
          cut = static_cast<std::uint32_t>(a);  // keep climbing: the highest cut wins
        }
      }
      if (cut != kNoZone) {
        cut_of_[id] = cut;
        n[id].flags |= AnswerTable::kDelegated;
      }
    }
  }

  // Sizes the answer arrays once from the record counts (an estimate: CNAME chains and
  // additional sections may still grow them). Reserved but untouched pages cost no memory.
  void reserve_answers() {
    std::size_t rrs = 0, rdata = 0;
    for (const auto& z : zones_) {
      rrs += z.rrs.size();
      rdata += z.rdata.size();
    }
    t_->answers_.reserve(rrs + nodes().size() / 4 + 64);
    t_->bytes_.reserve(rdata + 16 * rrs + 4096);
  }

  // ---- encoding --------------------------------------------------------------------------

  struct Owner {
    const std::uint8_t* name = nullptr;  // nullptr = the qname
    std::size_t len = 0;
  };

  struct Rdata {
    std::uint16_t type;
    const std::uint8_t* data;
    std::size_t length;
  };

  void write_rr(FragmentWriter& w, Owner owner, const ZoneData& z, const ZoneRr& rr, std::uint16_t cls,
                std::uint32_t ttl) {
    write_raw_rr(w, owner, rr.type, cls, ttl, z.rdata.data() + rr.rdata, rr.rdlength);
  }

  void write_raw_rr(FragmentWriter& w, Owner owner, std::uint16_t type, std::uint16_t cls, std::uint32_t ttl,
                    const std::uint8_t* rd, std::size_t rdlength) {
    if (owner.name == nullptr) w.qname_owner(); else w.name(owner.name, owner.len);
    w.u16(type);
    w.u16(cls);
    w.u32(ttl);
    const std::size_t rdlen_at = w.size();
    w.u16(0);
    std::size_t name_at[2];
    const int names_in_rdata = compressible_names(type, name_at);
    if (names_in_rdata == 0) {
      w.raw(rd, rdlength);
    } else {
      std::size_t pos = 0;
      w.raw(rd, name_at[0]);
      pos = name_at[0];
      for (int i = 0; i < names_in_rdata && pos < rdlength; ++i) {
        const std::size_t n = name_length(rd + pos, rdlength - pos);
        w.name(rd + pos, n);
        pos += n;
      }
      if (pos < rdlength) w.raw(rd + pos, rdlength - pos);
    }
    w.patch_u16(rdlen_at, static_cast<std::uint16_t>(w.size() - rdlen_at - 2));
  }

  std::uint16_t write_set(FragmentWriter& w, Owner owner, const RrSet& set) {
    std::uint16_t n = 0;
    for (const ZoneRr* rr = set.first; rr != set.last; ++rr, ++n)
      write_rr(w, owner, *set.zone, *rr, rrclass::kIn, rr->ttl);
    return n;
  }

  // The SOA for negative answers: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
  std::uint16_t write_negative_soa(FragmentWriter& w, std::uint32_t zone) {
    const ZoneData& z = zones_[zone];
    const auto apex_id = static_cast<std::uint32_t>(find_name(z.apex.data(), z.apex.size()));
    const RrSet soa = find_rrset(apex_id, rrtype::kSoa);
    const std::uint32_t minimum = load_u32(z.rdata.data() + soa.first->rdata + soa.first->rdlength - 4);
    write_rr(w, Owner{z.apex.data(), z.apex.size()}, z, *soa.first, rrclass::kIn, std::min(soa.first->ttl, minimum));
    return 1;
  }

  // Additional-section addresses for the names an RRset points at (NS, MX, SRV targets).
  // `required` selects in-bailiwick glue under `cut` for referrals.
  std::uint16_t write_additional(FragmentWriter& w, const RrSet& set, bool required, const std::uint8_t* cut,
                                 std::size_t cut_len) {
    std::vector<Rdata> rdatas;
    for (const ZoneRr* rr = set.first; rr != set.last; ++rr)
      rdatas.push_back(Rdata{rr->type, set.zone->rdata.data() + rr->rdata, rr->rdlength});
    return write_additional(w, rdatas, required, cut, cut_len);
  }

  std::uint16_t write_additional(FragmentWriter& w, const std::vector<Rdata>& rdatas, bool required,
                                 const std::uint8_t* cut, std::size_t cut_len) {
    std::uint16_t n = 0;
    for (const Rdata& r : rdatas) {
      const std::uint8_t* rd = r.data;
      std::size_t at = 0;
      if (r.type == rrtype::kMx) at = 2;
      else if (r.type == rrtype::kSrv) at = 6;
      else if (r.type != rrtype::kNs) return 0;
      if (at >= r.length) continue;
      std::uint8_t target[kMaxNameWire];
      const std::size_t len = name_length(rd + at, r.length - at);
      if (len <= 1 || len > kMaxNameWire) continue;
      lowercase_copy(rd + at, len, target);
      bool below_cut = false;
      if (cut != nullptr) {
        for (std::size_t p = 0; len - p >= cut_len; p += parent_offset(target + p)) {
          if (len - p == cut_len) { below_cut = std::memcmp(target + p, cut, cut_len) == 0; break; }
        }
      }
      if (cut != nullptr && below_cut != required) continue;
      if (cut == nullptr && required) continue;
      const std::int64_t id = find_name(target, len);
      if (id == NameSet::kMissing) continue;
      // Only real addresses of that name (not reached through a CNAME or a wildcard).
      for (std::uint16_t type : {rrtype::kA, rrtype::kAaaa}) {
        const RrSet addr = find_rrset(static_cast<std::uint32_t>(id), type);
        if (!addr.empty()) n += write_set(w, Owner{rd + at, len}, addr);
      }
    }
    return n;
  }

  // Stores a fragment. Optional additional records beyond what any message can hold are dropped;
  // a required part that cannot fit is a build error.
  std::uint32_t add_answer(const FragmentWriter& w, std::size_t len_req, std::uint16_t qtype, std::uint8_t rcode,
                           std::uint16_t an, std::uint16_t ns, std::uint16_t ar_req, std::uint16_t ar_full) {
    if (len_req > kMaxFragment && !error_)
      error_ = Error{"", "", "an answer is larger than a DNS message can hold"};
    std::size_t len_full = w.size();
    if (len_full > kMaxFragment) {
      len_full = len_req;
      ar_full = ar_req;
    }
    // Relocations are read as 2-byte fields: keep them aligned.
    if (!w.relocations().empty() && t_->bytes_.size() % alignof(Relocation) != 0) t_->bytes_.push_back(0);
    Answer a;
    a.data = static_cast<std::uint32_t>(t_->bytes_.size());
    a.len_full = static_cast<std::uint16_t>(len_full);
    a.len_req = static_cast<std::uint16_t>(len_req);
    a.an = an;
    a.ns = ns;
    a.ar_req = ar_req;
    a.ar_full = ar_full;
    a.qtype = qtype;
    a.rcode = rcode;
    a.nreloc = static_cast<std::uint8_t>(w.relocations().size());
    const auto* r = reinterpret_cast<const std::uint8_t*>(w.relocations().data());
    t_->bytes_.insert(t_->bytes_.end(), r, r + w.relocations().size() * sizeof(Relocation));
    t_->bytes_.insert(t_->bytes_.end(), w.bytes().begin(), w.bytes().begin() + static_cast<std::ptrdiff_t>(len_full));
    t_->answers_.push_back(a);
    return static_cast<std::uint32_t>(t_->answers_.size() - 1);
  }

  // ---- answers ---------------------------------------------------------------------------

  void add_shared_answers() {
    FragmentWriter& w = w_;
    const std::uint8_t root[] = {0};
    w.reset(root, 1, 0);
    t_->empty_ = add_answer(w, 0, 0, 0, 0, 0, 0, 0);
    t_->servfail_ = add_answer(w, 0, 0, static_cast<std::uint8_t>(Rcode::kServFail) | kNotAuthoritative, 0, 0, 0, 0);
    t_->refused_ = add_answer(w, 0, 0, static_cast<std::uint8_t>(Rcode::kRefused) | kNotAuthoritative, 0, 0, 0, 0);
    // RFC 8482 §4.2: ANY over UDP gets one synthesized HINFO "RFC8482" "".
    w.qname_owner();
    w.u16(rrtype::kHinfo);
    w.u16(rrclass::kIn);
    w.u32(t_->options_.any_hinfo_ttl);
    static constexpr std::uint8_t kHinfo[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
    w.u16(sizeof kHinfo);
    w.raw(kHinfo, sizeof kHinfo);
    t_->any_hinfo_ = add_answer(w, w.size(), rrtype::kAny, 0, 1, 0, 0, 0);
    const std::string* texts[3] = {&t_->options_.id_server, &t_->options_.hostname_bind, &t_->options_.version_bind};
    for (int i = 0; i < 3; ++i) {
      if (texts[i]->empty()) continue;
      w.reset(root, 1, 0);
      w.qname_owner();
      w.u16(rrtype::kTxt);
      w.u16(rrclass::kCh);
      w.u32(0);
      const std::size_t rdlen_at = w.size();
      w.u16(0);
      const std::string& s = *texts[i];
      for (std::size_t p = 0; p < s.size(); p += 255) {
        const std::size_t n = std::min<std::size_t>(255, s.size() - p);
        const std::uint8_t len = static_cast<std::uint8_t>(n);
        w.raw(&len, 1);
        w.raw(reinterpret_cast<const std::uint8_t*>(s.data() + p), n);
      }
      w.patch_u16(rdlen_at, static_cast<std::uint16_t>(w.size() - rdlen_at - 2));
      t_->chaos_[i] = add_answer(w, w.size(), rrtype::kTxt, 0, 1, 0, 0, 0) + 1;
    }
  }

  void add_zone_answers(std::uint32_t z) {
    const auto& apex = zones_[z].apex;
    AnswerTable::Zone zone;
    for (const auto rcode : {Rcode::kNxDomain, Rcode::kNoError}) {
      w_.reset(apex.data(), apex.size(), 0);
      const std::uint16_t ns = write_negative_soa(w_, z);
      const std::uint32_t idx = add_answer(w_, w_.size(), 0, static_cast<std::uint8_t>(rcode), 0, ns, 0, 0);
      (rcode == Rcode::kNxDomain ? zone.nxdomain : zone.nodata) = idx;
    }
    t_->zones_.push_back(zone);
  }

  // The context of a node's answers: all suffixes of this name are suffixes of the qname.
  // For "*.parent" that is the parent; for other names the name itself, whose length is known.
  void reset_for(std::uint32_t id) {
    const std::uint8_t* name = names().name(id);
    const std::size_t len = names().length(id);
    if (name[0] == 1 && name[1] == '*') w_.reset(name + 2, len - 2, 0);
    else w_.reset(name, len, len);
  }

  std::uint32_t referral(std::uint32_t cut) {
    if (auto it = referrals_.find(cut); it != referrals_.end()) return it->second;
    const std::uint8_t* name = names().name(cut);
    const std::size_t len = names().length(cut);
    w_.reset(name, len, 0);
    const RrSet ns = find_rrset(cut, rrtype::kNs);
    const std::uint16_t n = write_set(w_, Owner{name, len}, ns);
    const std::uint16_t glue = write_additional(w_, ns, true, name, len);
    const std::size_t len_req = w_.size();
    const std::uint16_t extra = write_additional(w_, ns, false, name, len);
    const auto idx = add_answer(w_, len_req, 0, kNotAuthoritative, 0, n, glue, static_cast<std::uint16_t>(glue + extra));
    referrals_.emplace(cut, idx);
    return idx;
  }

  // What a name resolves to at build time, for CNAME chains: a node (maybe through a wildcard),
  // a name that does not exist in `zone`, or somewhere we do not follow.
  struct Target {
    enum Kind { kNode, kNxDomain, kStop } kind = kStop;
    std::uint32_t id = 0;
  };
  Target resolve(const std::uint8_t* name, std::size_t len, std::uint32_t zone) {
    if (owning_zone(name, len) != zone) return {};
    const std::int64_t id = find_name(name, len);
    if (id != NameSet::kMissing) {
      if (nodes()[static_cast<std::size_t>(id)].flags & AnswerTable::kDelegated) return {};
      // Answers there change at run time: give the CNAME and let the resolver follow it.
      if (node_dyn_.count(static_cast<std::uint32_t>(id))) return {};
      return {Target::kNode, static_cast<std::uint32_t>(id)};
    }
    for (std::size_t p = parent_offset(name); p < len; p += parent_offset(name + p)) {
      const std::int64_t ce = find_name(name + p, len - p);
      if (ce == NameSet::kMissing) continue;
      const auto& node = nodes()[static_cast<std::size_t>(ce)];
      if (node.flags & AnswerTable::kDelegated) return {};
      if (!(node.flags & AnswerTable::kWildcardChild)) return {Target::kNxDomain, 0};
      std::uint8_t wild[kMaxNameWire + 2];
      std::memcpy(wild, kWildcardLabel, 2);
      std::memcpy(wild + 2, name + p, len - p);
      const std::int64_t w = find_name(wild, len - p + 2);
      return {Target::kNode, static_cast<std::uint32_t>(w)};
    }
    return {};
  }

  std::optional<Error> add_node_answers(std::uint32_t id) {
    AnswerTable::Node& node = nodes()[id];
    const std::uint32_t zone = node.zone;
    node.first_answer = static_cast<std::uint32_t>(t_->answers_.size());
    node.default_answer = t_->zones_[zone].nodata;
    if (node.flags & AnswerTable::kDelegated) {
      node.default_answer = referral(cut_of_[id]);
      return std::nullopt;
    }
    const std::vector<RrSet> sets = rrsets(id);
    auto dyn = node_dyn_.find(id);
    if (dyn != node_dyn_.end() && sets.empty() && (node.flags & AnswerTable::kHasCname)) {
      // A GTM CNAME: it answers every type.
      node.default_answer = add_dynamic_placeholder(dyn->second.front());
      node.first_answer = node.default_answer;
      node.n_answers = 1;
      return std::nullopt;
    }
    if (node.flags & AnswerTable::kHasCname) return add_cname_answers(id, sets.front());
    for (const RrSet& set : sets) {
      reset_for(id);
      const std::uint16_t an = write_set(w_, Owner{}, set);
      const std::size_t len_req = w_.size();
      const std::uint16_t ar = write_additional(w_, set, false, nullptr, 0);
      add_answer(w_, len_req, set.type(), 0, an, 0, 0, ar);
    }
    if (dyn != node_dyn_.end())
      for (std::uint32_t slot : dyn->second) add_dynamic_placeholder(slot);
    if (sets.size() > 1) {
      // ANY over TCP: every static RRset (RFC 8482 lets UDP get the HINFO instead).
      reset_for(id);
      std::uint16_t an = 0;
      for (const RrSet& set : sets) an += write_set(w_, Owner{}, set);
      add_answer(w_, w_.size(), rrtype::kAny, 0, an, 0, 0, 0);
      node.flags |= AnswerTable::kAnyTcp;
    }
    node.n_answers = static_cast<std::uint16_t>(t_->answers_.size() - node.first_answer);
    return std::nullopt;
  }

  std::uint32_t add_dynamic_placeholder(std::uint32_t slot) {
    Answer a;
    a.qtype = dyn_[slot].type;
    a.rcode = kDynamicAnswer;
    a.data = slot;
    t_->answers_.push_back(a);
    return static_cast<std::uint32_t>(t_->answers_.size() - 1);
  }

  // A CNAME answers its own type with itself; any other type with the chain followed inside the
  // zone (RFC 1034 §4.3.2), ending in the target's RRset, its NODATA, or NXDOMAIN (RFC 6604).
  std::optional<Error> add_cname_answers(std::uint32_t id, const RrSet& cname) {
    AnswerTable::Node& node = nodes()[id];
    const std::uint32_t zone = node.zone;
    reset_for(id);
    write_set(w_, Owner{}, cname);
    add_answer(w_, w_.size(), rrtype::kCname, 0, 1, 0, 0, 0);

    // Walk the chain once; remember each hop's owner name and CNAME record.
    struct Hop { const std::uint8_t* name; std::size_t len; RrSet set; };
    std::vector<Hop> hops{{nullptr, 0, cname}};
    Target end{};
    std::uint32_t seen_ids[kMaxCnameChain + 1] = {id};
    for (int i = 0; i < kMaxCnameChain; ++i) {
      const ZoneRr& rr = *hops.back().set.first;
      const std::uint8_t* target = hops.back().set.zone->rdata.data() + rr.rdata;
      const std::size_t tlen = name_length(target, rr.rdlength);
      std::uint8_t lower[kMaxNameWire];
      lowercase_copy(target, tlen, lower);
      end = resolve(lower, tlen, zone);
      if (end.kind != Target::kNode) break;
      if (std::find(seen_ids, seen_ids + i + 1, end.id) != seen_ids + i + 1) { end = {}; break; }  // loop
      seen_ids[i + 1] = end.id;
      const RrSet next = find_rrset(end.id, rrtype::kCname);
      if (next.empty()) {
        hops.push_back({target, tlen, RrSet{}});
        break;
      }
      hops.push_back({target, tlen, next});
      if (i + 1 == kMaxCnameChain) end = {};
    }
    const bool ends_at_data = end.kind == Target::kNode && hops.back().set.empty();
    auto write_chain = [&]() {
      reset_for(id);
      std::uint16_t an = 0;
      for (std::size_t h = 0; h < hops.size(); ++h) {
        if (hops[h].set.empty()) break;
        an += write_set(w_, h == 0 ? Owner{} : Owner{hops[h].name, hops[h].len}, hops[h].set);
      }
      return an;
    };
    if (ends_at_data) {
      const Hop& last = hops.back();
      for (const RrSet& set : rrsets(end.id)) {
        std::uint16_t an = write_chain();
        an += write_set(w_, Owner{last.name, last.len}, set);
        const std::size_t len_req = w_.size();
        const std::uint16_t ar = write_additional(w_, set, false, nullptr, 0);
        add_answer(w_, len_req, set.type(), 0, an, 0, 0, ar);
      }
    }
    const std::uint16_t an = write_chain();
    std::uint16_t ns = 0;
    std::uint8_t rcode = 0;
    if (ends_at_data || end.kind == Target::kNxDomain) {
      ns = write_negative_soa(w_, zone);
      if (end.kind == Target::kNxDomain) rcode = static_cast<std::uint8_t>(Rcode::kNxDomain);
    }
    node.default_answer = add_answer(w_, w_.size(), 0, rcode, an, ns, 0, 0);
    node.n_answers = static_cast<std::uint16_t>(t_->answers_.size() - 1 - node.first_answer);
    return std::nullopt;
  }

  std::vector<ZoneData> zones_;
  std::vector<DynamicRrset> dyn_;
  std::vector<std::uint32_t> dyn_node_;                                   // slot -> node
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> node_dyn_;  // node -> slots
  std::unique_ptr<AnswerTable> t_;
  NameSet apexes_;
  std::vector<std::uint32_t> apex_zone_;
  std::vector<std::vector<std::uint32_t>> id_maps_;
  std::vector<Source> sources_;
  std::vector<std::uint32_t> cut_of_;
  std::unordered_map<std::uint32_t, std::uint32_t> referrals_;
  bool has_cuts_ = false;
  FragmentWriter w_;
  std::optional<Error> error_;
};

Result<std::unique_ptr<AnswerTable>> build_table(std::vector<ZoneData>&& zones, const TableOptions& options,
                                                 std::vector<DynamicRrset>&& dynamic,
                                                 const std::vector<DynamicRegion>& regions) {
  if (zones.size() > std::numeric_limits<std::uint16_t>::max()) return Error{"", "", "too many zones"};
  if (regions.size() >= std::numeric_limits<std::uint16_t>::max()) return Error{"", "", "too many regions"};
  return TableBuilder(std::move(zones), options, std::move(dynamic), regions).build();
}

}  // namespace pharos::dns
