// exec_check.cc: one exec probe as a ProbeRun: spawn detached, capture the first output line, wait
// for the exit status, kill the process group on timeout.
//
// The process handle stays open until libuv has reaped the child, also after a timeout or a cancel:
// libuv only waits for children whose handle is open, so closing it early would leave a zombie per
// probe. The run therefore lives until the killed command has really gone.
#include "health/exec_check.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "health/probe_run.h"

namespace pharos::health {
namespace {

constexpr std::size_t kMaxLine = 200;
// Bytes drained synchronously when the command exits (output it wrote just before exiting, which
// may still sit in the pipe). Bounded: a child left behind could keep writing.
constexpr std::size_t kMaxDrain = 64 * 1024;

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

class ExecRun final : public ProbeRun {
 public:
  ExecRun(uv_loop_t* loop, const CheckSpec& spec, const ExecParams* params, ProbeCallback&& done, ProbeRun** slot)
      : ProbeRun(loop, spec.timeout, std::move(done), slot), argv_(params != nullptr ? params->argv : std::vector<std::string>{}) {}

 private:
  void begin() override;
  void on_timeout() override;
  void on_end() override;

  void exited(std::int64_t exit_status, int term_signal);
  void capture(const char* data, std::size_t size);
  void drain_output();
  void close_output();
  std::string with_line(std::string text) const;

  static void on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  std::vector<std::string> argv_;
  uv_process_t process_{};
  bool process_open_ = false;    // handle initialised by uv_spawn and not yet closed
  bool running_ = false;         // spawned and not yet reaped
  bool killed_ = false;
  int pid_ = 0;

  uv_pipe_t output_{};
  bool output_open_ = false;
  std::string line_;             // the first output line, up to kMaxLine bytes
  bool line_complete_ = false;
  char buffer_[4096];
};

void ExecRun::begin() {
  if (argv_.empty() || argv_[0].empty()) return report(false, "no command given");

  // One socket pair for stdout and stderr, so the first line is whichever the command wrote first.
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return report(false, std::string("cannot create output pipe: ") + strerror(errno));
  }
  uv_pipe_init(loop(), &output_, 0);
  attach(&output_);
  hold();
  output_open_ = true;
  if (const int r = uv_pipe_open(&output_, fds[0]); r < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return report(false, std::string("cannot open output pipe: ") + uv_strerror(r));
  }

  std::vector<char*> args;
  args.reserve(argv_.size() + 1);
  for (std::string& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;   // /dev/null: a command waiting for input fails instead of hanging
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = fds[1];
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = fds[1];
  uv_process_options_t options{};
  options.exit_cb = on_exit;
  options.file = args[0];
  options.args = args.data();
  options.stdio_count = 3;
  options.stdio = stdio;
  // setsid(): the command leads a new process group, so a timeout kills everything it started.
  options.flags = UV_PROCESS_DETACHED;

  const int r = uv_spawn(loop(), &process_, &options);
  ::close(fds[1]);   // the child has its copy; EOF arrives when the last holder exits
  attach(&process_);
  hold();            // uv_spawn initialises the handle even when it fails: it must be closed
  process_open_ = true;
  if (r < 0) return report(false, "cannot run \"" + printable(argv_[0]) + "\": " + uv_strerror(r));
  running_ = true;
  pid_ = process_.pid;
  if (const int rr = uv_read_start(reinterpret_cast<uv_stream_t*>(&output_), on_alloc, on_read); rr < 0) {
    close_output();   // the command still runs; its exit status alone decides
  }
}

void ExecRun::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = run_of<ExecRun>(handle);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void ExecRun::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = run_of<ExecRun>(stream);
  if (nread > 0) {
    self->capture(buf->base, static_cast<std::size_t>(nread));
  } else if (nread < 0) {
    // EOF or error: nothing more to learn from the pipe; the exit status decides.
    self->close_output();
  }
}

void ExecRun::capture(const char* data, std::size_t size) {
  // Keep reading past the first line and discard: a command blocked on a full pipe would time out.
  for (std::size_t i = 0; i < size && !line_complete_; ++i) {
    if (data[i] == '\n' || line_.size() >= kMaxLine) {
      line_complete_ = true;
    } else {
      line_.push_back(data[i]);
    }
  }
}

void ExecRun::drain_output() {
  if (!output_open_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&output_));
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&output_), &fd) != 0) return;
  // The pipe is non-blocking (uv_pipe_open): this returns at once when nothing is left.
  for (std::size_t total = 0; total < kMaxDrain && !line_complete_;) {
    const ssize_t n = ::read(fd, buffer_, sizeof buffer_);
    if (n <= 0) break;
    capture(buffer_, static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
  }
}

void ExecRun::close_output() {
  if (!output_open_) return;
  output_open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&output_), release_on_close);
}

std::string ExecRun::with_line(std::string text) const {
  const std::string line = printable(line_, kMaxLine);
  if (!line.empty()) {
    text += ": ";
    text += line;
  }
  return text;
}

void ExecRun::on_exit(uv_process_t* process, std::int64_t exit_status, int term_signal) {
  run_of<ExecRun>(process)->exited(exit_status, term_signal);
}

void ExecRun::exited(std::int64_t exit_status, int term_signal) {
  running_ = false;
  process_open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&process_), release_on_close);
  if (!ended()) {
    drain_output();
    if (term_signal != 0) {
      report(false, with_line("killed by " + signal_name(term_signal)));
    } else if (exit_status == 0) {
      report(true, with_line("exit 0"));
    } else {
      report(false, with_line("exit status " + std::to_string(exit_status)));
    }
  }
}

void ExecRun::on_timeout() {
  if (running_) {
    uv_kill(-pid_, SIGKILL);
    killed_ = true;
  }
  report(false, "killed after timeout " + std::to_string(timeout().count()) + " ms");
}

void ExecRun::on_end() {
  // Cancelled, destroyed or timed out with the command still running: kill its whole group. The
  // handle closes in exited() once libuv has reaped the leader.
  if (running_ && !killed_) {
    uv_kill(-pid_, SIGKILL);
    killed_ = true;
  }
  if (process_open_ && !running_) {
    process_open_ = false;   // uv_spawn failed
    uv_close(reinterpret_cast<uv_handle_t*>(&process_), release_on_close);
  }
  close_output();
}

class ExecProber final : public RunProber {
 public:
  ExecProber(uv_loop_t* loop, const CheckSpec& spec) : loop_(loop), spec_(spec) {}

 private:
  ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) override {
    return new ExecRun(loop_, spec_, std::get_if<ExecParams>(&spec_.params), std::move(done), slot);
  }

  uv_loop_t* loop_;
  const CheckSpec spec_;
};

}  // namespace

std::unique_ptr<Prober> make_exec_prober(uv_loop_t* loop, const CheckSpec& spec) {
  return std::make_unique<ExecProber>(loop, spec);
}

}  // namespace pharos::health
