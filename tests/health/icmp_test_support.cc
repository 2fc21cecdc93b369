// icmp_test_support.cc: namespace plumbing with ip(8), setns(2) on a test thread, capset(2).
#include "tests/health/icmp_test_support.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>

#include "tests/health/dns_test_support.h"

namespace pharos::health::testing {
namespace {

std::atomic<int> pair_counter{0};

// Drops CAP_NET_RAW from this thread only (capabilities are per thread on Linux).
bool drop_net_raw_on_this_thread() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_TO_INDEX(CAP_NET_RAW)].effective &= ~CAP_TO_MASK(CAP_NET_RAW);
  data[CAP_TO_INDEX(CAP_NET_RAW)].permitted &= ~CAP_TO_MASK(CAP_NET_RAW);
  return syscall(SYS_capset, &header, data) == 0;
}

bool enter_netns(const std::string& name) {
  const std::string path = "/var/run/netns/" + name;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool is_root() { return geteuid() == 0; }

int sh(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

NetnsPair::NetnsPair() {
  const int n = pair_counter++;
  const std::string id = std::to_string(getpid()) + "-" + std::to_string(n);
  client_ = "pharos-c-" + id;
  peer_ = "pharos-p-" + id;
  // Interface names have at most 15 characters; these live only inside the test's namespaces.
  client_if_ = "phc" + id.substr(0, 12);
  peer_if_ = "php" + id.substr(0, 12);
  ok_ = sh("ip netns add " + client_) == 0 && sh("ip netns add " + peer_) == 0 &&
        sh("ip link add name " + client_if_ + " netns " + client_ + " type veth peer name " + peer_if_ +
           " netns " + peer_) == 0 &&
        ip(client_, "link set lo up") == 0 && ip(peer_, "link set lo up") == 0 &&
        ip(client_, "addr add 10.200.0.2/24 dev " + client_if_) == 0 &&
        ip(peer_, "addr add 10.200.0.1/24 dev " + peer_if_) == 0 &&
        ip(client_, "-6 addr add fd00:200::2/64 dev " + client_if_ + " nodad") == 0 &&
        ip(peer_, "-6 addr add fd00:200::1/64 dev " + peer_if_ + " nodad") == 0 &&
        ip(client_, "link set " + client_if_ + " up") == 0 && ip(peer_, "link set " + peer_if_ + " up") == 0;
  // Until both ends are operationally up, IPv6 on them is not ready and a neighbour solicitation
  // sent now is lost, delaying the first reply by the 1 s retransmit. Wait (bounded) for it.
  for (int i = 0; ok_ && i < 200; ++i) {
    if (sh("ip -n " + client_ + " link show " + client_if_ + " | grep -q 'state UP'") == 0 &&
        sh("ip -n " + peer_ + " link show " + peer_if_ + " | grep -q 'state UP'") == 0) {
      return;
    }
    usleep(10000);
  }
  ok_ = false;
}

NetnsPair::~NetnsPair() {
  // Deleting the namespaces deletes the veth pair with them.
  sh("ip netns del " + client_);
  sh("ip netns del " + peer_);
}

int NetnsPair::ip(const std::string& ns, const std::string& args) const { return sh("ip -n " + ns + " " + args); }

int NetnsPair::exec(const std::string& ns, const std::string& command) const {
  return sh("ip netns exec " + ns + " sh -c '" + command + "'");
}

void run_on_thread(const std::string& netns, bool drop_net_raw, const std::function<void()>& fn) {
  std::string failure;
  std::thread thread([&] {
    if (!netns.empty() && !enter_netns(netns)) {
      failure = "cannot enter network namespace " + netns;
      return;
    }
    if (drop_net_raw && !drop_net_raw_on_this_thread()) {
      failure = "cannot drop CAP_NET_RAW";
      return;
    }
    fn();
  });
  thread.join();
  if (!failure.empty()) throw std::runtime_error(failure);
}

ProbeResult probe_on_thread(const std::string& netns, const MakeProber& make, bool drop_net_raw,
                            std::chrono::milliseconds limit) {
  ProbeResult out{.up = false, .reason = "no result"};
  run_on_thread(netns, drop_net_raw, [&] {
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
      auto prober = make(&loop);
      std::optional<ProbeResult> result;
      prober->start([&](ProbeResult&& r) { result = std::move(r); });
      run_until(&loop, [&] { return result.has_value(); }, limit);
      if (result) out = std::move(*result);
    }
    if (drain_and_close(&loop) != 0) out.reason += " (and a handle was left open)";
  });
  return out;
}

}  // namespace pharos::health::testing
