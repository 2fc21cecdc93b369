// file_check.cc: one file probe as a ProbeRun: read the first 4 KiB off the loop, then decide.
#include "health/file_check.h"

#include <string>
#include <utility>

#include "health/probe_run.h"
#include "health/small_file.h"

namespace pharos::health {
namespace {

// Only the first line counts; a state file longer than this is not a state file.
constexpr std::size_t kReadLimit = 4096;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool equals_lowercase(std::string_view word, std::string_view lower) {
  if (word.size() != lower.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = word[i] >= 'A' && word[i] <= 'Z' ? static_cast<char>(word[i] - 'A' + 'a') : word[i];
    if (c != lower[i]) return false;
  }
  return true;
}

class FileRun final : public ProbeRun {
 public:
  FileRun(uv_loop_t* loop, const CheckSpec& spec, const FileParams* params, ProbeCallback&& done, ProbeRun** slot)
      : ProbeRun(loop, spec.timeout, std::move(done), slot), path_(params != nullptr ? params->path : std::string{}) {}

 private:
  void begin() override {
    if (path_.empty()) return report(false, "file check without a path");
    hold();   // until the read has finished: threadpool requests cannot be taken back
    const int r = reader_.start(loop(), path_, kReadLimit, [this](int status, std::string data) {
      if (!ended()) report(state_file_verdict(path_, status, data));
      release();
    });
    if (r < 0) {
      release();
      report(false, "cannot read " + path_ + ": " + uv_strerror(r));
    }
  }
  void on_timeout() override { report(false, timeout_reason("reading " + path_)); }
  // Nothing to close: the read finishes on its own and releases its hold.
  void on_end() override {}

  void report(ProbeResult&& r) { ProbeRun::report(r.up, std::move(r.reason)); }
  using ProbeRun::report;

  const std::string path_;
  SmallFileRead reader_;
};

class FileProber final : public RunProber {
 public:
  FileProber(uv_loop_t* loop, const CheckSpec& spec) : loop_(loop), spec_(spec) {}

 private:
  ProbeRun* make_run(ProbeCallback&& done, ProbeRun** slot) override {
    return new FileRun(loop_, spec_, std::get_if<FileParams>(&spec_.params), std::move(done), slot);
  }

  uv_loop_t* loop_;
  const CheckSpec spec_;
};

}  // namespace

std::unique_ptr<Prober> make_file_prober(uv_loop_t* loop, const CheckSpec& spec) {
  return std::make_unique<FileProber>(loop, spec);
}

ProbeResult state_file_verdict(std::string_view path, int status, std::string_view content) {
  const std::string where(path);
  if (status == UV_ENOENT) return {false, "no such file " + where, {}};
  if (status < 0) return {false, "cannot read " + where + ": " + uv_strerror(status), {}};

  std::string_view line = content.substr(0, content.find('\n'));
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  if (line.empty()) {
    const bool blank = content.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos;
    return {false, blank ? where + " is empty" : "first line of " + where + " is empty", {}};
  }
  std::size_t word_end = 0;
  while (word_end < line.size() && !is_space(line[word_end])) ++word_end;
  const std::string_view word = line.substr(0, word_end);
  const std::string reason = printable(line.substr(word_end));
  if (equals_lowercase(word, "up")) return {true, reason, {}};
  if (equals_lowercase(word, "down")) return {false, reason.empty() ? "marked down in " + where : reason, {}};
  return {false, where + ": expected \"up\" or \"down\", got \"" + printable(word, 40) + "\"", {}};
}

}  // namespace pharos::health
