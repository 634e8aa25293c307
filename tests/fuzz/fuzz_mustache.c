/* fuzz_mustache.c - libFuzzer target for the Mustache parser and renderer.
 *
 * The input is a template. When it parses, it is rendered in all three
 * escape modes against a fixed data object, with partials that include
 * themselves, fail to parse or are missing, and its names are listed.
 *
 *   make fuzz-build && build/fuzz/fuzz_mustache tests/fuzz/corpus/mustache/
 *   (make fuzz runs every target FUZZ_TIME seconds on a copy of its corpus)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "mustache.h"

static const char data_json[] =
    "{\"name\":\"Ada <&>\\\"'\",\"zh\":\"你好\",\"n\":42,\"r\":1.5,\"t\":true,\"f\":false,"
    "\"nil\":null,\"empty\":\"\",\"none\":[],"
    "\"list\":[1,\"two\",{\"name\":\"three\",\"list\":[]}],"
    "\"obj\":{\"a\":{\"b\":\"c\\n\\u0001\"},\"list\":[true]}}";

static const char *partial(void *ud, const char *name)
{
	(void)ud;
	static const char *const p[][2] = {
	    {"self", "{{name}}{{>self}}"},
	    {"bad", "{{#x}}"},
	    {"list", "{{#list}}\n  {{.}} {{>item}}\n{{/list}}\n"},
	    {"item", "[{{name}}]"},
	    {"d", "{{=<% %>=}}<%n%>"},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (strcmp(p[i][0], name) == 0)
			return p[i][1];
	return NULL;
}

static void var(void *ud, const char *name, int line, enum mustache_var_kind kind, int in_section)
{
	size_t *n = ud;
	*n += strlen(name) + (size_t)line + (size_t)kind + (size_t)in_section;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *root;
	if (!root)
		root = json_loads(data_json, 0, NULL);
	struct err e;
	struct mustache *t = mustache_parse((const char *)data, size, "fuzz", &e);
	if (!t)
		return 0;
	static const enum mustache_escape modes[] = {MUSTACHE_ESC_NONE, MUSTACHE_ESC_HTML,
						     MUSTACHE_ESC_JSON};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct mustache_opts o = {modes[i], partial, NULL};
		struct buf out = BUF_INIT;
		mustache_render(t, root, &o, &out, &e);
		buf_release(&out);
	}
	size_t n = 0;
	mustache_foreach_var(t, var, &n);
	mustache_free(t);
	return 0;
}
