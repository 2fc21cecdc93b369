// log.cc: logfmt-style formatting (quote and escape values that need it), the journald priority
// prefix, and the atomic line write.
#include "app/log.h"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <atomic>
#include <cstdlib>
#include <string>

#include "app/background_writer.h"

namespace pharos::app {
namespace {

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// sd-daemon.h's syslog priorities, which journald reads off the start of each line.
const char* priority(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return SD_DEBUG;
    case LogLevel::kInfo: return SD_INFO;
    case LogLevel::kWarn: return SD_WARNING;
    case LogLevel::kError: return SD_ERR;
  }
  return SD_INFO;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// Inside quotes: escapes for the quote, the backslash and every control character, so a value
// can never end the line or the quoted string early.
void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (u < 0x20 || u == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  append_escaped(out, v);
  out += '"';
}

// Decided once: stderr does not change under a running daemon.
bool stderr_is_journal() {
  static const bool journal = is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO);
  return journal;
}

}  // namespace

bool is_journal_stream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return false;
  std::uintmax_t dev = 0, ino = 0;
  char tail = 0;
  if (std::sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%c", &dev, &ino, &tail) != 2) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  return static_cast<std::uintmax_t>(st.st_dev) == dev && static_cast<std::uintmax_t>(st.st_ino) == ino;
}

namespace {

template <class Fields>
void append_line(std::string& line, LogLevel level, std::string_view msg, const Fields& fields, bool journal) {
  // No timestamp either way: journald stamps each line itself, and so do the collectors that
  // read stderr elsewhere.
  if (journal) line += priority(level);
  line += "level=";
  line += level_name(level);
  line += " msg=";
  // msg is always quoted so that readers can rely on the shape.
  line += '"';
  append_escaped(line, msg);
  line += '"';
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    append_value(line, value);
  }
  line += '\n';
}

}  // namespace

std::string format_log_line(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields,
                            bool journal) {
  std::string line;
  append_line(line, level, msg, fields, journal);
  return line;
}

void append_log_line(std::string& out, LogLevel level, std::string_view msg, std::initializer_list<LogView> fields) {
  append_line(out, level, msg, fields, stderr_is_journal());
}

void append_log_value(std::string& out, std::string_view value) { append_value(out, value); }

namespace {

std::atomic<BackgroundWriter*> log_writer{nullptr};

void write_now(std::string_view line) {
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

void set_log_writer(BackgroundWriter* writer) {
  if (BackgroundWriter* old = log_writer.exchange(writer)) old->flush();
}

void flush_log() {
  if (BackgroundWriter* w = log_writer.load()) w->flush();
}

void write_log(std::string_view line) {
  BackgroundWriter* w = log_writer.load(std::memory_order_acquire);
  if (w == nullptr || w->on_writer_thread()) {
    write_now(line);
    return;
  }
  w->post([text = std::string(line)] { write_now(text); }, line.size());
}

void log_event(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  write_log(format_log_line(level, msg, fields, stderr_is_journal()));
}

}  // namespace pharos::app
