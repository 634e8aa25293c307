/* test_http.c - http_client against a real server, and its pure parts
 *
 * Each server test starts tests/e2e/httpd.py (/usr/bin/python3) on a
 * loopback port in a fresh temporary directory, drives http_client_run
 * against it and reads back the server's log of the requests it really
 * got: bodies byte for byte, connection ids (keep-alive), how many times a
 * request arrived (never resent after the server may have acted on it).
 * The classification, Retry-After and JSON pointer tests are tables.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "http_client.h"
#include "transport.h"
#include "xmalloc.h"

#define PY "/usr/bin/python3"

struct server {
	char dir[64];
	char *script;
	char *log;
	pid_t pid;
	int port;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return xstrdup("");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_append(&b, tmp, n);
	fclose(fp);
	buf_puts(&b, "");
	return buf_detach(&b);
}

/* httpd_path - tests/e2e/httpd.py from the project root (make unit runs
 * there) or from beside build/tests/ */
static char *httpd_path(void)
{
	if (access("tests/e2e/httpd.py", R_OK) == 0)
		return xstrdup("tests/e2e/httpd.py");
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	*slash = '\0';
	return xasprintf("%s/../../tests/e2e/httpd.py", exe);
}

/* server_start - run httpd.py with script (NULL: none; tls: cert and key
 * paths or NULL) and wait for its port */
static void server_start(struct server *s, const char *script, const char *cert, const char *key)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/outreach-http-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->script = xasprintf("%s/script.json", s->dir);
	s->log = xasprintf("%s/log.jsonl", s->dir);
	char *portf = xasprintf("%s/port", s->dir);
	write_file(s->script, script ? script : "[]");
	char *py = httpd_path();
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		if (cert)
			execl(PY, PY, py, "--port-file", portf, "--log", s->log, "--script",
			      s->script, "--tls", cert, key, (char *)NULL);
		else
			execl(PY, PY, py, "--port-file", portf, "--log", s->log, "--script",
			      s->script, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && s->port == 0; i++) {
		char *p = slurp(portf);
		s->port = (int)strtol(p, NULL, 10);
		free(p);
		if (!s->port)
			usleep(50 * 1000);
	}
	free(portf);
	free(py);
	if (!s->port)
		fail_msg("httpd.py did not start");
}

/* http_script - replace the server's rules (it reads them per request) */
static void http_script(const struct server *s, const char *script)
{
	write_file(s->script, script);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	rm_dir(s->dir);
	free(s->script);
	free(s->log);
}

/* server_log - the requests the server got, as a JSON array (caller decrefs) */
static json_t *server_log(const struct server *s)
{
	char *text = slurp(s->log);
	json_t *a = json_array();
	char *line = text, *nl;
	while (*line) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line) {
			json_error_t je;
			json_t *v = json_loads(line, 0, &je);
			if (!v)
				fail_msg("bad log line: %s", line);
			json_array_append_new(a, v);
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	free(text);
	return a;
}

static size_t count_path(json_t *log, const char *path)
{
	size_t i, k = 0;
	json_t *v;
	json_array_foreach(log, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "path")), path) == 0)
			k++;
	}
	return k;
}

static size_t distinct_conns(json_t *log)
{
	json_t *seen = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(log, i, v)
	{
		char key[32];
		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(json_object_get(v, "conn")));
		json_object_set_new(seen, key, json_true());
	}
	size_t n = json_object_size(seen);
	json_decref(seen);
	return n;
}

static char *url(const struct server *s, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", s->port, path);
}

/* ---- against the server ---- */

/* N requests, concurrency C: all answered, bodies intact, at most C
 * connections, and kept alive from one run to the next */
static void test_concurrency_keepalive(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, NULL, NULL, NULL);
	enum { N = 40, C = 4 };
	struct http_client_opts o = {.concurrency = C, .timeout_ms = 5000};
	struct http_client *c = http_client_create(&o);
	struct http_request req[N];
	struct http_response res[N];
	char *urls[N], *bodies[N];
	struct header hdr[] = {{"Content-Type", "application/json"}, {"X-Token", "t0k"}};
	for (int i = 0; i < N; i++) {
		urls[i] = xasprintf("http://127.0.0.1:%d/v1/send?i=%d", s.port, i);
		bodies[i] = xasprintf("{\"to\":\"+86138%08d\",\"text\":\"您好 %d\"}", i, i);
		req[i] =
		    (struct http_request){"POST", urls[i], hdr, 2, bodies[i], strlen(bodies[i])};
	}
	http_client_run(c, req, N, res);
	for (int i = 0; i < N; i++) {
		if (res[i].status != 200)
			fail_msg("request %d: status %ld: %s", i, res[i].status, res[i].error);
		assert_non_null(strstr(res[i].body, "\"ok\":true"));
		char id[32];
		assert_int_equal(http_response_field(&res[i], "/id", id, sizeof(id)), 0);
		assert_true(id[0] == 'm');
		http_response_release(&res[i]);
	}
	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), N);
	size_t i;
	json_t *v;
	json_array_foreach(log, i, v)
	{
		const char *q = json_string_value(json_object_get(v, "query"));
		int k = (int)strtol(q + 2, NULL, 10); /* "i=K", written above */
		assert_string_equal(json_string_value(json_object_get(v, "method")), "POST");
		assert_string_equal(json_string_value(json_object_get(v, "body")), bodies[k]);
		json_t *h = json_object_get(v, "headers");
		assert_string_equal(json_string_value(json_object_get(h, "x-token")), "t0k");
		assert_string_equal(json_string_value(json_object_get(h, "content-type")),
				    "application/json");
		assert_null(json_object_get(h, "expect"));
	}
	size_t conns = distinct_conns(log);
	if (conns > C)
		fail_msg("%zu connections for concurrency %d", conns, C);
	json_decref(log);

	/* a second run reuses the connections of the first */
	http_client_run(c, req, 8, res);
	for (int k = 0; k < 8; k++) {
		assert_int_equal(res[k].status, 200);
		http_response_release(&res[k]);
	}
	log = server_log(&s);
	assert_int_equal(json_array_size(log), N + 8);
	conns = distinct_conns(log);
	if (conns > C)
		fail_msg("%zu connections after a second run, concurrency %d", conns, C);
	json_decref(log);

	for (int k = 0; k < N; k++) {
		free(urls[k]);
		free(bodies[k]);
	}
	http_client_free(c);
	server_stop(&s);
}

/* 8 slow requests at concurrency 4 take two rounds, not one, not eight */
static void test_concurrency_bound(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, "[{\"path\": \"/slow\", \"hang\": 0.5, \"body\": \"ok\"}]", NULL, NULL);
	struct http_client_opts o = {.concurrency = 4, .timeout_ms = 5000};
	struct http_client *c = http_client_create(&o);
	char *u = url(&s, "/slow");
	struct http_request req[8];
	struct http_response res[8];
	for (int i = 0; i < 8; i++)
		req[i] = (struct http_request){"GET", u, NULL, 0, NULL, 0};
	double t0 = mono();
	http_client_run(c, req, 8, res);
	double dt = mono() - t0;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(res[i].status, 200);
		assert_string_equal(res[i].body, "ok");
		http_response_release(&res[i]);
	}
	/* serial would be 4 s; unbounded 0.5 s */
	if (dt < 0.95 || dt > 3.0)
		fail_msg("8 requests of 0.5 s at concurrency 4 took %.2f s, want about 1", dt);
	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), 8);
	assert_true(distinct_conns(log) <= 4);
	json_decref(log);
	free(u);
	http_client_free(c);
	server_stop(&s);
}

/* statuses, Retry-After and bodies as the classification sees them */
static void test_statuses(void **state)
{
	(void)state;
	struct server s;
	server_start(
	    &s,
	    "[{\"path\": \"/429\", \"status\": 429, \"body\": \"slow down\","
	    "  \"headers\": {\"Retry-After\": \"120\"}},"
	    " {\"path\": \"/500\", \"status\": 500, \"body\": \"<html>\\n<b>oops</b>\\n</html>\"},"
	    " {\"path\": \"/503\", \"status\": 503, \"headers\": {\"Retry-After\": \"soon\"}},"
	    " {\"path\": \"/400\", \"status\": 400, \"body\": \"{\\\"error\\\": \\\"invalid "
	    "number\\\"}\"},"
	    " {\"path\": \"/302\", \"status\": 302, \"headers\": {\"Location\": "
	    "\"http://127.0.0.1:1/x\"}},"
	    " {\"path\": \"/201\", \"status\": 201, \"body\": \"{\\\"message_id\\\": 42}\"}]",
	    NULL, NULL);
	struct http_client_opts o = {.concurrency = 3, .timeout_ms = 5000};
	struct http_client *c = http_client_create(&o);
	static const struct {
		const char *path;
		long status;
		enum delivery_status st;
		const char *code, *reason;
		int64_t retry_after;
	} want[] = {
	    {"/429", 429, DELIVERY_DEFER, "http 429", "HTTP 429: slow down", 120},
	    {"/500", 500, DELIVERY_DEFER, "http 500", "HTTP 500: <html> <b>oops</b> </html>", 0},
	    {"/503", 503, DELIVERY_DEFER, "http 503", "HTTP 503", 0},
	    {"/400", 400, DELIVERY_FAIL, "http 400", "HTTP 400: {\"error\": \"invalid number\"}",
	     0},
	    {"/302", 302, DELIVERY_FAIL, "http 302", "HTTP 302", 0},
	    {"/201", 201, DELIVERY_OK, "http 201", "HTTP 201: {\"message_id\": 42}", 0},
	    {"/other", 200, DELIVERY_OK, "http 200", NULL, 0},
	};
	enum { N = sizeof(want) / sizeof(*want) };
	struct http_request req[N];
	struct http_response res[N];
	char *urls[N];
	for (size_t i = 0; i < N; i++) {
		urls[i] = url(&s, want[i].path);
		req[i] = (struct http_request){NULL, urls[i], NULL, 0, "x", 1};
	}
	http_client_run(c, req, N, res);
	for (size_t i = 0; i < N; i++) {
		struct delivery d;
		memset(&d, 0, sizeof(d));
		if (res[i].status != want[i].status)
			fail_msg("%s: status %ld (%s)", want[i].path, res[i].status, res[i].error);
		http_classify(&res[i], &d);
		if (d.status != want[i].st || strcmp(d.code, want[i].code) != 0 ||
		    (want[i].reason && strcmp(d.reason, want[i].reason) != 0) ||
		    d.retry_after != want[i].retry_after)
			fail_msg("%s: %d %s \"%s\" retry %lld", want[i].path, d.status, d.code,
				 d.reason, (long long)d.retry_after);
		http_response_release(&res[i]);
		free(urls[i]);
	}
	/* the redirect was not followed: nothing reached port 1, and the
	 * server saw each request once */
	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), N);
	json_decref(log);
	http_client_free(c);
	server_stop(&s);
}

/* a server that does not answer in time: a timeout, quickly */
static void test_timeout(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, "[{\"path\": \"/hang\", \"hang\": 5}]", NULL, NULL);
	struct http_client_opts o = {.concurrency = 2, .timeout_ms = 600};
	struct http_client *c = http_client_create(&o);
	char *u = url(&s, "/hang?token=SECRET-IN-QUERY");
	char *ok = url(&s, "/fine");
	struct http_request req[2] = {{"POST", u, NULL, 0, "{}", 2},
				      {"POST", ok, NULL, 0, "{}", 2}};
	struct http_response res[2];
	double t0 = mono();
	http_client_run(c, req, 2, res);
	double dt = mono() - t0;
	assert_int_equal(res[0].status, 0);
	assert_int_equal(res[0].timed_out, 1);
	assert_int_equal(res[0].err, HTTP_ERR_TIMEOUT);
	if (res[1].status != 200) /* its neighbour is not held up */
		fail_msg("/fine: %ld %s", res[1].status, res[1].error);
	if (dt > 3.0)
		fail_msg("a 600 ms timeout took %.2f s", dt);
	struct delivery d;
	memset(&d, 0, sizeof(d));
	http_classify(&res[0], &d);
	assert_int_equal(d.status, DELIVERY_DEFER);
	assert_string_equal(d.code, "timeout");
	assert_non_null(strstr(d.reason, "timed out"));
	assert_null(strstr(d.reason, "SECRET"));
	json_t *log = server_log(&s);
	assert_int_equal(count_path(log, "/hang"), 1);
	json_decref(log);
	http_response_release(&res[0]);
	http_response_release(&res[1]);
	free(u);
	free(ok);
	http_client_free(c);
	server_stop(&s);
}

/* nothing listening: a connection error, no secret in the words */
static void test_connect_refused(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd); /* the port is free again, and nobody listens */
	char *u = xasprintf("http://user:PASSWORD@127.0.0.1:%d/bot-SECRET/send?key=SECRET2",
			    ntohs(a.sin_port));
	struct http_client_opts o = {.concurrency = 1, .timeout_ms = 3000};
	struct http_client *c = http_client_create(&o);
	struct http_request req = {"POST", u, NULL, 0, "{}", 2};
	struct http_response res;
	http_client_run(c, &req, 1, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.err, HTTP_ERR_CONNECT);
	assert_true(res.error[0] != '\0');
	assert_null(strstr(res.error, "SECRET"));
	assert_null(strstr(res.error, "PASSWORD"));
	struct delivery d;
	memset(&d, 0, sizeof(d));
	http_classify(&res, &d);
	assert_int_equal(d.status, DELIVERY_DEFER);
	assert_string_equal(d.code, "connect");
	http_response_release(&res);
	free(u);
	http_client_free(c);
}

/* the server reads a request and closes without answering: on a
 * kept-alive connection libcurl would resend it; we must not */
static void test_close_not_resent(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, "[{\"path\": \"/close\", \"close\": true}]", NULL, NULL);
	struct http_client_opts o = {.concurrency = 1, .timeout_ms = 5000};
	struct http_client *c = http_client_create(&o);
	char *first = url(&s, "/first");
	char *cl = url(&s, "/close");
	struct http_request req[3] = {{"POST", first, NULL, 0, "a", 1},
				      {"POST", cl, NULL, 0, "b", 1},
				      {"GET", cl, NULL, 0, NULL, 0}};
	struct http_response res[3];
	http_client_run(c, req, 3, res);
	assert_int_equal(res[0].status, 200);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(res[i].status, 0);
		assert_int_equal(res[i].err, HTTP_ERR_NETWORK);
		struct delivery d;
		memset(&d, 0, sizeof(d));
		http_classify(&res[i], &d);
		assert_int_equal(d.status, DELIVERY_DEFER);
		assert_string_equal(d.code, "network");
	}
	json_t *log = server_log(&s);
	/* POST and GET each arrived exactly once */
	size_t n = count_path(log, "/close");
	if (n != 2)
		fail_msg("the server got /close %zu times, want 2 (one POST, one GET)", n);
	assert_int_equal(json_array_size(log), 3);
	/* the first two went over one kept-alive connection */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "conn")),
			 json_integer_value(json_object_get(json_array_get(log, 1), "conn")));
	json_decref(log);
	for (int i = 0; i < 3; i++)
		http_response_release(&res[i]);
	/* and the client still works afterwards */
	http_client_run(c, req, 1, res);
	assert_int_equal(res[0].status, 200);
	http_response_release(&res[0]);
	free(first);
	free(cl);
	http_client_free(c);
	server_stop(&s);
}

/* raw_answer - one connection on a loopback port answered with the bytes
 * of answer once the request has arrived; the child's pid, the port in *port */
static pid_t raw_answer(const char *answer, int *port)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(10);
		int cfd = accept(lfd, NULL, NULL);
		char tmp[4096];
		struct buf got = BUF_INIT;
		/* read up to the end of the request: headers, then a 2-byte body */
		while (!got.len || !strstr(buf_cstr(&got), "\r\n\r\n{}")) {
			ssize_t r = read(cfd, tmp, sizeof(tmp));
			if (r <= 0)
				break;
			buf_append(&got, tmp, (size_t)r);
		}
		ssize_t w = write(cfd, answer, strlen(answer));
		(void)w;
		close(cfd);
		_exit(0);
	}
	close(lfd);
	return pid;
}

/* answers that are not a whole HTTP response: never OK, always DEFER */
static void test_broken_answers(void **state)
{
	(void)state;
	static const char *const answers[] = {
	    "SMTP ready? 220 hello\r\n\r\nthis is not http\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\": \"cut",
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
	    "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
	    "",
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
		int port;
		pid_t pid = raw_answer(answers[i], &port);
		char *u = xasprintf("http://127.0.0.1:%d/send", port);
		struct http_client_opts o = {.concurrency = 1, .timeout_ms = 3000};
		struct http_client *c = http_client_create(&o);
		struct http_request req = {"POST", u, NULL, 0, "{}", 2};
		struct http_response res;
		http_client_run(c, &req, 1, &res);
		waitpid(pid, NULL, 0);
		struct delivery d;
		memset(&d, 0, sizeof(d));
		http_classify(&res, &d);
		if (res.status != 0 || d.status != DELIVERY_DEFER || strcmp(d.code, "network") != 0)
			fail_msg("answer %zu: status %ld, %d %s %s", i, res.status, d.status,
				 d.code, d.reason);
		http_response_release(&res);
		free(u);
		http_client_free(c);
	}
}

/* refused before sending: bad header, URL or method */
static void test_invalid(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, NULL, NULL, NULL);
	struct http_client_opts o = {.concurrency = 2, .timeout_ms = 3000};
	struct http_client *c = http_client_create(&o);
	char *u = url(&s, "/x");
	char *ftp = xasprintf("ftp://127.0.0.1:%d/x", s.port);
	struct header crlf[] = {{"X-A", "ok\r\nX-Injected: 1"}};
	struct header badname[] = {{"X A", "v"}};
	struct http_request req[] = {
	    {"POST", u, crlf, 1, "{}", 2},	   {"POST", u, badname, 1, "{}", 2},
	    {"POST", ftp, NULL, 0, "{}", 2},	   {"GE T", u, NULL, 0, NULL, 0},
	    {"POST", "not a url", NULL, 0, "", 0}, {"POST", u, NULL, 0, "{}", 2},
	};
	enum { N = sizeof(req) / sizeof(*req) };
	struct http_response res[N];
	http_client_run(c, req, N, res);
	for (size_t i = 0; i + 1 < N; i++) {
		assert_int_equal(res[i].status, 0);
		assert_int_equal(res[i].err, HTTP_ERR_INVALID);
		struct delivery d;
		memset(&d, 0, sizeof(d));
		http_classify(&res[i], &d);
		assert_int_equal(d.status, DELIVERY_FAIL);
		assert_string_equal(d.code, "invalid");
	}
	assert_string_equal(res[0].error, "invalid header");
	assert_int_equal(res[N - 1].status, 200);
	for (size_t i = 0; i < N; i++)
		http_response_release(&res[i]);
	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), 1); /* only the good one */
	json_decref(log);
	free(u);
	free(ftp);
	http_client_free(c);
	server_stop(&s);
}

/* HTTPS: verified with ca_file, refused without it, accepted insecure */
static void test_tls(void **state)
{
	(void)state;
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/outreach-tls-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *cert = xasprintf("%s/cert.pem", dir), *key = xasprintf("%s/key.pem", dir);
	char *cmd =
	    xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		      "-nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		      "-keyout %s -out %s >/dev/null 2>&1",
		      key, cert);
	if (system(cmd) != 0) {
		free(cmd);
		skip();
	}
	free(cmd);
	struct server s;
	server_start(&s, NULL, cert, key);
	char *u = xasprintf("https://127.0.0.1:%d/tls", s.port);
	struct http_request req = {"POST", u, NULL, 0, "{}", 2};
	struct http_response res;

	struct http_client_opts o = {.concurrency = 1, .timeout_ms = 5000, .ca_file = cert};
	struct http_client *c = http_client_create(&o);
	http_client_run(c, &req, 1, &res);
	if (res.status != 200)
		fail_msg("https with ca_file: %ld %s", res.status, res.error);
	http_response_release(&res);
	http_client_free(c);

	o.ca_file = NULL;
	c = http_client_create(&o);
	http_client_run(c, &req, 1, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.err, HTTP_ERR_TLS);
	struct delivery d;
	memset(&d, 0, sizeof(d));
	http_classify(&res, &d);
	assert_int_equal(d.status, DELIVERY_DEFER);
	assert_string_equal(d.code, "tls");
	http_response_release(&res);
	http_client_free(c);

	o.insecure = 1;
	c = http_client_create(&o);
	http_client_run(c, &req, 1, &res);
	assert_int_equal(res.status, 200);
	http_response_release(&res);
	http_client_free(c);

	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), 2); /* the unverified one sent nothing */
	json_decref(log);
	server_stop(&s);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	free(cert);
	free(key);
	free(u);
}

/* HTTP/2 where the server offers it over TLS: concurrent requests share
 * one connection (needs nghttpd from nghttp2-server; skipped without) */
static void test_http2_multiplex(void **state)
{
	(void)state;
	const char *nghttpd = "/usr/sbin/nghttpd";
	if (access(nghttpd, X_OK) != 0)
		skip();
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/outreach-h2-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *cert = xasprintf("%s/cert.pem", dir), *key = xasprintf("%s/key.pem", dir);
	char *logf = xasprintf("%s/log", dir);
	char *cmd =
	    xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		      "-nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		      "-keyout %s -out %s >/dev/null 2>&1",
		      key, cert);
	if (system(cmd) != 0) {
		free(cmd);
		skip();
	}
	free(cmd);
	/* a free port: bind 0, read it, let it go */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	char port[16];
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *lf = freopen(logf, "w", stdout);
		(void)lf;
		dup2(1, 2);
		execl(nghttpd, nghttpd, "-v", "-d", dir, "--echo-upload", port, key, cert,
		      (char *)NULL);
		_exit(127);
	}
	/* wait until it accepts connections */
	int up = 0;
	for (int i = 0; i < 100 && !up; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		up = connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(c);
		if (!up)
			usleep(50 * 1000);
	}
	if (!up) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		fail_msg("nghttpd did not start");
	}
	enum { N = 12 };
	char *u = xasprintf("https://127.0.0.1:%s/send", port);
	struct http_request req[N];
	struct http_response res[N];
	char *bodies[N];
	for (int i = 0; i < N; i++) {
		bodies[i] = xasprintf("{\"n\": %d, \"text\": \"多路复用\"}", i);
		req[i] = (struct http_request){"POST", u, NULL, 0, bodies[i], strlen(bodies[i])};
	}
	struct http_client_opts o = {.concurrency = 4, .timeout_ms = 5000, .ca_file = cert};
	struct http_client *c = http_client_create(&o);
	http_client_run(c, req, N, res);
	http_client_free(c);
	kill(pid, SIGTERM); /* before any assertion can end the test */
	waitpid(pid, NULL, 0);
	for (int i = 0; i < N; i++) {
		if (res[i].status != 200)
			fail_msg("h2 request %d: %ld %s", i, res[i].status, res[i].error);
		assert_string_equal(res[i].body, bodies[i]); /* echoed back */
		http_response_release(&res[i]);
	}
	/* nghttpd -v tags each line with its session, "[id=N] ... :method:
	 * POST" for each request; the readiness probe is a session without */
	char *log = slurp(logf);
	int sessions = 0, requests = 0, seen[64] = {0};
	for (char *p = log; *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		int id;
		if (strstr(p, ":method: POST") && sscanf(p, "[id=%d]", &id) == 1 && id > 0 &&
		    id < 64) {
			requests++;
			if (!seen[id]++)
				sessions++;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	assert_int_equal(requests, N);
	if (sessions != 1)
		fail_msg("%d HTTP/2 sessions for %d requests at concurrency 4, want 1", sessions,
			 N);
	free(log);
	for (int i = 0; i < N; i++)
		free(bodies[i]);
	free(u);
	unlink(cert);
	unlink(key);
	unlink(logf);
	rmdir(dir);
	free(cert);
	free(key);
	free(logf);
}

/* ---- tables ---- */

static void test_classify_table(void **state)
{
	(void)state;
	static const struct {
		long status;
		enum http_error err;
		int timed_out;
		const char *body;
		enum delivery_status st;
		const char *code;
		const char *reason;
	} rows[] = {
	    {200, 0, 0, "{\"id\":\"x\"}", DELIVERY_OK, "http 200", "HTTP 200: {\"id\":\"x\"}"},
	    {201, 0, 0, "", DELIVERY_OK, "http 201", "HTTP 201"},
	    {204, 0, 0, NULL, DELIVERY_OK, "http 204", "HTTP 204"},
	    {408, 0, 0, "", DELIVERY_DEFER, "http 408", "HTTP 408"},
	    {425, 0, 0, "", DELIVERY_DEFER, "http 425", "HTTP 425"},
	    {429, 0, 0, "too many\r\n requests", DELIVERY_DEFER, "http 429",
	     "HTTP 429: too many requests"},
	    {500, 0, 0, "", DELIVERY_DEFER, "http 500", "HTTP 500"},
	    {502, 0, 0, "", DELIVERY_DEFER, "http 502", "HTTP 502"},
	    {503, 0, 0, "", DELIVERY_DEFER, "http 503", "HTTP 503"},
	    {599, 0, 0, "", DELIVERY_DEFER, "http 599", "HTTP 599"},
	    {400, 0, 0, "bad\tnumber\x01", DELIVERY_FAIL, "http 400", "HTTP 400: bad number"},
	    {401, 0, 0, "", DELIVERY_FAIL, "http 401", "HTTP 401"},
	    {403, 0, 0, "", DELIVERY_FAIL, "http 403", "HTTP 403"},
	    {404, 0, 0, "", DELIVERY_FAIL, "http 404", "HTTP 404"},
	    {410, 0, 0, "", DELIVERY_FAIL, "http 410", "HTTP 410"},
	    {422, 0, 0, "", DELIVERY_FAIL, "http 422", "HTTP 422"},
	    {301, 0, 0, "", DELIVERY_FAIL, "http 301", "HTTP 301"},
	    {302, 0, 0, "", DELIVERY_FAIL, "http 302", "HTTP 302"},
	    {0, HTTP_ERR_TIMEOUT, 1, NULL, DELIVERY_DEFER, "timeout", "words"},
	    {0, HTTP_ERR_NONE, 1, NULL, DELIVERY_DEFER, "timeout", "words"},
	    {0, HTTP_ERR_CONNECT, 0, NULL, DELIVERY_DEFER, "connect", "words"},
	    {0, HTTP_ERR_TLS, 0, NULL, DELIVERY_DEFER, "tls", "words"},
	    {0, HTTP_ERR_NETWORK, 0, NULL, DELIVERY_DEFER, "network", "words"},
	    {0, HTTP_ERR_NONE, 0, NULL, DELIVERY_DEFER, "network", "words"},
	    {0, HTTP_ERR_INVALID, 0, NULL, DELIVERY_FAIL, "invalid", "words"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct http_response r;
		memset(&r, 0, sizeof(r));
		r.status = rows[i].status;
		r.err = rows[i].err;
		r.timed_out = rows[i].timed_out;
		r.body = (char *)rows[i].body;
		r.body_len = rows[i].body ? strlen(rows[i].body) : 0;
		r.retry_after = 30;
		snprintf(r.error, sizeof(r.error), "words");
		struct delivery d;
		memset(&d, 0, sizeof(d));
		http_classify(&r, &d);
		int64_t want_ra = rows[i].st == DELIVERY_DEFER && rows[i].status ? 30 : 0;
		if (d.status != rows[i].st || strcmp(d.code, rows[i].code) != 0 ||
		    strcmp(d.reason, rows[i].reason) != 0 || d.retry_after != want_ra)
			fail_msg("row %zu (%ld): %d \"%s\" \"%s\" %lld", i, rows[i].status,
				 d.status, d.code, d.reason, (long long)d.retry_after);
	}
	/* a long Chinese body is cut on a character boundary, on one line */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_puts(&b, i % 10 == 9 ? "错\n" : "错");
	struct http_response r;
	memset(&r, 0, sizeof(r));
	r.status = 400;
	r.body = b.data;
	r.body_len = b.len;
	struct delivery d;
	memset(&d, 0, sizeof(d));
	http_classify(&r, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	size_t n = strlen(d.reason);
	assert_true(n > 100 && n < sizeof(d.reason));
	assert_null(strchr(d.reason, '\n'));
	assert_int_equal(strncmp(d.reason, "HTTP 400: 错", strlen("HTTP 400: 错")), 0);
	/* valid UTF-8 to the end: jansson refuses anything else */
	json_t *js = json_string(d.reason);
	assert_non_null(js);
	json_decref(js);
	buf_release(&b);
}

static void test_retry_after(void **state)
{
	(void)state;
	const int64_t now = 1445412380; /* Wed, 21 Oct 2015 07:26:20 GMT */
	static const struct {
		const char *v;
		int64_t want;
	} rows[] = {
	    {"120", 120},
	    {" 5 ", 5},
	    {"0", 0},
	    {"", 0},
	    {"soon", 0},
	    {"-5", 0},
	    {"12abc", 0},
	    {"99999999999999", 30 * 86400},
	    {"Wed, 21 Oct 2015 07:28:00 GMT", 100},
	    {"Wednesday, 21-Oct-15 07:28:00 GMT", 100},
	    {"Wed Oct 21 07:28:00 2015", 100},
	    {"Wed, 21 Oct 2015 07:20:00 GMT", 0},
	    {"Wed, 21 Oct 2035 07:28:00 GMT", 30 * 86400},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		int64_t got = http_retry_after_parse(rows[i].v, now);
		if (got != rows[i].want)
			fail_msg("Retry-After \"%s\": %lld, want %lld", rows[i].v, (long long)got,
				 (long long)rows[i].want);
	}
	assert_int_equal(http_retry_after_parse(NULL, now), 0);
}

static void test_json_pointer(void **state)
{
	(void)state;
	json_t *doc =
	    json_loads("{\"data\": {\"id\": \"abc\", \"n\": [1, {\"x\": \"y\"}]},"
		       " \"a/b\": 1, \"m~n\": 2, \"ok\": true, \"no\": false, \"nil\": null,"
		       " \"code\": 0, \"pi\": 3.5, \"\": \"empty key\"}",
		       0, NULL);
	assert_non_null(doc);
	assert_ptr_equal(http_json_pointer(doc, ""), doc);
	assert_string_equal(json_string_value(http_json_pointer(doc, "/data/id")), "abc");
	assert_string_equal(json_string_value(http_json_pointer(doc, "/data/n/1/x")), "y");
	assert_int_equal(json_integer_value(http_json_pointer(doc, "/a~1b")), 1);
	assert_int_equal(json_integer_value(http_json_pointer(doc, "/m~0n")), 2);
	assert_string_equal(json_string_value(http_json_pointer(doc, "/")), "empty key");
	assert_null(http_json_pointer(doc, "/data/n/01"));
	assert_null(http_json_pointer(doc, "/data/n/2"));
	assert_null(http_json_pointer(doc, "/data/n/-"));
	assert_null(http_json_pointer(doc, "/missing"));
	assert_null(http_json_pointer(doc, "/data/id/deeper"));
	assert_null(http_json_pointer(doc, "data"));
	assert_null(http_json_pointer(doc, "/x~2"));
	assert_int_equal(http_json_pointer_valid("/a~0~1"), 1);
	assert_int_equal(http_json_pointer_valid(""), 1);
	assert_int_equal(http_json_pointer_valid("a"), 0);
	assert_int_equal(http_json_pointer_valid("/a~"), 0);
	assert_int_equal(http_json_pointer_valid(NULL), 0);
	json_decref(doc);

	struct http_response r;
	memset(&r, 0, sizeof(r));
	char out[64];
	r.body = "{\"messages\": [{\"message-id\": \"0A0000001\", \"status\": \"0\"}],"
		 " \"code\": 0, \"ok\": true, \"pi\": 3.5, \"nil\": null}";
	r.body_len = strlen(r.body);
	r.status = 200;
	static const struct {
		const char *p;
		int rc;
		const char *out;
	} rows[] = {
	    {"/messages/0/message-id", 0, "0A0000001"},
	    {"/messages/0/status", 0, "0"},
	    {"/code", 0, "0"},
	    {"/ok", 0, "true"},
	    {"/pi", 0, "3.5"},
	    {"/nil", 0, "null"},
	    {"/messages", -1, ""},
	    {"/messages/1", -1, ""},
	    {"/nope", -1, ""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		int rc = http_response_field(&r, rows[i].p, out, sizeof(out));
		if (rc != rows[i].rc || strcmp(out, rows[i].out) != 0)
			fail_msg("%s: %d \"%s\"", rows[i].p, rc, out);
	}
	/* cut to fit */
	assert_int_equal(http_response_field(&r, "/messages/0/message-id", out, 4), 0);
	assert_string_equal(out, "0A0");
	r.body = "not json";
	r.body_len = strlen(r.body);
	assert_int_equal(http_response_field(&r, "/id", out, sizeof(out)), -1);
	r.body = NULL;
	r.body_len = 0;
	assert_int_equal(http_response_field(&r, "/id", out, sizeof(out)), -1);
}

/* ---- the http transport kind over the same server ---- */

struct tfix {
	struct config cfg;
	struct transport_conf conf;
	struct transport *t;
};

/* tcreate - a transport "sms" of kind http from opts (JSON, the caller's
 * format args filled in); NULL with e set when create refuses */
static struct transport *tcreate(struct tfix *f, int flags, struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text;
	if (vasprintf(&text, fmt, ap) < 0)
		fail_msg("vasprintf");
	va_end(ap);
	json_error_t je;
	memset(f, 0, sizeof(*f));
	f->conf.opts = json_loads(text, 0, &je);
	if (!f->conf.opts)
		fail_msg("bad test opts: %s: %s", je.text, text);
	free(text);
	f->cfg.path = "o.yaml";
	f->cfg.lines = json_pack("{s:i, s:i, s:i}", "/transports/sms", 5, "/transports/sms/body", 9,
				 "/transports/sms/headers/X-Ref", 11);
	f->conf.name = "sms";
	f->conf.kind = "http";
	f->conf.channel = CHANNEL_SMS;
	f->conf.to = "phone";
	f->conf.pointer = "/transports/sms";
	f->conf.line = 5;
	err_clear(e);
	f->t = transport_create(&f->cfg, &f->conf, flags, e);
	return f->t;
}

static void tfree(struct tfix *f)
{
	transport_free(f->t);
	json_decref(f->conf.opts);
	json_decref(f->cfg.lines);
}

static struct message sms(int64_t id, const char *to, const char *text)
{
	struct message m;
	memset(&m, 0, sizeof(m));
	m.send_id = id;
	m.channel = CHANNEL_SMS;
	m.to = to;
	m.to_name = "张三";
	m.text = text;
	m.campaign = "thank-you";
	m.step = 1;
	return m;
}

static void deliver1(struct tfix *f, const struct message *m, struct delivery *d)
{
	assert_int_equal(transport_deliver(f->t, (const struct message *[]){m}, 1, 0, d), 0);
}

/* config problems name the option's line */
static void test_transport_config(void **state)
{
	(void)state;
	static const struct {
		const char *opts;
		const char *msg;
	} rows[] = {
	    {"{}", "o.yaml:5: transport \"sms\": missing url (the gateway's endpoint, a template)"},
	    {"{\"url\": \"http://x/\", \"body\": \"{{#a}}\"}",
	     "o.yaml:9: transport \"sms\": bad template in body: unclosed section \"a\""},
	    {"{\"url\": \"http://x/\", \"body\": \"{{to}}\\n{{/b}}\"}",
	     "o.yaml:9: transport \"sms\": bad template in body: unexpected close tag \"b\" "
	     "(template "
	     "line 2)"},
	    {"{\"url\": \"http://x/\", \"headers\": {\"X-Ref\": \"{{nope}}\"}}",
	     "o.yaml:11: transport \"sms\": unknown variable \"nope\" in header X-Ref (use to, "
	     "text, "
	     "send_id, campaign, step, segments, encoding, name, phone)"},
	    {"{\"url\": \"http://x/\", \"method\": \"FETCH\"}",
	     "o.yaml:5: transport \"sms\": unknown method \"FETCH\" (use GET, POST or PUT)"},
	    {"{\"url\": \"http://x/\", \"method\": \"GET\", \"body\": \"x\"}",
	     "o.yaml:9: transport \"sms\": a GET request has no body: put the values in the url"},
	    {"{\"url\": \"http://x/\", \"id_pointer\": \"id\"}",
	     "o.yaml:5: transport \"sms\": id_pointer must be a JSON pointer such as "
	     "/messages/0/id"},
	    {"{\"url\": \"http://x/\", \"ok_value\": 0}",
	     "o.yaml:5: transport \"sms\": ok_value needs ok_pointer"},
	    {"{\"url\": \"http://x/\", \"headers\": {\"X-Ref\": \"a\\r\\nb\"}}",
	     "o.yaml:11: transport \"sms\": header X-Ref must be one line (no CR or LF)"},
	    {"{\"url\": \"http://x/\", \"headers\": {\"Bad Name\": \"a\"}}",
	     "o.yaml:5: transport \"sms\": bad header name \"Bad Name\""},
	    {"{\"url\": \"http://x/\", \"headers\": {\"Content-Length\": \"3\"}}",
	     "o.yaml:5: transport \"sms\": header Content-Length is set by outreach"},
	    {"{\"url\": \"http://x/\", \"max_segments\": 21}",
	     "o.yaml:5: transport \"sms\": max_segments must be an integer from 1 to 20"},
	    {"{\"url\": \"http://x/\", \"concurrency\": 0}",
	     "o.yaml:5: transport \"sms\": concurrency must be an integer from 1 to 256"},
	    {"{\"url\": \"http://x/\", \"timeout\": \"soon\"}",
	     "o.yaml:5: transport \"sms\": timeout must be a duration such as 10s or 500ms (at "
	     "most "
	     "1d)"},
	    {"{\"url\": \"http://x/\", \"body\": \"{{>part}}\"}",
	     "o.yaml:9: transport \"sms\": bad template in body: partials are not supported here"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct tfix f;
		struct err e;
		for (int check = 0; check < 2; check++) {
			if (tcreate(&f, check ? TRANSPORT_CHECK : 0, &e, "%s", rows[i].opts))
				fail_msg("%s: accepted", rows[i].opts);
			if (strcmp(e.msg, rows[i].msg) != 0)
				fail_msg("%s:\n got  %s\n want %s", rows[i].opts, e.msg,
					 rows[i].msg);
			tfree(&f);
		}
	}
	/* a good config in check mode opens nothing and is accepted */
	struct tfix f;
	struct err e;
	assert_non_null(tcreate(&f, TRANSPORT_CHECK, &e, "{\"url\": \"http://x/{{phone}}\"}"));
	tfree(&f);
}

/* form bodies and GET URLs are percent-encoded; JSON bodies escaped */
static void test_transport_render(void **state)
{
	(void)state;
	struct server s;
	server_start(&s, NULL, NULL, NULL);
	struct tfix f;
	struct err e;
	if (!tcreate(
		&f, 0, &e,
		"{\"url\": \"http://127.0.0.1:%d/form\", \"headers\": {\"Content-Type\": "
		"\"application/x-www-form-urlencoded\", \"X-Seg\": \"{{segments}} {{encoding}}\"},"
		" \"body\": \"To={{to}}&Body={{text}}&Ref={{campaign}}-{{step}}\"}",
		s.port))
		fail_msg("%s", e.msg);
	struct message m = sms(7, "+8613800138000", "Hi 你好 & bye=1\n");
	struct delivery d;
	deliver1(&f, &m, &d);
	if (d.status != DELIVERY_OK)
		fail_msg("form: %s %s", d.code, d.reason);
	assert_string_equal(d.reason, "HTTP 200 (1 segment, ucs2): {\"ok\":true,\"id\":\"m1\"}");
	tfree(&f);

	if (!tcreate(
		&f, 0, &e,
		"{\"url\": \"http://127.0.0.1:%d/get?to={{phone}}&msg={{text}}&id={{send_id}}\","
		" \"method\": \"GET\", \"id_pointer\": \"/id\"}",
		s.port))
		fail_msg("%s", e.msg);
	m = sms(8, "+447700900123", "a/b?c=d e");
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_OK);
	assert_string_equal(d.provider_id, "m2");
	tfree(&f);

	if (!tcreate(
		&f, 0, &e,
		"{\"url\": \"http://127.0.0.1:%d/json\", \"body\": \"{\\\"t\\\": \\\"{{text}}\\\", "
		"\\\"n\\\": {{json name}}, \\\"id\\\": {{send_id}}}\"}",
		s.port))
		fail_msg("%s", e.msg);
	m = sms(9, "+8613800138000", "say \"hi\"\\\n");
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_OK);
	tfree(&f);

	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), 3);
	json_t *r = json_array_get(log, 0);
	assert_string_equal(
	    json_string_value(json_object_get(r, "body")),
	    "To=%2B8613800138000&Body=Hi%20%E4%BD%A0%E5%A5%BD%20%26%20bye%3D1%0A&Ref=thank-"
	    "you-1");
	json_t *h = json_object_get(r, "headers");
	assert_string_equal(json_string_value(json_object_get(h, "x-seg")), "1 ucs2");
	assert_string_equal(json_string_value(json_object_get(h, "content-type")),
			    "application/x-www-form-urlencoded");
	r = json_array_get(log, 1);
	assert_string_equal(json_string_value(json_object_get(r, "method")), "GET");
	assert_string_equal(json_string_value(json_object_get(r, "query")),
			    "to=%2B447700900123&msg=a%2Fb%3Fc%3Dd%20e&id=8");
	assert_string_equal(json_string_value(json_object_get(r, "body")), "");
	r = json_array_get(log, 2);
	assert_string_equal(json_string_value(json_object_get(r, "body")),
			    "{\"t\": \"say \\\"hi\\\"\\\\\\u000a\", \"n\": \"张三\", \"id\": 9}");
	h = json_object_get(r, "headers");
	assert_string_equal(json_string_value(json_object_get(h, "content-type")),
			    "application/json; charset=utf-8");
	json_decref(log);
	server_stop(&s);
}

/* 200 with an error code in the body; ids; secrets echoed back */
static void test_transport_outcomes(void **state)
{
	(void)state;
	struct server s;
	server_start(&s,
		     "[{\"path\": \"/send\", \"times\": 1, \"body\": \"{\\\"code\\\": 1001, "
		     "\\\"msg\\\": \\\"balance insufficient\\\"}\"},"
		     " {\"path\": \"/send\", \"times\": 1, \"status\": 403, \"body\": \"bad key "
		     "k3y-0123456789abc for /send/p4th-0123456789abcdef\"},"
		     " {\"path\": \"/send\", \"body\": \"{\\\"code\\\": 0, \\\"result\\\": "
		     "[{\\\"sid\\\": \\\"SM{n}\\\"}]}\"}]",
		     NULL, NULL);
	struct tfix f;
	struct err e;
	if (!tcreate(
		&f, 0, &e,
		"{\"url\": \"http://127.0.0.1:%d/send/p4th-0123456789abcdef\", \"headers\": "
		"{\"X-Api-Key\": \"k3y-0123456789abc\", \"X-Name\": \"{{name}}\"},"
		" \"ok_pointer\": \"/code\", \"ok_value\": 0, \"id_pointer\": \"/result/0/sid\","
		" \"max_segments\": 1}",
		s.port))
		fail_msg("%s", e.msg);
	struct message m = sms(1, "+8613800138000", "您好");
	struct delivery d;
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.code, "rejected");
	assert_string_equal(d.reason,
			    "HTTP 200: {\"code\": 1001, \"msg\": \"balance insufficient\"}");
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.code, "http 403");
	assert_string_equal(d.reason, "HTTP 403: bad key [redacted] for /send/[redacted]");
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_OK);
	assert_string_equal(d.provider_id, "SM3");

	/* refused before sending */
	struct message bad = sms(2, "+8613800138000", "x");
	bad.to_name = "Bob\r\nX-Evil: 1";
	deliver1(&f, &bad, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.code, "invalid");
	assert_string_equal(d.reason, "invalid header X-Name: the value holds CR or LF");
	bad = sms(3, "+8613800138000", "\xff\xfe");
	deliver1(&f, &bad, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.reason, "the text is not valid UTF-8");
	bad = sms(4, NULL, "x");
	deliver1(&f, &bad, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.reason, "message has no recipient");
	struct buf b = BUF_INIT;
	for (int i = 0; i < 71; i++)
		buf_puts(&b, "您");
	bad = sms(5, "+8613800138000", b.data);
	deliver1(&f, &bad, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.code, "too long");
	assert_string_equal(d.reason, "2 segments (ucs2), max_segments is 1");
	buf_release(&b);

	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), 3);
	json_decref(log);
	tfree(&f);

	/* a secret that the mark itself contains, echoed twice */
	http_script(&s, "[{\"status\": 400, \"body\": \"key redacted is redacted\"}]");
	if (!tcreate(&f, 0, &e,
		     "{\"url\": \"http://127.0.0.1:%d/x\", \"headers\": {\"X-Key\": \"redacted\"}}",
		     s.port))
		fail_msg("%s", e.msg);
	deliver1(&f, &m, &d);
	assert_int_equal(d.status, DELIVERY_FAIL);
	assert_string_equal(d.reason, "HTTP 400: key [redacted] is [redacted]");
	tfree(&f);
	server_stop(&s);
}

/* through the queue: one thread, batches of 4 x concurrency, every job
 * back once, at most `concurrency` connections */
static void test_transport_queue(void **state)
{
	(void)state;
	struct server s;
	server_start(
	    &s, "[{\"path\": \"/q\", \"hang\": 0.2, \"body\": \"{\\\"id\\\": \\\"q{n}\\\"}\"}]",
	    NULL, NULL);
	struct tfix f;
	struct err e;
	if (!tcreate(
		&f, 0, &e,
		"{\"url\": \"http://127.0.0.1:%d/q\", \"concurrency\": 5, \"id_pointer\": \"/id\"}",
		s.port))
		fail_msg("%s", e.msg);
	enum { N = 30 };
	struct message m[N];
	struct transport_job jobs[N];
	char to[N][24];
	struct transport_done *q = transport_done_create();
	double t0 = mono();
	for (int i = 0; i < N; i++) {
		snprintf(to[i], sizeof(to[i]), "+861380013%04d", i);
		m[i] = sms(100 + i, to[i], "hello");
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = &m[i];
		jobs[i].cookie = &m[i];
		transport_submit(f.t, &jobs[i], q);
	}
	int got = 0;
	json_t *ids = json_object();
	while (got < N && mono() - t0 < 20) {
		for (struct transport_job *j = transport_collect(q, 1000); j; j = j->next) {
			if (j->d.status != DELIVERY_OK)
				fail_msg("job %lld: %s %s", (long long)j->m->send_id, j->d.code,
					 j->d.reason);
			json_object_set_new(ids, j->d.provider_id, json_true());
			got++;
		}
	}
	double dt = mono() - t0;
	assert_int_equal(got, N);
	assert_int_equal(json_object_size(ids), N);
	json_decref(ids);
	/* 30 requests of 0.2 s, 5 at a time: about 1.2 s, far from 6 */
	if (dt > 4.0)
		fail_msg("30 queued requests at concurrency 5 took %.2f s", dt);
	tfree(&f);
	transport_done_free(q);
	json_t *log = server_log(&s);
	assert_int_equal(json_array_size(log), N);
	assert_true(distinct_conns(log) <= 5);
	json_decref(log);
	server_stop(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_table),    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_json_pointer),      cmocka_unit_test(test_concurrency_keepalive),
	    cmocka_unit_test(test_concurrency_bound), cmocka_unit_test(test_statuses),
	    cmocka_unit_test(test_timeout),	      cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_close_not_resent),  cmocka_unit_test(test_broken_answers),
	    cmocka_unit_test(test_invalid),	      cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_http2_multiplex),   cmocka_unit_test(test_transport_config),
	    cmocka_unit_test(test_transport_render),  cmocka_unit_test(test_transport_outcomes),
	    cmocka_unit_test(test_transport_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
