/* fuzz_dsn.c - libFuzzer target for bounce and complaint reports (dsn.h)
 *
 * The input is parsed as one message, then split as an mbox with each
 * message parsed. What comes back must hold together: a report has
 * recipients and each a kind, a non-report none; statuses look like
 * "5.1.1"; addresses, diagnostics and tokens are one line of UTF-8, bounded.
 *
 *   make fuzz-build && build/fuzz/fuzz_dsn tests/fuzz/corpus/dsn/
 *   (make fuzz runs every target FUZZ_TIME seconds on a copy of its corpus)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "utf8.h"

/* one_line - s is NULL, or 1..max bytes of UTF-8 without controls */
static void one_line(const char *s, size_t max)
{
	if (!s)
		return;
	size_t n = strlen(s);
	if (!n || n > max)
		abort();
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		if (!k || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
		i += k;
	}
}

static void check(const char *msg, size_t n)
{
	struct dsn d;
	dsn_parse(msg, n, &d);
	if (strlen(d.id) != 32 || strspn(d.id, "0123456789abcdef") != 32)
		abort();
	if ((d.kind == DSN_NONE) != (d.nrcpts == 0) || (d.kind == DSN_NONE && !d.why[0]))
		abort();
	for (size_t i = 0; i < d.nrcpts; i++) {
		const struct dsn_rcpt *r = &d.rcpts[i];
		if (r->kind == DSN_NONE || (r->kind == DSN_COMPLAINT) != (d.feedback_type != NULL &&
									   strcmp(d.feedback_type, "not-spam") != 0))
			abort();
		if (r->status[0] && (strchr("245", r->status[0]) == NULL || r->status[1] != '.'))
			abort();
		one_line(r->address, 320);
		if (r->address && !strchr(r->address, '@'))
			abort();
		one_line(r->diagnostic, 300);
		one_line(r->action, 300);
	}
	one_line(d.verp, 64);
	if (d.verp && d.verp[0] != 'b')
		abort();
	one_line(d.message_id, 1000);
	if (d.message_id && (d.message_id[0] != '<' || d.message_id[strlen(d.message_id) - 1] != '>'))
		abort();
	dsn_release(&d);
}

static void each(void *ud, const char *msg, size_t n, int line)
{
	(void)ud;
	if (line < 1)
		abort();
	check(msg, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size);
	dsn_mbox_each((const char *)data, size, each, NULL);
	return 0;
}
