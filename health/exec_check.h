// exec_check.h: the exec check: run a command (argv, no shell), exit status 0 is up. The command
// runs in its own session and process group with stdin on /dev/null; the first line of its stdout
// and stderr (at most 200 bytes) becomes the reason. On timeout the whole process group is killed
// with SIGKILL and the probe reports "killed after timeout 2000 ms".
//
//   CheckSpec spec;
//   spec.params = ExecParams{{"/usr/local/bin/check-replication", "--max-lag", "30"}};
//   auto prober = make_exec_prober(loop, spec);
//   prober->start([](ProbeResult&& r) { ... });   // r.reason e.g. "exit status 2: lag 95 s"
#pragma once

#include <uv.h>

#include <memory>

#include "health/check.h"
#include "health/prober.h"

namespace pharos::health {

// spec.params holds ExecParams. argv[0] is looked up in PATH when it has no slash.
std::unique_ptr<Prober> make_exec_prober(uv_loop_t* loop, const CheckSpec& spec);

}  // namespace pharos::health
