/* test_fuzz_import.c - tests/fuzz/corpus/import/ through fuzz_import's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_import.c"
#define FUZZ_NAME "import"
#include "fuzz_replay.h"
