// ldns_compat.h: include ldns through this header. Without <stdbool.h> first, ldns/common.h
// defines bool, true and false as macros, which breaks any C++ header included after it.
#pragma once

#include <stdbool.h>  // NOLINT: sets __bool_true_false_are_defined, so ldns leaves bool alone

#include <ldns/ldns.h>
