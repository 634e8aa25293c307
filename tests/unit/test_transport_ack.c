/* test_transport_ack.c - per-message outcomes and held connections
 * (transport_done_hold, transport_recorded), against real servers on
 * loopback: postfix's smtp-sink (-d: one file per accepted transaction)
 * behind the smtp kind, tests/e2e/httpd.py (a log line per request it
 * received) behind the http kind.
 *
 * What is checked is the crash window the worker relies on: on a held
 * queue, while the caller records nothing, each connection has at most
 * one message the server received whose job came back, and the server
 * received nothing more; each transport_recorded lets exactly that
 * connection go on; stop = 1 makes the rest of the call come back
 * DEFERred, unsent. A queue that is not held never waits. Run from the
 * project root; skipped when smtp-sink is not installed.
 */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "err.h"
#include "transport.h"
#include "xmalloc.h"

#define PY "/usr/bin/python3"
#define HTTPD "tests/e2e/httpd.py"
#define SINK "/usr/sbin/smtp-sink"
#define NOW 1772328600 /* 2026-03-01T01:30:00Z */

static char dir[64];
static pid_t children[4]; /* servers to stop even when a test fails */
static int nchildren;

/* spawn - fork a server with stdout and stderr to /dev/null */
static pid_t spawn(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		return 0;
	}
	if (nchildren < 4)
		children[nchildren++] = pid;
	return pid;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* files - how many transactions smtp-sink wrote to d */
static int files(const char *d)
{
	int n = 0;
	DIR *dp = opendir(d);
	struct dirent *de;
	while (dp && (de = readdir(dp)))
		n += de->d_name[0] != '.';
	if (dp)
		closedir(dp);
	return n;
}

/* lines - how many requests httpd.py logged */
static int lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int n = 0, c;
	while (fp && (c = fgetc(fp)) != EOF)
		n += c == '\n';
	if (fp)
		fclose(fp);
	return n;
}

struct sink {
	pid_t pid;
	int port;
	char maildir[128];
};

static int sink_start(struct sink *s)
{
	if (access(SINK, X_OK) != 0)
		return 0;
	s->port = free_port();
	snprintf(s->maildir, sizeof(s->maildir), "%s/mail", dir);
	mkdir(s->maildir, 0777);
	chmod(s->maildir, 0777);
	char addr[32], tmpl[160];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->port);
	snprintf(tmpl, sizeof(tmpl), "%s/%%M.", s->maildir);
	s->pid = spawn();
	if (s->pid == 0) {
		if (getuid() == 0)
			execl(SINK, "smtp-sink", "-u", "nobody", "-d", tmpl, addr, "64", (char *)NULL);
		else
			execl(SINK, "smtp-sink", "-d", tmpl, addr, "64", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port),
					 .sin_addr.s_addr = htonl(0x7f000001)};
		int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return 1;
		sleep_ms(50);
	}
	fail_msg("smtp-sink did not start");
	return 0;
}

static void child_stop(pid_t pid)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid) {
			kill(pid, SIGTERM);
			waitpid(pid, NULL, 0);
			children[i] = children[--nchildren];
			return;
		}
}

static struct config cfg;
static struct transport_conf conf;

static struct transport *make(const char *kind, enum channel_kind ch, json_t *opts)
{
	struct err e = {{0}};
	memset(&conf, 0, sizeof(conf));
	conf.name = "t";
	conf.kind = (char *)kind;
	conf.channel = ch;
	conf.opts = opts;
	struct transport *t = transport_create(&cfg, &conf, 0, &e);
	if (!t)
		fail_msg("%s", e.msg);
	return t;
}

enum { N = 12 };
static struct message ms[N];
static struct transport_job jobs[N];
static char to[N][40];

static void jobs_init(enum channel_kind ch)
{
	for (int i = 0; i < N; i++) {
		if (ch == CHANNEL_EMAIL)
			snprintf(to[i], sizeof(to[i]), "u%d@example.org", i);
		else
			snprintf(to[i], sizeof(to[i]), "+86138001300%02d", i);
		memset(&ms[i], 0, sizeof(ms[i]));
		ms[i].send_id = i + 1;
		ms[i].channel = ch;
		ms[i].to = to[i];
		ms[i].from = "Acme <care@example.com>";
		ms[i].subject = "hello";
		ms[i].text = "hello there\n";
		ms[i].message_id = "<outreach.1.abc@example.com>";
		ms[i].campaign = "c";
		ms[i].step = 1;
		jobs[i] = (struct transport_job){.m = &ms[i], .now = NOW, .cookie = &ms[i]};
	}
}

/* gather - collect for ms milliseconds; appends to got[], returns how many */
static int gather(struct transport_done *q, struct transport_job **got, int have, long ms)
{
	int n = have;
	for (long waited = 0; waited < ms; waited += 50)
		for (struct transport_job *j = transport_collect(q, 50); j; j = j->next)
			got[n++] = j;
	return n;
}

/* ---- smtp: one unrecorded message per session ---- */

static void test_smtp_held(void **state)
{
	(void)state;
	struct sink s;
	if (!sink_start(&s))
		skip();
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i}", "host", "127.0.0.1", "port",
			      s.port, "tls", "none", "from", "Acme <care@example.com>",
			      "concurrency", 2, "per_session", 6);
	struct transport *t = make("smtp", CHANNEL_EMAIL, o);
	struct transport_done *q = transport_done_create();
	transport_done_hold(q);
	jobs_init(CHANNEL_EMAIL);
	for (int i = 0; i < N; i++)
		transport_submit(t, &jobs[i], q);
	struct transport_job *got[N];
	int n = gather(q, got, 0, 600);
	/* two sessions, each held after its first message */
	assert_int_equal(n, 2);
	assert_int_equal(files(s.maildir), 2);
	for (int i = 0; i < n; i++)
		assert_int_equal(got[i]->d.status, DELIVERY_OK);
	/* recording one lets that session go on: one more, and no other */
	transport_recorded(got[0], 0);
	n = gather(q, got, n, 600);
	assert_int_equal(n, 3);
	assert_int_equal(files(s.maildir), 3);
	transport_recorded(got[0], 0); /* a second call is a no-op */
	/* record everything as it comes: all go out, once */
	int done = 1;
	for (int tries = 0; n < N && tries < 100; tries++) {
		for (; done < n; done++)
			transport_recorded(got[done], 0);
		n = gather(q, got, n, 100);
	}
	assert_int_equal(n, N);
	for (; done < n; done++)
		transport_recorded(got[done], 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(got[i]->d.status, DELIVERY_OK);
	transport_free(t);
	transport_done_free(q);
	json_decref(o);
	assert_int_equal(files(s.maildir), N);
	child_stop(s.pid);
}

/* stop = 1: the session sends nothing more; the rest comes back DEFERred */
static void test_smtp_stop(void **state)
{
	(void)state;
	struct sink s;
	if (!sink_start(&s))
		skip();
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i}", "host", "127.0.0.1", "port",
			      s.port, "tls", "none", "from", "Acme <care@example.com>",
			      "concurrency", 1, "per_session", N);
	struct transport *t = make("smtp", CHANNEL_EMAIL, o);
	struct transport_done *q = transport_done_create();
	transport_done_hold(q);
	jobs_init(CHANNEL_EMAIL);
	for (int i = 0; i < N; i++)
		transport_submit(t, &jobs[i], q);
	struct transport_job *got[N];
	int n = gather(q, got, 0, 600);
	assert_int_equal(n, 1);
	assert_int_equal(got[0]->d.status, DELIVERY_OK);
	transport_recorded(got[0], 1);
	n = gather(q, got, n, 1500);
	assert_int_equal(n, N);
	for (int i = 1; i < N; i++) {
		assert_int_equal(got[i]->d.status, DELIVERY_DEFER);
		assert_string_equal(got[i]->d.code, "stopped");
		transport_recorded(got[i], 1);
	}
	transport_free(t);
	transport_done_free(q);
	json_decref(o);
	assert_int_equal(files(s.maildir), 1);
	child_stop(s.pid);
}

/* a queue that is not held never waits for a record */
static void test_smtp_not_held(void **state)
{
	(void)state;
	struct sink s;
	if (!sink_start(&s))
		skip();
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i}", "host", "127.0.0.1", "port",
			      s.port, "tls", "none", "from", "Acme <care@example.com>",
			      "concurrency", 2, "per_session", 6);
	struct transport *t = make("smtp", CHANNEL_EMAIL, o);
	struct transport_done *q = transport_done_create();
	jobs_init(CHANNEL_EMAIL);
	for (int i = 0; i < N; i++)
		transport_submit(t, &jobs[i], q);
	struct transport_job *got[N];
	int n = 0;
	for (int tries = 0; n < N && tries < 50; tries++)
		n = gather(q, got, n, 100);
	assert_int_equal(n, N);
	transport_free(t);
	transport_done_free(q);
	json_decref(o);
	assert_int_equal(files(s.maildir), N);
	child_stop(s.pid);
}

/* ---- http: one wave of `concurrency` requests, then a wait ---- */

static void test_http_held(void **state)
{
	(void)state;
	char portfile[128], logfile[128];
	snprintf(portfile, sizeof(portfile), "%s/http.port", dir);
	snprintf(logfile, sizeof(logfile), "%s/http.log", dir);
	pid_t pid = spawn();
	if (pid == 0) {
		execl(PY, PY, HTTPD, "--port-file", portfile, "--log", logfile, (char *)NULL);
		_exit(127);
	}
	int port = 0;
	for (int i = 0; i < 100 && !port; i++) {
		FILE *fp = fopen(portfile, "r");
		if (fp && fscanf(fp, "%d", &port) != 1)
			port = 0;
		if (fp)
			fclose(fp);
		if (!port)
			sleep_ms(50);
	}
	if (!port)
		fail_msg("httpd.py did not start");
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sms", port);
	json_t *o = json_pack("{s:s, s:i}", "url", url, "concurrency", 3);
	struct transport *t = make("http", CHANNEL_SMS, o);
	struct transport_done *q = transport_done_create();
	transport_done_hold(q);
	jobs_init(CHANNEL_SMS);
	for (int i = 0; i < N; i++)
		transport_submit(t, &jobs[i], q);
	struct transport_job *got[N];
	int n = gather(q, got, 0, 800);
	/* the first wave: one request per connection, then nothing */
	assert_int_equal(n, 3);
	assert_int_equal(lines(logfile), 3);
	transport_recorded(got[0], 0);
	transport_recorded(got[1], 0);
	n = gather(q, got, n, 400);
	assert_int_equal(n, 3); /* the wave waits for all three records */
	transport_recorded(got[2], 0);
	n = gather(q, got, n, 800);
	assert_int_equal(n, 6);
	assert_int_equal(lines(logfile), 6);
	int done = 3;
	for (int tries = 0; n < N && tries < 100; tries++) {
		for (; done < n; done++)
			transport_recorded(got[done], 0);
		n = gather(q, got, n, 100);
	}
	assert_int_equal(n, N);
	for (; done < n; done++)
		transport_recorded(got[done], 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(got[i]->d.status, DELIVERY_OK);
	transport_free(t);
	transport_done_free(q);
	json_decref(o);
	assert_int_equal(lines(logfile), N);
	child_stop(pid);
}

/* the synchronous path of an acked kind waits for nothing */
static void test_sync(void **state)
{
	(void)state;
	struct sink s;
	if (!sink_start(&s))
		skip();
	json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i}", "host", "127.0.0.1", "port", s.port,
			      "tls", "none", "from", "Acme <care@example.com>", "per_session", N);
	struct transport *t = make("smtp", CHANNEL_EMAIL, o);
	jobs_init(CHANNEL_EMAIL);
	const struct message *mp[N];
	struct delivery d[N];
	for (int i = 0; i < N; i++)
		mp[i] = &ms[i];
	assert_int_equal(transport_deliver(t, mp, N, NOW, d), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(d[i].status, DELIVERY_OK);
	transport_free(t);
	json_decref(o);
	assert_int_equal(files(s.maildir), N);
	child_stop(s.pid);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_ack.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (nchildren > 0)
		child_stop(children[0]);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_smtp_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_not_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
