/* test_outbox.c - the outbox transport and the transport registry
 *
 * Each test gets a fresh directory under /tmp; messages are delivered
 * through transport_deliver and the files read back.
 */
#include <dirent.h>
#include <errno.h>
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
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "mime.h"
#include "transport.h"
#include "xmalloc.h"

#define NOW 1772328600 /* 2026-03-01T01:30:00Z */

struct fixture {
	char root[64]; /* mkdtemp */
	char *dir;     /* root/a/b/outbox: created by the transport */
	struct config cfg;
	struct transport_conf conf;
	struct transport *t;
};

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char *sub = xasprintf("%s/%s", path, de->d_name);
			rm_rf(sub);
			free(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void conf_init(struct fixture *f, json_t *opts, enum channel_kind ch)
{
	f->conf.name = "outbox";
	f->conf.kind = "outbox";
	f->conf.channel = ch;
	f->conf.opts = opts;
	f->conf.pointer = "/transports/outbox";
	f->conf.line = 12;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/outreach-outbox-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->dir = xasprintf("%s/a/b/outbox", f->root);
	f->cfg.path = "config/outreach.yaml";
	f->cfg.lines =
	    json_pack("{s:i, s:i}", "/transports/outbox", 12, "/transports/outbox/dir", 14);
	conf_init(f,
		  json_pack("{s:s, s:s, s:s}", "kind", "outbox", "channel", "email", "dir", f->dir),
		  CHANNEL_EMAIL);
	struct err e;
	err_clear(&e);
	f->t = transport_create(&f->cfg, &f->conf, 0, &e);
	if (!f->t)
		fail_msg("transport_create: %s", e.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	transport_free(f->t);
	rm_rf(f->root);
	json_decref(f->conf.opts);
	json_decref(f->cfg.lines);
	free(f->dir);
	free(f);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_append(&b, tmp, n);
	fclose(fp);
	if (len)
		*len = b.len;
	return buf_detach(&b);
}

/* dir_list - the names in dir, sorted, joined by spaces */
static char *dir_list(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	assert_true(n >= 0);
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' ||
		    (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)) {
			if (b.len)
				buf_putc(&b, ' ');
			buf_puts(&b, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return buf_detach(&b);
}

static struct message email_message(int64_t id)
{
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = id;
	m.channel = CHANNEL_EMAIL;
	m.to = "zhangsan@example.cn";
	m.to_name = "张三";
	m.from = "Acme Care <care@example.com>";
	m.subject = "感谢您的购买";
	m.text = "您好，订单已发货。\n";
	m.message_id = "<101@example.com>";
	m.campaign = "thank-you";
	return m;
}

static struct message sms_message(int64_t id, const char *text)
{
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = id;
	m.channel = CHANNEL_SMS;
	m.to = "+8613800138000";
	m.to_name = "张三";
	m.text = text;
	m.campaign = "thank-you";
	m.step = 1;
	return m;
}

static void deliver_ok(struct fixture *f, const struct message *m, const char *name)
{
	struct delivery d;
	memset(&d, 0x5a, sizeof(d));
	assert_int_equal(transport_deliver(f->t, (const struct message *[]){m}, 1, NOW, &d), 0);
	if (d.status != DELIVERY_OK)
		fail_msg("send %lld: %d %s %s", (long long)m->send_id, d.status, d.code, d.reason);
	assert_string_equal(d.code, "ok");
	assert_string_equal(d.provider_id, name);
	assert_int_equal(d.retry_after, 0);
}

static void test_registry(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(transport_kind_known("outbox"), 1);
	assert_int_equal(transport_kind_known("nope"), 0);
	assert_int_equal(transport_kind_known(NULL), 0);
	assert_ptr_equal(transport_conf(f->t), &f->conf);

	struct transport_conf bad = f->conf;
	bad.name = "email";
	bad.kind = "carrier-pigeon";
	struct err e;
	err_clear(&e);
	assert_null(transport_create(&f->cfg, &bad, 0, &e));
	assert_string_equal(e.msg,
			    "config/outreach.yaml:12: transport \"email\": unknown kind \"carrier-pigeon\"");
	transport_free(NULL);
}

/* create made the directory and its parents */
static void test_create_mkdir_p(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again on an existing directory */
	struct err e;
	err_clear(&e);
	struct transport *t2 = transport_create(&f->cfg, &f->conf, 0, &e);
	assert_non_null(t2);
	transport_free(t2);
}

static void test_create_errors(void **state)
{
	struct fixture *f = *state;
	char *file = xasprintf("%s/plain-file", f->root);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	struct {
		json_t *opts;
		const char *want;
	} cases[] = {
	    {json_pack("{s:s}", "dir", file), "config/outreach.yaml:14: transport \"outbox\": "
					      "cannot create directory"},
	    {json_pack("{s:s+}", "dir", file, "/sub"), "config/outreach.yaml:14: transport "
						       "\"outbox\": cannot create directory"},
	    {json_pack("{s:i}", "dir", 3), "config/outreach.yaml:14: transport \"outbox\": dir "
					   "must be a non-empty string"},
	    {json_pack("{s:s}", "dir", ""), "must be a non-empty string"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct transport_conf c = f->conf;
		c.opts = cases[i].opts;
		struct err e;
		err_clear(&e);
		assert_null(transport_create(&f->cfg, &c, 0, &e));
		if (!strstr(e.msg, cases[i].want))
			fail_msg("case %zu: \"%s\"", i, e.msg);
		json_decref(cases[i].opts);
	}
	free(file);
}

/* without dir: var/outbox under the working directory */
static void test_default_dir(void **state)
{
	struct fixture *f = *state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->root), 0);
	struct transport_conf c = f->conf;
	c.opts = json_pack("{s:s}", "kind", "outbox");
	struct err e;
	err_clear(&e);
	struct transport *t = transport_create(&f->cfg, &c, 0, &e);
	struct stat st;
	int made = stat("var/outbox", &st) == 0 && S_ISDIR(st.st_mode);
	transport_free(t);
	json_decref(c.opts);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(t);
	assert_true(made);
}

static void test_email(void **state)
{
	struct fixture *f = *state;
	struct message m = email_message(101);
	deliver_ok(f, &m, "101.eml");

	struct buf want = BUF_INIT;
	struct err e;
	assert_int_equal(mime_build(&m, NOW, &want, &e), 0);
	char *path = xasprintf("%s/101.eml", f->dir);
	size_t len;
	char *got = slurp(path, &len);
	assert_non_null(got);
	assert_int_equal(len, want.len);
	assert_memory_equal(got, want.data, len);
	assert_true(strncmp(got, "Date: Sun, 01 Mar 2026 01:30:00 +0000\r\n", 39) == 0);
	/* nothing else, no temporary left behind */
	char *names = dir_list(f->dir);
	assert_string_equal(names, "101.eml");
	free(names);
	free(got);
	free(path);
	buf_release(&want);
}

static void test_sms_json(void **state)
{
	struct fixture *f = *state;
	struct message m = sms_message(102, "您好，感谢您的购买！\"引号\" 与 \\ 反斜杠");
	deliver_ok(f, &m, "102.json");

	char *path = xasprintf("%s/102.json", f->dir);
	size_t len;
	char *raw = slurp(path, &len);
	assert_non_null(raw);
	assert_true(len > 0 && raw[len - 1] == '\n');
	/* UTF-8 as is, not \u escapes */
	assert_non_null(strstr(raw, "您好，感谢您的购买！"));
	assert_null(strstr(raw, "\\u"));

	json_error_t je;
	json_t *o = json_loads(raw, 0, &je);
	if (!o)
		fail_msg("%s: %s", path, je.text);
	assert_int_equal(json_integer_value(json_object_get(o, "send_id")), 102);
	assert_string_equal(json_string_value(json_object_get(o, "channel")), "sms");
	assert_string_equal(json_string_value(json_object_get(o, "to")), "+8613800138000");
	assert_string_equal(json_string_value(json_object_get(o, "to_name")), "张三");
	assert_string_equal(json_string_value(json_object_get(o, "text")), m.text);
	assert_string_equal(json_string_value(json_object_get(o, "campaign")), "thank-you");
	assert_int_equal(json_integer_value(json_object_get(o, "step")), 1);
	assert_int_equal(json_object_size(o), 7);
	json_decref(o);
	free(raw);
	free(path);
}

/* a group chat: no address, no name */
static void test_chat_json(void **state)
{
	struct fixture *f = *state;
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = 103;
	m.channel = CHANNEL_CHAT;
	m.text = "新订单 #1001";
	m.campaign = "sales-alert";
	deliver_ok(f, &m, "103.json");

	char *path = xasprintf("%s/103.json", f->dir);
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "channel")), "chat");
	assert_true(json_is_null(json_object_get(o, "to")));
	assert_null(json_object_get(o, "to_name"));
	assert_string_equal(json_string_value(json_object_get(o, "text")), "新订单 #1001");
	assert_int_equal(json_integer_value(json_object_get(o, "step")), 0);
	json_decref(o);
	free(path);
}

/* a retry of the same send replaces its file: never two copies */
static void test_redeliver_overwrites(void **state)
{
	struct fixture *f = *state;
	struct message m = sms_message(104, "first");
	deliver_ok(f, &m, "104.json");
	m.text = "second";
	deliver_ok(f, &m, "104.json");
	struct message em = email_message(105);
	deliver_ok(f, &em, "105.eml");
	deliver_ok(f, &em, "105.eml");

	char *names = dir_list(f->dir);
	assert_string_equal(names, "104.json 105.eml");
	free(names);
	char *path = xasprintf("%s/104.json", f->dir);
	json_t *o = json_load_file(path, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "text")), "second");
	json_decref(o);
	free(path);
}

/* messages that can never be written: FAIL "invalid", and no file */
static void test_invalid(void **state)
{
	struct fixture *f = *state;
	struct message inj = email_message(201);
	inj.subject = "hi\r\nBcc: evil@example.com";
	struct message nofrom = email_message(202);
	nofrom.from = NULL;
	struct message noto = sms_message(203, "x");
	noto.to = NULL;
	struct message badutf = sms_message(204, "bad \xff\xfe utf-8");
	struct {
		const struct message *m;
		const char *want;
	} cases[] = {
	    {&inj, "\"Subject\" contains CR or LF"},
	    {&nofrom, "missing From"},
	    {&noto, "no recipient"},
	    {&badutf, "not valid UTF-8"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct delivery d;
		assert_int_equal(transport_deliver(f->t, (const struct message *[]){cases[i].m}, 1, NOW, &d), 0);
		assert_int_equal(d.status, DELIVERY_FAIL);
		assert_string_equal(d.code, "invalid");
		if (!strstr(d.reason, cases[i].want))
			fail_msg("case %zu: \"%s\"", i, d.reason);
		assert_string_equal(d.provider_id, "");
	}
	char *names = dir_list(f->dir);
	assert_string_equal(names, "");
	free(names);
}

static void expect_io_defer(struct fixture *f, const char *errtext)
{
	struct message m = sms_message(301, "hello");
	struct delivery d;
	assert_int_equal(transport_deliver(f->t, (const struct message *[]){&m}, 1, NOW, &d), 0);
	assert_int_equal(d.status, DELIVERY_DEFER);
	assert_string_equal(d.code, "io");
	if (!strstr(d.reason, errtext))
		fail_msg("reason \"%s\" lacks \"%s\"", d.reason, errtext);
	assert_string_equal(d.provider_id, "");
}

/* the directory vanished and a file took its place: DEFER io */
static void test_io_defer(void **state)
{
	struct fixture *f = *state;
	rm_rf(f->dir);
	FILE *fp = fopen(f->dir, "w");
	assert_non_null(fp);
	fclose(fp);
	expect_io_defer(f, strerror(ENOTDIR));
	unlink(f->dir);
	expect_io_defer(f, strerror(ENOENT));
}

/* a directory without write permission (root writes anyway: skipped) */
static void test_io_defer_permission(void **state)
{
	struct fixture *f = *state;
	if (geteuid() == 0)
		skip();
	assert_int_equal(chmod(f->dir, 0555), 0);
	expect_io_defer(f, strerror(EACCES));
	chmod(f->dir, 0755);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_mkdir_p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_email, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sms_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chat_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redeliver_overwrites, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_defer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_defer_permission, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
