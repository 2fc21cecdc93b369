// pharosd.cc: the pharos daemon's entry point: command line, --check, and handing over to Daemon.
#include <cstdio>
#include <cstring>
#include <string>

#include "app/daemon.h"
#include "app/loader.h"
#include "app/log.h"

#ifndef PHAROS_VERSION
#define PHAROS_VERSION "0.0.0"
#endif

namespace {

constexpr const char* kUsage =
    "usage: pharosd -c FILE [--check]\n"
    "\n"
    "  -c, --config FILE  main configuration (JSON), e.g. pharos.json\n"
    "      --check        load the configuration and every zone, build the answer table,\n"
    "                     print the errors or a summary, and exit (0 = ok, 1 = errors)\n"
    "      --version      print the version and exit\n"
    "  -h, --help         print this help and exit\n"
    "\n"
    "signals: SIGHUP reloads the configuration and zones (all or nothing);\n"
    "         SIGTERM and SIGINT stop gracefully: TCP answers already owed are sent\n"
    "         (bounded by stop_timeout), then it exits 0.\n"
    "\n"
    "Under systemd (Type=notify) it reports READY, RELOADING, STOPPING and watchdog pings;\n"
    "with \"user\" in the configuration it switches to that user once every socket is bound.\n"
    "See docs/operations.md.\n";

int check(const std::string& path) {
  const pharos::app::LoadResult r = pharos::app::load_everything(path);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
  if (!r.loaded) return 1;
  std::printf("ok: %zu zones, %zu names\n", r.loaded->zone_count, r.loaded->name_count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("pharosd %s\n", PHAROS_VERSION);
      return 0;
    }
    if (arg == "--check") {
      check_only = true;
    } else if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      config = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config = arg.substr(std::strlen("--config="));
    } else {
      std::fprintf(stderr, "pharosd: unexpected argument \"%s\"\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config.empty()) {
    std::fprintf(stderr, "pharosd: -c FILE is required\n%s", kUsage);
    return 2;
  }
  if (check_only) return check(config);
  return pharos::app::Daemon{config, PHAROS_VERSION}.run();
}
