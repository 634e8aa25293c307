/* test_mustache.c - the Mustache renderer: the official spec cases (read
 * from $MUSTACHE_SPEC_DIR, skipped when absent) and outreach's own table of
 * extras: {{json x}}, escape modes, UTF-8, errors with lines, foreach_var,
 * the depth limit and edge cases of the tag scanner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "mustache.h"

/* Spec cases this renderer deliberately does not support, with the reason.
 * None today; add {file, case, reason} rows above the sentinel. */
static const struct unsupported {
	const char *file, *name, *reason;
} unsupported[] = {
    {NULL, NULL, NULL},
};

static const char *partial_lookup(void *ud, const char *name)
{
	return json_string_value(json_object_get(ud, name));
}

static const char *unsupported_reason(const char *file, const char *name)
{
	for (const struct unsupported *u = unsupported; u->file; u++)
		if (strcmp(u->file, file) == 0 && strcmp(u->name, name) == 0)
			return u->reason;
	return NULL;
}

/* run_spec_file - run every case of FILE.json from $MUSTACHE_SPEC_DIR */
static void run_spec_file(const char *file)
{
	const char *dir = getenv("MUSTACHE_SPEC_DIR");
	struct stat st;
	if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		print_message("mustache spec dir %s absent: skipping %s\n", dir ? dir : "(unset)",
			      file);
		skip();
	}
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s.json", dir, file);
	json_error_t jerr;
	json_t *doc = json_load_file(path.data, JSON_DECODE_ANY, &jerr);
	if (!doc)
		fail_msg("%s: %s", path.data, jerr.text);

	json_t *tests = json_object_get(doc, "tests");
	size_t i, passed = 0, failed = 0, skipped = 0;
	json_t *tc;
	assert_true(json_array_size(tests) > 0);
	for (i = 0; i < json_array_size(tests); i++) {
		tc = json_array_get(tests, i);
		const char *name = json_string_value(json_object_get(tc, "name"));
		const char *tpl = json_string_value(json_object_get(tc, "template"));
		const char *want = json_string_value(json_object_get(tc, "expected"));
		const char *why = unsupported_reason(file, name);
		if (why) {
			print_message("%s.json: \"%s\" unsupported: %s\n", file, name, why);
			skipped++;
			continue;
		}
		struct err e = {{0}};
		struct buf out = BUF_INIT;
		struct mustache_opts o = {MUSTACHE_ESC_HTML, partial_lookup,
					  json_object_get(tc, "partials")};
		struct mustache *t = mustache_parse(tpl, strlen(tpl), name, &e);
		int rc = t ? mustache_render(t, json_object_get(tc, "data"), &o, &out, &e) : -1;
		if (rc == 0 && strcmp(buf_cstr(&out), want) == 0) {
			passed++;
		} else {
			failed++;
			print_error("%s.json: \"%s\" failed\n  template: %s\n  expected: [%s]\n"
				    "  got:      [%s]\n  error:    %s\n",
				    file, name, tpl, want, rc == 0 ? buf_cstr(&out) : "",
				    rc ? e.msg : "");
		}
		mustache_free(t);
		buf_release(&out);
	}
	print_message("%s.json: %zu passed, %zu failed, %zu unsupported of %zu\n", file, passed,
		      failed, skipped, json_array_size(tests));
	json_decref(doc);
	buf_release(&path);
	assert_int_equal(failed, 0);
}

/* Rendering beyond the spec */

static const char *test_partials(void *ud, const char *name)
{
	(void)ud;
	static const char *const p[][2] = {
	    {"self", "x{{>self}}"},
	    {"bad", "line one\n{{#open}}"},
	    {"zh", "你好，{{name}}！\n"},
	    {"list", "{{#items}}\n- {{.}}\n{{/items}}\n"},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (strcmp(p[i][0], name) == 0)
			return p[i][1];
	return NULL;
}

static const struct render_case {
	const char *what;
	enum mustache_escape esc;
	const char *tpl;
	const char *data;
	const char *want;
} render_cases[] = {
    /* escape modes */
    {"html", MUSTACHE_ESC_HTML, "{{s}}", "{\"s\":\"<a href='x'>&\\\"</a>\"}",
     "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"},
    {"html triple", MUSTACHE_ESC_HTML, "{{{s}}}|{{&s}}", "{\"s\":\"<'&\\\">\"}", "<'&\">|<'&\">"},
    {"none", MUSTACHE_ESC_NONE, "{{s}}", "{\"s\":\"<a href='x'>&\\\"</a>\"}",
     "<a href='x'>&\"</a>"},
    {"json", MUSTACHE_ESC_JSON, "{\"t\":\"{{s}}\"}", "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001<&>'\"}",
     "{\"t\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001<&>'\"}"},
    {"json triple is raw", MUSTACHE_ESC_JSON, "{{{s}}}", "{\"s\":\"a\\\"b\"}", "a\"b"},
    {"json numbers", MUSTACHE_ESC_JSON, "{{i}} {{r}} {{t}} {{f}} [{{n}}]",
     "{\"i\":-42,\"r\":0.1,\"t\":true,\"f\":false,\"n\":null}", "-42 0.1 true false []"},
    /* numbers */
    {"integer", MUSTACHE_ESC_HTML, "{{i}}", "{\"i\":9007199254740993}", "9007199254740993"},
    {"real", MUSTACHE_ESC_HTML, "{{a}} {{b}} {{c}} {{d}}",
     "{\"a\":1.5,\"b\":2.0,\"c\":0.30000000000000004,\"d\":1e300}",
     "1.5 2 0.30000000000000004 1e+300"},
    /* {{json name}} */
    {"json tag string", MUSTACHE_ESC_HTML, "{{json s}}", "{\"s\":\"a\\\"<b>\\n\"}",
     "\"a\\\"<b>\\n\""},
    {"json tag object", MUSTACHE_ESC_NONE, "{{json o}}", "{\"o\":{\"a\":[1,2.5,true,null]}}",
     "{\"a\":[1,2.5,true,null]}"},
    {"json tag scalars", MUSTACHE_ESC_JSON, "{{json i}},{{json r}},{{json t}},{{json n}}",
     "{\"i\":7,\"r\":1.21,\"t\":false,\"n\":null}", "7,1.21,false,null"},
    {"json tag missing", MUSTACHE_ESC_JSON, "[{{json nope}}]", "{}", "[]"},
    {"json tag dotted, padded", MUSTACHE_ESC_HTML, "{{ json   a.b }}", "{\"a\":{\"b\":\"x\"}}",
     "\"x\""},
    {"json tag in section", MUSTACHE_ESC_HTML, "{{#l}}{{json .}};{{/l}}", "{\"l\":[1,\"二\"]}",
     "1;\"二\";"},
    {"json as a plain name", MUSTACHE_ESC_HTML, "{{json}}", "{\"json\":\"j\"}", "j"},
    {"json tag under delimiters", MUSTACHE_ESC_HTML, "{{=<% %>=}}<%json s%>", "{\"s\":\"x\"}",
     "\"x\""},
    /* UTF-8 passes through byte-exact in every mode */
    {"chinese html", MUSTACHE_ESC_HTML, "尊敬的{{name}}：您好！{{note}}",
     "{\"name\":\"张三\",\"note\":\"<优惠>\"}", "尊敬的张三：您好！&lt;优惠&gt;"},
    {"chinese none", MUSTACHE_ESC_NONE, "尊敬的{{name}}：您好！{{note}}",
     "{\"name\":\"张三\",\"note\":\"<优惠>\"}", "尊敬的张三：您好！<优惠>"},
    {"chinese json", MUSTACHE_ESC_JSON, "{\"text\":\"{{name}}说：{{q}}\"}",
     "{\"name\":\"李四\",\"q\":\"\\\"你好\\\"\"}", "{\"text\":\"李四说：\\\"你好\\\"\"}"},
    {"chinese json tag", MUSTACHE_ESC_HTML, "{{json name}}", "{\"name\":\"王五 😀\"}", "\"王五 😀\""},
    {"chinese keys and sections", MUSTACHE_ESC_HTML, "{{#商品}}{{名称}}、{{/商品}}",
     "{\"商品\":[{\"名称\":\"茶\"},{\"名称\":\"书\"}]}", "茶、书、"},
    {"chinese partial", MUSTACHE_ESC_HTML, "  {{>zh}}", "{\"name\":\"赵六\"}", "  你好，赵六！\n"},
    {"chinese delimiters", MUSTACHE_ESC_HTML, "{{=【 】=}}【name】{{name}}", "{\"name\":\"钱七\"}",
     "钱七{{name}}"},
    /* truthiness and sections */
    {"zero is truthy", MUSTACHE_ESC_HTML, "{{#z}}yes{{/z}}{{^z}}no{{/z}}", "{\"z\":0}", "yes"},
    {"empty string is falsey", MUSTACHE_ESC_HTML, "{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":\"\"}",
     "no"},
    {"empty object is truthy", MUSTACHE_ESC_HTML, "{{#o}}yes{{/o}}", "{\"o\":{}}", "yes"},
    {"objects and lists write nothing", MUSTACHE_ESC_HTML, "[{{o}}{{l}}]",
     "{\"o\":{\"a\":1},\"l\":[1]}", "[]"},
    {"same name nested", MUSTACHE_ESC_HTML, "{{#a}}{{#a}}{{b}}{{/a}}{{/a}}",
     "{\"a\":{\"a\":{\"b\":\"in\"},\"b\":\"out\"}}", "in"},
    {"null data", MUSTACHE_ESC_HTML, "a{{x}}{{#x}}b{{/x}}{{^x}}c{{/x}}", NULL, "ac"},
    {"standalone partial list", MUSTACHE_ESC_HTML, "items:\n  {{>list}}\nend\n",
     "{\"items\":[\"a\",\"b\"]}", "items:\n  - a\n  - b\nend\n"},
    {"missing partial callback", MUSTACHE_ESC_HTML, "[{{>nothing}}]", "{}", "[]"},
};

static void test_render_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		json_error_t jerr;
		json_t *data = c->data ? json_loads(c->data, JSON_DECODE_ANY, &jerr) : NULL;
		if (c->data && !data)
			fail_msg("%s: bad data: %s", c->what, jerr.text);
		struct err e = {{0}};
		struct buf out = BUF_INIT;
		struct mustache_opts o = {c->esc, test_partials, NULL};
		struct mustache *t = mustache_parse(c->tpl, strlen(c->tpl), c->what, &e);
		if (!t)
			fail_msg("%s: parse: %s", c->what, e.msg);
		if (mustache_render(t, data, &o, &out, &e) != 0)
			fail_msg("%s: render: %s", c->what, e.msg);
		if (strcmp(buf_cstr(&out), c->want) != 0)
			fail_msg("%s:\n  expected: [%s]\n  got:      [%s]", c->what, c->want,
				 buf_cstr(&out));
		mustache_free(t);
		buf_release(&out);
		json_decref(data);
	}
}

/* render_str - parse and render, returning the output or "ERR: message" */
static char *render_str(const char *src, size_t len, json_t *data, enum mustache_escape esc)
{
	struct err e = {{0}};
	struct buf out = BUF_INIT;
	struct mustache_opts o = {esc, test_partials, NULL};
	struct mustache *t = mustache_parse(src, len, "t", &e);
	if (!t || mustache_render(t, data, &o, &out, &e) != 0) {
		buf_reset(&out);
		buf_printf(&out, "ERR: %s", e.msg);
	}
	mustache_free(t);
	return buf_detach(&out);
}

static void test_length_and_nul(void **state)
{
	(void)state;
	json_t *d = json_pack("{s:s}", "x", "X");
	/* only len bytes are read: the rest would be an unclosed tag */
	char *s = render_str("a{{x}}b{{", 7, d, MUSTACHE_ESC_HTML);
	assert_string_equal(s, "aXb");
	free(s);
	/* a NUL in the text is copied like any byte */
	s = render_str("a\0{{x}}", 7, d, MUSTACHE_ESC_HTML);
	assert_memory_equal(s, "a\0X", 4);
	free(s);
	/* an empty template renders an empty string, not NULL */
	s = render_str("", 0, d, MUSTACHE_ESC_HTML);
	assert_string_equal(s, "");
	free(s);
	json_decref(d);
}

static const struct error_case {
	const char *tpl;
	const char *msg;
} error_cases[] = {
    {"a\n{{#items}}\nb\n", "t:2: unclosed section \"items\""},
    {"{{#a}}\n{{#b}}\n{{/b}}\n", "t:1: unclosed section \"a\""},
    {"{{#a}}\n\n{{/b}}", "t:3: close tag \"b\" does not match section \"a\" opened on line 1"},
    {"x\n{{/a}}", "t:2: unexpected close tag \"a\""},
    {"ok\n\nhello {{name", "t:3: unclosed tag"},
    {"{{! comment\n\n", "t:1: unclosed tag"},
    {"{{{x}}", "t:1: unclosed tag"},
    {"line\n{{}}", "t:2: empty tag name \"\""},
    {"{{a b}}", "t:1: invalid tag name \"a b\""},
    {"{{json a b}}", "t:1: invalid tag name \"a b\""},
    {"{{=<%>=}}", "t:1: invalid set delimiters tag"},
    {"{{= a = b =}}", "t:1: invalid set delimiters tag"},
    {"{{=}}", "t:1: invalid set delimiters tag"},
    {"{{=<% %>=}}\n<%#a%>", "t:2: unclosed section \"a\""},
    {"中文\n{{#列表}}", "t:2: unclosed section \"列表\""},
    /* render-time errors */
    {"{{>self}}", "self:1: sections and partials nested deeper than 64"},
    {"{{#t}}\n  {{>bad}}\n{{/t}}", "bad:2: unclosed section \"open\""},
};

static void test_errors(void **state)
{
	(void)state;
	json_t *d = json_pack("{s:b}", "t", 1);
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		char *s = render_str(c->tpl, strlen(c->tpl), d, MUSTACHE_ESC_HTML);
		if (strncmp(s, "ERR: ", 5) != 0 || strcmp(s + 5, c->msg) != 0)
			fail_msg("template [%s]\n  expected error: %s\n  got: %s", c->tpl, c->msg,
				 s);
		free(s);
	}
	json_decref(d);
}

/* nested - n sections of "a" around "x", and the data they need */
static char *nested(int n)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < n; i++)
		buf_puts(&b, "{{#a}}");
	buf_puts(&b, "x");
	for (int i = 0; i < n; i++)
		buf_puts(&b, "{{/a}}");
	return buf_detach(&b);
}

static void test_depth_limit(void **state)
{
	(void)state;
	json_t *d = json_pack("{s:b}", "a", 1);
	char *src = nested(64), *s;
	s = render_str(src, strlen(src), d, MUSTACHE_ESC_HTML);
	assert_string_equal(s, "x");
	free(s);
	free(src);
	src = nested(65);
	s = render_str(src, strlen(src), d, MUSTACHE_ESC_HTML);
	assert_string_equal(s, "ERR: t:1: sections and partials nested deeper than 64");
	free(s);
	free(src);
	/* a deep template still parses (without recursion) and frees */
	src = nested(100000);
	struct err e;
	struct mustache *t = mustache_parse(src, strlen(src), "t", &e);
	assert_non_null(t);
	mustache_free(t);
	free(src);
	json_decref(d);
}

static void collect(void *ud, const char *name, int line, enum mustache_var_kind kind,
		    int in_section)
{
	static const char *const kinds[] = {"var", "section", "inverted", "partial"};
	struct buf *b = ud;
	buf_printf(b, "%s:%d:%s:%d;", name, line, kinds[kind], in_section);
}

static void test_foreach_var(void **state)
{
	(void)state;
	const char *src = "Hi {{ name }}{{! not me }}\n"
			  "{{#items}}\n"
			  "  {{{title}}} {{&raw}} {{json .}}\n"
			  "  {{^sold}}{{price.amount}}{{/sold}}\n"
			  "{{/items}}\n"
			  "{{=<% %>=}}<%>footer%> <%^vip%>x<%/vip%>\n"
			  "<%json 客户.姓名%>";
	struct err e;
	struct mustache *t = mustache_parse(src, strlen(src), "t", &e);
	assert_non_null(t);
	struct buf b = BUF_INIT;
	mustache_foreach_var(t, collect, &b);
	assert_string_equal(buf_cstr(&b), "name:1:var:0;"
					  "items:2:section:0;"
					  "title:3:var:1;raw:3:var:1;.:3:var:1;"
					  "sold:4:inverted:1;price.amount:4:var:1;"
					  "footer:6:partial:0;vip:6:inverted:0;"
					  "客户.姓名:7:var:0;");
	buf_release(&b);
	mustache_free(t);
}

/* Truncated and odd tags at the edges of the tag scanner; each must parse
 * or fail cleanly. Crashes tests/fuzz/fuzz_mustache.c finds belong here. */
static void test_scanner_edges(void **state)
{
	(void)state;
	static const struct {
		const char *src;
		size_t len;
		const char *want;
	} cases[] = {
	    {"{{=", 3, "ERR: t:1: unclosed tag"},
	    {"{{", 2, "ERR: t:1: unclosed tag"},
	    {"{{{", 3, "ERR: t:1: unclosed tag"},
	    {"{{{}}}", 6, "ERR: t:1: empty tag name \"\""},
	    {"{{=| |=}}|{|", 12, "ERR: t:1: unclosed tag"},
	    {"{{=| |=}}|{x}|", 14, "X"},
	    {"{{=a b=}}", 9, ""},
	    {"  {{>self}}\n", 12, "ERR: self:1: sections and partials nested deeper than 64"},
	};
	json_t *d = json_pack("{s:s}", "x", "X");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = render_str(cases[i].src, cases[i].len, d, MUSTACHE_ESC_HTML);
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("case %zu: expected [%s], got [%s]", i, cases[i].want, s);
		free(s);
	}
	json_decref(d);
}

#define SPEC_TEST(f)                                                                               \
	static void spec_##f(void **state)                                                         \
	{                                                                                          \
		(void)state;                                                                       \
		run_spec_file(#f);                                                                 \
	}
SPEC_TEST(comments)
SPEC_TEST(delimiters)
SPEC_TEST(interpolation)
SPEC_TEST(inverted)
SPEC_TEST(partials)
SPEC_TEST(sections)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(spec_comments),	  cmocka_unit_test(spec_delimiters),
	    cmocka_unit_test(spec_interpolation), cmocka_unit_test(spec_inverted),
	    cmocka_unit_test(spec_partials),	  cmocka_unit_test(spec_sections),
	    cmocka_unit_test(test_render_table),  cmocka_unit_test(test_length_and_nul),
	    cmocka_unit_test(test_errors),	  cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_foreach_var),	  cmocka_unit_test(test_scanner_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
