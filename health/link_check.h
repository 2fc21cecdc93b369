// link_check.h: the link check: an interface's carrier, read from sysfs on the libuv threadpool
// (/sys/class/net/<if>/operstate, then carrier). Up when carrier is 1 and operstate is neither
// "down" nor "lowerlayerdown"; a missing interface is down with "no such interface eth9".
//
// sysfs shows the interfaces of the network namespace it was mounted in: run pharosd in the
// namespace (and mount) whose interfaces it must watch.
#pragma once

#include <uv.h>

#include <memory>
#include <string_view>

#include "health/check.h"
#include "health/prober.h"

namespace pharos::health {

// spec.params holds LinkParams.
std::unique_ptr<Prober> make_link_prober(uv_loop_t* loop, const CheckSpec& spec);

// The verdict from what was read: each status is 0 or the libuv error of reading that attribute
// (the kernel answers EINVAL for the carrier of an interface that is administratively down).
// Pure; latency is left at zero.
ProbeResult link_verdict(std::string_view interface, int operstate_status, std::string_view operstate,
                         int carrier_status, std::string_view carrier);

}  // namespace pharos::health
