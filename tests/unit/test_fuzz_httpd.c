/* test_fuzz_httpd.c - tests/fuzz/corpus/httpd/ through fuzz_httpd's checks (fuzz_replay.h) */
#include "../fuzz/fuzz_httpd.c"
#define FUZZ_NAME "httpd"
#include "fuzz_replay.h"
