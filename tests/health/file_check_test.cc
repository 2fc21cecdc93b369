// file_check_test.cc: the file prober reading state files the test writes and flips between probes
// (up, down, reasons, case, first line only), missing, empty and wrong files, a FIFO nobody writes
// to, and cancelling or destroying a probe while the threadpool still reads.
#include "health/file_check.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <string>

#include "tests/health/probe_test_support.h"

namespace pharos::test {
namespace {

using health::FileParams;
using namespace std::chrono_literals;

health::CheckSpec file_spec(const std::string& path, Millis timeout = Millis{2000}) {
  return spec_with(FileParams{path}, timeout);
}

void expect_single_async_result(const ProbeRecord& r) {
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.called_inside_start);
}

TEST(FileCheck, UpWithTheRestOfTheLineAsTheReason) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "up  all replicas in sync \n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up);
  EXPECT_EQ(r->result.reason, "all replicas in sync");
}

TEST(FileCheck, DownWithTheRestOfTheLineAsTheReason) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "down draining for kernel upgrade\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "draining for kernel upgrade");
}

TEST(FileCheck, FollowsTheFileAsItFlips) {
  TestLoop loop;
  TempDir dir;
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  dir.write("state", "UP\n");
  EXPECT_TRUE(probe_once(loop, *prober)->result.up);
  dir.write("state", "Down maintenance\n");
  auto down = probe_once(loop, *prober);
  expect_single_async_result(*down);
  EXPECT_FALSE(down->result.up);
  EXPECT_EQ(down->result.reason, "maintenance");
  dir.write("state", "up");
  EXPECT_TRUE(probe_once(loop, *prober)->result.up);
}

TEST(FileCheck, DownWithoutAReasonSaysWhere) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "down\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "marked down in " + dir.file("state"));
}

TEST(FileCheck, OnlyTheFirstLineCounts) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "down disk full\nup\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "disk full");
}

TEST(FileCheck, AMissingFileIsDown) {
  TestLoop loop;
  TempDir dir;
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("absent")));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "no such file " + dir.file("absent"));
}

TEST(FileCheck, AnEmptyFileIsDown) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", " \n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, dir.file("state") + " is empty");
}

TEST(FileCheck, AnyOtherWordIsDown) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "upish because why not\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, dir.file("state") + ": expected \"up\" or \"down\", got \"upish\"");
}

TEST(FileCheck, ADirectoryIsDown) {
  TestLoop loop;
  TempDir dir;
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.path()));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason.rfind("cannot read " + dir.path() + ": ", 0), 0u) << r->result.reason;
}

TEST(FileCheck, AFifoWithoutWriterDoesNotHang) {
  // Opened non-blocking: no threadpool thread waits for a writer that never comes.
  TestLoop loop;
  TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("fifo")));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, dir.file("fifo") + " is empty");
}

TEST(FileCheck, ControlBytesInTheReasonAreMadeSafe) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", std::string("down bad\x1b[31m\0thing\r\n", 21));
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "bad [31m thing");
}

TEST(FileCheck, CancelWhileReadingNeverReports) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "up\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = start_probe(*prober);
  prober->cancel();   // the open is already queued on the threadpool
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(FileCheck, DestroyWhileReadingIsSafe) {
  TestLoop loop;
  TempDir dir;
  dir.write("state", "up\n");
  auto prober = health::make_file_prober(loop.get(), file_spec(dir.file("state")));
  auto r = start_probe(*prober);
  prober.reset();
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(StateFileVerdict, ReadsTheFirstWordOfTheFirstLine) {
  EXPECT_TRUE(health::state_file_verdict("/s", 0, "up\n").up);
  EXPECT_TRUE(health::state_file_verdict("/s", 0, "\t uP\tfine").up);
  EXPECT_FALSE(health::state_file_verdict("/s", 0, "DOWN\n").up);
  EXPECT_EQ(health::state_file_verdict("/s", 0, "\nup\n").reason, "first line of /s is empty");
  EXPECT_EQ(health::state_file_verdict("/s", 0, "").reason, "/s is empty");
  EXPECT_EQ(health::state_file_verdict("/s", UV_EACCES, "").reason, "cannot read /s: permission denied");
}

TEST(StateFileVerdict, CutsTheReasonTo200Bytes) {
  const auto r = health::state_file_verdict("/s", 0, "down " + std::string(500, 'r'));
  EXPECT_EQ(r.reason, std::string(200, 'r'));
}

}  // namespace
}  // namespace pharos::test
