// link_check_test.cc: the link prober against real interfaces: loopback, a missing one, a bad name,
// and a veth pair the test creates whose peer lives in a network namespace the test also creates:
// setting the peer down drops our end's carrier. Needs root (CI runs as root); skips otherwise.
//
// Our end of the pair stays in the test's namespace because sysfs shows the interfaces of the
// namespace it was mounted in. It has no address and no IPv6 link-local (addrgenmode none), so
// nothing is ever sent; deleting the namespace deletes the pair.
#include "health/link_check.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/health/probe_test_support.h"

namespace pharos::test {
namespace {

using health::LinkParams;
using namespace std::chrono_literals;

health::CheckSpec link_spec(const std::string& interface) { return spec_with(LinkParams{interface}, Millis{2000}); }

std::string sysfs(const std::string& interface, const char* attribute) {
  std::ifstream in("/sys/class/net/" + interface + "/" + attribute);
  std::string value;
  in >> value;
  return value;   // empty when unreadable (no such interface, or no carrier value while down)
}

bool sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

void expect_single_async_result(const ProbeRecord& r) {
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.called_inside_start);
}

// A veth pair: `ours` in this namespace, `peer` in a namespace created for the test.
class VethPair : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create a network namespace and a veth pair";
    const std::string id = std::to_string(getpid());
    ns_ = "pharos-link-" + id;
    ours_ = "phl" + id + "a";
    peer_ = "phl" + id + "b";
    created_ = sh("ip netns add " + ns_);
    if (!created_) GTEST_SKIP() << "cannot create network namespace " << ns_ << " (no CAP_SYS_ADMIN?)";
    if (!sh("ip link add name " + ours_ + " type veth peer name " + peer_ + " netns " + ns_) ||
        !sh("ip link set dev " + ours_ + " addrgenmode none") || !sh("ip link set dev " + ours_ + " up") ||
        !sh("ip -n " + ns_ + " link set dev " + peer_ + " up")) {
      GTEST_SKIP() << "cannot create the veth pair " << ours_ << "/" << peer_ << " (no CAP_NET_ADMIN?)";
    }
  }
  void TearDown() override {
    if (created_) sh("ip netns del " + ns_);   // takes the pair with it
    sh("ip link del " + ours_);
  }

  // Waits until sysfs shows the state the test set, so the probe reads a settled kernel state.
  bool settle(const std::string& carrier, const std::string& operstate) {
    return loop_.run_until([&] { return sysfs(ours_, "carrier") == carrier && sysfs(ours_, "operstate") == operstate; },
                           3000ms);
  }

  TestLoop loop_;
  std::string ns_, ours_, peer_;
  bool created_ = false;
};

TEST_F(VethPair, UpWhileThePeerIsUp) {
  ASSERT_TRUE(settle("1", "up"));
  auto prober = health::make_link_prober(loop_.get(), link_spec(ours_));
  auto r = probe_once(loop_, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "carrier up (operstate up)");
}

TEST_F(VethPair, FollowsTheCarrierAsThePeerGoesDownAndUp) {
  auto prober = health::make_link_prober(loop_.get(), link_spec(ours_));
  ASSERT_TRUE(settle("1", "up"));
  EXPECT_TRUE(probe_once(loop_, *prober)->result.up);

  ASSERT_TRUE(sh("ip -n " + ns_ + " link set dev " + peer_ + " down"));
  ASSERT_TRUE(loop_.run_until([&] { return sysfs(ours_, "carrier") == "0"; }, 3000ms));
  auto down = probe_once(loop_, *prober);
  expect_single_async_result(*down);
  EXPECT_FALSE(down->result.up);
  EXPECT_EQ(down->result.reason.rfind("no carrier on " + ours_ + " (operstate ", 0), 0u) << down->result.reason;

  ASSERT_TRUE(sh("ip -n " + ns_ + " link set dev " + peer_ + " up"));
  ASSERT_TRUE(settle("1", "up"));
  auto up = probe_once(loop_, *prober);
  EXPECT_TRUE(up->result.up) << up->result.reason;
}

TEST_F(VethPair, DownWhenOurEndIsAdministrativelyDown) {
  ASSERT_TRUE(sh("ip link set dev " + ours_ + " down"));
  ASSERT_TRUE(loop_.run_until([&] { return sysfs(ours_, "operstate") == "down"; }, 3000ms));
  auto prober = health::make_link_prober(loop_.get(), link_spec(ours_));
  auto r = probe_once(loop_, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, ours_ + " is administratively down");
}

TEST_F(VethPair, DownOnceTheInterfaceIsGone) {
  auto prober = health::make_link_prober(loop_.get(), link_spec(ours_));
  ASSERT_TRUE(settle("1", "up"));
  EXPECT_TRUE(probe_once(loop_, *prober)->result.up);
  ASSERT_TRUE(sh("ip link del " + ours_));
  auto r = probe_once(loop_, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "no such interface " + ours_);
}

TEST(LinkCheck, LoopbackIsUp) {
  TestLoop loop;
  auto prober = health::make_link_prober(loop.get(), link_spec("lo"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "carrier up (operstate " + sysfs("lo", "operstate") + ")");
}

TEST(LinkCheck, AMissingInterfaceIsDown) {
  if (!sysfs("eth9", "operstate").empty()) GTEST_SKIP() << "this machine has an eth9";
  TestLoop loop;
  auto prober = health::make_link_prober(loop.get(), link_spec("eth9"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "no such interface eth9");
}

TEST(LinkCheck, ANameThatIsNotAnInterfaceNameIsRefused) {
  TestLoop loop;
  auto prober = health::make_link_prober(loop.get(), link_spec("../../../etc"));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "invalid interface name \"../../../etc\"");
}

TEST(LinkCheck, CancelWhileReadingNeverReports) {
  TestLoop loop;
  auto prober = health::make_link_prober(loop.get(), link_spec("lo"));
  auto r = start_probe(*prober);
  prober->cancel();
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(LinkCheck, DestroyWhileReadingIsSafe) {
  TestLoop loop;
  auto prober = health::make_link_prober(loop.get(), link_spec("lo"));
  auto r = start_probe(*prober);
  prober.reset();
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(LinkVerdict, MapsWhatSysfsSays) {
  using health::link_verdict;
  EXPECT_TRUE(link_verdict("tun0", 0, "unknown\n", 0, "1\n").up);
  EXPECT_EQ(link_verdict("eth0", 0, "lowerlayerdown\n", 0, "1\n").reason, "eth0 has carrier but operstate lowerlayerdown");
  EXPECT_EQ(link_verdict("eth0", 0, "down\n", UV_EINVAL, "").reason, "eth0 is administratively down");
  EXPECT_EQ(link_verdict("eth0", 0, "up\n", UV_ENOENT, "").reason, "no such interface eth0");
  EXPECT_EQ(link_verdict("eth0", 0, "dormant\n", 0, "0\n").reason, "no carrier on eth0 (operstate dormant)");
}

}  // namespace
}  // namespace pharos::test
