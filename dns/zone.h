// zone.h: one zone's records in a compact form, loaded from an RFC 1035 master file with ldns.
// This is the input of the answer-table builder; nothing here is used on the query path.
//
//   Result<ZoneData> z = load_zone("example.com.", "zones/example.com.zone");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name_set.h"
#include "dns/result.h"

namespace pharos::dns {

struct ZoneRr {
  std::uint32_t owner;      // id of the owner's lowercased wire name in ZoneData::owners
  std::uint32_t rdata;      // offset of the uncompressed wire rdata in ZoneData::rdata
  std::uint32_t ttl;
  std::uint16_t type;
  std::uint16_t rdlength;
  std::uint32_t line;       // in the source file, for messages
};

struct ZoneData {
  std::string name;                 // presentation form with trailing dot, as configured
  std::string file;                 // where it came from, for messages
  std::vector<std::uint8_t> apex;   // lowercased wire form of the origin
  NameSet owners;                   // owner names, each stored once (wire, lowercased)
  std::vector<std::uint8_t> rdata;  // rdata bytes, uncompressed wire
  std::vector<ZoneRr> rrs;          // sorted by owner then type; duplicates removed
  std::uint32_t soa_serial = 0;
  std::vector<std::string> warnings;  // "file:line: message" items worth logging

  const std::uint8_t* rdata_ptr(const ZoneRr& rr) const { return rdata.data() + rr.rdata; }
};

// Reads and validates a zone: exactly one SOA at the apex, NS at the apex, every owner inside the
// zone, CNAME alone at its name, one TTL per RRset (the lowest wins, with a warning).
Result<ZoneData> load_zone(std::string_view origin, const std::string& path);

// Same, from text in memory (tests, fuzzing). `label` names the source in errors.
Result<ZoneData> load_zone_text(std::string_view origin, std::string_view text, const std::string& label);

// Presentation name -> lowercased wire name. False if the name is not valid.
bool name_to_wire(std::string_view text, std::vector<std::uint8_t>& out);
// Wire name -> presentation name with a trailing dot.
std::string wire_to_name(const std::uint8_t* wire, std::size_t len);

}  // namespace pharos::dns
