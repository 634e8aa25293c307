/* fuzz_links.c - libFuzzer target for link tracking (links.h)
 *
 * The input's first byte picks the channel (email, sms, chat); the rest,
 * cut at its first NUL, is the text, and what follows that NUL (to the
 * next NUL) the HTML. Every recorded URL must be an http(s) URL that is
 * not ours, without controls, recorded once; every tracked link's token must verify; and a
 * second pass over the output must change nothing and find no new link.
 *
 *   make fuzz-build && build/fuzz/fuzz_links tests/fuzz/corpus/links/
 *   (make fuzz runs every target FUZZ_TIME seconds on a copy of its corpus)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"
#include "track.h"
#include "xmalloc.h"

#define BASE "https://t.example.com/"
#define SECRET "fuzz"
#define SEND 7

static int is_http(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

/* is_ours - u is BASE without its slash, or continues it with / ? or # */
static int is_ours(const char *u)
{
	size_t n = strlen(BASE) - 1;
	return strncasecmp(u, BASE, n) == 0 && (!u[n] || strchr("/?#", u[n]));
}

/* check_tokens - every BASE c/ or o/ token in s verifies */
static void check_tokens(const char *s, size_t nurls)
{
	const char *p = s;
	while (s && (p = strstr(p, BASE)) != NULL) {
		p += strlen(BASE);
		if ((p[0] != 'c' && p[0] != 'o') || p[1] != '/')
			continue;
		char want = p[0];
		p += 2;
		/* only tokens we wrote: "c7." or "o7." */
		if (p[0] != want || p[1] != '7' || p[2] != '.')
			continue;
		char *tok = xstrndup(p, strspn(p, "co0123456789.abcdef"));
		char kind;
		int64_t id;
		int link;
		if (strlen(tok) >= 25 && track_verify(SECRET, tok, &kind, &id, &link) == 0 &&
		    (kind != want || id != SEND || (kind == 'c' && (link < 1 || (size_t)link > nurls))))
			abort();
		free(tok);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum channel_kind ch = (enum channel_kind)(data[0] % 3);
	char *buf = xmalloc(size + 1);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	struct rendered m = {0};
	m.text = buf;
	size_t tl = strlen(buf);
	if (tl + 1 < size - 1 + 1 && tl < size - 1)
		m.html = buf + tl + 1;
	struct links l, l2;
	links_rewrite(&m, ch, BASE, SECRET, SEND, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (!is_http(l.urls[i]) || is_ours(l.urls[i]))
			abort();
		for (const char *p = l.urls[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort(); /* it would become a Location header */
		for (size_t k = 0; k < i; k++)
			if (strcmp(l.urls[i], l.urls[k]) == 0)
				abort();
	}
	if (l.n > LINKS_MAX || !l.text || (m.html && !l.html) || (!m.html && l.html))
		abort();
	check_tokens(l.text, l.n);
	check_tokens(l.html, l.n);
	if (l.n < LINKS_MAX) {
		struct rendered m2 = {0};
		m2.text = l.text;
		m2.html = l.html;
		links_rewrite(&m2, ch, BASE, SECRET, SEND, &l2);
		if (l2.n || strcmp(l2.text, l.text) != 0 ||
		    (l.html && strcmp(l2.html, l.html) != 0))
			abort();
		links_release(&l2);
	}
	links_release(&l);
	free(buf);
	return 0;
}
