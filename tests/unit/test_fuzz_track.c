/* test_fuzz_track.c - tests/fuzz/corpus/track/ through fuzz_track's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_track.c"
#define FUZZ_NAME "track"
#include "fuzz_replay.h"
