/* storerate.c - outreach's own claim-and-record rate for `make bench`.
 *
 * Runs the real worker (worker_run: reap, schedule, claim, the still-wanted
 * checks, channel choice, policies, render, record) once at a fixed clock
 * with every transport replaced by the stand-in `outreach plan` uses
 * (TRANSPORT_SIMULATE: accepts each message at once, sends nothing), so
 * what is left is the worker and the store. It is linked with the same
 * library as build/outreach; only this harness is bench code. Prints one
 * line: "storerate: N sends in S s: R sends/s, peak RSS M KiB".
 *
 *   storerate -c CONFIG -t NOW_EPOCH [-b 100]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "store.h"
#include "worker.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	long long now = 0;
	int batch = 100, opt;
	while ((opt = getopt(argc, argv, "c:t:b:")) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 't')
			now = strtoll(optarg, NULL, 10);
		else if (opt == 'b')
			batch = (int)strtol(optarg, NULL, 10);
		else
			path = NULL;
	}
	if (!path || now <= 0 || batch < 1) {
		fprintf(stderr, "usage: storerate -c CONFIG -t NOW_EPOCH [-b BATCH]\n");
		return 2;
	}
	log_set_level(LOG_WARN);
	struct diag d;
	diag_init(&d);
	struct config *cfg = config_load(path, &d);
	if (!cfg || d.errors) {
		diag_print(&d);
		return 2;
	}
	diag_release(&d);
	struct err e = {{0}};
	struct store *s = store_open(cfg->store, &e);
	if (!s || store_ready(s, &e) < 0) {
		fprintf(stderr, "storerate: %s\n", e.msg);
		return 1;
	}
	struct worker_opts o = {
	    .once = 1, .now = now, .batch = batch, .lease = 300, .max_attempts = 5, .simulate = 1};
	struct worker_totals t;
	double t0 = now_s();
	int rc = worker_run(s, cfg, &o, &t, &e);
	double secs = now_s() - t0;
	if (rc < 0) {
		fprintf(stderr, "storerate: %s\n", e.msg);
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("storerate: %lld sends in %.3f s: %.0f sends/s, peak RSS %ld KiB\n",
	       (long long)t.sent, secs, secs > 0 ? (double)t.sent / secs : 0.0, ru.ru_maxrss);
	store_close(s);
	config_free(cfg);
	return 0;
}
