/* test_fuzz_config.c - tests/fuzz/corpus/config/ through fuzz_config's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_config.c"
#define FUZZ_NAME "config"
#include "fuzz_replay.h"
