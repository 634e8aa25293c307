/* test_fuzz_expr.c - tests/fuzz/corpus/expr/ through fuzz_expr's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_expr.c"
#define FUZZ_NAME "expr"
#include "fuzz_replay.h"
