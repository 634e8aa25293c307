/* test_fuzz_dsn.c - tests/fuzz/corpus/dsn/ through fuzz_dsn's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_dsn.c"
#define FUZZ_NAME "dsn"
#include "fuzz_replay.h"
