// log.h: pharosd's log: one line per event on stderr, `level=info msg="..." key=value`, written with
// a single write(2) so lines from different threads never interleave.
//
//   log_info("listening udp 127.0.0.1:5353", {{"proto", "udp"}, {"addr", "127.0.0.1:5353"}});
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pharos::app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<std::string_view, std::string>;

void log_event(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
// Formats one line without writing it (tests).
std::string format_log_line(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields);

inline void log_info(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kInfo, msg, f); }
inline void log_warn(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kWarn, msg, f); }
inline void log_error(std::string_view msg, std::initializer_list<LogField> f = {}) { log_event(LogLevel::kError, msg, f); }

}  // namespace pharos::app
