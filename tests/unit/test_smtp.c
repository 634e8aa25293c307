/* test_smtp.c - the smtp transport against a real SMTP server on loopback
 *
 * Each test starts tests/e2e/smtpd.py (aiosmtpd, /usr/bin/python3) with
 * the TLS, AUTH and failure injection it needs, calls transport_create and
 * transport_deliver (or transport_submit, for the session pool) directly,
 * and checks both what the transport reported and what the server really
 * received: the bytes of each message (exactly what mime_build made, DKIM
 * verified by python3-dkim), the envelope, and the number of connections
 * (several messages per session). Certificates and the DKIM key are made
 * with the openssl command in a temporary directory. Run from the project
 * root. OUTREACH_SMTP_BENCH=1 adds a throughput measurement against
 * postfix's smtp-sink (one session, then a pool of 8), printed on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "mime.h"
#include "transport.h"
#include "xmalloc.h"

#define PY "/usr/bin/python3"
#define SMTPD "tests/e2e/smtpd.py"
#define DKIM_VERIFY "tests/e2e/dkim_verify.py"
#define NOW 1772328600 /* 2026-03-01T01:30:00Z */
#define PASSWORD "s3cret-Pa55-zz"

static char root[64];
static char cert[128], certkey[128], wrongcert[128], wrongkey[128];
static char dkimkey[128], dkimpub[128];

/* ---- helpers ---- */

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
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

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void make_cert(const char *crt, const char *key, const char *san)
{
	char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
			      "-days 2 -subj /CN=localhost -addext subjectAltName=%s 2>/dev/null",
			      key, crt, san);
	assert_int_equal(run(cmd), 0);
	free(cmd);
}

struct server {
	pid_t pid;
	int port;
	char dir[128];
};

/* server_start - smtpd.py with args (NULL-terminated), data in root/name */
static void server_start(struct server *sv, const char *name, ...)
{
	const char *argv[32];
	size_t n = 0;
	char portfile[160], log[160];
	snprintf(sv->dir, sizeof(sv->dir), "%s/%s", root, name);
	snprintf(portfile, sizeof(portfile), "%s.port", sv->dir);
	snprintf(log, sizeof(log), "%s.log", sv->dir);
	unlink(portfile);
	argv[n++] = PY;
	argv[n++] = SMTPD;
	argv[n++] = "--dir";
	argv[n++] = sv->dir;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	va_list ap;
	va_start(ap, name);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 30)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	setenv("SMTPD_PASS", PASSWORD, 1);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(PY, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char *p = slurp(portfile, NULL);
		if (p) {
			sv->port = atoi(p);
			free(p);
			return;
		}
		int st;
		if (waitpid(sv->pid, &st, WNOHANG) == sv->pid)
			fail_msg("smtpd.py exited; see %s", log);
		usleep(50000);
	}
	fail_msg("smtpd.py did not start; see %s", log);
}

static void server_stop(struct server *sv)
{
	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		waitpid(sv->pid, NULL, 0);
		sv->pid = 0;
	}
}

static int count_lines(const char *path)
{
	char *s = slurp(path, NULL);
	int n = 0;
	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static int connections(const struct server *sv)
{
	char *p = xasprintf("%s/connections.log", sv->dir);
	int n = count_lines(p);
	free(p);
	return n;
}

static int received(const struct server *sv)
{
	DIR *d = opendir(sv->dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		n += l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0;
	}
	if (d)
		closedir(d);
	return n;
}

static json_t *meta(const struct server *sv, int k)
{
	char *p = xasprintf("%s/msg-%d.json", sv->dir, k);
	json_t *j = json_load_file(p, 0, NULL);
	free(p);
	assert_non_null(j);
	return j;
}

/* a config whose transport "email" is at line 10, each option on its own */
static struct config cfg;
static struct transport_conf conf;

static const char *const optlines[] = {
    "host", "port",	     "tls",	    "from",	     "return_path",  "ca_file",
    "helo", "concurrency",   "per_session", "timeout",	     "username_env", "password_env",
    "dkim", "dkim/key_file", "dkim/domain", "dkim/selector", "dkim/headers",
};

static void conf_set(json_t *opts)
{
	memset(&conf, 0, sizeof(conf));
	conf.name = "email";
	conf.kind = "smtp";
	conf.channel = CHANNEL_EMAIL;
	conf.opts = opts;
	conf.pointer = "/transports/email";
	conf.line = 10;
}

static struct transport *make(json_t *opts, int flags, struct err *e)
{
	if (conf.opts)
		json_decref(conf.opts);
	conf_set(opts);
	err_clear(e);
	return transport_create(&cfg, &conf, flags, e);
}

static json_t *plain_opts(int port)
{
	return json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", "127.0.0.1", "port", port, "tls",
			 "none", "from", "Acme 客服 <care@example.com>", "timeout", "5s");
}

static struct message msg(int64_t id, const char *to)
{
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = id;
	m.channel = CHANNEL_EMAIL;
	m.to = to;
	m.to_name = "王小明";
	m.from = "Acme 客服 <care@example.com>";
	m.subject = "您的订单已发货：感谢您的购买";
	m.text = "你好，王小明：\n\n感谢您的购买。\n.一行以点开头\n";
	m.message_id = "<outreach.1.abc@example.com>";
	m.campaign = "thank-you";
	m.step = 1;
	return m;
}

static void deliver(struct transport *t, struct message *ms, size_t n, struct delivery *d)
{
	const struct message **mp = xcalloc(n, sizeof(*mp));
	for (size_t i = 0; i < n; i++)
		mp[i] = &ms[i];
	assert_int_equal(transport_deliver(t, mp, n, NOW, d), 0);
	free(mp);
}

static void expect(const struct delivery *d, enum delivery_status st, const char *code,
		   const char *reason_has)
{
	if (getenv("SHOW")) /* SHOW=1: print every outcome checked */
		fprintf(stderr, "  %d %s | %s%s\n", d->status, d->code, d->reason,
			d->hard_bounce ? " (hard bounce)" : "");
	if (d->status != st || (code && strcmp(d->code, code) != 0) ||
	    (reason_has && !strstr(d->reason, reason_has)))
		fail_msg("got %d \"%s\" \"%s\", want %d \"%s\" with \"%s\"", d->status, d->code,
			 d->reason, st, code ? code : "*", reason_has ? reason_has : "");
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/outreach-smtp-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", root);
	snprintf(certkey, sizeof(certkey), "%s/key.pem", root);
	snprintf(wrongcert, sizeof(wrongcert), "%s/wrong.pem", root);
	snprintf(wrongkey, sizeof(wrongkey), "%s/wrongkey.pem", root);
	snprintf(dkimkey, sizeof(dkimkey), "%s/dkim.pem", root);
	snprintf(dkimpub, sizeof(dkimpub), "%s/dkim.pub", root);
	make_cert(cert, certkey, "IP:127.0.0.1,DNS:localhost");
	make_cert(wrongcert, wrongkey, "DNS:mail.example.net");
	char *cmd = xasprintf("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "
			      "%s 2>/dev/null && openssl pkey -in %s -pubout -out %s",
			      dkimkey, dkimkey, dkimpub);
	int rc = run(cmd);
	free(cmd);
	if (rc != 0)
		return -1;
	cfg.path = "o.yaml";
	cfg.lines = json_object();
	json_object_set_new(cfg.lines, "/transports/email", json_integer(10));
	for (size_t i = 0; i < sizeof(optlines) / sizeof(*optlines); i++) {
		char *p = xasprintf("/transports/email/%s", optlines[i]);
		json_object_set_new(cfg.lines, p, json_integer((json_int_t)(11 + i)));
		free(p);
	}
	setenv("TEST_SMTP_USER", "mailer", 1);
	setenv("TEST_SMTP_PASS", PASSWORD, 1);
	setenv("TEST_SMTP_WRONG", "not-the-password", 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (conf.opts)
		json_decref(conf.opts);
	json_decref(cfg.lines);
	if (!getenv("KEEP"))
		rm_rf(root);
	return 0;
}

/* ---- options ---- */

struct bad_case {
	const char *json;
	const char *want; /* the whole error */
};

static void test_options(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	    {"{\"from\": \"a@b.c\"}",
	     "o.yaml:10: transport \"email\": host is required for kind smtp"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"tls\": \"ssl\"}",
	     "o.yaml:13: transport \"email\": tls must be none, starttls or implicit, not \"ssl\""},
	    {"{\"host\": \"mx example\", \"from\": \"a@b.c\"}",
	     "o.yaml:11: transport \"email\": host \"mx example\" must be a host name or an IPv4 "
	     "address"},
	    {"{\"host\": \"mx.example.com\"}",
	     "o.yaml:10: transport \"email\": from is required for kind smtp (\"Name "
	     "<addr@domain>\")"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"Acme <nobody>\"}",
	     "o.yaml:14: transport \"email\": from \"Acme <nobody>\" has no plain address "
	     "(\"Name <addr@domain>\")"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"port\": 0}",
	     "o.yaml:12: transport \"email\": port must be an integer from 1 to 65535"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"concurrency\": 65}",
	     "o.yaml:18: transport \"email\": concurrency must be an integer from 1 to 64"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"per_session\": 0}",
	     "o.yaml:19: transport \"email\": per_session must be an integer from 1 to 10000"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"timeout\": \"soon\"}",
	     "o.yaml:20: transport \"email\": timeout must be a duration such as 10s or 500ms (at "
	     "most 1d)"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"return_path\": "
	     "\"b+{token}{token}@x.com\"}",
	     "o.yaml:15: transport \"email\": return_path may hold {token} only once"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"return_path\": "
	     "\"bounces@{token}.com\"}",
	     "o.yaml:15: transport \"email\": return_path must be a plain address, with {token} in "
	     "its local part for VERP (bounces+{token}@example.com)"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"username_env\": \"U\"}",
	     "o.yaml:21: transport \"email\": username_env and password_env go together"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"tls\": \"none\", "
	     "\"username_env\": \"TEST_SMTP_USER\", \"password_env\": \"TEST_SMTP_PASS\"}",
	     "o.yaml:13: transport \"email\": AUTH with tls: none would send the password in clear "
	     "to mx.example.com; use starttls or implicit"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"username_env\": "
	     "\"TEST_SMTP_USER\", \"password_env\": \"TEST_SMTP_UNSET\"}",
	     "o.yaml:22: transport \"email\": password_env names TEST_SMTP_UNSET, which is not set "
	     "in the environment"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"ca_file\": "
	     "\"/nonexistent/ca\"}",
	     "o.yaml:16: transport \"email\": cannot read ca_file \"/nonexistent/ca\": No such "
	     "file "
	     "or directory"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"tls\": \"none\", \"ca_file\": "
	     "\"ca.pem\"}",
	     "o.yaml:16: transport \"email\": ca_file needs tls: starttls or implicit"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"helo\": \"bad helo\"}",
	     "o.yaml:17: transport \"email\": helo \"bad helo\" must be a host name"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"dkim\": \"yes\"}",
	     "o.yaml:23: transport \"email\": dkim must be a mapping {key_file, domain, selector}"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"dkim\": {\"key_file\": "
	     "\"/nonexistent.pem\", \"domain\": \"example.com\"}}",
	     "o.yaml:23: transport \"email\": dkim needs selector (a non-empty string)"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"dkim\": {\"key_file\": "
	     "\"/nonexistent.pem\", \"domain\": \"example.com\", \"selector\": \"s1\"}}",
	     "o.yaml:24: transport \"email\": dkim key_file \"/nonexistent.pem\": cannot open"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"dkim\": {\"key_file\": "
	     "\"tests/unit/test_smtp.c\", \"domain\": \"example.com\", \"selector\": \"s1\"}}",
	     "o.yaml:24: transport \"email\": dkim key_file \"tests/unit/test_smtp.c\": not a PEM "
	     "private key without a passphrase"},
	    {"{\"host\": \"mx.example.com\", \"from\": \"a@b.c\", \"dkim\": {\"key_file\": "
	     "\"x.pem\", \"domain\": \"example.com\", \"selector\": \"s1\", \"algo\": 1}}",
	     "o.yaml:23: transport \"email\": unknown dkim option \"algo\" (key_file, domain, "
	     "selector, headers)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_error_t je;
		json_t *o = json_loads(cases[i].json, 0, &je);
		assert_non_null(o);
		struct err e;
		struct transport *t = make(o, 0, &e);
		if (t)
			fail_msg("case %zu: created", i);
		if (strcmp(e.msg, cases[i].want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, e.msg, cases[i].want);
	}

	/* check mode: secrets and files need not exist, nothing is opened */
	struct err e;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "host", "mx.example.com", "from",
			      "a@b.c", "username_env", "TEST_SMTP_UNSET", "password_env",
			      "TEST_SMTP_UNSET", "ca_file", "/nonexistent/ca");
	json_object_set_new(o, "dkim",
			    json_pack("{s:s, s:s, s:s}", "key_file", "/nonexistent.pem", "domain",
				      "example.com", "selector", "s1"));
	struct transport *t = make(o, TRANSPORT_CHECK, &e);
	if (!t)
		fail_msg("check mode: %s", e.msg);
	transport_free(t);
	/* but the values it can check without files, it checks */
	o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "host", "mx.example.com", "from", "a@b.c",
		      "dkim", "key_file", "/nonexistent.pem", "domain", "example.com", "selector",
		      "bad selector");
	assert_null(make(o, TRANSPORT_CHECK, &e));
	assert_string_equal(e.msg, "o.yaml:26: transport \"email\": dkim selector \"bad selector\" "
				   "is not a valid selector");

	/* the defaults: a pool of 4 sessions of 100 messages */
	void *st = NULL;
	o = json_pack("{s:s, s:s}", "host", "mx.example.com", "from", "a@b.c");
	json_decref(conf.opts);
	conf_set(o);
	assert_int_equal(transport_smtp.create(&cfg, &conf, 0, &st, &e), 0);
	assert_int_equal(transport_smtp.threads(st), 4);
	assert_int_equal(transport_smtp.batch(st), 100);
	transport_smtp.free(st);
	json_object_set_new(o, "concurrency", json_integer(8));
	json_object_set_new(o, "per_session", json_integer(1000));
	assert_int_equal(transport_smtp.create(&cfg, &conf, 0, &st, &e), 0);
	assert_int_equal(transport_smtp.threads(st), 8);
	assert_int_equal(transport_smtp.batch(st), 1000);
	transport_smtp.free(st);
}

/* ---- plain SMTP: one session, exact bytes, outcomes ---- */

static void test_batch_exact(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "batch", NULL);
	struct err e;
	struct transport *t = make(plain_opts(sv.port), 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[5];
	struct delivery d[5];
	char to[5][32], mid[5][64];
	for (int i = 0; i < 5; i++) {
		snprintf(to[i], sizeof(to[i]), "user%d@example.org", i);
		snprintf(mid[i], sizeof(mid[i]), "<outreach.%d.abc@example.com>", i + 1);
		ms[i] = msg(i + 1, to[i]);
		ms[i].message_id = mid[i];
	}
	ms[2].html = "<p>你好，<b>王小明</b></p>";
	ms[3].marketing = 1;
	ms[3].unsubscribe_url = "http://127.0.0.1:8080/u/u4.0.abc";
	deliver(t, ms, 5, d);
	for (int i = 0; i < 5; i++) {
		expect(&d[i], DELIVERY_OK, "250", "queued as");
		char want[16];
		snprintf(want, sizeof(want), "Q%d", i + 1);
		assert_string_equal(d[i].provider_id, want);
	}
	assert_int_equal(connections(&sv), 1); /* five messages, one session */
	assert_int_equal(received(&sv), 5);
	for (int i = 0; i < 5; i++) {
		/* what arrived is exactly what mime_build made: libesmtp added,
		 * dropped and changed nothing (dot-stuffing undone) */
		struct buf want = BUF_INIT;
		assert_int_equal(mime_build(&ms[i], NOW, &want, &e), 0);
		char *p = xasprintf("%s/msg-%d.eml", sv.dir, i + 1);
		size_t len;
		char *got = slurp(p, &len);
		assert_non_null(got);
		if (len != want.len || memcmp(got, want.data, len) != 0)
			fail_msg("message %d differs from mime_build's", i + 1);
		free(got);
		free(p);
		buf_release(&want);
		json_t *j = meta(&sv, i + 1);
		assert_string_equal(json_string_value(json_object_get(j, "mail_from")),
				    "care@example.com");
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(j, "rcpt_tos"), 0)), to[i]);
		json_decref(j);
	}
	transport_free(t);
	server_stop(&sv);
}

static void test_outcomes(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "outcomes", NULL);
	struct err e;
	struct transport *t = make(plain_opts(sv.port), 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[6] = {
	    msg(1, "ok1@example.org"),	   msg(2, "defer1@example.org"),
	    msg(3, "reject1@example.org"), msg(4, "policy1@example.org"),
	    msg(5, "ok2@example.org"),	   msg(6, "ok3@example.org"),
	};
	ms[5].from = "Bad <badsender@example.com>";
	struct delivery d[6];
	deliver(t, ms, 6, d);
	expect(&d[0], DELIVERY_OK, "250", NULL);
	expect(&d[1], DELIVERY_DEFER, "451 4.3.0", "RCPT TO: <defer1@example.org>: mailbox busy");
	expect(&d[2], DELIVERY_FAIL, "550 5.1.1", "RCPT TO: <reject1@example.org>: user unknown");
	assert_int_equal(d[2].hard_bounce, 1);
	expect(&d[3], DELIVERY_FAIL, "550 5.7.1", "rejected by policy");
	assert_int_equal(d[3].hard_bounce, 0);
	expect(&d[4], DELIVERY_OK, "250", NULL);
	expect(&d[5], DELIVERY_FAIL, "553 5.1.7", "MAIL FROM: <badsender@example.com>");
	assert_int_equal(d[5].hard_bounce, 0);
	assert_int_equal(connections(&sv), 1);
	assert_int_equal(received(&sv), 2);

	/* cut mid-message: the one before keeps its OK, the rest defer, the
	 * cut one was never saved, nothing was sent twice */
	struct message m2[3] = {msg(7, "ok4@example.org"), msg(8, "drop1@example.org"),
				msg(9, "ok5@example.org")};
	deliver(t, m2, 3, d);
	expect(&d[0], DELIVERY_OK, "250", NULL);
	expect(&d[1], DELIVERY_DEFER, NULL, NULL);
	expect(&d[2], DELIVERY_DEFER, NULL, NULL);
	assert_string_equal(d[1].code, "connection");
	assert_non_null(strstr(d[1].reason, "no reply after the message data"));
	assert_int_equal(received(&sv), 3);
	assert_int_equal(connections(&sv), 2);

	/* an answer that is no SMTP reply */
	struct message m3[2] = {msg(10, "garbage1@example.org"), msg(11, "ok6@example.org")};
	deliver(t, m3, 2, d);
	expect(&d[0], DELIVERY_DEFER, "protocol", "this is no smtp reply");
	expect(&d[1], DELIVERY_DEFER, "protocol", NULL);
	assert_int_equal(received(&sv), 3);

	/* an address mime_build refuses fails alone, the rest go */
	struct message m4[2] = {msg(12, "not an address"), msg(13, "ok7@example.org")};
	deliver(t, m4, 2, d);
	expect(&d[0], DELIVERY_FAIL, "invalid", NULL);
	expect(&d[1], DELIVERY_OK, "250", NULL);
	assert_int_equal(received(&sv), 4);
	transport_free(t);
	server_stop(&sv);
}

static void test_slow_and_down(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "slow", "--slow", "4", NULL);
	struct err e;
	json_t *o = plain_opts(sv.port);
	json_object_set_new(o, "timeout", json_string("1s"));
	struct transport *t = make(o, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[2] = {msg(1, "slow1@example.org"), msg(2, "ok1@example.org")};
	struct delivery d[2];
	time_t t0 = time(NULL);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, "timeout", "no answer within 1s");
	expect(&d[1], DELIVERY_DEFER, "timeout", NULL);
	assert_true(time(NULL) - t0 < 4);
	transport_free(t);
	server_stop(&sv);

	/* nothing listening: find a free port and leave it closed */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	t = make(plain_opts(ntohs(sa.sin_port)), 0, &e);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, "connect", "Connection refused");
	expect(&d[1], DELIVERY_DEFER, "connect", "Connection refused");
	transport_free(t);
}

/* ---- STARTTLS, certificates, AUTH ---- */

static json_t *tls_opts(int port, const char *ca, const char *pass_env)
{
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", "127.0.0.1", "port", port, "tls",
			      "starttls", "from", "Acme 客服 <care@example.com>", "timeout", "5s");
	if (ca)
		json_object_set_new(o, "ca_file", json_string(ca));
	if (pass_env) {
		json_object_set_new(o, "username_env", json_string("TEST_SMTP_USER"));
		json_object_set_new(o, "password_env", json_string(pass_env));
	}
	return o;
}

static void no_secret(const struct delivery *d)
{
	if (strstr(d->reason, PASSWORD) || strstr(d->code, PASSWORD))
		fail_msg("the password is in the reason");
}

static void test_starttls_auth(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "starttls", "--starttls", "--cert", cert, "--key", certkey, "--auth-user",
		     "mailer", "--auth-pass-env", "SMTPD_PASS", NULL);
	struct err e;
	struct transport *t = make(tls_opts(sv.port, cert, "TEST_SMTP_PASS"), 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[3] = {msg(1, "a@example.org"), msg(2, "b@example.org"),
				msg(3, "reject@example.org")};
	struct delivery d[3];
	deliver(t, ms, 3, d);
	expect(&d[0], DELIVERY_OK, "250", NULL);
	expect(&d[1], DELIVERY_OK, "250", NULL);
	expect(&d[2], DELIVERY_FAIL, "550 5.1.1", NULL);
	assert_int_equal(connections(&sv), 1);
	json_t *j = meta(&sv, 1);
	assert_true(json_is_true(json_object_get(j, "tls")));
	assert_true(json_is_true(json_object_get(j, "auth")));
	/* not TLS 1.3: its tickets after the handshake can stall libesmtp
	 * (see transport_smtp.c); valgrind reproduces it every time */
	assert_string_equal(json_string_value(json_object_get(j, "tls_version")), "TLSv1.2");
	json_decref(j);
	transport_free(t);

	/* a wrong password: no message goes, each defers saying why */
	t = make(tls_opts(sv.port, cert, "TEST_SMTP_WRONG"), 0, &e);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, NULL, "auth failed: ");
	expect(&d[1], DELIVERY_DEFER, NULL, "auth failed: ");
	assert_int_equal(d[0].code[0], '5');
	assert_int_equal(received(&sv), 2);
	transport_free(t);

	/* no credentials for a server that wants them: defer, not fail */
	t = make(tls_opts(sv.port, cert, NULL), 0, &e);
	deliver(t, ms, 1, d);
	expect(&d[0], DELIVERY_DEFER, NULL, "server requires AUTH");
	transport_free(t);

	/* the system CAs do not know the test's self-signed certificate */
	t = make(tls_opts(sv.port, NULL, "TEST_SMTP_PASS"), 0, &e);
	deliver(t, ms, 1, d);
	expect(&d[0], DELIVERY_DEFER, "tls", "certificate verify failed");
	no_secret(&d[0]);
	transport_free(t);
	assert_int_equal(received(&sv), 2);
	server_stop(&sv);

	/* a certificate for another name, even from a trusted CA file */
	server_start(&sv, "wrongname", "--starttls", "--cert", wrongcert, "--key", wrongkey, NULL);
	t = make(tls_opts(sv.port, wrongcert, NULL), 0, &e);
	deliver(t, ms, 1, d);
	expect(&d[0], DELIVERY_DEFER, "tls", "certificate verify failed");
	assert_int_equal(received(&sv), 0);
	transport_free(t);
	server_stop(&sv);

	/* starttls configured, not offered: never falls back to clear text */
	server_start(&sv, "nostarttls", NULL);
	t = make(tls_opts(sv.port, cert, NULL), 0, &e);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, "tls", "server does not offer STARTTLS");
	expect(&d[1], DELIVERY_DEFER, "tls", "server does not offer STARTTLS");
	assert_int_equal(received(&sv), 0);
	transport_free(t);
	server_stop(&sv);
}

/* ---- implicit TLS through libcurl ---- */

static void test_implicit(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "implicit", "--implicit", "--cert", cert, "--key", certkey, "--auth-user",
		     "mailer", "--auth-pass-env", "SMTPD_PASS", NULL);
	struct err e;
	json_t *o = tls_opts(sv.port, cert, "TEST_SMTP_PASS");
	json_object_set_new(o, "tls", json_string("implicit"));
	struct transport *t = make(o, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[4] = {msg(1, "a@example.org"), msg(2, "defer@example.org"),
				msg(3, "reject@example.org"), msg(4, "b@example.org")};
	struct delivery d[4];
	deliver(t, ms, 4, d);
	expect(&d[0], DELIVERY_OK, "250", "queued as Q1");
	assert_string_equal(d[0].provider_id, "Q1");
	expect(&d[1], DELIVERY_DEFER, "451 4.3.0", "RCPT TO: ");
	expect(&d[2], DELIVERY_FAIL, "550 5.1.1", "RCPT TO: ");
	assert_int_equal(d[2].hard_bounce, 1);
	expect(&d[3], DELIVERY_OK, "250", NULL);
	assert_int_equal(received(&sv), 2);
	/* the exact bytes, as on the libesmtp path */
	struct buf want = BUF_INIT;
	assert_int_equal(mime_build(&ms[0], NOW, &want, &e), 0);
	char *p = xasprintf("%s/msg-1.eml", sv.dir);
	size_t len;
	char *got = slurp(p, &len);
	assert_true(got && len == want.len && memcmp(got, want.data, len) == 0);
	free(got);
	free(p);
	buf_release(&want);
	json_t *j = meta(&sv, 2);
	assert_true(json_is_true(json_object_get(j, "tls")));
	assert_true(json_is_true(json_object_get(j, "auth")));
	assert_string_equal(json_string_value(json_object_get(j, "tls_version")), "TLSv1.3");
	json_decref(j);
	transport_free(t);

	/* the handle's connection carries the messages of a call one after
	 * another (a refused recipient makes libcurl close it, so these
	 * are all good ones) */
	int before = connections(&sv);
	o = tls_opts(sv.port, cert, "TEST_SMTP_PASS");
	json_object_set_new(o, "tls", json_string("implicit"));
	t = make(o, 0, &e);
	struct message m3[3] = {msg(5, "c@example.org"), msg(6, "d@example.org"),
				msg(7, "e@example.org")};
	deliver(t, m3, 3, d);
	for (int i = 0; i < 3; i++)
		expect(&d[i], DELIVERY_OK, "250", NULL);
	assert_int_equal(connections(&sv), before + 1);
	assert_int_equal(received(&sv), 5);
	transport_free(t);

	o = tls_opts(sv.port, cert, "TEST_SMTP_WRONG");
	json_object_set_new(o, "tls", json_string("implicit"));
	t = make(o, 0, &e);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, NULL, "auth failed");
	expect(&d[1], DELIVERY_DEFER, NULL, "auth failed");
	no_secret(&d[0]);
	transport_free(t);

	o = tls_opts(sv.port, NULL, "TEST_SMTP_PASS");
	json_object_set_new(o, "tls", json_string("implicit"));
	t = make(o, 0, &e);
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_DEFER, "tls", NULL);
	expect(&d[1], DELIVERY_DEFER, "tls", NULL);
	transport_free(t);
	assert_int_equal(received(&sv), 5);
	server_stop(&sv);
}

/* ---- VERP and DKIM ---- */

static void test_verp_dkim(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "verp", NULL);
	struct err e;
	json_t *o = plain_opts(sv.port);
	json_object_set_new(o, "return_path", json_string("bounces+{token}@example.com"));
	json_object_set_new(o, "dkim",
			    json_pack("{s:s, s:s, s:s}", "key_file", dkimkey, "domain",
				      "example.com", "selector", "s2026"));
	struct transport *t = make(o, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	struct message ms[2] = {msg(1, "a@example.org"), msg(2, "b@example.org")};
	ms[0].token = "b1.0.0123456789abcdef0123";
	ms[1].html = "<p>你好</p>";
	ms[1].marketing = 1;
	ms[1].unsubscribe_url = "http://127.0.0.1:8080/u/u2.0.abc";
	struct delivery d[2];
	deliver(t, ms, 2, d);
	expect(&d[0], DELIVERY_OK, "250", NULL);
	expect(&d[1], DELIVERY_OK, "250", NULL);
	json_t *j = meta(&sv, 1);
	assert_string_equal(json_string_value(json_object_get(j, "mail_from")),
			    "bounces+b1.0.0123456789abcdef0123@example.com");
	json_decref(j);
	j = meta(&sv, 2); /* no token: the From address */
	assert_string_equal(json_string_value(json_object_get(j, "mail_from")), "care@example.com");
	json_decref(j);
	for (int i = 1; i <= 2; i++) {
		char *cmd =
		    xasprintf(PY " " DKIM_VERIFY " %s %s/msg-%d.eml s2026._domainkey.example.com"
				 " >/dev/null",
			      dkimpub, sv.dir, i);
		if (run(cmd) != 0)
			fail_msg("message %d: dkim does not verify", i);
		free(cmd);
	}
	/* and it is the verifier that can say no: alter one body byte */
	char *p = xasprintf("%s/msg-1.eml", sv.dir);
	size_t len;
	char *s = slurp(p, &len);
	char *body = strstr(s, "\r\n\r\n");
	assert_non_null(body);
	body[5] ^= 1;
	FILE *f = fopen(p, "wb");
	fwrite(s, 1, len, f);
	fclose(f);
	char *cmd = xasprintf(PY " " DKIM_VERIFY " %s %s >/dev/null 2>&1", dkimpub, p);
	assert_int_equal(run(cmd), 1);
	free(cmd);
	free(s);
	free(p);
	transport_free(t);
	server_stop(&sv);
}

/* ---- the pool: jobs through transport_submit ---- */

static void test_pool(void **state)
{
	(void)state;
	struct server sv;
	server_start(&sv, "pool", NULL);
	struct err e;
	json_t *o = plain_opts(sv.port);
	json_object_set_new(o, "concurrency", json_integer(3));
	json_object_set_new(o, "per_session", json_integer(10));
	struct transport *t = make(o, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	enum { N = 60 };
	static struct message ms[N];
	static struct transport_job jobs[N];
	static char to[N][32];
	struct transport_done *q = transport_done_create();
	for (int i = 0; i < N; i++) {
		snprintf(to[i], sizeof(to[i]), "p%d@example.org", i);
		ms[i] = msg(i + 1, to[i]);
		jobs[i] = (struct transport_job){.m = &ms[i], .now = NOW, .cookie = &ms[i]};
		transport_submit(t, &jobs[i], q);
	}
	int back = 0;
	for (int tries = 0; back < N && tries < 200; tries++)
		for (struct transport_job *j = transport_collect(q, 100); j; j = j->next) {
			expect(&j->d, DELIVERY_OK, "250", NULL);
			back++;
		}
	assert_int_equal(back, N);
	assert_int_equal(received(&sv), N);
	int conns = connections(&sv);
	/* sessions of up to 10: at least 6, and far fewer than 60 */
	if (conns < N / 10 || conns > N / 2)
		fail_msg("%d sessions for %d messages", conns, N);
	transport_free(t);
	transport_done_free(q);
	server_stop(&sv);
}

/* sink_start - postfix's smtp-sink on a free loopback port; 0 when it
 * is not installed */
static int sink_start(pid_t *pid)
{
	if (access("/usr/sbin/smtp-sink", X_OK) != 0)
		return 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	int port = ntohs(sa.sin_port);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		int dn = open("/dev/null", O_WRONLY);
		dup2(dn, 1);
		dup2(dn, 2);
		if (geteuid() == 0) /* it refuses to run as root without -u */
			execl("/usr/sbin/smtp-sink", "smtp-sink", "-u", "nobody", "-a", "-m", "64",
			      addr, "256", (char *)NULL);
		else
			execl("/usr/sbin/smtp-sink", "smtp-sink", "-a", "-m", "64", addr, "256",
			      (char *)NULL);
		_exit(127);
	}
	/* wait until it accepts */
	for (int i = 0; i < 100; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		int ok = connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(c);
		if (ok)
			return port;
		usleep(20000);
	}
	fail_msg("smtp-sink did not start");
	return 0;
}

static void sink_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* big_text - a body of about 20 KB: more than libesmtp writes at once, so
 * without TCP_NODELAY each message's last segment waits for the server's
 * delayed ACK (about 23 messages/s) */
static const char *big_text(void)
{
	static char big[20000];
	if (!big[0]) {
		memset(big, 'x', sizeof(big) - 1);
		for (size_t k = 70; k < sizeof(big) - 1; k += 71)
			big[k] = '\n';
	}
	return big;
}

/* test_nodelay - libesmtp's socket gets TCP_NODELAY through our connect() */
static void test_nodelay(void **state)
{
	(void)state;
	/* the wrapper is what connect() means in this program */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int v = 0;
	socklen_t vl = sizeof(v);
	assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
	assert_int_not_equal(v, 0);
	close(c);
	close(lfd);

	/* and libesmtp calls it: 100 messages of 20 KB in one session take
	 * about 4 s with Nagle's algorithm, a few ms without */
	pid_t pid;
	int port = sink_start(&pid);
	if (!port)
		skip();
	struct err e;
	struct transport *t = make(plain_opts(port), 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	enum { N = 100 };
	struct message ms[N];
	struct delivery d[N];
	for (int i = 0; i < N; i++) {
		ms[i] = msg(i + 1, "sink@example.org");
		ms[i].text = big_text();
	}
	double t0 = now_s();
	deliver(t, ms, N, d);
	double dt = now_s() - t0;
	for (int i = 0; i < N; i++)
		expect(&d[i], DELIVERY_OK, "250", NULL);
	if (dt > 2.0)
		fail_msg("%d messages of 20 KB took %.2fs: is TCP_NODELAY off?", N, dt);
	transport_free(t);
	sink_stop(pid);
}

/* ---- throughput against smtp-sink (OUTREACH_SMTP_BENCH=1) ---- */

static void test_bench(void **state)
{
	(void)state;
	pid_t pid;
	int port;
	if (!getenv("OUTREACH_SMTP_BENCH") || !(port = sink_start(&pid)))
		skip();
	struct err e;
	json_t *o = plain_opts(port);
	json_object_set_new(o, "per_session", json_integer(10000));
	struct transport *t = make(o, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	enum { N = 10000 };
	struct message *ms = xcalloc(N, sizeof(*ms));
	struct delivery *d = xcalloc(N, sizeof(*d));
	for (int big = 0; big < 2; big++) {
		size_t n = big ? N / 5 : N;
		for (size_t i = 0; i < n; i++) {
			ms[i] = msg((int64_t)i + 1, "sink@example.org");
			if (big)
				ms[i].text = big_text();
		}
		double t0 = now_s();
		deliver(t, ms, n, d);
		double t1 = now_s();
		size_t ok = 0;
		for (size_t i = 0; i < n; i++)
			ok += d[i].status == DELIVERY_OK;
		if (ok != n)
			fail_msg("%zu of %zu delivered; the first: %s %s", ok, n, d[0].code,
				 d[0].reason);
		fprintf(stderr, "bench: one session, %s messages: %zu in %.2fs = %.0f/s\n",
			big ? "20 KB" : "1 KB", n, t1 - t0, (double)n / (t1 - t0));
	}
	transport_free(t);

	/* the pool: 8 sessions of 1000 */
	json_t *o2 = plain_opts(port);
	json_object_set_new(o2, "per_session", json_integer(1000));
	json_object_set_new(o2, "concurrency", json_integer(8));
	t = make(o2, 0, &e);
	enum { M = 40000 };
	struct message *m2 = xcalloc(M, sizeof(*m2));
	struct transport_job *jobs = xcalloc(M, sizeof(*jobs));
	struct transport_done *q = transport_done_create();
	for (int i = 0; i < M; i++) {
		m2[i] = msg(i + 1, "sink@example.org");
		jobs[i] = (struct transport_job){.m = &m2[i], .now = NOW};
	}
	double t0 = now_s();
	for (int i = 0; i < M; i++)
		transport_submit(t, &jobs[i], q);
	int back = 0, ok = 0;
	while (back < M)
		for (struct transport_job *j = transport_collect(q, 1000); j; j = j->next) {
			back++;
			ok += j->d.status == DELIVERY_OK;
		}
	double t1 = now_s();
	assert_int_equal(ok, M);
	fprintf(stderr, "bench: pool of 8 sessions, 1 KB messages: %d in %.2fs = %.0f/s\n", M,
		t1 - t0, M / (t1 - t0));
	transport_free(t);
	transport_done_free(q);
	free(m2);
	free(jobs);
	free(ms);
	free(d);
	sink_stop(pid);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* the transport must cope on its own */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_options),	  cmocka_unit_test(test_batch_exact),
	    cmocka_unit_test(test_outcomes),	  cmocka_unit_test(test_slow_and_down),
	    cmocka_unit_test(test_starttls_auth), cmocka_unit_test(test_implicit),
	    cmocka_unit_test(test_verp_dkim),	  cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_nodelay),	  cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
