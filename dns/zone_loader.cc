// zone_loader.cc: reads an RFC 1035 master file with ldns, record by record, into ZoneData and
// checks the rules a served zone must meet. Each ldns_rr is freed as soon as it is copied, so a
// large zone never exists twice in ldns form.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <optional>
#include <cstdio>
#include <memory>
#include <string>

#include "dns/ldns_compat.h"

#include "dns/master_file.h"
#include "dns/record_text.h"
#include "dns/wire.h"
#include "dns/zone.h"

namespace pharos::dns {
namespace {

struct RdfDeleter {
  void operator()(ldns_rdf* p) const { ldns_rdf_deep_free(p); }
};
struct RrDeleter {
  void operator()(ldns_rr* p) const { ldns_rr_free(p); }
};
struct BufferDeleter {
  void operator()(ldns_buffer* p) const { ldns_buffer_free(p); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;

// True if `name` equals `apex` or lies below it (both lowercased wire names).
bool in_zone(const std::uint8_t* name, std::size_t len, const std::vector<std::uint8_t>& apex) {
  std::size_t pos = 0;
  while (len - pos >= apex.size()) {
    if (len - pos == apex.size()) return std::equal(apex.begin(), apex.end(), name + pos);
    if (name[pos] == 0) return false;
    pos += 1 + name[pos];
  }
  return false;
}

std::string type_name(std::uint16_t type) {
  char* s = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = s ? s : std::to_string(type);
  free(s);  // NOLINT: ldns allocates with malloc
  return out;
}

class Loader {
 public:
  Loader(std::string_view origin, std::string label) {
    zone_.name = std::string(origin);
    if (zone_.name.empty() || zone_.name.back() != '.') zone_.name += '.';
    zone_.file = std::move(label);
  }

  Result<ZoneData> run(std::string_view text) {
    if (!name_to_wire(zone_.name, zone_.apex))
      return Error{zone_.file, "", "zone name \"" + zone_.name + "\" is not a valid domain name"};
    origin_.reset(ldns_dname_new_frm_str(zone_.name.c_str()));
    if (!origin_) return Error{zone_.file, "", "cannot parse zone name " + zone_.name};
    std::unique_ptr<ldns_buffer, BufferDeleter> buf{ldns_buffer_new(512)};
    // Reserve from the line count, an upper bound on records: big reservations are mmapped and
    // cost nothing until touched, while regrowing a vector copies it and faults every new page.
    const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    zone_.rrs.reserve(lines);
    zone_.rdata.reserve(text.size());
    zone_.owners.reserve(lines, text.size());
    std::uint32_t default_ttl = kDefaultTtl;
    std::optional<Error> error;
    MasterFileReader reader(text);
    for (auto item = reader.next(); item.kind != MasterFileReader::Kind::kEnd && !error; item = reader.next()) {
      switch (item.kind) {
        case MasterFileReader::Kind::kError:
          error = at(item.line, std::string(item.text));
          break;
        case MasterFileReader::Kind::kDirective:
          error = directive(item.text, item.line, default_ttl);
          break;
        case MasterFileReader::Kind::kRecord:
          error = record(item.text, item.line, default_ttl, buf.get());
          break;
        case MasterFileReader::Kind::kEnd:
          break;
      }
    }
    if (error) return *error;
    if (auto e = finish()) return *e;
    return std::move(zone_);
  }

 private:
  static constexpr std::uint32_t kDefaultTtl = 3600;  // when a file has no $TTL (ldns's default too)

  // $ORIGIN and $TTL; $INCLUDE and $GENERATE are refused rather than half-supported.
  std::optional<Error> directive(std::string_view text, std::uint32_t line, std::uint32_t& default_ttl) {
    const std::size_t sp = text.find_first_of(" \t");
    const std::string_view word = text.substr(0, sp);
    std::string arg(sp == std::string_view::npos ? "" : text.substr(sp));
    arg.erase(0, arg.find_first_not_of(" \t"));
    arg.erase(arg.find_last_not_of(" \t") + 1);
    if (word == "$TTL") {
      const char* end = nullptr;
      const std::uint32_t ttl = ldns_str2period(arg.c_str(), &end);
      if (arg.empty() || end == nullptr || *end != '\0') return at(line, "$TTL needs a TTL, got \"" + arg + "\"");
      default_ttl = ttl;
      return std::nullopt;
    }
    if (word == "$ORIGIN") {
      if (arg.empty() || arg.find_first_of(" \t") != std::string::npos) return at(line, "$ORIGIN needs one name");
      RdfPtr name{ldns_dname_new_frm_str(arg.c_str())};
      if (!name) return at(line, "$ORIGIN " + arg + " is not a valid name");
      if (!ldns_dname_str_absolute(arg.c_str()) && ldns_dname_cat(name.get(), origin_.get()) != LDNS_STATUS_OK)
        return at(line, "$ORIGIN " + arg + " is too long");
      origin_ = std::move(name);
      return std::nullopt;
    }
    if (word == "$INCLUDE" || word == "$GENERATE") return at(line, std::string(word) + " is not supported");
    return at(line, "unknown directive " + std::string(word));
  }

  // One record: the fast parser when it knows the syntax (most records of a large zone), ldns
  // otherwise. Both feed add(), so the checks and their messages are the same either way. ldns's
  // `prev` (the owner a blank-led record repeats) is rebuilt only when ldns needs it after
  // records the fast parser took.
  std::optional<Error> record(std::string_view text, std::uint32_t line, std::uint32_t default_ttl,
                              ldns_buffer* buf) {
    const ldns_rdf* origin = origin_.get();
    if (parse_record_fast(text, ldns_rdf_data(origin), ldns_rdf_size(origin), prev_wire_, prev_len_, default_ttl,
                          fast_) == FastParse::kDone) {
      if (fast_.owner_given) {
        std::memcpy(prev_wire_, fast_.owner.data(), fast_.owner_len);
        prev_len_ = fast_.owner_len;
        prev_stale_ = true;
      }
      return add(fast_.owner.data(), fast_.owner_len, fast_.type, fast_.ttl, fast_.rdata.data(), fast_.rdlen, line);
    }
    if (prev_stale_) {
      prev_.reset(ldns_dname_new_frm_data(static_cast<std::uint16_t>(prev_len_), prev_wire_));
      prev_stale_ = false;
    }
    ldns_rr* raw = nullptr;
    ldns_rdf* prev = prev_.release();
    const ldns_status s = ldns_rr_new_frm_str(&raw, std::string(text).c_str(), default_ttl, origin_.get(), &prev);
    prev_.reset(prev);
    if (prev != nullptr && ldns_rdf_size(prev) <= kMaxNameWire) {
      std::memcpy(prev_wire_, ldns_rdf_data(prev), ldns_rdf_size(prev));
      prev_len_ = ldns_rdf_size(prev);
    }
    RrPtr rr{raw};
    if (s != LDNS_STATUS_OK) return at(line, ldns_get_errorstr_by_id(s));
    const ldns_rdf* owner = ldns_rr_owner(rr.get());
    if (ldns_rr_get_class(rr.get()) != LDNS_RR_CLASS_IN) {
      // The owner checks come first, as for every record.
      if (auto e = check_owner(ldns_rdf_data(owner), ldns_rdf_size(owner), line)) return e;
      return at(line, "only class IN is served");
    }
    ldns_buffer_clear(buf);
    const bool encoded = ldns_rr_rdata2buffer_wire(buf, rr.get()) == LDNS_STATUS_OK;
    const std::size_t rdlen = ldns_buffer_position(buf);
    const auto type = static_cast<std::uint16_t>(ldns_rr_get_type(rr.get()));
    return add(ldns_rdf_data(owner), ldns_rdf_size(owner), type, ldns_rr_ttl(rr.get()),
               encoded ? ldns_buffer_begin(buf) : nullptr, encoded ? rdlen : kNotEncoded, line);
  }

  static constexpr std::size_t kNotEncoded = SIZE_MAX;

  // The owner name lowercased into name_, if it is valid and inside the zone.
  std::optional<Error> check_owner(const std::uint8_t* owner, std::size_t len, std::uint32_t line) {
    if (len == 0 || len > kMaxNameWire) return at(line, "owner name is not valid");
    lowercase_copy(owner, len, name_);
    if (!in_zone(name_, len, zone_.apex))
      return at(line, "owner " + wire_to_name(name_, len) + " is outside the zone " + zone_.name);
    return std::nullopt;
  }

  std::optional<Error> add(const std::uint8_t* owner, std::size_t len, std::uint16_t type, std::uint32_t ttl,
                           const std::uint8_t* rdata, std::size_t rdlen, std::uint32_t line) {
    if (auto e = check_owner(owner, len, line)) return e;
    if (type == rrtype::kDname) return at(line, "DNAME is not supported");
    if (type == rrtype::kOpt || type == rrtype::kTsig || type == rrtype::kTkey ||
        (type >= rrtype::kIxfr && type <= rrtype::kAny))
      return at(line, "type " + type_name(type) + " cannot appear in a zone");
    if (rdlen == kNotEncoded || rdlen > 65535) return at(line, "rdata cannot be encoded");
    const auto owner_id = zone_.owners.intern(name_, len, hash_name(name_, len), nullptr);
    ZoneRr z{};
    z.owner = owner_id;
    z.rdata = static_cast<std::uint32_t>(zone_.rdata.size());
    z.ttl = ttl;
    z.type = type;
    z.rdlength = static_cast<std::uint16_t>(rdlen);
    z.line = line;
    zone_.rdata.insert(zone_.rdata.end(), rdata, rdata + rdlen);
    zone_.rrs.push_back(z);
    return std::nullopt;
  }

  Error at(std::uint32_t line, std::string msg) const {
    return Error{zone_.file, std::to_string(line), std::move(msg)};
  }

  bool same_rdata(const ZoneRr& a, const ZoneRr& b) const {
    return a.rdlength == b.rdlength &&
           std::memcmp(zone_.rdata.data() + a.rdata, zone_.rdata.data() + b.rdata, a.rdlength) == 0;
  }

  // Groups records by owner, then by type inside each owner, removes duplicates, evens out TTLs
  // and checks the per-name rules. Owner ids are numbered in order of first appearance, so a file
  // already grouped by owner (the usual case) needs no regrouping; otherwise a stable counting
  // sort on owner id does it.
  std::optional<Error> finish() {
    auto& rrs = zone_.rrs;
    const std::size_t n_owners = zone_.owners.size();
    std::vector<std::uint32_t> start(n_owners + 1, 0);
    for (const auto& rr : rrs) ++start[rr.owner + 1];
    for (std::size_t i = 0; i < n_owners; ++i) start[i + 1] += start[i];
    const bool grouped = std::is_sorted(rrs.begin(), rrs.end(),
                                        [](const ZoneRr& a, const ZoneRr& b) { return a.owner < b.owner; });
    std::vector<ZoneRr> sorted;
    if (grouped) {
      sorted = std::move(rrs);
    } else {
      sorted.resize(rrs.size());
      std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
      for (const auto& rr : rrs) sorted[fill[rr.owner]++] = rr;
      std::vector<ZoneRr>().swap(rrs);
    }

    // Compacts in place: the write position never passes the read position.
    std::vector<ZoneRr>& out = sorted;
    std::size_t kept = 0;
    bool apex_soa = false, apex_ns = false;
    const std::int64_t apex_id = zone_.owners.find(zone_.apex.data(), zone_.apex.size(),
                                                   hash_name(zone_.apex.data(), zone_.apex.size()));
    for (std::size_t o = 0; o < n_owners; ++o) {
      auto first = sorted.begin() + start[o], last = sorted.begin() + start[o + 1];
      std::stable_sort(first, last, [](const ZoneRr& a, const ZoneRr& b) { return a.type < b.type; });
      const std::size_t group = kept;
      bool cname = false, other = false;
      for (auto it = first; it != last; ++it) {
        bool dup = false;
        std::size_t set_start = kept;
        while (set_start > group && out[set_start - 1].type == it->type) --set_start;
        for (std::size_t k = set_start; k < kept && !dup; ++k) dup = same_rdata(out[k], *it);
        if (dup) continue;
        if (set_start < kept && out[set_start].ttl != it->ttl) {
          const std::uint32_t ttl = std::min(out[set_start].ttl, it->ttl);
          zone_.warnings.push_back(zone_.file + ":" + std::to_string(it->line) + ": TTL differs within the " +
                                   type_name(it->type) + " RRset of " + owner_text(o) + "; using " +
                                   std::to_string(ttl));
          for (std::size_t k = set_start; k < kept; ++k) out[k].ttl = ttl;
          it->ttl = ttl;
        }
        if (it->type == rrtype::kCname) {
          if (cname) return at(it->line, "more than one CNAME at " + owner_text(o));
          cname = true;
        } else {
          other = true;
        }
        if (it->type == rrtype::kSoa) {
          if (static_cast<std::int64_t>(o) != apex_id) return at(it->line, "SOA outside the zone apex");
          if (apex_soa) return at(it->line, "more than one SOA at the zone apex");
          apex_soa = true;
          if (it->rdlength >= 20) zone_.soa_serial = load_u32(zone_.rdata.data() + it->rdata + it->rdlength - 20);
        }
        if (it->type == rrtype::kNs && static_cast<std::int64_t>(o) == apex_id) apex_ns = true;
        if (cname && other) return at(it->line, "CNAME and other data at " + owner_text(o));
        out[kept++] = *it;
      }
    }
    out.resize(kept);
    rrs = std::move(out);
    if (!apex_soa) return Error{zone_.file, "", "no SOA record at the zone apex " + zone_.name};
    if (!apex_ns) return Error{zone_.file, "", "no NS records at the zone apex " + zone_.name};
    return std::nullopt;
  }

  std::string owner_text(std::size_t id) const {
    return wire_to_name(zone_.owners.name(static_cast<std::uint32_t>(id)),
                        zone_.owners.length(static_cast<std::uint32_t>(id)));
  }

  ZoneData zone_;
  RdfPtr origin_;
  // The previous record's owner, wire form as written, for records that omit it; prev_ is ldns's
  // copy of it, out of date (prev_stale_) after records the fast parser took.
  std::uint8_t prev_wire_[kMaxNameWire] = {};
  std::size_t prev_len_ = 0;
  bool prev_stale_ = false;
  RdfPtr prev_;
  std::uint8_t name_[kMaxNameWire] = {};
  FastRecord fast_;
};

}  // namespace

bool name_to_wire(std::string_view text, std::vector<std::uint8_t>& out) {
  std::string s(text);
  if (s.empty()) return false;
  if (s.back() != '.') s += '.';
  RdfPtr rdf{ldns_dname_new_frm_str(s.c_str())};
  if (!rdf) return false;
  out.assign(ldns_rdf_data(rdf.get()), ldns_rdf_data(rdf.get()) + ldns_rdf_size(rdf.get()));
  lowercase_copy(out.data(), out.size(), out.data());
  return true;
}

std::string wire_to_name(const std::uint8_t* wire, std::size_t len) {
  RdfPtr rdf{ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, wire)};
  if (!rdf) return "?";
  char* s = ldns_rdf2str(rdf.get());
  std::string out = s ? s : "?";
  free(s);  // NOLINT: ldns allocates with malloc
  return out;
}

// The file is mapped, not read: a read copies it into a buffer that first grows by doubling (every
// step copied again, every new page faulted), while a populated private mapping of the page cache
// costs neither. Anything that cannot be mapped (a pipe, an empty file) is read instead.
Result<ZoneData> load_zone(std::string_view origin, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path, "", std::string("cannot open: ") + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map != MAP_FAILED) {
      ::close(fd);
      // Read front to back once; the kernel may drop pages behind us.
      ::madvise(map, size, MADV_SEQUENTIAL);
      auto result = Loader(origin, path).run(std::string_view(static_cast<const char*>(map), size));
      ::munmap(map, size);
      return result;
    }
  }
  std::unique_ptr<FILE, FileCloser> fp{::fdopen(fd, "r")};
  if (!fp) {
    ::close(fd);
    return Error{path, "", std::string("cannot open: ") + std::strerror(errno)};
  }
  std::string text;
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<std::size_t>(st.st_size));
  char chunk[1 << 16];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, fp.get())) > 0;) text.append(chunk, n);
  if (std::ferror(fp.get())) return Error{path, "", std::string("cannot read: ") + std::strerror(errno)};
  return Loader(origin, path).run(text);
}

Result<ZoneData> load_zone_text(std::string_view origin, std::string_view text, const std::string& label) {
  return Loader(origin, label).run(text);
}

}  // namespace pharos::dns
