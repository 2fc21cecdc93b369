// schema_validator.h: runs docs/scenario.schema.json over JSON texts with Python's jsonschema, so
// tests can hold the schema (documentation) and the C++ reader (the authority) to the same answers.
// Optional: without python3 and jsonschema the caller skips. Header-only: only *_test.cc are built.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace pharos::scenario::testing {

// One answer per text, true when the schema accepts it; nullopt when no validator is available.
// Any other failure of the script gives no answers, so the caller's size check fails loudly.
inline std::optional<std::vector<bool>> schema_accepts(const std::vector<std::string>& texts) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pharos-schema-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "check.py") << R"(import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit(3)
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
with open(sys.argv[2], "w") as out:
    for path in sys.argv[3:]:
        out.write("1\n" if validator.is_valid(json.load(open(path))) else "0\n")
)";
  std::string command = "python3 " + (dir / "check.py").string() + " " PHAROS_SOURCE_DIR "/docs/scenario.schema.json " +
                        (dir / "answers").string();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const fs::path p = dir / (std::to_string(i) + ".json");
    std::ofstream(p) << texts[i];
    command += " " + p.string();
  }
  command += " 2>" + (dir / "stderr").string();
  const int status = std::system(command.c_str());
  std::optional<std::vector<bool>> answers;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code != 3 && code != 127) {  // 3: no jsonschema module; 127: no python3
    answers.emplace();
    std::ifstream in(dir / "answers");
    for (std::string line; code == 0 && std::getline(in, line);) answers->push_back(line == "1");
  }
  fs::remove_all(dir);
  return answers;
}

}  // namespace pharos::scenario::testing
