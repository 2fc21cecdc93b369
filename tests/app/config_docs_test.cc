// config_docs_test.cc: the scenario files as documents (find, insert, replace, remove keeping the
// rest as written), their readable printing, atomic replacement, and the parsing of change
// operations, without a daemon.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>

#include "app/config_change.h"
#include "app/config_docs.h"
#include "tests/app/pharosd_harness.h"

namespace pharos::app {
namespace {

using test::TempDir;

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const char* kFile = R"({ "datacenters": { "b": { "access": [ { "type": "tcp", "target": "127.0.0.1:1" } ] }, "a": {} },
  "records": [ { "name": "X.example.", "type": "a", "chain": [] }, { "name": "y.example.", "type": "TXT", "chain": [] } ] })";

TEST(PrettyJson, KeepsOrderAndValuesAndPutsEachObjectOnItsOwnLine) {
  const auto d = parse(kFile);
  const std::string text = pretty_json(d);
  EXPECT_EQ(parse(text), d);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text,
            "{\n"
            "  \"datacenters\": {\n"
            "    \"b\": {\n"
            "      \"access\": [ { \"type\": \"tcp\", \"target\": \"127.0.0.1:1\" } ]\n"
            "    },\n"
            "    \"a\": {}\n"
            "  },\n"
            "  \"records\": [\n"
            "    { \"name\": \"X.example.\", \"type\": \"a\", \"chain\": [] },\n"
            "    { \"name\": \"y.example.\", \"type\": \"TXT\", \"chain\": [] }\n"
            "  ]\n"
            "}\n");
}

TEST(PrettyJson, BreaksLongAndDeepValuesAndEscapesStrings) {
  const auto d = parse(R"({ "records": [ { "rdata": [ "\"quoted\" text", "a\\b" ],
    "chain": [ { "dc": "dc1", "rdata": [ "2001:db8:1::20", "2001:db8:1::21", "2001:db8:1::22", "2001:db8:1::23" ] } ] } ] })");
  const std::string text = pretty_json(d);
  EXPECT_EQ(parse(text), d);
  EXPECT_NE(text.find(R"("rdata": [ "\"quoted\" text", "a\\b" ])"), std::string::npos) << text;
  for (std::size_t at = 0, next = 0; at < text.size(); at = next + 1) {
    next = text.find('\n', at);
    EXPECT_LE(next - at, 100u) << text.substr(at, next - at);
  }
  EXPECT_NE(text.find("\"chain\": [\n"), std::string::npos) << text;  // three levels deep: one member a line
}

TEST(ScenarioDocs, FindsEditsAndKeepsTheRestInOrder) {
  TempDir dir;
  dir.write("s.json", kFile);
  auto docs = ScenarioDocs::read({dir.file("s.json")});
  ASSERT_TRUE(docs.ok()) << docs.error().to_string();
  auto rec = docs->find(ConfigKind::kRecord, "x.example./A");  // the file's spelling differs
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->pointer, "/records/0");
  EXPECT_FALSE(docs->find(ConfigKind::kRecord, "y.example./A"));
  auto a = docs->find(ConfigKind::kDatacenter, "a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pointer, "/datacenters/a");

  docs->replace(*docs->find(ConfigKind::kDatacenter, "b"), parse(R"({ "accessPeriod": "2s" })"));
  docs->remove(*rec);
  ASSERT_TRUE(docs->insert(0, ConfigKind::kCheck, "c/1", parse(R"({ "type": "file", "path": "x" })")).ok());
  ASSERT_TRUE(docs->insert(0, ConfigKind::kDatacenter, "c", parse("{}")).ok());
  EXPECT_TRUE(docs->doc(0).changed);
  const auto& d = docs->doc(0).doc;
  EXPECT_EQ(d, parse(R"({ "datacenters": { "b": { "accessPeriod": "2s" }, "a": {}, "c": {} },
    "records": [ { "name": "y.example.", "type": "TXT", "chain": [] } ],
    "checks": { "c/1": { "type": "file", "path": "x" } } })"));
  EXPECT_EQ(docs->find(ConfigKind::kCheck, "c/1")->pointer, "/checks/c~11");

  // A section of the wrong shape is named, not overwritten.
  dir.write("bad.json", R"({ "checks": [] })");
  auto bad = ScenarioDocs::read({dir.file("bad.json")});
  ASSERT_TRUE(bad.ok());
  auto r = bad->insert(0, ConfigKind::kCheck, "x", parse("{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string(), dir.file("bad.json") + ": /checks: must be an object");
}

TEST(ScenarioDocs, FileNamedAsInPharosJsonOrAsResolved) {
  TempDir dir;
  dir.write("s.json", "{}");
  auto docs = ScenarioDocs::read({dir.file("s.json")});
  ASSERT_TRUE(docs.ok());
  const std::string config_dir = std::filesystem::path(dir.file("s.json")).parent_path().string();
  EXPECT_EQ(docs->index_of("s.json", config_dir), 0u);
  EXPECT_EQ(docs->index_of("./s.json", config_dir), 0u);
  EXPECT_EQ(docs->index_of(dir.file("s.json"), config_dir), 0u);
  EXPECT_FALSE(docs->index_of("t.json", config_dir));
}

TEST(AtomicWrite, ReplacesTheFileKeepingItsModeAndLeavesNoTemporaryFile) {
  TempDir dir;
  dir.write("s.json", "old");
  const std::string path = dir.file("s.json");
  ::chmod(path.c_str(), 0640);
  auto temp = write_temp(path, "new\n");
  ASSERT_TRUE(temp.ok()) << temp.error().to_string();
  EXPECT_EQ(slurp(path), "old");  // nothing visible before the rename
  ASSERT_TRUE(replace_file(*temp, path).ok());
  EXPECT_EQ(slurp(path), "new\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  // A directory that does not exist: the error names it, and nothing is left behind.
  auto missing = write_temp(dir.file("nodir/s.json"), "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().to_string().find("nodir"), std::string::npos);
}

TEST(ChangeBatch, ParsesOperationsAndNamesWhatIsWrong) {
  auto ok = parse_change_batch(parse(R"({ "if_generation": 7, "changes": [
      { "op": "upsert", "kind": "datacenters", "id": "dc1", "value": { "access": [] } },
      { "op": "delete", "kind": "record", "id": "www.example.com./A" } ] })"));
  ASSERT_TRUE(std::holds_alternative<ChangeBatch>(ok));
  const auto& b = std::get<ChangeBatch>(ok);
  EXPECT_EQ(b.if_generation, 7u);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].op, ChangeOp::kUpsert);
  EXPECT_EQ(b.changes[0].kind, ConfigKind::kDatacenter);
  EXPECT_EQ(b.changes[0].value, R"({"access":[]})");
  EXPECT_EQ(b.changes[1].kind, ConfigKind::kRecord);

  auto one = parse_change_batch(parse(R"({ "op": "insert", "kind": "check", "id": "c", "value": {}, "if_generation": "3" })"));
  ASSERT_TRUE(std::holds_alternative<ChangeBatch>(one));
  EXPECT_EQ(std::get<ChangeBatch>(one).if_generation, 3u);

  const auto error = [](const char* body) {
    auto r = parse_change_batch(parse(body));
    return std::holds_alternative<Error>(r) ? std::get<Error>(r).where + ": " + std::get<Error>(r).message : "accepted";
  };
  EXPECT_EQ(error(R"({ "changes": [ { "op": "insert", "kind": "zone", "id": "x", "value": 1 } ] })"),
            "/changes/0/kind: must be \"datacenter\", \"check\", \"scenario\", \"region\" or \"record\"");
  EXPECT_EQ(error(R"({ "changes": [ { "op": "delete", "kind": "check", "id": "x", "value": 1 } ] })"),
            "/changes/0/value: a delete takes no value");
  EXPECT_EQ(error(R"({ "changes": [ { "op": "update", "kind": "check", "id": "x" } ] })"),
            "/changes/0/value: missing: the object as in the scenario file");
  EXPECT_EQ(error(R"({ "changes": [ { "op": "update", "kind": "check", "id": "x", "value": {}, "file": "a.json" } ] })"),
            "/changes/0/file: only an insert chooses its file; an object is updated and deleted where it is");
  EXPECT_EQ(error(R"({ "changes": [ { "op": "insert", "kind": "check", "id": "", "value": {} } ] })"),
            "/changes/0/id: must be a non-empty string");
  EXPECT_EQ(error(R"({ "changes": [ { "kind": "check", "id": "x", "if_generation": 1 } ] })"),
            "/changes/0/if_generation: unknown key \"if_generation\"");
  EXPECT_EQ(error(R"({ "changes": {}, "extra": 1 })"), "/extra: unknown key \"extra\"");
  EXPECT_EQ(error(R"({ "if_generation": -1, "op": "delete" })"), "/if_generation: must be a config generation (a whole number)");
  EXPECT_EQ(error("[]"), ": the body must be a JSON object");
}

TEST(RecordId, CanonicalNameAndType) {
  EXPECT_EQ(record_id("WWW.Example.com", "aaaa"), "www.example.com./AAAA");
  EXPECT_EQ(record_id("www.example.com.", "TYPE65000"), "www.example.com./TYPE65000");
  EXPECT_FALSE(record_id("www.example.com.", "BOGUS"));
  EXPECT_FALSE(record_id("", "A"));
}

}  // namespace
}  // namespace pharos::app
