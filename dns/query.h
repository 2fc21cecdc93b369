// query.h: the parsed form of an incoming DNS message and the bounds-checked parser that fills it.
// The parser validates the whole message (RFC 9267 pointer and count rules, OPT placement, ECS
// shape) and decides the protocol-level outcome; the responder decides the answer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dns/wire.h"

namespace pharos::dns {

enum class ParseOutcome : std::uint8_t {
  kQuery,        // a well-formed QUERY with one question: look it up
  kDrop,         // no answer at all (short header, QR=1)
  kFormErr,      // FORMERR; the question is echoed when question_ok
  kNotImp,       // opcode we do not implement
  kBadVers,      // EDNS version > 0
  kTsig,         // a well-placed TSIG: we know no keys, answer NOTAUTH/BADKEY
};

struct EdnsInfo {
  bool present = false;
  std::uint8_t version = 0;
  std::uint16_t udp_size = 0;      // as sent; the responder clamps it
  bool do_bit = false;
  bool nsid = false;               // NSID requested
  bool keepalive = false;          // edns-tcp-keepalive present
  bool ecs = false;                // a valid Client Subnet option
  std::uint16_t ecs_family = 0;    // 1 = IPv4, 2 = IPv6
  std::uint8_t ecs_source_prefix = 0;
  std::uint8_t ecs_address[16] = {};
};

struct TsigInfo {
  std::size_t offset = 0;          // where the TSIG RR starts in the query
  std::size_t length = 0;          // its full length
};

struct ParsedQuery {
  ParseOutcome outcome = ParseOutcome::kDrop;
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  Opcode opcode = Opcode::kQuery;
  bool question_ok = false;         // qname/qtype/qclass parsed; question_end is valid
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  std::uint8_t qname_len = 0;       // wire length including the root label
  std::uint8_t label_count = 0;     // labels excluding the root
  std::size_t question_end = 0;     // offset just past QCLASS in the raw message
  std::uint64_t qname_hash = 0;     // hash of the lowercased qname (AnswerTable's hash)
  std::uint8_t qname[kMaxNameWire] = {};       // lowercased wire qname
  std::uint8_t label_offsets[kMaxNameWire / 2 + 1] = {};  // start of each label in qname
  EdnsInfo edns;
  TsigInfo tsig;
};

// Parses `len` bytes at `msg`. Never reads outside them and never allocates.
void parse_query(const std::uint8_t* msg, std::size_t len, ParsedQuery& q);

// The hash AnswerTable uses for lowercased wire names; parse_query computes it for the qname.
std::uint64_t hash_name(const std::uint8_t* name, std::size_t len);

}  // namespace pharos::dns
