/* curlblast.c - the bare HTTP baseline for `make bench`: N POSTs of a
 * fixed body through one libcurl multi handle with C transfers in flight.
 *
 * This is what the http and webhook transports are measured against: no
 * templates, no store, no outcome parsing, only libcurl's multi loop with
 * keep-alive connections (one per transfer slot, as outreach's client
 * keeps), each easy handle reused for the next request on its slot.
 * Prints one line: "curlblast: N requests in S s: R requests/s (F failed)".
 *
 *   curlblast -u http://127.0.0.1:PORT/sms -c 32 -n 20000 -b 80
 *
 * Security: a bench tool for loopback sinks; it sends a body of 'x's.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t sink(char *p, size_t size, size_t nmemb, void *ud)
{
	(void)p;
	(void)ud;
	return size * nmemb;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: curlblast -u URL [-c CONCURRENCY] [-n REQUESTS] [-b BODY_BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	long conc = 32, n = 20000, blen = 80;
	int opt;
	while ((opt = getopt(argc, argv, "u:c:n:b:")) != -1) {
		switch (opt) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			conc = strtol(optarg, NULL, 10);
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'b':
			blen = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!url || conc < 1 || n < 1 || blen < 0)
		usage();
	if (conc > n)
		conc = n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char *body = malloc((size_t)blen + 1);
	memset(body, 'x', (size_t)blen);
	body[blen] = '\0';
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json; charset=utf-8");
	hdrs = curl_slist_append(hdrs, "Expect:");

	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
	CURL **slot = calloc((size_t)conc, sizeof(*slot));
	long started = 0, finished = 0, failed = 0;
	double t0 = now_s();
	for (long i = 0; i < conc; i++) {
		CURL *h = curl_easy_init();
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, blen);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "curlblast/1");
		slot[i] = h;
		curl_multi_add_handle(m, h);
		started++;
	}
	while (finished < n) {
		int running;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			long status = 0;
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result != CURLE_OK || status < 200 || status > 299)
				failed++;
			finished++;
			curl_multi_remove_handle(m, h);
			if (started < n) {
				/* the same handle, the same kept-alive connection */
				curl_multi_add_handle(m, h);
				started++;
			}
		}
		if (finished < n)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	double secs = now_s() - t0;
	printf("curlblast: %ld requests in %.3f s: %.0f requests/s (%ld failed)\n", n, secs,
	       (double)n / secs, failed);
	for (long i = 0; i < conc; i++)
		curl_easy_cleanup(slot[i]);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	free(slot);
	free(body);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
