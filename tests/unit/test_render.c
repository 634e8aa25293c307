/* test_render.c - render_uses: which templates read a root name, so the
 * worker computes stats (and signs survey URLs) only for them; and
 * render_find's memory of which files exist, until render_refresh */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "render.h"
#include "xmalloc.h"

static char dir[] = "/tmp/outreach-test-render.XXXXXX";

static void put(const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	mkdir(p, 0700);
	*slash = '/';
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void test_uses(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	put("plain/email.txt", "Subject: hi {{name}}\n\nhello {{name}}\n");
	put("body/email.txt", "Subject: hi\n\nyou spent {{stats.spend_12m}}\n");
	put("subject/email.txt", "Subject: {{#stats}}RFM {{stats.rfm}}{{/stats}}\n\nx\n");
	put("html/email.txt", "Subject: hi\n\nx\n");
	put("html/email.zh.html", "<p>{{stats.rfm}}</p>\n");
	put("variant/sms.vip.zh.txt", "{{{stats.rfm}}}\n");
	put("variant/sms.txt", "plain\n");
	put("lookalike/email.txt", "Subject: hi\n\n{{statsx}} {{event.stats}}\n");
	put("dump/email.txt", "Subject: hi\n\n{{json .}}\n");
	struct renderer *r = renderer_create(dir);
	static const struct {
		const char *name;
		enum channel_kind kind;
		int want;
	} cases[] = {
	    {"plain", CHANNEL_EMAIL, 0},   {"body", CHANNEL_EMAIL, 1},
	    {"subject", CHANNEL_EMAIL, 1}, {"html", CHANNEL_EMAIL, 1},
	    {"variant", CHANNEL_SMS, 1},   {"variant", CHANNEL_EMAIL, 0},
	    {"lookalike", CHANNEL_EMAIL, 0}, {"missing", CHANNEL_EMAIL, 0},
	};
	for (int pass = 0; pass < 2; pass++) /* the second answers from memory */
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (render_uses(r, cases[i].name, cases[i].kind, "stats") != cases[i].want)
				fail_msg("%s/%s (pass %d): want %d", cases[i].name,
					 channel_name(cases[i].kind), pass, cases[i].want);
	assert_int_equal(render_uses(r, "plain", CHANNEL_EMAIL, "name"), 1);
	/* {{json .}} may print the whole context: it reads every name */
	assert_int_equal(render_uses(r, "dump", CHANNEL_EMAIL, "stats"), 1);
	assert_int_equal(render_uses(r, "dump", CHANNEL_EMAIL, "survey_url"), 1);
	assert_int_equal(render_uses(r, "plain", CHANNEL_EMAIL, "survey_url"), 0);
	renderer_free(r);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* a file added after a lookup is found after render_refresh, not before */
static void test_refresh(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/outreach-test-render.XXXXXX");
	assert_non_null(mkdtemp(dir));
	put("care/sms.txt", "hello\n");
	struct renderer *r = renderer_create(dir);
	char *segs[] = {"vip"};
	const char *used = NULL;
	char *f = render_find(r, "care", CHANNEL_SMS, segs, 1, NULL, "txt", &used);
	assert_non_null(f);
	assert_null(used);
	assert_non_null(strstr(f, "care/sms.txt"));
	free(f);
	put("care/sms.vip.txt", "hello vip\n");
	f = render_find(r, "care", CHANNEL_SMS, segs, 1, NULL, "txt", &used);
	assert_non_null(strstr(f, "care/sms.txt")); /* remembered until the refresh */
	free(f);
	render_refresh(r);
	f = render_find(r, "care", CHANNEL_SMS, segs, 1, NULL, "txt", &used);
	assert_non_null(strstr(f, "care/sms.vip.txt"));
	assert_non_null(used);
	assert_string_equal(used, "vip");
	free(f);
	renderer_free(r);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_uses), cmocka_unit_test(test_refresh)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
