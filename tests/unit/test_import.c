/* test_import.c - contacts and events files: good files, every kind of bad
 * row with its exact message, skip_bad, typed attributes, validators.
 * Runs from the project root (fixtures in tests/data/import/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "import.h"
#include "timeutil.h"

#define DIR "tests/data/import/"
#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static void assert_diag(const struct diag *d, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	int same = d->n == n && d->errors == (int)n;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(d->msgs[i], want[i]) == 0;
	if (same)
		return;
	for (size_t i = 0; i < d->n; i++)
		print_message("got:  %s\n", d->msgs[i]);
	for (size_t i = 0; i < n; i++)
		print_message("want: %s\n", want[i]);
	fail_msg("diagnostics differ");
}

static const struct contact *find(const struct contact *c, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].id, id) == 0)
			return &c[i];
	fail_msg("no contact %s", id);
	return NULL;
}

/* ---- validators ---- */

static void test_valid_email(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
	    {"bob@example.com", 1},
	    {"first.last+tag@sub.example.co.uk", 1},
	    {"o'brien@example.ie", 1},
	    {"zhang.wei@例子.公司", 1},
	    {"用户@example.com", 1},
	    {"a@b.c", 1},
	    {"x@xn--fsq.com", 1},
	    {"bob@", 0},
	    {"@example.com", 0},
	    {"bob", 0},
	    {"bob@localhost", 0},
	    {"bob@@example.com", 0},
	    {"bob@ex@ample.com", 0},
	    {"bob smith@example.com", 0},
	    {"bob@example.com\r\nBcc: x@y.z", 0},
	    {"bob@example..com", 0},
	    {"bob@.example.com", 0},
	    {"bob@example.com.", 0},
	    {"bob@-example.com", 0},
	    {"bob@example-.com", 0},
	    {"bob@exa_mple.com", 0},
	    {".bob@example.com", 0},
	    {"bob.@example.com", 0},
	    {"bo..b@example.com", 0},
	    {"a,b@example.com", 0},
	    {"<bob@example.com>", 0},
	    {"bob@[127.0.0.1]", 0},
	    {"bob@ex\xff.com", 0},
	    {"a\xe0\x80\xaf@example.com", 0},	  /* overlong "/" */
	    {"a\xed\xa0\x80@example.com", 0},	  /* a UTF-16 surrogate */
	    {"a\xf0\x8f\xbf\xbf@example.com", 0}, /* overlong */
	    {"a\xf4\x90\x80\x80@example.com", 0}, /* over U+10FFFF */
	    {"a\xe4\xbc@example.com", 0},	  /* cut short */
	    {"a\xf0\x9f\x98\x80@example.com", 1}, /* U+1F600 */
	    {"", 0},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 1},
	    {"x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (valid_email(cases[i].s) != cases[i].ok)
			fail_msg("valid_email(\"%s\") != %d", cases[i].s, cases[i].ok);
	assert_int_equal(valid_email(NULL), 0);

	/* 254 bytes in all is the limit */
	char long_addr[300];
	memset(long_addr, 'a', sizeof(long_addr));
	memcpy(long_addr, "x@", 2);
	for (size_t i = 2 + 60; i < 250; i += 61)
		long_addr[i] = '.';
	memcpy(long_addr + 250, ".com", 5); /* 254 bytes */
	assert_int_equal(valid_email(long_addr), 1);
	memcpy(long_addr + 250, ".coms", 6); /* 255 */
	assert_int_equal(valid_email(long_addr), 0);
}

struct valid_case {
	const char *s;
	int ok;
};

static void test_valid_phone_locale(void **state)
{
	static const struct valid_case phones[] = {
	    {"+8613800138000", 1},
	    {"+12", 1},
	    {"+123456789012345", 1},
	    {"+1234567890123456", 0},
	    {"+1", 0},
	    {"+0123", 0},
	    {"8613800138000", 0},
	    {"+86 138", 0},
	    {"+86-138", 0},
	    {"", 0},
	    {"+", 0},
	    {"12345", 0},
	};
	static const struct valid_case locales[] = {
	    {"zh", 1},	    {"en", 1},		 {"zh-CN", 1},
	    {"en_US", 1},   {"zh-Hans-CN", 1},	 {"es-419", 1},
	    {"yue", 1},	    {"sr-Latn-RS", 1},	 {"e", 0},
	    {"english", 0}, {"en-", 0},		 {"en--US", 0},
	    {"zh CN", 0},   {"12", 0},		 {"", 0},
	    {"en-U", 0},    {"en-abcdefghi", 0}, {"x-private", 0},
	    {"en-US\n", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++)
		if (valid_phone(phones[i].s) != phones[i].ok)
			fail_msg("valid_phone(\"%s\") != %d", phones[i].s, phones[i].ok);
	for (size_t i = 0; i < sizeof(locales) / sizeof(locales[0]); i++)
		if (valid_locale(locales[i].s) != locales[i].ok)
			fail_msg("valid_locale(\"%s\") != %d", locales[i].s, locales[i].ok);
	assert_int_equal(valid_phone(NULL), 0);
	assert_int_equal(valid_locale(NULL), 0);
}

/* ---- good files ---- */

static void assert_attr_string(const struct contact *c, const char *key, const char *want)
{
	json_t *v = json_object_get(c->attrs, key);
	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
		fail_msg("%s.%s: want string \"%s\"", c->id, key, want);
}

static void assert_attr_int(const struct contact *c, const char *key, json_int_t want)
{
	json_t *v = json_object_get(c->attrs, key);
	if (!json_is_integer(v) || json_integer_value(v) != want)
		fail_msg("%s.%s: want integer %lld", c->id, key, (long long)want);
}

static void assert_attr_real(const struct contact *c, const char *key, double want)
{
	json_t *v = json_object_get(c->attrs, key);
	if (!json_is_real(v) || json_real_value(v) != want)
		fail_msg("%s.%s: want real %g", c->id, key, want);
}

static void test_csv_good(void **state)
{
	struct contact *c = (void *)1;
	size_t n = 99;
	struct diag d;
	(void)state;
	diag_init(&d);
	assert_int_equal(import_contacts(DIR "good.csv", NULL, 0, &c, &n, &d), 0);
	assert_diag(&d, (const char *const[]){NULL});
	assert_int_equal(n, 4);
	/* in file order; the BOM is not part of the first column's name */
	assert_string_equal(c[0].id, "c1");
	assert_string_equal(c[3].id, "42");
	/* the line each record starts on: c1's note spans lines 2-3, c2's 4-5,
	 * then a blank line */
	assert_int_equal(c[0].line, 2);
	assert_int_equal(c[1].line, 4);
	assert_int_equal(c[2].line, 7);
	assert_int_equal(c[3].line, 8);

	const struct contact *c1 = find(c, n, "c1");
	assert_string_equal(c1->name, "张伟");
	assert_string_equal(c1->email, "zhang.wei@example.com");
	assert_string_equal(c1->phone, "+8613800138000");
	assert_string_equal(c1->timezone, "Asia/Shanghai");
	assert_string_equal(c1->locale, "zh-CN");
	assert_int_equal(c1->do_not_contact, 0);
	assert_int_equal(c1->unsub[CHANNEL_EMAIL], -1);
	assert_int_equal(c1->unsub[CHANNEL_SMS], -1);
	assert_int_equal(c1->unsub[CHANNEL_CHAT], -1);
	assert_attr_int(c1, "spend_12m", 125000);
	assert_attr_real(c1, "score", 4.5);
	assert_true(json_is_true(json_object_get(c1->attrs, "vip")));
	assert_attr_string(c1, "zip", "007");			  /* leading zero: text */
	assert_attr_string(c1, "note", "第一行\n第二行");	  /* CRLF inside quotes -> LF */
	assert_attr_string(c1, "big", "12345678901234567890123"); /* too big: text */
	assert_attr_string(c1, "mobile", "+8613900000000");
	assert_null(json_object_get(c1->attrs, "company")); /* empty: absent */
	assert_null(json_object_get(c1->attrs, "email"));
	assert_null(json_object_get(c1->attrs, "id"));
	assert_int_equal(json_object_size(c1->attrs), 7);

	const struct contact *c2 = find(c, n, "c2");
	assert_string_equal(c2->name, "John \"Johnny\" Smith");
	assert_string_equal(c2->email, "john@example.com"); /* trimmed */
	assert_null(c2->phone);
	assert_string_equal(c2->timezone, "America/New_York");
	assert_string_equal(c2->locale, "en_US");
	assert_int_equal(c2->do_not_contact, -1);
	assert_int_equal(c2->unsub[CHANNEL_SMS], 1);
	assert_attr_int(c2, "spend_12m", 0);
	assert_attr_real(c2, "score", -1500.0);
	assert_true(json_is_false(json_object_get(c2->attrs, "vip")));
	assert_attr_string(c2, "zip", "02134");
	assert_attr_string(c2, "note", "Line one, still one\nline two");
	assert_attr_string(c2, "company", "Acme, Inc.");
	assert_attr_int(c2, "big", -42);

	const struct contact *c3 = find(c, n, "c3");
	assert_null(c3->name);
	assert_null(c3->email);
	assert_null(c3->timezone);
	assert_int_equal(c3->do_not_contact, -1);
	assert_non_null(c3->attrs);
	assert_int_equal(json_object_size(c3->attrs), 0);

	const struct contact *c4 = find(c, n, "42");
	assert_string_equal(c4->name, "王芳");
	assert_string_equal(c4->email, "wang.fang@例子.公司");
	assert_int_equal(c4->do_not_contact, 1);
	assert_int_equal(c4->unsub[CHANNEL_SMS], 0);
	assert_attr_string(c4, "spend_12m", " 12 "); /* attributes are not trimmed */
	assert_attr_real(c4, "score", -0.25);
	assert_attr_string(c4, "vip", "maybe");
	assert_attr_int(c4, "zip", 0);
	assert_attr_string(c4, "note", "\"quoted\"");
	assert_attr_real(c4, "big", 1000.0);

	contacts_free(c, n);
	diag_release(&d);
}

static void test_jsonl_good(void **state)
{
	struct contact *c = NULL;
	size_t n = 0;
	struct diag d;
	(void)state;
	diag_init(&d);
	assert_int_equal(import_contacts(DIR "good.jsonl", NULL, 0, &c, &n, &d), 0);
	assert_diag(&d, (const char *const[]){NULL});
	assert_int_equal(n, 2);

	const struct contact *c1 = find(c, n, "c1");
	assert_string_equal(c1->name, "张伟");
	assert_string_equal(c1->locale, "zh");
	assert_int_equal(c1->do_not_contact, 0);
	assert_attr_int(c1, "spend_12m", 125000);
	assert_attr_real(c1, "score", 4.5);
	assert_true(json_is_true(json_object_get(c1->attrs, "vip")));
	assert_attr_string(c1, "zip", "007");
	assert_true(json_is_array(json_object_get(c1->attrs, "tags")));
	assert_int_equal(json_object_size(c1->attrs), 5);

	const struct contact *c7 = find(c, n, "7"); /* an integer id as text */
	assert_int_equal(c7->line, 4);
	assert_string_equal(c7->name, "Bob");
	assert_null(c7->email);
	assert_int_equal(c7->unsub[CHANNEL_EMAIL], 1);
	assert_int_equal(c7->unsub[CHANNEL_CHAT], 1);
	assert_int_equal(c7->unsub[CHANNEL_SMS], -1);
	assert_null(json_object_get(c7->attrs, "nickname")); /* "" and null: absent */
	assert_null(json_object_get(c7->attrs, "middle"));
	json_t *addr = json_object_get(c7->attrs, "address");
	assert_true(json_is_object(addr));
	assert_string_equal(json_string_value(json_object_get(addr, "city")), "上海");
	assert_int_equal(json_object_size(c7->attrs), 1);

	contacts_free(c, n);
	diag_release(&d);
}

/* ---- bad files: exact messages, then what skip_bad keeps ---- */

struct bad_case {
	const char *file;
	const char *format;
	const char *const *want;
	int skip_rc;		 /* import_contacts with skip_bad */
	const char *const *kept; /* ids kept with skip_bad, NULL-terminated */
};

#define LINES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static const struct bad_case bad_contacts[] = {
    {"bad_rows.csv", NULL,
     LINES(DIR "bad_rows.csv:3: invalid email \"bob@\"",
	   DIR "bad_rows.csv:4: invalid phone \"12345\" (E.164 like +8613800138000)",
	   DIR "bad_rows.csv:5: unknown time zone \"Mars/Base\"", DIR "bad_rows.csv:6: missing id",
	   DIR "bad_rows.csv:7: duplicate id \"c1\" (first on line 2)",
	   DIR "bad_rows.csv:8: invalid value \"maybe\" for do_not_contact (true or false)",
	   DIR "bad_rows.csv:9: invalid locale \"english\"",
	   DIR "bad_rows.csv:10: invalid name \"Hal\\nJr\" (control characters)",
	   DIR "bad_rows.csv:12: 5 fields where the header has 7",
	   DIR "bad_rows.csv:13: invalid CSV: text after a closing quote",
	   DIR "bad_rows.csv:15: duplicate id \"c2\" (first on line 3)",
	   DIR "bad_rows.csv:16: invalid email \"max@@example.com\"",
	   DIR "bad_rows.csv:16: invalid phone \"+0123\" (E.164 like +8613800138000)",
	   DIR "bad_rows.csv:16: unknown time zone \"Mars/Base\"",
	   DIR "bad_rows.csv:16: invalid locale \"x\"",
	   DIR "bad_rows.csv:16: invalid value \"perhaps\" for do_not_contact (true or false)"),
     0, LINES("c1", "c10")},
    {"bad_header.csv", NULL,
     LINES(DIR "bad_header.csv:1: invalid column name \"first name\" (letters, digits and "
	       "_, not starting with a digit)",
	   DIR "bad_header.csv:1: duplicate column \"Name\"",
	   DIR "bad_header.csv:1: empty column name (column 5)"),
     -1, NONE},
    {"no_id.csv", NULL, LINES(DIR "no_id.csv:1: no id column"), -1, NONE},
    {"unterminated.csv", NULL,
     LINES(DIR "unterminated.csv:2: invalid CSV: unterminated quoted field"), -1, NONE},
    {"bad_utf8.csv", NULL,
     LINES(DIR "bad_utf8.csv:2: invalid UTF-8 in name",
	   DIR "bad_utf8.csv:3: invalid UTF-8 in city"),
     0, NONE},
    {"bad.jsonl", NULL,
     LINES(DIR "bad.jsonl:2: invalid JSON: '}' expected near end of file",
	   DIR "bad.jsonl:3: invalid JSON: an object expected",
	   DIR "bad.jsonl:4: invalid attribute name \"first name\" (letters, digits and _, "
	       "not starting with a digit)",
	   DIR "bad.jsonl:4: invalid value 42 for email (a string)",
	   DIR "bad.jsonl:6: invalid value 1.5 for id (a string or an integer)",
	   DIR "bad.jsonl:6: missing id",
	   DIR "bad.jsonl:7: invalid value \"maybe\" for do_not_contact (true or false)",
	   DIR "bad.jsonl:8: duplicate id \"c1\" (first on line 1)", DIR "bad.jsonl:9: missing id",
	   DIR "bad.jsonl:10: invalid JSON: duplicate object key near '\"id\"'",
	   DIR "bad.jsonl:11: invalid phone \"+86 138 0013 8000\" (E.164 like "
	       "+8613800138000)",
	   DIR "bad.jsonl:11: invalid locale \"zh-\""),
     0, LINES("c1")},
    /* the format named by the caller wins over the extension */
    {"no_id.csv", "jsonl",
     LINES(DIR "no_id.csv:1: invalid JSON: '[' or '{' expected near 'name'",
	   DIR "no_id.csv:2: invalid JSON: '[' or '{' expected near 'Ann'"),
     0, NONE},
    {"good.csv", "xml", LINES(DIR "good.csv: unknown format \"xml\" (csv or jsonl)"), -1, NONE},
    {"nothing.csv", NULL, LINES(DIR "nothing.csv: cannot open: No such file or directory"), -1,
     NONE},
};

static void test_bad_contacts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_contacts) / sizeof(bad_contacts[0]); i++) {
		const struct bad_case *bc = &bad_contacts[i];
		char path[256];
		struct contact *c = (void *)1;
		size_t n = 99;
		struct diag d;

		snprintf(path, sizeof(path), DIR "%s", bc->file);
		print_message("%s\n", bc->file);
		diag_init(&d);
		assert_int_equal(import_contacts(path, bc->format, 0, &c, &n, &d), -1);
		assert_null(c);
		assert_int_equal(n, 0);
		assert_diag(&d, bc->want);
		diag_release(&d);

		/* with skip_bad: the same report, and the good rows */
		diag_init(&d);
		assert_int_equal(import_contacts(path, bc->format, 1, &c, &n, &d), bc->skip_rc);
		assert_diag(&d, bc->want);
		size_t k = 0;
		while (bc->kept[k])
			k++;
		assert_int_equal(n, k);
		for (size_t j = 0; j < k; j++)
			assert_string_equal(c[j].id, bc->kept[j]);
		if (bc->skip_rc < 0)
			assert_null(c);
		contacts_free(c, n);
		diag_release(&d);
	}
}

static void test_unknown_extension(void **state)
{
	struct contact *c = NULL;
	size_t n = 0;
	struct diag d;
	(void)state;
	diag_init(&d);
	assert_int_equal(import_contacts("contacts.txt", NULL, 0, &c, &n, &d), -1);
	assert_diag(&d, LINES("contacts.txt: unknown format: name it .csv or .jsonl, or give "
			      "--format"));
	diag_release(&d);
}

/* write a temporary file; returns its path (static) */
static const char *tmpfile_with(const char *suffix, const char *data, size_t len)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/test_import_XXXXXX%s", suffix);
	int fd = mkstemps(path, (int)strlen(suffix));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_csv_edges(void **state)
{
	static const struct {
		const char *data;
		int rc;
		size_t n;
		const char *diag;
	} cases[] = {
	    {"", 0, 0, NULL},			     /* empty file: nothing to import */
	    {"\xef\xbb\xbfid,name\r\n", 0, 0, NULL}, /* header only */
	    {"id\n\n\nc1\n\n", 0, 1, NULL},	     /* blank lines skipped */
	    {"id,name\nc1,\"no newline at the end\"", 0, 1, NULL},
	    {"id,note\nc1,\"A\nB\nC\"\nc1,x\n", -1, 0, ":5: duplicate id \"c1\" (first on line 2)"},
	    {"ID,Name\nc1,Ann\n", 0, 1, NULL}, /* standard names without case */
	    {"id,name\nc1,\"A\"\"\"\n", 0, 1, NULL},
	    {"id,x\nc1,a\0b\n", -1, 0, ":2: invalid CSV: NUL byte"},
	    {"id,first-name\n", -1, 0,
	     ":1: invalid column name \"first-name\" (letters, digits "
	     "and _, not starting with a digit)"},
	    {"id,9lives\n", -1, 0,
	     ":1: invalid column name \"9lives\" (letters, digits "
	     "and _, not starting with a digit)"},
	    {"id,id\n", -1, 0, ":1: duplicate column \"id\""},
	    {"id,\"bad\"x\n", -1, 0, ":1: invalid CSV: text after a closing quote"},
	    {"id\n\"c1\nc2\n", -1, 0, ":2: invalid CSV: unterminated quoted field"},
	};
	static const size_t lens[] = {0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = lens[i] ? lens[i] : strlen(cases[i].data);
		const char *path = tmpfile_with(".csv", cases[i].data, len);
		struct contact *c = NULL;
		size_t n = 0;
		struct diag d;
		diag_init(&d);
		int rc = import_contacts(path, NULL, 0, &c, &n, &d);
		if (rc != cases[i].rc || n != cases[i].n)
			fail_msg("case %zu: rc %d n %zu", i, rc, n);
		if (cases[i].diag) {
			char want[512];
			snprintf(want, sizeof(want), "%s%s", path, cases[i].diag);
			assert_diag(&d, LINES(want));
		} else {
			assert_diag(&d, NONE);
		}
		if (i == 6)
			assert_string_equal(c[0].name, "A\"");
		contacts_free(c, n);
		diag_release(&d);
		unlink(path);
	}
}

/* "stats" is the computed attributes' namespace: refused as a column or key,
 * "Stats" and "stats_note" are ordinary attributes */
static void test_reserved_stats(void **state)
{
	static const struct {
		const char *ext, *data, *diag;
	} cases[] = {
	    {".csv", "id,stats\nc1,5\n",
	     ":1: column \"stats\" is reserved for the computed attributes (stats.NAME)"},
	    {".jsonl", "{\"id\": \"c1\", \"stats\": {\"spend_12m\": 1}}\n",
	     ":1: attribute \"stats\" is reserved for the computed attributes (stats.NAME)"},
	    {".csv", "id,Stats,stats_note\nc1,5,x\n", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = tmpfile_with(cases[i].ext, cases[i].data, strlen(cases[i].data));
		struct contact *c = NULL;
		size_t n = 0;
		struct diag d;
		char want[512];
		diag_init(&d);
		int rc = import_contacts(path, NULL, 0, &c, &n, &d);
		if (cases[i].diag) {
			assert_int_equal(rc, -1);
			assert_int_equal(n, 0);
			snprintf(want, sizeof(want), "%s%s", path, cases[i].diag);
			assert_diag(&d, LINES(want));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(n, 1);
			assert_non_null(json_object_get(c[0].attrs, "Stats"));
			assert_null(json_object_get(c[0].attrs, "stats"));
		}
		contacts_free(c, n);
		diag_release(&d);
		unlink(path);
	}
}

/* one record may not grow without bound (an unterminated quote, say) */
static void test_csv_record_too_long(void **state)
{
	size_t len = 2 * 1024 * 1024;
	char *data = malloc(len);
	struct contact *c = NULL;
	size_t n = 0;
	struct diag d;
	char want[256];
	(void)state;
	assert_non_null(data);
	memset(data, 'x', len);
	memcpy(data, "id\nc1\n\"", 7);
	for (size_t i = 100; i < len; i += 100)
		data[i] = '\n';
	const char *path = tmpfile_with(".csv", data, len);
	free(data);
	diag_init(&d);
	assert_int_equal(import_contacts(path, NULL, 1, &c, &n, &d), -1);
	snprintf(want, sizeof(want), "%s:3: invalid CSV: record longer than 1048576 bytes", path);
	assert_diag(&d, LINES(want));
	assert_null(c);
	diag_release(&d);
	unlink(path);
}

/* a value in a message is escaped and cut: no line breaks, no controls */
static void test_message_escaping(void **state)
{
	static const char data[] =
	    "id,email\n"
	    "c1,\"a\x1b[31m\tb\"\n"
	    "c2,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx张伟伟伟\n";
	const char *path = tmpfile_with(".csv", data, sizeof(data) - 1);
	struct contact *c = NULL;
	size_t n = 0;
	struct diag d;
	char w1[256], w2[256];
	(void)state;
	diag_init(&d);
	assert_int_equal(import_contacts(path, NULL, 0, &c, &n, &d), -1);
	snprintf(w1, sizeof(w1), "%s:2: invalid email \"a\\x1b[31m\\tb\"", path);
	/* cut at 64 bytes, not inside the UTF-8 sequence for 伟 */
	snprintf(w2, sizeof(w2),
		 "%s:3: invalid email "
		 "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx张\"...",
		 path);
	assert_diag(&d, LINES(w1, w2));
	diag_release(&d);
	unlink(path);
}

/* ---- events ---- */

static void test_events_good(void **state)
{
	struct event *ev = NULL;
	size_t n = 0;
	struct diag d;
	int64_t t;
	(void)state;
	diag_init(&d);
	assert_int_equal(import_events(DIR "events_good.jsonl", 0, NOW, &ev, &n, &d), 0);
	assert_diag(&d, NONE);
	assert_int_equal(n, 3);

	assert_string_equal(ev[0].contact_id, "c1");
	assert_string_equal(ev[0].type, "purchase");
	assert_int_equal(time_parse("2026-03-01T01:30:00Z", &t), 0);
	assert_true(ev[0].at == t);
	assert_true(json_real_value(json_object_get(ev[0].data, "amount")) == 199.5);
	assert_string_equal(ev[0].ext_id, "evt-1");
	assert_int_equal(ev[0].line, 1);
	assert_int_equal(ev[1].line, 3); /* after a blank line */
	assert_int_equal(ev[2].line, 4);

	assert_string_equal(ev[1].contact_id, "42"); /* an integer contact id */
	assert_string_equal(ev[1].type, "survey_response");
	assert_true(ev[1].at == NOW); /* no "at": now */
	assert_int_equal(json_integer_value(json_object_get(ev[1].data, "score")), 9);
	assert_null(ev[1].ext_id);

	assert_string_equal(ev[2].contact_id, "c2");
	assert_string_equal(ev[2].type, "web.page-view_2");
	assert_int_equal(time_parse("2026-03-02T00:00:00Z", &t), 0);
	assert_true(ev[2].at == t);
	assert_true(json_is_object(ev[2].data)); /* null data: an empty object */
	assert_int_equal(json_object_size(ev[2].data), 0);
	assert_string_equal(ev[2].ext_id, "7");

	events_free(ev, n);
	diag_release(&d);
}

static void test_events_bad(void **state)
{
	const char *const *want = LINES(
	    DIR "events_bad.jsonl:2: missing contact", DIR "events_bad.jsonl:3: missing type",
	    DIR "events_bad.jsonl:4: invalid type \"Purchase\" (a-z first, then a-z 0-9 _ . -)",
	    DIR "events_bad.jsonl:5: invalid time \"2026-13-01\" for at",
	    DIR "events_bad.jsonl:6: invalid data [1] (an object)",
	    DIR "events_bad.jsonl:7: invalid contact true (a string or an integer)",
	    DIR "events_bad.jsonl:7: invalid time 1767225600 for at",
	    DIR "events_bad.jsonl:8: unknown key \"extra\"",
	    DIR "events_bad.jsonl:9: invalid JSON: '[' or '{' expected near 'not'",
	    DIR "events_bad.jsonl:10: missing contact", DIR "events_bad.jsonl:10: missing type",
	    DIR "events_bad.jsonl:11: invalid contact \"c\\nx\" (at most 255 bytes, no "
		"control characters)",
	    DIR "events_bad.jsonl:11: invalid id {} (a string or an integer)");
	struct event *ev = (void *)1;
	size_t n = 99;
	struct diag d;
	(void)state;

	diag_init(&d);
	assert_int_equal(import_events(DIR "events_bad.jsonl", 0, NOW, &ev, &n, &d), -1);
	assert_null(ev);
	assert_int_equal(n, 0);
	assert_diag(&d, want);
	diag_release(&d);

	diag_init(&d);
	assert_int_equal(import_events(DIR "events_bad.jsonl", 1, NOW, &ev, &n, &d), 0);
	assert_diag(&d, want);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].contact_id, "c1");
	assert_string_equal(ev[0].type, "purchase");
	assert_non_null(ev[0].data);
	events_free(ev, n);
	diag_release(&d);

	diag_init(&d);
	assert_int_equal(import_events(DIR "nothing.jsonl", 0, NOW, &ev, &n, &d), -1);
	assert_diag(&d, LINES(DIR "nothing.jsonl: cannot open: No such file or directory"));
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_email),	     cmocka_unit_test(test_valid_phone_locale),
	    cmocka_unit_test(test_csv_good),	     cmocka_unit_test(test_jsonl_good),
	    cmocka_unit_test(test_bad_contacts),     cmocka_unit_test(test_unknown_extension),
	    cmocka_unit_test(test_csv_edges),	     cmocka_unit_test(test_csv_record_too_long),
	    cmocka_unit_test(test_message_escaping), cmocka_unit_test(test_events_good),
	    cmocka_unit_test(test_events_bad),	     cmocka_unit_test(test_reserved_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
