/* fuzz_track.c - libFuzzer target for tracking tokens (track.h)
 *
 * The input's first 12 bytes make a valid token: its kind, send id and
 * link. That token must verify with its parts, and not with another
 * secret. The rest is an edit script, pairs (position, byte), applied to
 * a copy: an edited token that still verifies must give the same parts
 * (a token cannot be altered into another send, link or kind). The input
 * after the 12 bytes, as text, also goes through track_verify as a token
 * and, when it verifies, through track_token again; and it is the base of
 * a track_url, which must end in "/KIND/TOKEN".
 *
 *   make fuzz-build && build/fuzz/fuzz_track tests/fuzz/corpus/track/
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "xmalloc.h"

#define SECRET "fuzz-track"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 12)
		return 0;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | data[i];
	int64_t id = (int64_t)(v % INT64_MAX) + 1;
	if (data[11] & 1)
		id = (int64_t)(v % 1000000) + 1; /* the ids a store hands out */
	int link = (int)(((unsigned)data[8] << 16 | (unsigned)data[9] << 8 | data[10]) % 100001);
	char kind = "ocusb"[data[11] % 5];
	char k2;
	int64_t id2;
	int l2;

	char *tok = track_token(SECRET, kind, id, link);
	if (track_verify(SECRET, tok, &k2, &id2, &l2) < 0 || k2 != kind || id2 != id || l2 != link)
		abort();
	if (track_verify("other", tok, &k2, &id2, &l2) == 0)
		abort();

	/* the edit script */
	size_t tn = strlen(tok);
	char *ed = xstrdup(tok);
	for (size_t i = 12; i + 1 < size; i += 2) {
		size_t at = data[i] % (tn + 1);
		if (at == tn)
			ed[tn - 1] = '\0'; /* cut one */
		else
			ed[at] = data[i + 1] ? (char)data[i + 1] : 'x';
		tn = strlen(ed);
		if (!tn)
			break;
	}
	if (track_verify(SECRET, ed, &k2, &id2, &l2) == 0 &&
	    (k2 != kind || id2 != id || l2 != link))
		abort(); /* altered into another token */
	free(ed);
	free(tok);

	/* the rest as text: a token, and a base URL */
	char *text = xmalloc(size - 12 + 1);
	memcpy(text, data + 12, size - 12);
	text[size - 12] = '\0';
	if (track_verify(SECRET, text, &k2, &id2, &l2) == 0) {
		char *again = track_token(SECRET, k2, id2, l2);
		char k3;
		int64_t id3;
		int l3;
		if (track_verify(SECRET, again, &k3, &id3, &l3) < 0 || k3 != k2 || id3 != id2 ||
		    l3 != l2)
			abort();
		free(again);
	}
	char *u = track_url(text, SECRET, kind, id, link);
	tok = track_token(SECRET, kind, id, link);
	size_t un = strlen(u), n = strlen(tok);
	if (un < n + 3 || strcmp(u + un - n, tok) != 0 || u[un - n - 1] != '/' ||
	    u[un - n - 2] != kind || u[un - n - 3] != '/')
		abort();
	free(u);
	free(tok);
	free(text);
	return 0;
}
