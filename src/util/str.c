/* str.c - small string helpers that do not follow the locale (imports of
 * contacts and of the suppression list share them) */
#include "str.h"

#include <string.h>

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

const char *str_show(struct shown *sh, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), cut = n, o = 0;

	if (cut > STR_SHOW_MAX) {
		cut = STR_SHOW_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
	}
	sh->s[o++] = '"';
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			sh->s[o++] = '\\';
			sh->s[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			sh->s[o++] = '\\';
			sh->s[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			sh->s[o++] = '\\';
			sh->s[o++] = 'x';
			sh->s[o++] = hex[c >> 4];
			sh->s[o++] = hex[c & 15];
		} else {
			sh->s[o++] = (char)c;
		}
	}
	sh->s[o++] = '"';
	if (cut < n) {
		memcpy(sh->s + o, "...", 3);
		o += 3;
	}
	sh->s[o] = '\0';
	return sh->s;
}

const char *str_html_entity(unsigned char c)
{
	static const char *const entity[256] = {
	    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
	};
	return entity[c];
}
