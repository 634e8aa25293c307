/* fuzz_config.c - libFuzzer target for the YAML config loader (config.h)
 *
 * The input is a whole config file, loaded with config_load_mem. NULL is
 * only for a file that could not be read as YAML, and says why; a config
 * without errors has its defaults filled in. Every problem is one line
 * "fuzz.yaml:..." without control characters, in UTF-8. ${FUZZ_SECRET} is
 * set: its value must never show in a message (values are quoted as
 * written) unless the input itself holds it.
 *
 *   make fuzz-build && build/fuzz/fuzz_config tests/fuzz/corpus/config/
 *   (make fuzz runs it FUZZ_TIME seconds on a copy of the corpus)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "utf8.h"

#define NAME "fuzz.yaml"
#define SECRET "zq7-Secret-Value-41"

/* one_line - msg is UTF-8 without controls; tabs pass */
static void one_line(const char *msg)
{
	size_t n = strlen(msg);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len((const unsigned char *)msg + i, n - i);
		if (!k || ((unsigned char)msg[i] < 0x20 && msg[i] != '\t') || msg[i] == 0x7f)
			abort();
		i += k;
	}
}

/* libfyaml 0.7.12 leaks the atom iterator's chunk array when a scalar
 * has many escapes ('' in single quotes, \n in double quotes): upstream
 * pantoniou/libfyaml#233 and #337, fixed after 0.7.12. Its frames have no
 * frame pointers, so LeakSanitizer's fast unwinder stops inside the
 * library and only the library's name can be matched: this target does
 * not see leaks of libfyaml objects (valgrind in make check-valgrind and
 * the unit tests in make check-asan still do). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfyaml.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		setenv("FUZZ_SECRET", SECRET, 1);
		setenv("FUZZ_DIR", "/nonexistent/fuzz", 1);
		once = 1;
	}
	struct diag d;
	diag_init(&d);
	struct config *c = config_load_mem(NAME, (const char *)data, size, &d);
	if (!c && !d.errors)
		abort(); /* refused without saying why */
	if (c && !d.errors &&
	    (!c->templates || !c->timezone || !c->tracking_base_url || !c->tracking_secret_env ||
	     !c->doc))
		abort(); /* a default left out */
	int has_secret = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
	for (size_t i = 0; i < d.n; i++) {
		if (strncmp(d.msgs[i], NAME ":", strlen(NAME) + 1) != 0)
			abort();
		one_line(d.msgs[i]);
		if (!has_secret && strstr(d.msgs[i], SECRET))
			abort(); /* an expanded secret in a message */
	}
	config_free(c);
	diag_release(&d);
	return 0;
}
