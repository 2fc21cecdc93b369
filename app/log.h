// log.h: pharosd's log: one line per event on stderr, `level=info msg="..." key=value`, written with
// a single write(2) so lines from different threads never interleave. Every value that needs it is
// quoted and escaped (\", \\, \n, \r, \t, \xNN), so one event is always exactly one line.
// When stderr is the systemd journal (JOURNAL_STREAM names stderr's device and inode), each line
// starts with its syslog priority, `<6>level=info ...`, which journald strips and records.
//
//   log_info("listening udp 127.0.0.1:5353", {{"proto", "udp"}, {"addr", "127.0.0.1:5353"}});
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pharos::app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class BackgroundWriter;

using LogField = std::pair<std::string_view, std::string>;

void log_event(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
// Formats one line without writing it (tests); `journal` adds the `<N>` priority prefix.
std::string format_log_line(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields,
                            bool journal = false);
// True when `journal_stream` (JOURNAL_STREAM's "device:inode") names the file `fd` is open on.
bool is_journal_stream(const char* journal_stream, int fd);

// A batch of lines, written at once: append_log_line() each (the same line log_event() would
// write), then write_log() the buffer with one write(2) unless the kernel takes less. For bursts
// such as thousands of answer changes.
using LogView = std::pair<std::string_view, std::string_view>;
void append_log_line(std::string& out, LogLevel level, std::string_view msg, std::initializer_list<LogView> fields);
// One field's value as append_log_line() writes it (quoted and escaped when it needs it): for
// callers that build many lines from parts they share.
void append_log_value(std::string& out, std::string_view value);
void write_log(std::string_view lines);
// From now on every line is written by `writer`'s thread, in the order written (pharosd while it
// runs: a burst of answer changes then never holds up the control loop). Null: write directly
// again, after the writer has written what it had.
void set_log_writer(BackgroundWriter* writer);
// The lines written so far are out (a no-op without a writer).
void flush_log();

inline void log_info(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kInfo, msg, f); }
inline void log_warn(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kWarn, msg, f); }
inline void log_error(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kError, msg, f); }

}  // namespace pharos::app
