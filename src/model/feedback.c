/* feedback.c - recipients' answers (opens, clicks, unsubscribes, surveys,
 * replies, receipts, API pushes) turned into events and state changes.
 *
 * How: each call is one write transaction: find the send and contact,
 * record the event with its send_id (store_event_add; the dedup key makes
 * repeats harmless: "open:SEND" for the first open, "unsub:SEND",
 * "survey:SEND", "dlr:SEND:STATE"), change subscriptions or the send's
 * state, and for inbound messages keep a row in `inbound` whether or not
 * the sender is known. The API reuses the importers: the request's
 * records are written one per line to an anonymous in-memory file
 * (memfd) and read back by import_events / import_contacts, so a record
 * is accepted or refused exactly as in a file.
 *
 * Security: everything here comes from strangers. Values put into events
 * are bounded and checked (valid UTF-8, printable User-Agents); a click's
 * URL goes into the event without its query and fragment, which can carry
 * tokens (the full link stays in `links`, where it was). Nothing is logged.
 */
#include "feedback.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "buf.h"
#include "diag.h"
#include "import.h"
#include "log.h"
#include "store_feedback.h"
#include "str.h"
#include "utf8.h"
#include "xmalloc.h"

#define UA_MAX 256    /* bytes of a User-Agent kept in an event */
#define STOP_MAX 64   /* a longer text is not an opt-out keyword */
#define STATUS_MAX 32 /* bytes of a receipt status */

/* bad - FEEDBACK_BAD with e set */
static int bad(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return FEEDBACK_BAD;
}

void feedback_result_release(struct feedback_result *r)
{
	free(r->contact);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

void feedback_send_release(struct feedback_send *f)
{
	free(f->contact);
	free(f->channel);
	free(f->locale);
	free(f->campaign);
	memset(f, 0, sizeof(*f));
}

int feedback_send_get(struct store *s, int64_t id, struct feedback_send *out, struct err *e)
{
	struct send_row r;
	memset(out, 0, sizeof(*out));
	int rc = store_send_get(s, id, &r, e);
	if (rc != 0)
		return rc < 0 ? -1 : FEEDBACK_NOT_FOUND;
	struct contact c;
	int crc = store_contact_get(s, r.contact, &c, e);
	if (crc != 0) {
		send_row_release(&r);
		return crc < 0 ? -1 : FEEDBACK_NOT_FOUND; /* the contact was deleted */
	}
	out->id = r.id;
	out->sent_at = r.sent_at;
	out->contact = r.contact;
	out->channel = r.channel;
	out->locale = c.locale;
	out->campaign = r.campaign;
	out->step = r.step;
	r.contact = r.channel = r.campaign = NULL;
	c.locale = NULL;
	send_row_release(&r);
	contact_release(&c);
	return FEEDBACK_OK;
}

/* ---- pure helpers ---- */

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* fold - NFKC case folding of UTF-8 text into out (UTF-8); -1 on bad input */
static int fold(const char *in, size_t n, char *out, size_t cap)
{
	UChar src[STOP_MAX * 2], dst[STOP_MAX * 4];
	int32_t srclen = 0, dstlen, outlen = 0;
	UErrorCode err = U_ZERO_ERROR;
	u_strFromUTF8(src, (int32_t)(sizeof(src) / sizeof(src[0])), &srclen, in, (int32_t)n, &err);
	if (U_FAILURE(err))
		return -1;
	const UNormalizer2 *nf = unorm2_getNFKCCasefoldInstance(&err);
	if (U_FAILURE(err))
		return -1;
	dstlen =
	    unorm2_normalize(nf, src, srclen, dst, (int32_t)(sizeof(dst) / sizeof(dst[0])), &err);
	if (U_FAILURE(err))
		return -1;
	u_strToUTF8(out, (int32_t)cap, &outlen, dst, dstlen, &err);
	if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	return 0;
}

int feedback_is_stop(const char *text)
{
	static const char *const words[] = {"stop", "td", "t", "退订", "取消"};
	char folded[STOP_MAX * 6];
	if (!text)
		return 0;
	size_t n = strlen(text);
	while (n && is_space((unsigned char)text[n - 1]))
		n--;
	while (n && is_space((unsigned char)*text)) {
		text++;
		n--;
	}
	if (n == 0 || n > STOP_MAX || fold(text, n, folded, sizeof(folded)) < 0)
		return 0;
	/* trim again (folding made ideographic and no-break spaces plain),
	 * and one final full stop or exclamation mark: "STOP." "退订。" */
	char *p = folded;
	n = strlen(p);
	while (n && is_space((unsigned char)p[n - 1]))
		n--;
	if (n >= 3 && memcmp(p + n - 3, "\xe3\x80\x82", 3) == 0) /* 。 */
		n -= 3;
	else if (n && (p[n - 1] == '.' || p[n - 1] == '!'))
		n--;
	while (n && is_space((unsigned char)p[n - 1]))
		n--;
	while (n && is_space((unsigned char)*p)) {
		p++;
		n--;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
			return 1;
	return 0;
}

/* icontains - hay contains needle, ASCII case ignored */
static int icontains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i]) {
			int a = (unsigned char)hay[i], b = (unsigned char)needle[i];
			if (a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (a != b)
				break;
			i++;
		}
		if (i == n)
			return 1;
	}
	return 0;
}

int feedback_machine_ua(const char *ua)
{
	/* lower case; each names a proxy or scanner, or a client no person
	 * reads mail with */
	static const char *const tokens[] = {
	    "googleimageproxy",
	    "ggpht.com",
	    "yahoomailproxy",
	    "yahoo! slurp",
	    "bingpreview",
	    "outlook-linkpreview",
	    "microsoft office existence",
	    "barracuda",
	    "mimecast",
	    "proofpoint",
	    "symantec",
	    "forcepoint",
	    "trendmicro",
	    "messagelabs",
	    "safelinks",
	    "bot",
	    "spider",
	    "crawler",
	    "preview",
	    "scanner",
	    "headless",
	    "curl/",
	    "wget",
	    "python",
	    "go-http-client",
	    "java/",
	    "libwww",
	    "okhttp",
	    "apache-httpclient",
	    "facebookexternalhit",
	    "slurp",
	};
	if (!ua)
		return 1;
	while (is_space((unsigned char)*ua))
		ua++;
	if (!*ua || strcmp(ua, "Mozilla/5.0") == 0)
		return 1; /* Apple Mail Privacy Protection fetches with no detail */
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		if (icontains(ua, tokens[i]))
			return 1;
	return 0;
}

char *feedback_norm_phone(const char *from)
{
	if (!from)
		return NULL;
	struct buf b = BUF_INIT;
	const char *p = from;
	while (is_space((unsigned char)*p))
		p++;
	if (p[0] == '0' && p[1] == '0') {
		p += 2;
		buf_putc(&b, '+');
	} else if (*p >= '0' && *p <= '9')
		buf_putc(&b, '+');
	for (; *p; p++) {
		if (strchr(" \t-.()", *p))
			continue;
		if (*p == '+' && b.len == 0) {
			buf_putc(&b, '+');
			continue;
		}
		if (*p < '0' || *p > '9' || b.len > 20) {
			buf_release(&b);
			return NULL;
		}
		buf_putc(&b, *p);
	}
	char *out = buf_detach(&b);
	if (!valid_phone(out)) {
		free(out);
		return NULL;
	}
	return out;
}

char *feedback_norm_email(const char *from)
{
	if (!from)
		return NULL;
	const char *lt = strrchr(from, '<');
	char *addr;
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (!gt)
			return NULL;
		addr = xasprintf("%.*s", (int)(gt - lt - 1), lt + 1);
	} else {
		addr = xstrdup(from);
	}
	char *t = str_trimmed(addr);
	free(addr);
	for (char *p = t; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!valid_email(t)) {
		free(t);
		return NULL;
	}
	return t;
}

/* utf8_chars - characters in s when it is valid UTF-8 without controls
 * other than tab, CR and LF; -1 otherwise */
static long utf8_chars(const char *s)
{
	size_t n = strlen(s), i = 0;
	long chars = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return -1;
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0)
			return -1;
		i += k;
		chars++;
	}
	return chars;
}

int feedback_survey_check(const char *score, const char *comment, enum survey_scale scale, int *out,
			  struct err *e)
{
	int lo = scale == SURVEY_CSAT ? 1 : 0, hi = scale == SURVEY_CSAT ? 5 : 10;
	if (!score || !*score)
		return err_set(e, "score: missing (an integer %d to %d)", lo, hi);
	size_t n = strlen(score);
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (score[i] < '0' || score[i] > '9' || i >= 2)
			return err_set(e, "score: not an integer %d to %d", lo, hi);
		v = v * 10 + (score[i] - '0');
	}
	/* one digit, or two without a leading zero: "07" is not a score */
	if ((n == 2 && score[0] == '0') || v < lo || v > hi)
		return err_set(e, "score: not an integer %d to %d", lo, hi);
	*out = v;
	if (comment) {
		long chars = utf8_chars(comment);
		if (chars < 0)
			return err_set(e,
				       "comment: invalid text (bad UTF-8 or control characters)");
		if (chars > FEEDBACK_COMMENT_MAX)
			return err_set(e, "comment: longer than %d characters",
				       FEEDBACK_COMMENT_MAX);
	}
	return 0;
}

int feedback_receipt_class(const char *status)
{
	static const struct {
		const char *word;
		char cls;
	} table[] = {
	    {"delivered", 'd'}, {"delivrd", 'd'},  {"undeliverable", 'h'}, {"undeliv", 'h'},
	    {"failed", 's'},	{"rejectd", 's'},  {"rejected", 's'},	   {"expired", 's'},
	    {"accepted", 'i'},	{"acceptd", 'i'},  {"enroute", 'i'},	   {"queued", 'i'},
	    {"sent", 'i'},	{"buffered", 'i'}, {"submitted", 'i'},
	};
	if (!status)
		return 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (str_ieq(status, table[i].word))
			return table[i].cls;
	return 0;
}

int feedback_url_ok(const char *url)
{
	static const char *const denied[] = {"javascript", "data", "vbscript", "file"};
	size_t i = 0;
	if (!url || !((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
		return 0;
	while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
	       (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '.' || url[i] == '-')
		i++;
	if (url[i] != ':')
		return 0;
	char scheme[16];
	if (i < sizeof(scheme)) {
		memcpy(scheme, url, i);
		scheme[i] = '\0';
		for (size_t k = 0; k < sizeof(denied) / sizeof(denied[0]); k++)
			if (str_ieq(scheme, denied[k]))
				return 0;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return strlen(url) <= 8192;
}

/* ---- recording ---- */

/* ua_clean - a User-Agent for an event: printable ASCII, at most UA_MAX
 * bytes (others become '?'); NULL stays NULL. Caller frees. */
static char *ua_clean(const char *ua)
{
	if (!ua)
		return NULL;
	size_t n = strlen(ua);
	if (n > UA_MAX)
		n = UA_MAX;
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		out[i] = ua[i] >= 0x20 && ua[i] < 0x7f ? ua[i] : '?';
	out[n] = '\0';
	return out;
}

/* add_event - one event for the send's contact; *recorded 0 for a repeat */
static int add_event(struct store *s, const char *contact, const char *type, int64_t send_id,
		     json_t *data, const char *ext_id, int64_t now, int *recorded, struct err *e)
{
	struct event ev = {0};
	ev.contact_id = (char *)contact;
	ev.type = (char *)type;
	ev.at = now;
	ev.data = data;
	ev.ext_id = (char *)ext_id;
	ev.send_id = send_id;
	int inserted = 0;
	int rc = store_event_add(s, &ev, now, NULL, &inserted, e);
	json_decref(data);
	if (recorded)
		*recorded = inserted;
	return rc;
}

/* begin - look the send up inside a new write transaction */
static int begin(struct store *s, int64_t send_id, struct feedback_send *f, struct err *e)
{
	if (store_begin(s, e) < 0)
		return -1;
	int rc = feedback_send_get(s, send_id, f, e);
	if (rc != FEEDBACK_OK)
		store_rollback(s);
	return rc;
}

/* finish - commit when rc is 0 (else roll back); hands rc on */
static int finish(struct store *s, int rc, struct err *e)
{
	if (rc == 0) {
		if (store_commit(s, e) < 0)
			return -1;
		store_notify(s);
		return 0;
	}
	store_rollback(s);
	return rc;
}

static void result_from(struct feedback_result *r, const char *kind, struct feedback_send *f)
{
	r->kind = kind;
	r->send_id = f->id;
	r->contact = f->contact;
	f->contact = NULL;
}

static int is_machine(const struct feedback_send *f, const char *ua, int64_t now)
{
	if (feedback_machine_ua(ua))
		return 1;
	return f->sent_at > 0 && now - f->sent_at < FEEDBACK_MACHINE_SECS;
}

int feedback_open(struct store *s, int64_t send_id, const char *ua, int64_t now,
		  struct feedback_result *r, struct err *e)
{
	struct feedback_send f;
	memset(r, 0, sizeof(*r));
	int rc = begin(s, send_id, &f, e);
	if (rc != FEEDBACK_OK)
		return rc;
	int machine = is_machine(&f, ua, now);
	char *clean = ua_clean(ua);
	char ext[64];
	snprintf(ext, sizeof(ext), "open:%lld%s", (long long)send_id, machine ? ":machine" : "");
	json_t *data = json_pack("{s:b, s:s?}", "machine", machine, "user_agent", clean);
	rc = add_event(s, f.contact, "opened", send_id, data, ext, now, &r->recorded, e);
	free(clean);
	r->machine = machine;
	result_from(r, "opened", &f);
	feedback_send_release(&f);
	return finish(s, rc, e);
}

/* url_base - the URL without query and fragment */
static char *url_base(const char *url)
{
	size_t n = strcspn(url, "?#");
	return xasprintf("%.*s", (int)n, url);
}

int feedback_click(struct store *s, int64_t send_id, int link, const char *ua, int64_t now,
		   struct feedback_result *r, struct err *e)
{
	struct feedback_send f;
	memset(r, 0, sizeof(*r));
	int rc = begin(s, send_id, &f, e);
	if (rc != FEEDBACK_OK)
		return rc;
	char *url = NULL;
	rc = store_link_get(s, send_id, link, &url, e);
	if (rc == 0 && !feedback_url_ok(url)) {
		free(url);
		url = NULL;
		rc = 1;
	}
	if (rc != 0) {
		feedback_send_release(&f);
		store_rollback(s);
		return rc < 0 ? -1 : FEEDBACK_NOT_FOUND;
	}
	/* every click is an event: a random part keeps two clicks in the
	 * same second (with the same data) apart */
	unsigned char rnd[8];
	char ext[96];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		log_panic("feedback: no random bytes");
	snprintf(ext, sizeof(ext), "click:%lld.%d:%02x%02x%02x%02x%02x%02x%02x%02x",
		 (long long)send_id, link, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		 rnd[7]);
	int machine = is_machine(&f, ua, now);
	char *clean = ua_clean(ua), *base = url_base(url);
	json_t *data = json_pack("{s:i, s:s, s:b, s:s?}", "link", link, "url", base, "machine",
				 machine, "user_agent", clean);
	if (!data) /* a stored URL that is not UTF-8 */
		data = json_pack("{s:i, s:b}", "link", link, "machine", machine);
	rc = add_event(s, f.contact, "clicked", send_id, data, ext, now, &r->recorded, e);
	free(clean);
	free(base);
	r->machine = machine;
	r->url = url;
	result_from(r, "clicked", &f);
	feedback_send_release(&f);
	return finish(s, rc, e);
}

int feedback_unsubscribe(struct store *s, int64_t send_id, int64_t now, struct feedback_result *r,
			 struct err *e)
{
	struct feedback_send f;
	memset(r, 0, sizeof(*r));
	int rc = begin(s, send_id, &f, e);
	if (rc != FEEDBACK_OK)
		return rc;
	for (int k = 0; rc == 0 && k < CHANNEL_NKINDS; k++)
		if (!f.channel || strcmp(f.channel, channel_name(k)) == 0)
			rc = store_subscription_set(s, f.contact, channel_name(k), "marketing", 0,
						    "unsubscribe link", now, e);
	char ext[48];
	snprintf(ext, sizeof(ext), "unsub:%lld", (long long)send_id);
	if (rc == 0) {
		json_t *data = json_pack("{s:s?, s:s}", "channel", f.channel, "class", "marketing");
		rc = add_event(s, f.contact, "unsubscribed", send_id, data, ext, now, &r->recorded,
			       e);
	}
	result_from(r, "unsubscribed", &f);
	feedback_send_release(&f);
	return finish(s, rc, e);
}

int feedback_survey(struct store *s, int64_t send_id, enum survey_scale scale, const char *score,
		    const char *comment, int64_t now, struct feedback_result *r, struct err *e)
{
	struct feedback_send f;
	int n;
	memset(r, 0, sizeof(*r));
	int rc = begin(s, send_id, &f, e);
	if (rc != FEEDBACK_OK)
		return rc;
	/* once per send: the answer there stands, whatever the second one
	 * says (the dedup key below makes one that races this check a no-op
	 * as well) */
	rc = store_send_has_event(s, send_id, "survey_response", e);
	if (rc <= 0 || feedback_survey_check(score, comment, scale, &n, e) < 0) {
		feedback_send_release(&f);
		store_rollback(s);
		return rc < 0 ? -1 : rc == 0 ? FEEDBACK_ANSWERED : FEEDBACK_BAD;
	}
	char ext[48];
	snprintf(ext, sizeof(ext), "survey:%lld", (long long)send_id);
	json_t *data = json_pack("{s:i, s:s}", "score", n, "comment", comment ? comment : "");
	if (scale == SURVEY_CSAT)
		json_object_set_new(data, "scale", json_string("csat"));
	rc = add_event(s, f.contact, "survey_response", send_id, data, ext, now, &r->recorded, e);
	result_from(r, "survey_response", &f);
	feedback_send_release(&f);
	if (rc == 0 && !r->recorded) {
		store_rollback(s);
		return FEEDBACK_ANSWERED;
	}
	return finish(s, rc, e);
}

int feedback_survey_answered(struct store *s, int64_t send_id, int *answered, struct err *e)
{
	int rc = store_send_has_event(s, send_id, "survey_response", e);
	if (rc < 0)
		return -1;
	*answered = rc == 0;
	return FEEDBACK_OK;
}

/* text_ok - valid UTF-8 (JSON bodies are; form values are checked here) */
static int text_ok(const char *s)
{
	size_t n = strlen(s), i = 0;
	while (i < n) {
		size_t k = utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

int feedback_sms(struct store *s, const char *from, const char *text, int64_t now,
		 struct feedback_result *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	if (!from || !*from)
		return bad(e, "from: missing");
	if (!text)
		text = "";
	if (!text_ok(from) || !text_ok(text))
		return bad(e, "invalid UTF-8");
	char *phone = feedback_norm_phone(from), *contact = NULL;
	int64_t send_id = 0;
	if (store_begin(s, e) < 0) {
		free(phone);
		return -1;
	}
	int rc = 0;
	if (phone) {
		rc = store_send_latest_to(s, "sms", phone, &send_id, &contact, e);
		if (rc == 1) {
			rc = store_contact_by_phone(s, phone, &contact, e);
			if (rc == 0 && store_send_latest_of(s, contact, "sms", &send_id, e) < 0)
				rc = -1;
		}
		if (rc == 1)
			rc = 0;
	}
	int stop = contact && feedback_is_stop(text);
	struct inbound in = {.channel = "sms",
			     .sender = phone ? phone : from,
			     .text = text,
			     .at = now,
			     .contact = contact,
			     .send_id = send_id,
			     .kind = !contact ? "unmatched"
				     : stop   ? "stop"
					      : "reply"};
	if (rc == 0)
		rc = store_inbound_add(s, &in, NULL, e);
	if (rc == 0 && stop) {
		rc = store_subscription_set(s, contact, "sms", "marketing", 0, "sms stop", now, e);
		if (rc == 0)
			rc = add_event(
			    s, contact, "unsubscribed", send_id,
			    json_pack("{s:s, s:s}", "channel", "sms", "class", "marketing"), NULL,
			    now, &r->recorded, e);
	} else if (rc == 0 && contact) {
		rc = add_event(s, contact, "replied", send_id,
			       json_pack("{s:s, s:s}", "text", text, "channel", "sms"), NULL, now,
			       &r->recorded, e);
	}
	r->kind = in.kind;
	r->send_id = send_id;
	r->contact = contact;
	free(phone);
	return finish(s, rc, e);
}

/* by_message_id - the first Message-ID in list that names a send:
 * "<a@b> <c@d>", "a@b" */
static int by_message_id(struct store *s, const char *list, int64_t *id, struct err *e)
{
	const char *p = list;
	int any = 0;
	while ((p = strchr(p, '<')) != NULL) {
		const char *q = strchr(p, '>');
		if (!q)
			break;
		any = 1;
		char *mid = xasprintf("%.*s", (int)(q - p + 1), p);
		int rc = store_send_by_message_id(s, mid, id, e);
		free(mid);
		if (rc <= 0)
			return rc;
		p = q + 1;
	}
	if (any)
		return 1;
	char *t = str_trimmed(list), *mid = xasprintf("<%s>", t);
	int rc = *t ? store_send_by_message_id(s, mid, id, e) : 1;
	free(t);
	free(mid);
	return rc;
}

int feedback_email(struct store *s, const char *from, const char *subject, const char *text,
		   const char *in_reply_to, int64_t now, struct feedback_result *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	if ((!from || !*from) && (!in_reply_to || !*in_reply_to))
		return bad(e, "from: missing");
	if (!text)
		text = "";
	if ((from && !text_ok(from)) || (subject && !text_ok(subject)) || !text_ok(text) ||
	    (in_reply_to && !text_ok(in_reply_to)))
		return bad(e, "invalid UTF-8");
	char *addr = feedback_norm_email(from), *contact = NULL;
	int64_t send_id = 0;
	if (store_begin(s, e) < 0) {
		free(addr);
		return -1;
	}
	int rc = in_reply_to && *in_reply_to ? by_message_id(s, in_reply_to, &send_id, e) : 1;
	if (rc == 0) {
		struct send_row row;
		rc = store_send_get(s, send_id, &row, e);
		if (rc == 0) {
			contact = row.contact;
			row.contact = NULL;
			send_row_release(&row);
		}
	}
	if (rc == 1 && addr) {
		send_id = 0;
		rc = store_send_latest_to(s, "email", addr, &send_id, &contact, e);
		if (rc == 1) {
			rc = store_contact_by_email(s, addr, &contact, e);
			if (rc == 0 && store_send_latest_of(s, contact, "email", &send_id, e) < 0)
				rc = -1;
		}
	}
	if (rc == 1) {
		rc = 0;
		send_id = 0;
	}
	struct inbound in = {.channel = "email",
			     .sender = addr   ? addr
				       : from ? from
					      : "",
			     .text = text,
			     .at = now,
			     .contact = contact,
			     .send_id = send_id,
			     .kind = contact ? "reply" : "unmatched"};
	if (rc == 0)
		rc = store_inbound_add(s, &in, NULL, e);
	if (rc == 0 && contact)
		rc = add_event(s, contact, "replied", send_id,
			       json_pack("{s:s, s:s?, s:s}", "text", text, "subject", subject,
					 "channel", "email"),
			       NULL, now, &r->recorded, e);
	r->kind = in.kind;
	r->send_id = send_id;
	r->contact = contact;
	free(addr);
	return finish(s, rc, e);
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

int feedback_receipt(struct store *s, const char *transport, const char *message_id,
		     const char *status, int64_t now, struct feedback_result *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	if (!message_id || !*message_id)
		return bad(e, "message_id: missing");
	if (!status || !*status)
		return bad(e, "status: missing");
	int cls = printable(status, STATUS_MAX) ? feedback_receipt_class(status) : 0;
	if (!cls) {
		struct shown sh;
		return bad(e, "status: unknown %s", str_show(&sh, status));
	}
	if (!text_ok(message_id) || strlen(message_id) > 255)
		return FEEDBACK_NOT_FOUND;
	if (store_begin(s, e) < 0)
		return -1;
	int64_t id;
	int rc = store_send_by_provider(s, transport, message_id, &id, e);
	if (rc != 0) {
		store_rollback(s);
		return rc < 0 ? -1 : FEEDBACK_NOT_FOUND;
	}
	struct send_row row;
	rc = store_send_get(s, id, &row, e);
	if (rc != 0) {
		store_rollback(s);
		return rc < 0 ? -1 : FEEDBACK_NOT_FOUND;
	}
	r->send_id = id;
	r->contact = xstrdup(row.contact);
	if (cls == 'i') {
		r->kind = "ignored";
		send_row_release(&row);
		store_rollback(s);
		return FEEDBACK_OK;
	}
	const char *state = cls == 'd' ? "delivered" : "bounced";
	int hard = cls == 'h';
	char why[160], ext[64];
	snprintf(why, sizeof(why), "receipt from %s: %s%s", transport, status,
		 cls == 'd' ? ""
		 : hard	    ? " (hard)"
			    : " (soft)");
	rc = store_send_receipt(s, id, state, why, now, now, e);
	if (rc == 1) {
		r->kind = "unchanged";
		send_row_release(&row);
		store_rollback(s);
		return FEEDBACK_OK;
	}
	r->kind = state;
	snprintf(ext, sizeof(ext), "dlr:%lld:%s", (long long)id, state);
	json_t *data = cls == 'd' ? json_pack("{s:s}", "status", status)
				  : json_pack("{s:b, s:s}", "hard", hard, "status", status);
	if (rc == 0)
		rc = add_event(s, row.contact, state, id, data, ext, now, &r->recorded, e);
	else
		json_decref(data);
	if (rc == 0 && hard && row.address) {
		snprintf(why, sizeof(why), "hard bounce on send %lld: receipt %s", (long long)id,
			 status);
		rc = store_suppress(s, row.address, row.channel, why, now, e);
	}
	send_row_release(&row);
	return finish(s, rc, e);
}

/* ---- the API: through the importers ---- */

/* stage - the body's records, one JSON text per line, in an anonymous
 * file at *path ("/proc/self/fd/N"); FEEDBACK_OK, FEEDBACK_BAD, -1 */
static int stage(const char *body, size_t len, int *fd, char *path, size_t pathsz, struct err *e)
{
	json_error_t je;
	json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	*fd = -1;
	if (!v)
		return bad(e, "invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
	if (!json_is_object(v) && !json_is_array(v)) {
		json_decref(v);
		return bad(e, "expected a JSON object or an array of objects");
	}
	struct buf b = BUF_INIT;
	if (json_is_object(v)) {
		char *one = json_dumps(v, JSON_COMPACT);
		buf_puts(&b, one);
		buf_putc(&b, '\n');
		free(one);
	} else {
		size_t i;
		json_t *el;
		json_array_foreach(v, i, el)
		{
			char *one = json_dumps(el, JSON_COMPACT | JSON_ENCODE_ANY);
			buf_puts(&b, one);
			buf_putc(&b, '\n');
			free(one);
		}
	}
	json_decref(v);
	*fd = memfd_create("outreach-api", MFD_CLOEXEC);
	if (*fd < 0) {
		buf_release(&b);
		return err_set(e, "api: memfd_create: %s", strerror(errno));
	}
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(*fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			buf_release(&b);
			close(*fd);
			*fd = -1;
			return err_set(e, "api: write: %s", strerror(errno));
		}
		off += (size_t)w;
	}
	buf_release(&b);
	snprintf(path, pathsz, "/proc/self/fd/%d", *fd);
	return FEEDBACK_OK;
}

/* first_problem - the importer's first message with the staging file's
 * name replaced: "/proc/self/fd/7:3: invalid type" -> "record 3: ..." */
static void first_problem(const struct diag *d, const char *path, struct err *e)
{
	if (d->n == 0) {
		err_set(e, "invalid request");
		return;
	}
	const char *m = d->msgs[0];
	size_t pn = strlen(path);
	if (strncmp(m, path, pn) == 0 && m[pn] == ':') {
		char *end;
		long line = strtol(m + pn + 1, &end, 10);
		if (end != m + pn + 1 && *end == ':') {
			err_set(e, "record %ld:%s", line, end + 1);
			return;
		}
		err_set(e, "%s", m + pn + 1 + (m[pn + 1] == ' '));
		return;
	}
	err_set(e, "%s", m);
}

int feedback_api_events(struct store *s, const char *body, size_t len, int64_t now, size_t *n,
			size_t *added, struct err *e)
{
	char path[64];
	int fd;
	*n = *added = 0;
	int rc = stage(body, len, &fd, path, sizeof(path), e);
	if (rc != FEEDBACK_OK)
		return rc;
	struct diag d;
	struct event *ev = NULL;
	size_t count = 0;
	diag_init(&d);
	rc = import_events(path, 0, now, &ev, &count, &d);
	close(fd);
	if (rc < 0) {
		first_problem(&d, path, e);
		diag_release(&d);
		return FEEDBACK_BAD;
	}
	diag_release(&d);
	if (store_begin(s, e) < 0) {
		events_free(ev, count);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct contact c;
		int got = store_contact_get(s, ev[i].contact_id, &c, e);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 1) {
			struct shown sh;
			err_set(e, "record %zu: unknown contact %s", i + 1,
				str_show(&sh, ev[i].contact_id));
			rc = FEEDBACK_BAD;
			break;
		}
		contact_release(&c);
		int inserted = 0;
		rc = store_event_add(s, &ev[i], now, NULL, &inserted, e);
		*added += (size_t)inserted;
	}
	events_free(ev, count);
	if (rc != 0)
		*added = 0;
	else
		*n = count;
	return finish(s, rc, e);
}

int feedback_api_contacts(struct store *s, const char *body, size_t len, int64_t now, size_t *n,
			  struct err *e)
{
	char path[64];
	int fd;
	*n = 0;
	int rc = stage(body, len, &fd, path, sizeof(path), e);
	if (rc != FEEDBACK_OK)
		return rc;
	struct diag d;
	struct contact *cs = NULL;
	size_t count = 0;
	diag_init(&d);
	rc = import_contacts(path, "jsonl", 0, &cs, &count, &d);
	close(fd);
	if (rc < 0) {
		first_problem(&d, path, e);
		diag_release(&d);
		return FEEDBACK_BAD;
	}
	diag_release(&d);
	if (store_begin(s, e) < 0) {
		contacts_free(cs, count);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = store_contact_upsert(s, &cs[i], now, e);
	contacts_free(cs, count);
	if (rc == 0)
		*n = count;
	return finish(s, rc, e);
}
