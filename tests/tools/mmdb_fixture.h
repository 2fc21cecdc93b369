// mmdb_fixture.h: test GeoIP2 databases written at test time by tests/tools/mmdb_writer.py (our own
// writer of the MaxMind DB format), in a temporary directory removed with the fixture.
//
//   MmdbDir dir;
//   std::string db = dir.write("t.mmdb", R"({"ip_version": 6, "networks": [["81.2.69.0/24", {...}]]})");
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pharos::testing {

class MmdbDir {
 public:
  MmdbDir() {
    char tmpl[] = "/tmp/pharos-mmdb-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~MmdbDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  MmdbDir(const MmdbDir&) = delete;
  MmdbDir& operator=(const MmdbDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `spec` (the writer's JSON) and returns the database path, or "" if the writer failed.
  std::string write(const std::string& name, const std::string& spec) const {
    const std::string spec_path = path_ + "/" + name + ".json";
    std::ofstream(spec_path) << spec;
    const std::string out = path_ + "/" + name;
    const std::string cmd = "python3 " PHAROS_SOURCE_DIR "/tests/tools/mmdb_writer.py '" + spec_path + "' '" + out + "' 2>/dev/null";
    return std::system(cmd.c_str()) == 0 ? out : "";
  }

  // A plain file with these bytes (corrupt databases).
  std::string raw(const std::string& name, const std::string& bytes) const {
    const std::string out = path_ + "/" + name;
    std::ofstream(out, std::ios::binary) << bytes;
    return out;
  }

 private:
  std::string path_;
};

// A GeoIP2 Country record.
inline std::string country(const char* iso, const char* continent) {
  return std::string(R"({"country": {"iso_code": ")") + iso + R"("}, "continent": {"code": ")" + continent + R"("}})";
}

}  // namespace pharos::testing
