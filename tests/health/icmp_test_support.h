// icmp_test_support.h: network namespaces for the ICMP and gateway tests (root only), running a
// prober on its own loop in a thread that entered one of them, and dropping CAP_NET_RAW on a thread.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "health/prober.h"

namespace pharos::health::testing {

bool is_root();
// Runs a shell command (test setup only); returns its exit status.
int sh(const std::string& command);

// Two namespaces joined by a veth pair: "client" (10.200.0.2/24, fd00:200::2/64, its end
// `client_if`) and "peer" (10.200.0.1/24, fd00:200::1/64, its end `peer_if`). No default routes
// until a test adds them. Everything is deleted with the object.
class NetnsPair {
 public:
  NetnsPair();
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  bool ok() const { return ok_; }
  const std::string& client() const { return client_; }
  const std::string& peer() const { return peer_; }
  const std::string& client_if() const { return client_if_; }
  const std::string& peer_if() const { return peer_if_; }
  // `ip -n <ns> ...`
  int ip(const std::string& ns, const std::string& args) const;
  // A command inside the namespace (`ip netns exec`).
  int exec(const std::string& ns, const std::string& command) const;

 private:
  std::string client_, peer_, client_if_, peer_if_;
  bool ok_ = false;
};

using MakeProber = std::function<std::unique_ptr<Prober>(uv_loop_t*)>;

// On a new thread: enter network namespace `netns` (if not empty), drop CAP_NET_RAW if asked,
// make a loop and a prober, run one probe to its end (at most `limit`) and close everything.
ProbeResult probe_on_thread(const std::string& netns, const MakeProber& make, bool drop_net_raw = false,
                            std::chrono::milliseconds limit = std::chrono::seconds(10));

// Runs fn on a new thread in `netns` (if not empty), with CAP_NET_RAW dropped if asked.
void run_on_thread(const std::string& netns, bool drop_net_raw, const std::function<void()>& fn);

}  // namespace pharos::health::testing
