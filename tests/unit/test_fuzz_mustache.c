/* test_fuzz_mustache.c - tests/fuzz/corpus/mustache/ through fuzz_mustache's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_mustache.c"
#define FUZZ_NAME "mustache"
#include "fuzz_replay.h"
