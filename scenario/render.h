// render.h: GTM records and regions in the form the answer table takes: each record becomes a
// dynamic RRset whose alternatives are, in this order, every chain entry's rdata, then the DR
// rdata (if any), then the fail-safe records (if any). The GTM engine chooses among them.
#pragma once

#include <vector>

#include "dns/dynamic.h"
#include "dns/result.h"
#include "scenario/geoip.h"
#include "scenario/model.h"

namespace pharos::scenario {

// Alternative indexes of a record's DR and fail-safe answers (-1 when it has none).
int dr_alternative(const GtmRecord& r);
int fallback_alternative(const GtmRecord& r);

// Encodes every rdata with ldns. Errors name the record's file and JSON Pointer.
Result<std::vector<dns::DynamicRrset>> render_records(const GtmConfig& gtm);
// Region 1..n of the table is gtm.regions[0..n-1]. With a GeoIP2 expansion (geoip.h), its
// networks join each region's GeoIP tier, below the explicit networks.
std::vector<dns::DynamicRegion> render_regions(const GtmConfig& gtm, const GeoIpExpansion* geo = nullptr);

}  // namespace pharos::scenario
