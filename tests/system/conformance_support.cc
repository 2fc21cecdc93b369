// conformance_support.cc: the OPT expectations shared by the conformance tests (see
// conformance_support.h).
#include "tests/system/conformance_support.h"

namespace pharos::system_test {

void expect_opt_v0(const Response& r) {
  EXPECT_TRUE(r.opt().present) << "response lacks OPT";
  EXPECT_EQ(r.opt().count, 1);
  EXPECT_TRUE(r.opt().owner_root);
  EXPECT_EQ(r.opt().version, 0);
  EXPECT_GE(r.opt().udp_size, 512);
}

void expect_www_with_plain_opt(const Response& r, std::uint16_t id) {
  expect_header(r, id, 0, kNoError, kQr | kAa);
  expect_answer_records(r, www_a());
  expect_opt_v0(r);
  EXPECT_EQ(r.opt().ext_rcode, 0);
  EXPECT_EQ(r.opt().flags, 0) << "no EDNS flag may be echoed";
  EXPECT_TRUE(r.opt().options.empty()) << "no option may be echoed";
}

}  // namespace pharos::system_test
