/* fuzz_replay.h - a fuzz target's committed corpus as a unit test.
 *
 * Every file in tests/fuzz/corpus/FUZZ_NAME/ (the seeds, and the inputs
 * that once crashed, kept as regressions) goes through the target's
 * LLVMFuzzerTestOneInput, built with the unit tests' compiler, so `make
 * unit` and `make check-asan` replay them without clang. A target aborts
 * on any broken invariant, which fails the test. Each input is copied to
 * a buffer of its exact size, as libFuzzer does, so that a read past its
 * end is caught under ASan. Runs from the project root. Use:
 *
 *   #include "../fuzz/fuzz_dsn.c"
 *   #define FUZZ_NAME "dsn"
 *   #include "fuzz_replay.h"
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FUZZ_DIR "tests/fuzz/corpus/" FUZZ_NAME

/* replay_one - 0 when path was fed to the target, -1 when unreadable */
static int replay_one(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	size_t cap = 4096, n = 0, got;
	unsigned char *all = malloc(cap);
	while (all && (got = fread(all + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap)
			all = realloc(all, cap *= 2);
	}
	fclose(fp);
	if (!all)
		return -1;
	unsigned char *exact = malloc(n ? n : 1);
	memcpy(exact, all, n);
	free(all);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static void test_replay_corpus(void **state)
{
	(void)state;
	struct dirent **ents;
	int n = scandir(FUZZ_DIR, &ents, NULL, alphasort), fed = 0;
	if (n < 0)
		fail_msg("cannot read %s (run from the project root)", FUZZ_DIR);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", FUZZ_DIR, ents[i]->d_name);
			if (replay_one(path) < 0)
				fail_msg("cannot read %s", path);
			fed++;
		}
		free(ents[i]);
	}
	free(ents);
	print_message("%d inputs from %s\n", fed, FUZZ_DIR);
	assert_true(fed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay_corpus)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
