/* mustache.h - the Mustache renderer: parse once, render many times.
 *
 * Data is a jansson tree (borrowed, never modified). Supported: {{name}},
 * {{{name}}}, {{&name}}, dotted names, implicit iterator {{.}}, sections over
 * lists/objects/truthy values, inverted sections, comments, set delimiters,
 * standalone-line rules, partials (through a callback), and outreach's
 * {{json name}} which always writes the value as a JSON literal (a string
 * with quotes and escapes, a number, true/false/null; a missing name is "").
 */
#ifndef OUTREACH_MUSTACHE_H
#define OUTREACH_MUSTACHE_H
#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

enum mustache_escape {
	MUSTACHE_ESC_NONE, /* plain text and email.txt: {{x}} writes x as is */
	MUSTACHE_ESC_HTML, /* .html and the spec: & < > " ' escaped */
	MUSTACHE_ESC_JSON, /* a JSON document: {{x}} escapes for inside a JSON string */
};

/* A partial's source by name: return NULL when there is none (renders empty).
 * The returned text is borrowed and must live until render returns. */
typedef const char *(*mustache_partial_fn)(void *ud, const char *name);

struct mustache_opts {
	enum mustache_escape escape;
	mustache_partial_fn partial; /* MAY be NULL */
	void *partial_ud;
};

struct mustache;

/* mustache_parse - compile src (len bytes, need not be NUL-terminated).
 * name is used in errors only: "NAME:LINE: unclosed section \"items\"".
 * Returns NULL and fills e on a syntax error. Caller frees the result. */
struct mustache *mustache_parse(const char *src, size_t len, const char *name, struct err *e);
/* mustache_render - append the output to out. Returns 0, or -1 with e set
 * (only for a partial that fails to parse or nesting deeper than 64). */
int mustache_render(const struct mustache *t, json_t *data, const struct mustache_opts *o,
		    struct buf *out, struct err *e);
void mustache_free(struct mustache *t);

enum mustache_var_kind { MUSTACHE_VAR, MUSTACHE_SECTION, MUSTACHE_INVERTED, MUSTACHE_PARTIAL };
/* mustache_foreach_var - call fn for every name the template uses, with its
 * 1-based line, in source order; names inside a section are passed with
 * in_section = 1 (they may resolve against the section's value). */
void mustache_foreach_var(const struct mustache *t,
			  void (*fn)(void *ud, const char *name, int line, enum mustache_var_kind kind,
				     int in_section),
			  void *ud);

#endif
