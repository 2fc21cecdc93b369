// fuzz_zone.h: the example zone as a table, built once per fuzz process.
#pragma once

#include "dns/answer_table.h"

namespace pharos::fuzz {
const dns::AnswerTable& example_table();
}
