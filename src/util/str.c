/* str.c - small string helpers that do not follow the locale (imports of
 * contacts and of the suppression list share them) */
#include "str.h"

#include <string.h>

#include "utf8.h"
#include "xmalloc.h"

int str_ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
		if (!x)
			return 1;
	}
}

char *str_trimmed(const char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	return xstrndup(s, n);
}

/* show - str_show, with or without the quotes */
static const char *show(struct shown *sh, const char *s, int quote)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), cut = n, o = 0;

	if (cut > STR_SHOW_MAX) {
		cut = STR_SHOW_MAX;
		/* not inside a UTF-8 sequence: back to its lead byte, at most
		 * 3 back (a run of stray continuation bytes is cut as it is) */
		if (((unsigned char)s[cut] & 0xc0) == 0x80)
			for (size_t j = 1; j <= 3; j++) {
				unsigned char b = (unsigned char)s[cut - j];
				if ((b & 0xc0) != 0x80) {
					if (b >= 0xc0)
						cut -= j;
					break;
				}
			}
	}
	if (quote)
		sh->s[o++] = '"';
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : utf8_len((const unsigned char *)s + i, cut - i);
		if (quote && (c == '"' || c == '\\')) {
			sh->s[o++] = '\\';
			sh->s[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			sh->s[o++] = '\\';
			sh->s[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f || k == 0 ||
			   (c == 0xc2 && (unsigned char)s[i + 1] < 0xa0)) {
			/* controls, C1 controls (U+0080..U+009F) and bytes that
			 * are not UTF-8: a terminal could act on them */
			sh->s[o++] = '\\';
			sh->s[o++] = 'x';
			sh->s[o++] = hex[c >> 4];
			sh->s[o++] = hex[c & 15];
		} else {
			memcpy(sh->s + o, s + i, k);
			o += k;
			i += k - 1;
		}
	}
	if (quote)
		sh->s[o++] = '"';
	if (cut < n) {
		memcpy(sh->s + o, "...", 3);
		o += 3;
	}
	sh->s[o] = '\0';
	return sh->s;
}

const char *str_show(struct shown *sh, const char *s)
{
	return show(sh, s, 1);
}

const char *str_show_bare(struct shown *sh, const char *s)
{
	return show(sh, s, 0);
}

const char *str_html_entity(unsigned char c)
{
	static const char *const entity[256] = {
	    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
	};
	return entity[c];
}
