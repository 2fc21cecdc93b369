// exec_check_test.cc: the exec prober running real commands: exit statuses, the first output line
// as the reason (bounded, drained), argv without a shell, stdin on /dev/null, the loop kept free
// while a command runs, and the whole process group killed on timeout, cancel and destruction.
#include "health/exec_check.h"

#include <dirent.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/health/probe_test_support.h"

namespace pharos::test {
namespace {

using health::ExecParams;
using namespace std::chrono_literals;

constexpr Millis kShort{200};
// libuv's timers count whole milliseconds of loop time; latency is measured with uv_hrtime, so a
// timeout can show up to a millisecond short.
constexpr auto kShortLatency = kShort - 1ms;

health::CheckSpec exec_spec(std::vector<std::string> argv, Millis timeout = Millis{5000}) {
  return spec_with(ExecParams{std::move(argv)}, timeout);
}

// Processes in group `pgid` that are still alive (zombies are dead: they only wait to be reaped,
// and a killed command's orphans are reaped by init, not by us).
int live_members(int pgid) {
  int live = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return -1;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++live;
  }
  closedir(proc);
  return live;
}

int read_pid(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

// A shell that records its pid (its process group, since the prober makes it a session leader),
// starts a background child in the same group, and waits for longer than any test runs.
std::vector<std::string> hanging_group(const std::string& pid_file) {
  return {"sh", "-c", "sleep 30 & echo $$ > " + pid_file + "; wait"};
}

void expect_single_async_result(const ProbeRecord& r) {
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.called_inside_start);
}

TEST(ExecCheck, UpWhenTheCommandExitsZero) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"true"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_EQ(r->result.reason, "exit 0");
}

TEST(ExecCheck, DownWithTheExitStatus) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"false"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "exit status 1");
}

TEST(ExecCheck, TheFirstOutputLineBecomesTheReason) {
  TestLoop loop;
  auto prober = health::make_exec_prober(
      loop.get(), exec_spec({"sh", "-c", "echo 'replication lag 95 s' >&2; echo second line; exit 3"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "exit status 3: replication lag 95 s");
}

TEST(ExecCheck, LongOutputIsCutTo200BytesAndNeverBlocksTheCommand) {
  // 1 MB is more than a socket buffer holds: the command finishes only if the prober keeps reading.
  TestLoop loop;
  auto prober = health::make_exec_prober(
      loop.get(), exec_spec({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\000' x; exit 2"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "exit status 2: " + std::string(200, 'x'));
}

TEST(ExecCheck, ArgumentsReachTheCommandUnsplit) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"sh", "-c", "test \"$1\" = 'a b'", "sh", "a b"}));
  auto r = probe_once(loop, *prober);
  EXPECT_TRUE(r->result.up) << r->result.reason;
}

TEST(ExecCheck, StdinIsDevNull) {
  // Reading stdin sees end of file at once instead of waiting on whatever the daemon inherited.
  TestLoop loop;
  auto prober = health::make_exec_prober(
      loop.get(), exec_spec({"sh", "-c", "if read line; then exit 0; else echo 'no input'; exit 4; fi"}, 2000ms));
  auto r = probe_once(loop, *prober);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "exit status 4: no input");
}

TEST(ExecCheck, DownWhenKilledBySignal) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"sh", "-c", "kill -TERM $$"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "killed by SIGTERM");
}

TEST(ExecCheck, KillsTheWholeProcessGroupOnTimeout) {
  TestLoop loop;
  TempDir dir;
  const std::string pid_file = dir.file("pid");
  auto prober = health::make_exec_prober(loop.get(), exec_spec(hanging_group(pid_file), kShort));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "killed after timeout 200 ms");
  EXPECT_GE(r->result.latency, kShortLatency);
  EXPECT_LT(r->result.latency, 1000ms);
  const int pgid = read_pid(pid_file);
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(loop.run_until([&] { return live_members(pgid) == 0; }, 2000ms))
      << live_members(pgid) << " processes of group " << pgid << " still alive";
  EXPECT_TRUE(loop.drain());   // the leader was reaped: its handle could close
  EXPECT_EQ(r->calls, 1);
}

TEST(ExecCheck, ACommandThatDoesNotExistSaysSo) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"/nonexistent/pharos-check", "--fast"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "cannot run \"/nonexistent/pharos-check\": no such file or directory");
}

TEST(ExecCheck, ACommandMissingFromPathSaysSo) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"pharos-no-such-command"}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_EQ(r->result.reason, "cannot run \"pharos-no-such-command\": no such file or directory");
}

TEST(ExecCheck, AnEmptyCommandIsDown) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({}));
  auto r = probe_once(loop, *prober);
  expect_single_async_result(*r);
  EXPECT_FALSE(r->result.up);
  EXPECT_EQ(r->result.reason, "no command given");
}

TEST(ExecCheck, TheLoopRunsWhileTheCommandDoes) {
  TestLoop loop;
  uv_timer_t ticker;
  int ticks = 0;
  uv_timer_init(loop.get(), &ticker);
  ticker.data = &ticks;
  uv_timer_start(&ticker, [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 10, 10);
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"sleep", "0.3"}));
  auto r = probe_once(loop, *prober);
  uv_close(reinterpret_cast<uv_handle_t*>(&ticker), nullptr);
  EXPECT_TRUE(r->result.up) << r->result.reason;
  EXPECT_GE(r->result.latency, 300ms);
  EXPECT_GE(ticks, 10);   // about 30 expected; a blocked loop gives 0 or 1
  loop.drain();
}

TEST(ExecCheck, CancelKillsTheProcessGroupAndNeverReports) {
  TestLoop loop;
  TempDir dir;
  const std::string pid_file = dir.file("pid");
  auto prober = health::make_exec_prober(loop.get(), exec_spec(hanging_group(pid_file)));
  auto r = start_probe(*prober);
  ASSERT_TRUE(loop.run_until([&] { return read_pid(pid_file) > 1; }));
  const int pgid = read_pid(pid_file);
  prober->cancel();
  EXPECT_TRUE(loop.run_until([&] { return live_members(pgid) == 0; }, 2000ms));
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(ExecCheck, DestroyKillsTheProcessGroupAndNeverReports) {
  TestLoop loop;
  TempDir dir;
  const std::string pid_file = dir.file("pid");
  auto prober = health::make_exec_prober(loop.get(), exec_spec(hanging_group(pid_file)));
  auto r = start_probe(*prober);
  ASSERT_TRUE(loop.run_until([&] { return read_pid(pid_file) > 1; }));
  const int pgid = read_pid(pid_file);
  prober.reset();
  EXPECT_TRUE(loop.run_until([&] { return live_members(pgid) == 0; }, 2000ms));
  EXPECT_TRUE(loop.drain());
  EXPECT_EQ(r->calls, 0);
}

TEST(ExecCheck, DestroyRightAfterStartIsSafe) {
  TestLoop loop;
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"sleep", "30"}));
  auto r = start_probe(*prober);
  prober.reset();
  EXPECT_TRUE(loop.drain(2000ms));   // sleep was killed and reaped
  EXPECT_EQ(r->calls, 0);
}

TEST(ExecCheck, OneProberRunsTheCommandAgain) {
  TestLoop loop;
  TempDir dir;
  const std::string flag = dir.file("flag");
  auto prober = health::make_exec_prober(loop.get(), exec_spec({"test", "-e", flag}));
  EXPECT_FALSE(probe_once(loop, *prober)->result.up);
  dir.write("flag", "");
  auto second = probe_once(loop, *prober);
  expect_single_async_result(*second);
  EXPECT_TRUE(second->result.up) << second->result.reason;
}

}  // namespace
}  // namespace pharos::test
