/* cmd_serve.c - `outreach serve [--listen HOST:PORT] [--now TIME]
 * [--user NAME]`: the tracking and feedback HTTP server until SIGTERM or
 * SIGINT.
 *
 * Order of start-up: the config is read, the listening socket is bound
 * (the one thing that may need root: a port under 1024), then a process
 * started as root becomes --user, else serve.user, else nobody (refusing
 * to go on as root when that user does not exist), and only then is the
 * store checked for that user and opened and the server started: no file
 * is made and no request read as root.
 *
 * SIGTERM, SIGINT and SIGHUP are blocked before the server's threads
 * start (they inherit the mask) and taken with sigwait here, so a signal
 * never lands in a request; the server then stops accepting, finishes the
 * requests in progress and the command exits 0. --now sets the clock the
 * server starts from (it then runs on), for reproducible tests.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "httpd.h"
#include "log.h"
#include "timeutil.h"

int cmd_serve(struct cli *c)
{
	const char *listen = "127.0.0.1:8080", *nowv = NULL, *user = NULL;
	for (int i = 1; i < c->argc; i++) {
		if (cli_opt(c->argc, c->argv, &i, "--listen", &listen) ||
		    cli_opt(c->argc, c->argv, &i, "--now", &nowv) ||
		    cli_opt(c->argc, c->argv, &i, "--user", &user))
			continue;
		cli_usage_error("serve: unknown argument \"%s\" (serve [--listen HOST:PORT] "
				"[--now TIME] [--user NAME])",
				c->argv[i]);
	}
	struct err e = {{0}};
	char *host;
	int port;
	if (httpd_parse_listen(listen, &host, &port, &e) < 0)
		cli_usage_error("serve: %s", e.msg);
	free(host);
	if (user && !*user)
		cli_usage_error("serve: --user: empty (a user name)");
	int64_t offset = nowv ? cli_time("--now", nowv) - time_now() : 0;
	struct config *cfg = cli_config(c);
	if (!user)
		user = cfg->serve.user;
	if (httpd_check_secret(cfg, &e) < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		config_free(cfg);
		return EXIT_USAGE;
	}
	int fd = httpd_bind(listen, &e);
	if (fd < 0) {
		fprintf(stderr, "outreach: serve: %s\n", e.msg);
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	int usage;
	if (httpd_drop_privileges(user, &usage, &e) < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		close(fd);
		config_free(cfg);
		return usage ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (httpd_store_writable(cfg->store, &e) < 0) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		close(fd);
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	struct httpd *h = httpd_create(cfg, &usage, &e);
	if (!h) {
		fprintf(stderr, "outreach: %s\n", e.msg);
		close(fd);
		config_free(cfg);
		return usage ? EXIT_USAGE : EXIT_RUNTIME;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (httpd_start(h, fd, offset, &e) < 0) {
		fprintf(stderr, "outreach: serve: %s\n", e.msg);
		httpd_free(h);
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	if (!getenv(HTTPD_API_TOKEN_ENV) || !*getenv(HTTPD_API_TOKEN_ENV))
		log_info("serve: $%s is not set: /api/events and /api/contacts answer 503",
			 HTTPD_API_TOKEN_ENV);
	const char *colon = strrchr(listen, ':');
	printf("serve: listening on http://%.*s:%d\n", (int)(colon - listen), listen,
	       httpd_port(h));
	fflush(stdout);
	int sig = 0;
	while (sigwait(&set, &sig) != 0 || sig == SIGHUP)
		;
	log_info("serve: %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	httpd_free(h);
	config_free(cfg);
	return EXIT_OK;
}
