// file_check.h: the file check: state written by another program. The first word of the first line
// is "up" or "down" (any case); the rest of that line is the reason. A missing or empty file, or any
// other word, is down with a reason saying so. Read on the libuv threadpool, never on the loop.
//
//   $ echo "down draining for kernel upgrade" > /run/pharos/dc1-web
//   spec.params = FileParams{"/run/pharos/dc1-web"};
//   auto prober = make_file_prober(loop, spec);   // down, "draining for kernel upgrade"
#pragma once

#include <uv.h>

#include <memory>
#include <string_view>

#include "health/check.h"
#include "health/prober.h"

namespace pharos::health {

// spec.params holds FileParams.
std::unique_ptr<Prober> make_file_prober(uv_loop_t* loop, const CheckSpec& spec);

// The verdict for a state file, given the libuv status of reading it (0 or an error such as UV_ENOENT)
// and the first bytes read. Pure; latency is left at zero.
ProbeResult state_file_verdict(std::string_view path, int status, std::string_view content);

}  // namespace pharos::health
