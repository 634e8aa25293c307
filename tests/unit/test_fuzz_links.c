/* test_fuzz_links.c - tests/fuzz/corpus/links/ through fuzz_links's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_links.c"
#define FUZZ_NAME "links"
#include "fuzz_replay.h"
