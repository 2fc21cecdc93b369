// model.cc: names of the GTM enums in the users' vocabulary, and a record's (name, type) key.
#include "scenario/model.h"

#include <cstdlib>

#include "dns/ldns_compat.h"

namespace pharos::scenario {

const char* to_string(BackupBehavior b) {
  switch (b) {
    case BackupBehavior::kNoResponse: return "noResponse";
    case BackupBehavior::kOnlyNew: return "onlyNew";
  }
  return "?";
}

const char* to_string(AllDownPolicy p) {
  switch (p) {
    case AllDownPolicy::kFailOpen: return "failOpen";
    case AllDownPolicy::kNoData: return "nodata";
    case AllDownPolicy::kServFail: return "servfail";
    case AllDownPolicy::kRefused: return "refused";
  }
  return "?";
}

std::string type_name(std::uint16_t type) {
  // ldns names every type it knows and writes "TYPE65000" for the others.
  char* text = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = text != nullptr ? text : "TYPE" + std::to_string(type);
  free(text);  // NOLINT: ldns allocates with malloc
  return out;
}

std::string GtmRecord::key() const { return name + "/" + type_name(type); }

}  // namespace pharos::scenario
