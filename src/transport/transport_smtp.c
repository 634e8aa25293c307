/* transport_smtp.c - the smtp transport: libesmtp for plain SMTP and
 * STARTTLS, libcurl's smtps:// for implicit TLS (port 465)
 *
 * One deliver call is one SMTP session carrying up to `per_session`
 * messages, each with its own envelope (MAIL FROM, one RCPT TO, DATA);
 * transport.c runs `concurrency` such calls at once on its threads, which
 * makes the session pool. The bytes of each message are built once by
 * mime_build, with a DKIM-Signature in front when `dkim` is configured,
 * and both paths send exactly those bytes. Every server reply is reduced
 * to a struct reply (code, enhanced status, text) and one function,
 * classify(), turns a reply and the phase it answered into OK, DEFER or
 * FAIL, so both paths judge outcomes the same way. A session that breaks
 * defers every message it had not yet seen acknowledged; one acknowledged
 * before the break keeps its OK. Nothing is retried inside a call, so a
 * message goes to the server at most once per attempt.
 *
 * Each message's outcome goes back to the worker the moment the server
 * answers its data (deliver_acked: libesmtp's SMTP_EV_MESSAGESENT event,
 * libcurl's return from each transfer), and the session starts no other
 * message before the worker has recorded it (with libesmtp it waits in
 * the event callback, inside libesmtp's protocol loop): a crash then
 * repeats at most the one message per session whose record was not yet
 * committed. The next envelope is not sent early on purpose: a server
 * (smtp-sink -d among them) may keep the data of a transaction whose
 * final dot never came, and no server should see a message we might
 * not have recorded the previous one before.
 *
 * Options: host (required), port (587 for starttls, 25 for none, 465 for
 * implicit), tls (starttls | none | implicit; default starttls, which
 * never falls back to clear text), username_env and password_env (both or
 * neither), from (required; the header From and the default envelope
 * sender), return_path (an address, or one with {token} in its local part
 * for VERP: the send's bounce token goes there), ca_file (trusted CAs in
 * place of the system's), helo (default: this host's name), concurrency
 * (sessions at once, 1..64, default 4), per_session (messages per session,
 * 1..10000, default 100), timeout (each wait for the server and the
 * connect, default 30s), dkim {key_file, domain, selector, headers}.
 *
 * libesmtp and its quirks, all handled here:
 * - It passes the message's own header fields through unchanged and adds
 *   Date, From and Message-Id only when absent; mime_build writes all
 *   three, so nothing is added or duplicated (test_smtp compares the
 *   bytes the server received with mime_build's, on both paths).
 * - A failed AUTH makes it go on to MAIL unauthenticated. The monitor
 *   callback watches the replies to AUTH (and never records what we
 *   write), and the message callback refuses to hand over the message
 *   unless AUTH succeeded (and STARTTLS is up when required): libesmtp
 *   then drops the connection in the middle of DATA, so the server never
 *   gets a complete message, and every message of the session defers with
 *   "auth failed: <the server's reply>".
 * - TCP_NODELAY: libesmtp has no option for it. It writes a message
 *   through a fixed buffer, so a message larger than that buffer goes out
 *   as several writes, and Nagle's algorithm holds the last small segment
 *   until the server ACKs the previous one, which a server waiting for
 *   the end of the data delays by its delayed-ACK timer: measured on
 *   loopback with 20 KB messages, 23 messages/s per session without
 *   TCP_NODELAY, about 2,300-3,900/s with it (test_smtp's test_nodelay
 *   guards this). This file therefore defines connect() itself:
 *   libesmtp's call resolves to it (an executable's definition comes
 *   first in symbol lookup, and the linker exports it because a shared
 *   library refers to it), it sets TCP_NODELAY on TCP sockets and, while
 *   a session of ours runs on the calling thread (a thread-local flag),
 *   bounds the connect by `timeout`; then it calls the real connect found
 *   with dlsym(RTLD_NEXT). Other callers get the real connect plus
 *   TCP_NODELAY, which is harmless (libcurl and libpq set it anyway).
 * - Certificates: libesmtp's own host name check ignores IP addresses, so
 *   the SSL_CTX made at create does the checking: SSL_VERIFY_PEER against
 *   the system CAs or `ca_file`, TLS 1.2 at least, and the host (or IP
 *   address) set in its X509_VERIFY_PARAM, so a bad or misnamed
 *   certificate fails the handshake. libesmtp's later name check is then
 *   overruled only when OpenSSL's verification, host included, passed.
 * - TLS 1.3 is not used for STARTTLS. libesmtp's protocol loop, when
 *   the socket is both readable and writable, reads the reply before it
 *   flushes the command; a TLS 1.3 server sends its session tickets after
 *   the handshake, so the socket can be readable with no reply while the
 *   EHLO that would bring one still sits in libesmtp's buffer, and the
 *   session hangs until the timeout (seen whenever the client is a little
 *   slow, e.g. under valgrind). TLS 1.2 has no messages after the
 *   handshake. Implicit TLS goes through libcurl and uses TLS 1.3.
 * - Writes to a closed socket raise SIGPIPE; each session blocks it on its
 *   thread and consumes any pending one before unblocking.
 *
 * Security: the password and user come only from the environment
 * variables named by username_env and password_env; they are copied at
 * create, given to the SASL plugin or libcurl only, never put in a log,
 * reason or error, and wiped at free. With `tls: none`, AUTH is refused
 * unless the host is a loopback address, so a password never crosses a
 * network in clear. Server text put in reasons is cut to one line of
 * printable UTF-8.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "buf.h"
#include "config.h"
#include "dkim.h"
#include "log.h"
#include "mime.h"
#include "transport.h"
#include "utf8.h"
#include "xmalloc.h"

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_PER_SESSION 100
#define DEFAULT_TIMEOUT_MS 30000L
#define TEXT_MAX 200 /* server text kept for a reason, in bytes */

enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

struct smtp {
	char *name;
	enum tls_mode tls;
	char *host;
	long port;
	char *hostport; /* libesmtp: "host:port" */
	char *url;	/* libcurl: "smtps://host:port/helo" */
	char *helo;
	char *from_addr;	 /* the address of `from` */
	char *rp_head, *rp_tail; /* return_path around {token}; rp_tail NULL: plain */
	char *user, *pass;	 /* copies of the environment's values, or NULL */
	char *ca_file;
	SSL_CTX *ssl; /* STARTTLS */
	struct dkim_signer *dkim;
	long timeout_ms;
	long concurrency;
	long per_session;
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* clean_text - server text as one line of printable UTF-8, at most
 * size - 1 bytes, whitespace runs as one space, cut on a character */
static void clean_text(char *dst, size_t size, const char *src, size_t n)
{
	size_t o = 0;
	int space = 0;
	const unsigned char *p = (const unsigned char *)src;
	for (size_t i = 0; i < n && p[i];) {
		size_t k = utf8_len(p + i, n - i);
		if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ')) {
			space = 1;
			i++;
			continue;
		}
		const char *put = (const char *)p + i;
		if (k == 0) {
			put = "?";
			k = 1;
			i++;
		} else {
			i += k;
		}
		if (o + (space && o ? 1 : 0) + k + 1 > size)
			break;
		if (space && o)
			dst[o++] = ' ';
		space = 0;
		memcpy(dst + o, put, k);
		o += k;
	}
	dst[o] = '\0';
}

/* addr_ok - a plain addr-spec usable in MAIL FROM and RCPT TO */
static int addr_ok(const char *a)
{
	const char *at = a ? strrchr(a, '@') : NULL;
	if (!at || at == a || !at[1] || strlen(a) > 254)
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>,;:\"()[]\\", *p))
			return 0;
	return 1;
}

/* mailbox_addr - the address of "Name <addr>" or "addr"; caller frees;
 * NULL when there is none */
static char *mailbox_addr(const char *s)
{
	if (!s)
		return NULL;
	const char *lt = strrchr(s, '<');
	char *a;
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (!gt)
			return NULL;
		a = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	} else {
		while (isspace((unsigned char)*s))
			s++;
		size_t n = strlen(s);
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		a = xstrndup(s, n);
	}
	if (!addr_ok(a)) {
		free(a);
		return NULL;
	}
	return a;
}

static int hostname_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 253 || h[0] == '-' || h[0] == '.')
		return 0;
	for (; *h; h++)
		if (!(isalnum((unsigned char)*h) || *h == '.' || *h == '-' || *h == '_'))
			return 0;
	return 1;
}

static int is_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0;
}

static int is_ipv4(const char *h)
{
	struct in_addr a;
	return inet_pton(AF_INET, h, &a) == 1;
}

/* ---- replies and outcomes: one classification for both paths ---- */

enum phase {
	PH_CONNECT,
	PH_GREETING,
	PH_EHLO,
	PH_TLS,
	PH_AUTH,
	PH_MAIL,
	PH_RCPT,
	PH_DATA, /* the DATA command */
	PH_END,	 /* the reply after the message data */
};

static const char *const phase_names[] = {
    "connect",	 "greeting", "EHLO", "STARTTLS",    "AUTH",
    "MAIL FROM", "RCPT TO",  "DATA", "end of data",
};

struct reply {
	int code;	    /* 0: none */
	int cls, subj, det; /* enhanced status (RFC 3463); cls 0: none */
	char text[TEXT_MAX];
};

/* enh_parse - an enhanced status code "C.S.D" at *p, advancing past it
 * and the blanks after; 0 when there is none */
static int enh_parse(const char **p, int *cls, int *subj, int *det)
{
	const char *s = *p;
	char *end;
	if (!(*s == '2' || *s == '4' || *s == '5') || s[1] != '.')
		return 0;
	long a = *s - '0';
	long b = strtol(s + 2, &end, 10);
	if (end == s + 2 || *end != '.' || b < 0 || b > 999)
		return 0;
	const char *t = end + 1;
	long c = strtol(t, &end, 10);
	if (end == t || c < 0 || c > 999 || (*end && !isspace((unsigned char)*end)))
		return 0;
	*cls = (int)a;
	*subj = (int)b;
	*det = (int)c;
	while (*end == ' ' || *end == '\t')
		end++;
	*p = end;
	return 1;
}

/* reply_set - fill r from a code and text that may still start with an
 * enhanced status (libesmtp leaves it in when the server did not announce
 * ENHANCEDSTATUSCODES) */
static void reply_set(struct reply *r, int code, int cls, int subj, int det, const char *text,
		      size_t n)
{
	r->code = code;
	r->cls = cls;
	r->subj = subj;
	r->det = det;
	char tmp[TEXT_MAX * 2];
	clean_text(tmp, sizeof(tmp), text ? text : "", text ? n : 0);
	const char *p = tmp;
	if (!r->cls)
		enh_parse(&p, &r->cls, &r->subj, &r->det);
	clean_text(r->text, sizeof(r->text), p, strlen(p));
}

/* reply_line - parse one reply line "250 2.0.0 text" or "250-...";
 * returns 1 for a final line (space or end after the code), 0 for a
 * continuation, -1 for a line that is no reply */
static int reply_line(const char *line, size_t n, struct reply *r)
{
	if (n < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (n > 3 && line[3] == '-')
		return 0;
	if (n > 3 && line[3] != ' ' && line[3] != '\r' && line[3] != '\n')
		return -1;
	const char *t = n > 4 ? line + 4 : "";
	reply_set(r, code, 0, 0, 0, t, n > 4 ? n - 4 : 0);
	return 1;
}

static void code_str(const struct reply *r, char *out, size_t n)
{
	if (r->cls)
		snprintf(out, n, "%d %d.%d.%d", r->code, r->cls, r->subj, r->det);
	else
		snprintf(out, n, "%d", r->code);
}

/* hard_bounce - a permanent recipient failure that says the address is
 * bad: enhanced X.1.x (addressing) but not 5.1.7/5.1.8 (the sender's) or
 * 5.2.1 (mailbox disabled); without one, 550, 551 and 553 */
static int hard_bounce(const struct reply *r)
{
	if (r->code / 100 != 5)
		return 0;
	if (r->cls == 5)
		return (r->subj == 1 && r->det != 7 && r->det != 8) ||
		       (r->subj == 2 && r->det == 1);
	return r->code == 550 || r->code == 551 || r->code == 553;
}

/* provider_id - the queue id in "... queued as ABC123" */
static void provider_id(const char *text, char *out, size_t n)
{
	out[0] = '\0';
	const char *p = strcasestr(text, "queued as ");
	if (!p)
		return;
	p += 10;
	while (*p == '<')
		p++;
	size_t k = 0;
	while (p[k] && k + 1 < n && (isalnum((unsigned char)p[k]) || strchr("._-@", p[k])))
		k++;
	memcpy(out, p, k);
	out[k] = '\0';
}

/* classify - the outcome of one message from the reply that ended its
 * transaction, given the phase the reply answered */
static void classify(struct delivery *d, enum phase ph, const struct reply *r)
{
	char code[32];
	code_str(r, code, sizeof(code));
	int c = r->code / 100;
	if (c == 2 && ph == PH_END) {
		snprintf(code, sizeof(code), "%d", r->code);
		transport_set(d, DELIVERY_OK, code, "%s", r->text[0] ? r->text : "accepted");
		provider_id(r->text, d->provider_id, sizeof(d->provider_id));
		return;
	}
	if (c == 4) {
		transport_set(d, DELIVERY_DEFER, code, "%s: %s", phase_names[ph], r->text);
		return;
	}
	if (c == 5 && (r->code == 530 || (r->cls == 5 && r->subj == 7 && r->det == 0 &&
					  strcasestr(r->text, "auth")))) {
		/* "authentication required": our configuration, not the address */
		transport_set(d, DELIVERY_DEFER, code, "%s: server requires AUTH: %s",
			      phase_names[ph], r->text);
		return;
	}
	if (c == 5 && (ph == PH_MAIL || ph == PH_RCPT || ph == PH_DATA || ph == PH_END)) {
		transport_set(d, DELIVERY_FAIL, code, "%s: %s", phase_names[ph], r->text);
		d->hard_bounce = ph == PH_RCPT && hard_bounce(r);
		return;
	}
	/* anything else where a message should have been answered: no 2xx
	 * after DATA is no delivery, and a 1xx/3xx here is a broken server */
	transport_set(d, DELIVERY_DEFER, code[0] ? code : "protocol", "%s: unexpected reply: %s",
		      phase_names[ph], r->text);
}

/* ---- the messages of one call ---- */

struct item {
	const struct message *m;
	struct delivery *d;
	struct buf bytes; /* DKIM-Signature + mime_build */
	char *rpath;	  /* envelope sender */
	int done;	  /* d filled */
	int acked;	  /* d handed back (transport_ack): touch neither m nor d */
	size_t idx;	  /* its index in the call */
	size_t pos;	  /* read position (libcurl) */
	int given;	  /* handed to libesmtp */
	struct lsess *ls; /* libesmtp */
	struct csess *cs; /* libcurl */
	smtp_message_t em;
	smtp_recipient_t er;
};

/* prepare - bytes and envelope for it; fills d and returns -1 when the
 * message cannot be sent at all */
static int prepare(struct smtp *s, struct item *it, int64_t now)
{
	const struct message *m = it->m;
	struct err e = {{0}};
	struct buf mime = BUF_INIT;
	if (m->channel != CHANNEL_EMAIL) {
		transport_set(it->d, DELIVERY_FAIL, "invalid", "smtp carries email, not %s",
			      channel_name(m->channel));
		return -1;
	}
	if (mime_build(m, now, &mime, &e) < 0) {
		transport_set(it->d, DELIVERY_FAIL, "invalid", "%s", e.msg);
		buf_release(&mime);
		return -1;
	}
	if (s->dkim && dkim_sign(s->dkim, mime.data, mime.len, now, &it->bytes, &e) < 0) {
		transport_set(it->d, DELIVERY_DEFER, "dkim", "%s", e.msg);
		buf_release(&mime);
		return -1;
	}
	buf_append(&it->bytes, mime.data, mime.len);
	buf_release(&mime);

	if (s->rp_tail && m->token && *m->token)
		it->rpath = xasprintf("%s%s%s", s->rp_head, m->token, s->rp_tail);
	else if (s->rp_head && !s->rp_tail)
		it->rpath = xstrdup(s->rp_head);
	else
		it->rpath = mailbox_addr(m->from);
	if (!it->rpath)
		it->rpath = xstrdup(s->from_addr);
	if (!addr_ok(it->rpath)) {
		transport_set(it->d, DELIVERY_FAIL, "invalid",
			      "envelope sender is not a plain address (token unusable?)");
		return -1;
	}
	if (!addr_ok(m->to)) {
		transport_set(it->d, DELIVERY_FAIL, "invalid", "not a plain email address");
		return -1;
	}
	return 0;
}

/* item_ack - hand a filled item's outcome back to the worker */
static void item_ack(struct transport_acks *a, struct item *it)
{
	if (it->acked)
		return;
	it->acked = 1;
	transport_ack(a, it->idx);
}

/* defer_rest - DEFER every item not yet filled */
static void defer_rest(struct item *it, size_t n, const char *code, const char *reason)
{
	for (size_t i = 0; i < n; i++)
		if (!it[i].done) {
			transport_set(it[i].d, DELIVERY_DEFER, code, "%s", reason);
			it[i].done = 1;
		}
}

/* ---- connect(): TCP_NODELAY and a bounded connect for libesmtp ---- */

static _Thread_local int tl_session;	 /* a libesmtp session of ours runs here */
static _Thread_local long tl_connect_ms; /* its timeout */
static _Thread_local char *tl_verify;	 /* where the verify callback writes */
static _Thread_local size_t tl_verify_len;

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
static connect_fn real_connect;
static pthread_once_t real_connect_once = PTHREAD_ONCE_INIT;

static void find_real_connect(void)
{
	real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
}

/* timed_connect - the real connect, non-blocking, waited for up to ms */
static int timed_connect(int fd, const struct sockaddr *sa, socklen_t len, long ms)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return real_connect(fd, sa, len);
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return real_connect(fd, sa, len);
	int rc = real_connect(fd, sa, len);
	int saved = errno;
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int64_t end = mono_ms() + ms;
		for (;;) {
			int64_t left = end - mono_ms();
			int k = poll(&p, 1, left > 0 ? (int)left : 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k == 0) {
				rc = -1;
				saved = ETIMEDOUT;
			} else if (k < 0) {
				rc = -1;
				saved = errno;
			} else {
				int err = 0;
				socklen_t el = sizeof(err);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
					err = errno;
				rc = err ? -1 : 0;
				saved = err;
			}
			break;
		}
	}
	fcntl(fd, F_SETFL, fl);
	errno = saved;
	return rc;
}

/* connect - see the opening comment. The glibc prototype takes a
 * transparent union so any sockaddr pointer converts. */
int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	pthread_once(&real_connect_once, find_real_connect);
	if (!real_connect) {
		errno = ENOSYS;
		return -1;
	}
	const struct sockaddr *sa = addr.__sockaddr__;
	if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
		int type = 0;
		socklen_t tl = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (tl_session && tl_connect_ms > 0)
				return timed_connect(fd, sa, len, tl_connect_ms);
		}
	}
	return real_connect(fd, sa, len);
}

/* verify_cb - OpenSSL's chain and host check, with the first failure kept
 * for the reason */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok && tl_verify && !tl_verify[0]) {
		int err = X509_STORE_CTX_get_error(x);
		snprintf(tl_verify, tl_verify_len, "certificate verify failed: %s",
			 X509_verify_cert_error_string(err));
	}
	return ok;
}

/* ---- libesmtp: plain SMTP and STARTTLS ---- */

struct lsess {
	struct smtp *s;
	int tls_ok;		/* STARTTLS done and accepted */
	int starttls_missing;	/* required, not offered */
	int in_auth;		/* an AUTH exchange is under way */
	int authed;		/* 235 */
	int refused;		/* the message callback refused to give a message */
	int stopping;		/* the worker gave an outcome up: send no more */
	struct transport_acks *a;
	struct reply auth_fail; /* the server's no to AUTH */
	struct reply last;	/* the last final reply line read */
	char tls_why[TEXT_MAX];
	char junk[TEXT_MAX]; /* the first line read that was no reply */
	char line[512];	     /* a reply line split across reads */
	size_t linelen;
	int64_t last_io; /* monotonic ms of the last read or write */
};

static void monitor_line(struct lsess *ls, const char *l, size_t n)
{
	struct reply r;
	int k = reply_line(l, n, &r);
	if (k < 0 && !ls->junk[0])
		clean_text(ls->junk, sizeof(ls->junk), l, n);
	if (k != 1)
		return;
	ls->last = r;
	if (!ls->in_auth)
		return;
	if (r.code / 100 == 2) {
		ls->authed = 1;
		ls->in_auth = 0;
	} else if (r.code / 100 == 4 || r.code / 100 == 5) {
		ls->auth_fail = r;
		ls->in_auth = 0;
	}
}

/* monitor_cb - what libesmtp reads (replies, kept) and writes (only
 * whether it starts an AUTH: the credentials that follow are never
 * looked at) */
static void monitor_cb(const char *buf, int len, int writing, void *arg)
{
	struct lsess *ls = arg;
	ls->last_io = mono_ms();
	if (len <= 0)
		return;
	if (writing) {
		if (writing == SMTP_CB_WRITING && len >= 5 && strncasecmp(buf, "AUTH ", 5) == 0)
			ls->in_auth = 1;
		return;
	}
	for (int i = 0; i < len; i++) {
		if (ls->linelen + 1 < sizeof(ls->line))
			ls->line[ls->linelen++] = buf[i];
		if (buf[i] == '\n') {
			monitor_line(ls, ls->line, ls->linelen);
			ls->linelen = 0;
		}
	}
}

static void message_sent(struct lsess *ls, struct item *it);

static void event_cb(smtp_session_t session, int event, void *arg, ...)
{
	struct lsess *ls = arg;
	va_list ap;
	(void)session;
	va_start(ap, arg);
	switch (event) {
	case SMTP_EV_STARTTLS_OK:
		ls->tls_ok = 1;
		/* libesmtp's certificate checks may leave errors queued, and a
		 * later SSL_read that must wait would take them for its own */
		ERR_clear_error();
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		ls->starttls_missing = 1;
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE: {
		long res = va_arg(ap, long);
		int *ok = va_arg(ap, int *);
		*ok = 0;
		if (!ls->tls_why[0])
			snprintf(ls->tls_why, sizeof(ls->tls_why), "certificate verify failed: %s",
				 X509_verify_cert_error_string(res));
		break;
	}
	case SMTP_EV_NO_PEER_CERTIFICATE: {
		int *ok = va_arg(ap, int *);
		*ok = 0;
		snprintf(ls->tls_why, sizeof(ls->tls_why), "server sent no certificate");
		break;
	}
	case SMTP_EV_WRONG_PEER_CERTIFICATE: {
		/* libesmtp matches DNS names only; OpenSSL already checked the
		 * host or IP address as part of the verification */
		int *ok = va_arg(ap, int *);
		(void)va_arg(ap, char *);
		SSL *ssl = va_arg(ap, SSL *);
		*ok = ssl && SSL_get_verify_result(ssl) == X509_V_OK;
		if (!*ok)
			snprintf(ls->tls_why, sizeof(ls->tls_why),
				 "certificate does not match host %s", ls->s->host);
		break;
	}
	case SMTP_EV_WEAK_CIPHER: {
		(void)va_arg(ap, int);
		int *ok = va_arg(ap, int *);
		*ok = 0;
		snprintf(ls->tls_why, sizeof(ls->tls_why), "weak TLS cipher");
		break;
	}
	case SMTP_EV_MESSAGEDATA:
		ls->last_io = mono_ms();
		break;
	case SMTP_EV_MESSAGESENT: {
		ls->last_io = mono_ms();
		smtp_message_t em = va_arg(ap, smtp_message_t);
		struct item *it = em ? smtp_message_get_application_data(em) : NULL;
		if (it)
			message_sent(ls, it);
		break;
	}
	default:
		break;
	}
	va_end(ap);
}

static int auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct smtp *s = arg;
	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = s->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = s->pass;
		else
			result[i] = (char *)"";
		if (!result[i])
			return 0;
	}
	return 1;
}

/* message_cb - hands libesmtp one message's bytes, once, and only when
 * the session is what the configuration asks for and the worker still
 * records what it sends */
static const char *message_cb(void **ctx, int *len, void *arg)
{
	struct item *it = arg;
	struct lsess *ls = it->ls;
	(void)ctx;
	if (!len) { /* rewind */
		it->given = 0;
		return NULL;
	}
	if ((ls->s->user && !ls->authed) || (ls->s->tls == TLS_STARTTLS && !ls->tls_ok) ||
	    ls->stopping) {
		ls->refused = !ls->stopping;
		errno = EACCES; /* libesmtp drops the connection mid-DATA */
		*len = 0;
		return NULL;
	}
	if (it->given) {
		*len = 0;
		return NULL;
	}
	it->given = 1;
	*len = (int)it->bytes.len;
	return it->bytes.data;
}

static void status_reply(const smtp_status_t *st, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	if (st && st->code)
		reply_set(r, st->code, st->enh_class, st->enh_subject, st->enh_detail, st->text,
			  st->text ? strlen(st->text) : 0);
}

/* session_problem - why the session as a whole failed, or NULL when it
 * did not (then each message's own replies decide) */
static const char *session_problem(struct lsess *ls, char *code, size_t codelen, char *why,
				   size_t whylen)
{
	struct smtp *s = ls->s;
	if (s->tls == TLS_STARTTLS && !ls->tls_ok) {
		snprintf(code, codelen, "tls");
		if (ls->starttls_missing)
			snprintf(why, whylen,
				 "server does not offer STARTTLS (tls: starttls "
				 "requires it; nothing was sent in clear)");
		else if (ls->tls_why[0])
			snprintf(why, whylen, "STARTTLS failed: %s", ls->tls_why);
		else
			return NULL; /* never got that far: connect or greeting */
		return why;
	}
	if (s->user && !ls->authed) {
		if (ls->auth_fail.code) {
			char c[32];
			code_str(&ls->auth_fail, c, sizeof(c));
			snprintf(code, codelen, "%s", c);
			snprintf(why, whylen, "auth failed: %s", ls->auth_fail.text);
			return why;
		}
		if (ls->refused) {
			snprintf(code, codelen, "auth");
			snprintf(why, whylen,
				 "auth failed: server offered no usable AUTH mechanism");
			return why;
		}
	}
	return NULL;
}

/* esmtp_error - why a session broke without a reply for a message.
 * libesmtp keeps system errors negative, its own positive (9..18 are
 * getaddrinfo's); its error variable is per thread and never cleared, so
 * a reply seen in this session is preferred to it. */
static void esmtp_error(struct lsess *ls, int serr, int64_t started, char *code, size_t codelen,
			char *why, size_t whylen)
{
	char buf[128];
	const char *msg = smtp_strerror(serr, buf, sizeof(buf));
	int64_t idle = mono_ms() - (ls->last_io ? ls->last_io : started);
	int timed_out = serr == -ETIMEDOUT ||
			(serr == SMTP_ERR_DROPPED_CONNECTION && idle + 100 >= ls->s->timeout_ms);
	if (!msg)
		msg = "unknown error";
	if (ls->tls_why[0]) {
		snprintf(code, codelen, "tls");
		snprintf(why, whylen, "STARTTLS failed: %s", ls->tls_why);
	} else if (timed_out) {
		snprintf(code, codelen, "timeout");
		snprintf(why, whylen, "%s: no answer within %lds", ls->s->hostport,
			 (ls->s->timeout_ms + 999) / 1000);
	} else if (ls->last.code >= 400) {
		code_str(&ls->last, code, codelen);
		snprintf(why, whylen, "server said: %s", ls->last.text);
	} else if (serr < 0 && !ls->last.code) {
		snprintf(code, codelen, "connect");
		snprintf(why, whylen, "%s: %s", ls->s->hostport, msg);
	} else if (serr >= SMTP_ERR_EAI_ADDRFAMILY && serr <= SMTP_ERR_EAI_SOCKTYPE) {
		snprintf(code, codelen, "dns");
		snprintf(why, whylen, "%s: %s", ls->s->host, msg);
	} else if (ls->junk[0]) {
		snprintf(code, codelen, "protocol");
		snprintf(why, whylen, "%s answered with no SMTP reply: \"%s\"", ls->s->hostport,
			 ls->junk);
	} else {
		snprintf(code, codelen, "connection");
		snprintf(why, whylen, "session with %s broke: %s", ls->s->hostport, msg);
	}
}

/* esmtp_outcome - one message's outcome from its replies, or from what
 * broke the session (problem: the session as a whole was refused; ewhy:
 * it broke without replying to this message) */
static void esmtp_outcome(struct item *it, const char *pcode, const char *problem,
			  const char *ecode, const char *ewhy)
{
	struct reply r;
	status_reply(smtp_message_transfer_status(it->em), &r);
	if (r.code / 100 == 2) {
		classify(it->d, PH_END, &r);
		it->done = 1;
		return;
	}
	if (problem) {
		transport_set(it->d, DELIVERY_DEFER, pcode, "%s", problem);
		it->done = 1;
		return;
	}
	struct reply rp, rr;
	status_reply(smtp_reverse_path_status(it->em), &rp);
	status_reply(smtp_recipient_status(it->er), &rr);
	if (rp.code && rp.code / 100 != 2)
		classify(it->d, PH_MAIL, &rp);
	else if (rr.code && rr.code / 100 != 2)
		classify(it->d, PH_RCPT, &rr);
	else if (r.code / 100 == 4 || r.code / 100 == 5)
		classify(it->d, r.code == 354 ? PH_DATA : (it->given ? PH_END : PH_DATA), &r);
	else if (it->given)
		transport_set(it->d, DELIVERY_DEFER, ecode,
			      "no reply after the message data, so not known to be delivered: %s",
			      ewhy);
	else
		transport_set(it->d, DELIVERY_DEFER, ecode, "%s", ewhy);
	it->done = 1;
}

/* message_sent - the server answered the message's data: its outcome goes
 * back now, and the session (this callback, inside libesmtp's protocol
 * loop) waits until the worker recorded it before the next MAIL FROM */
static void message_sent(struct lsess *ls, struct item *it)
{
	struct reply r;
	status_reply(smtp_message_transfer_status(it->em), &r);
	int c = r.code / 100;
	if (it->done || !(c == 2 || c == 4 || c == 5))
		return; /* no usable reply: judged when the session ends */
	esmtp_outcome(it, NULL, NULL, "protocol", "no reply");
	item_ack(ls->a, it);
	if (transport_ack_wait(ls->a, it->idx) < 0)
		ls->stopping = 1; /* message_cb hands over nothing more */
}

static void esmtp_session(struct smtp *s, struct item *it, size_t n, struct transport_acks *a)
{
	struct lsess ls;
	memset(&ls, 0, sizeof(ls));
	ls.s = s;
	ls.a = a;
	smtp_session_t ss = smtp_create_session();
	if (!ss) {
		defer_rest(it, n, "internal", "cannot create an SMTP session");
		return;
	}
	auth_context_t ac = NULL;
	int ok = smtp_set_server(ss, s->hostport) && smtp_set_hostname(ss, s->helo) &&
		 smtp_set_eventcb(ss, event_cb, &ls) && smtp_set_monitorcb(ss, monitor_cb, &ls, 0);
	static const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
				    Timeout_TRANSFER, Timeout_DATA2};
	for (size_t i = 0; ok && i < sizeof(which) / sizeof(*which); i++)
		ok = smtp_set_timeout(ss, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
				      s->timeout_ms) > 0;
	if (ok && s->tls == TLS_STARTTLS)
		ok = smtp_starttls_enable(ss, Starttls_REQUIRED) &&
		     smtp_starttls_set_ctx(ss, s->ssl);
	else if (ok)
		ok = smtp_starttls_enable(ss, Starttls_DISABLED);
	if (ok && s->user) {
		ac = auth_create_context();
		ok = ac && auth_set_mechanism_flags(ac, AUTH_PLUGIN_PLAIN, 0) &&
		     auth_set_interact_cb(ac, auth_interact, s) && smtp_auth_set_context(ss, ac);
	}
	for (size_t i = 0; ok && i < n; i++) {
		if (it[i].done)
			continue;
		it[i].ls = &ls;
		it[i].em = smtp_add_message(ss);
		ok = it[i].em && smtp_set_reverse_path(it[i].em, it[i].rpath) &&
		     smtp_set_messagecb(it[i].em, message_cb, &it[i]);
		if (ok)
			smtp_message_set_application_data_release(it[i].em, &it[i], NULL);
		if (ok) {
			it[i].er = smtp_add_recipient(it[i].em, it[i].m->to);
			ok = it[i].er != NULL;
		}
	}
	if (!ok) {
		char buf[128];
		const char *msg = smtp_strerror(smtp_errno(), buf, sizeof(buf));
		defer_rest(it, n, "internal", msg ? msg : "cannot set up the SMTP session");
		goto out;
	}

	/* SIGPIPE from a write to a closed socket goes to this thread: hold
	 * it while the session runs and swallow it after */
	sigset_t sigpipe, old;
	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
	char verify[TEXT_MAX] = "";
	tl_session = 1;
	tl_connect_ms = s->timeout_ms;
	tl_verify = verify;
	tl_verify_len = sizeof(verify);
	int64_t started = mono_ms();
	errno = 0;
	ERR_clear_error();	      /* the queue is this thread's: start it empty */
	(void)smtp_start_session(ss); /* 0 or 1 says little: the statuses do */
	int serr = smtp_errno();
	tl_session = 0;
	tl_verify = NULL;
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&sigpipe, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ERR_clear_error();
	if (verify[0] && !ls.tls_why[0])
		snprintf(ls.tls_why, sizeof(ls.tls_why), "%s", verify);

	char pcode[32] = "", pwhy[TEXT_MAX + 64] = "", ecode[32] = "", ewhy[2 * TEXT_MAX + 64] = "";
	const char *problem = session_problem(&ls, pcode, sizeof(pcode), pwhy, sizeof(pwhy));
	esmtp_error(&ls, serr, started, ecode, sizeof(ecode), ewhy, sizeof(ewhy));
	if (ls.stopping)
		defer_rest(it, n, "stopped", "not sent: the worker stopped recording outcomes");
	for (size_t i = 0; i < n; i++)
		if (!it[i].done)
			esmtp_outcome(&it[i], pcode, problem, ecode, ewhy);
out:
	smtp_destroy_session(ss);
	if (ac)
		auth_destroy_context(ac);
}

/* ---- libcurl: implicit TLS (smtps://) ---- */

struct csess {
	const struct smtp *s;
	enum phase ph;
	struct reply last; /* the last final reply of this transfer */
	int have;
	struct reply bad; /* its first 4xx or 5xx, and the phase it answered */
	enum phase bad_ph;
	int have_bad;
	int authed;  /* this connection passed AUTH */
	int refused; /* read_cb would not hand over a message */
	char line[512];
	size_t linelen;
};

static void curl_reply_line(struct csess *cs, const char *l, size_t n)
{
	struct reply r;
	if (reply_line(l, n, &r) != 1)
		return;
	cs->last = r;
	cs->have = 1;
	if (cs->ph == PH_CONNECT) { /* a new connection's greeting */
		cs->ph = PH_GREETING;
		cs->authed = 0;
	}
	if (cs->ph == PH_AUTH && r.code / 100 == 2)
		cs->authed = 1;
	if (r.code >= 400 && !cs->have_bad) {
		cs->bad = r;
		cs->bad_ph = cs->ph;
		cs->have_bad = 1;
	}
	if (cs->ph == PH_DATA && r.code == 354)
		cs->ph = PH_END;
}

/* debug_cb - replies (kept) and the verb of each command (nothing after
 * it: an AUTH line carries credentials) */
static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct csess *cs = arg;
	(void)h;
	if (type == CURLINFO_HEADER_OUT && size >= 4) {
		static const struct {
			const char *verb;
			enum phase ph;
		} verbs[] = {{"EHLO", PH_EHLO}, {"HELO", PH_EHLO}, {"STAR", PH_TLS},
			     {"AUTH", PH_AUTH}, {"MAIL", PH_MAIL}, {"RCPT", PH_RCPT},
			     {"DATA", PH_DATA}};
		for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++)
			if (strncasecmp(data, verbs[i].verb, 4) == 0)
				cs->ph = verbs[i].ph;
	} else if (type == CURLINFO_HEADER_IN) {
		for (size_t i = 0; i < size; i++) {
			if (cs->linelen + 1 < sizeof(cs->line))
				cs->line[cs->linelen++] = data[i];
			if (data[i] == '\n') {
				curl_reply_line(cs, cs->line, cs->linelen);
				cs->linelen = 0;
			}
		}
	}
	return 0;
}

/* read_cb - the message's bytes, once AUTH passed where it is configured
 * (libcurl sends mail without AUTH when the server offers none) */
static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct item *it = arg;
	struct csess *cs = it->cs;
	if (cs->s->user && !cs->authed) {
		cs->refused = 1;
		return CURL_READFUNC_ABORT;
	}
	size_t room = size * nmemb, left = it->bytes.len - it->pos;
	size_t k = left < room ? left : room;
	memcpy(dst, it->bytes.data + it->pos, k);
	it->pos += k;
	return k;
}

static void curl_session(struct smtp *s, struct item *it, size_t n, struct transport_acks *a)
{
	CURL *c = curl_easy_init();
	if (!c) {
		defer_rest(it, n, "internal", "cannot create a libcurl handle");
		return;
	}
	struct csess cs;
	char errbuf[CURL_ERROR_SIZE];
	long resp = s->timeout_ms / 1000 > 0 ? s->timeout_ms / 1000 : 1;
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (s->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->pass);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, resp);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L); /* for debug_cb; nothing is printed */
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &cs);
	memset(&cs, 0, sizeof(cs));
	cs.s = s;
	cs.ph = PH_CONNECT;

	for (size_t i = 0; i < n; i++) {
		if (it[i].done)
			continue;
		struct curl_slist *rcpt = NULL;
		char *to = xasprintf("<%s>", it[i].m->to);
		char *from = xasprintf("<%s>", it[i].rpath);
		rcpt = curl_slist_append(rcpt, to);
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(c, CURLOPT_READDATA, &it[i]);
		it[i].pos = 0;
		it[i].cs = &cs;
		cs.have = cs.have_bad = cs.refused = 0;
		cs.linelen = 0;
		memset(&cs.last, 0, sizeof(cs.last));
		/* a reused connection starts at MAIL; a new one with its greeting */
		cs.ph = PH_CONNECT;
		errbuf[0] = '\0';
		CURLcode rc = curl_easy_perform(c);
		curl_slist_free_all(rcpt);
		free(to);
		free(from);
		if (cs.ph == PH_CONNECT && cs.have)
			cs.ph = PH_GREETING;
		if (rc == CURLE_OK || (cs.have_bad && (cs.bad_ph == PH_MAIL || cs.bad_ph == PH_RCPT ||
							cs.bad_ph == PH_DATA || cs.bad_ph == PH_END))) {
			if (rc != CURLE_OK)
				classify(it[i].d, cs.bad_ph, &cs.bad);
			else if (cs.have && cs.last.code / 100 == 2)
				classify(it[i].d, PH_END, &cs.last);
			else
				transport_set(it[i].d, DELIVERY_OK, "250", "accepted");
			it[i].done = 1;
			/* the connection carries nothing more until this is recorded */
			item_ack(a, &it[i]);
			if (transport_ack_wait(a, i) < 0) {
				defer_rest(it, n, "stopped",
					   "not sent: the worker stopped recording outcomes");
				break;
			}
			continue;
		}
		/* the session itself failed: this and every later message defer */
		char code[32], why[2 * TEXT_MAX + 64];
		char detail[TEXT_MAX];
		const char *cerr = errbuf[0] ? errbuf : curl_easy_strerror(rc);
		clean_text(detail, sizeof(detail), cerr, strlen(cerr));
		if (cs.refused) {
			snprintf(code, sizeof(code), "auth");
			snprintf(why, sizeof(why),
				 "auth failed: server offered no usable AUTH mechanism");
		} else if (rc == CURLE_LOGIN_DENIED || (cs.have_bad && cs.bad_ph == PH_AUTH)) {
			if (cs.have_bad)
				code_str(&cs.bad, code, sizeof(code));
			else
				snprintf(code, sizeof(code), "auth");
			snprintf(why, sizeof(why), "auth failed: %s",
				 cs.have_bad ? cs.bad.text : detail);
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(code, sizeof(code), "timeout");
			snprintf(why, sizeof(why), "%s: %s", phase_names[cs.ph], detail);
		} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
			snprintf(code, sizeof(code), "connect");
			snprintf(why, sizeof(why), "%s", detail);
		} else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
			   rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
			snprintf(code, sizeof(code), "tls");
			snprintf(why, sizeof(why), "TLS failed: %s", detail);
		} else {
			if (cs.have_bad)
				code_str(&cs.bad, code, sizeof(code));
			else
				snprintf(code, sizeof(code), "connection");
			snprintf(why, sizeof(why), "%s: %s%s%s", phase_names[cs.ph], detail,
				 cs.have_bad ? "; server said: " : "",
				 cs.have_bad ? cs.bad.text : "");
		}
		transport_set(it[i].d, DELIVERY_DEFER, code, "%s", why);
		it[i].done = 1;
		defer_rest(it, n, code, it[i].d->reason);
		break;
	}
	curl_easy_cleanup(c);
	ERR_clear_error();
}

/* ---- the ops ---- */

static int smtp_deliver(void *state, const struct message *const *m, size_t n, int64_t now,
			struct delivery *d, struct transport_acks *a)
{
	struct smtp *s = state;
	struct item *it = xcalloc(n, sizeof(*it));
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		it[i].m = m[i];
		it[i].d = &d[i];
		it[i].idx = i;
		if (prepare(s, &it[i], now) < 0) {
			it[i].done = 1;
			item_ack(a, &it[i]); /* never sent: nothing to wait for */
		} else {
			live++;
		}
	}
	if (live > 0) {
		if (s->tls == TLS_IMPLICIT)
			curl_session(s, it, n, a);
		else
			esmtp_session(s, it, n, a);
	}
	for (size_t i = 0; i < n; i++) {
		if (!it[i].done) /* cannot happen: every path fills each item */
			transport_set(&d[i], DELIVERY_DEFER, "internal", "no outcome recorded");
		item_ack(a, &it[i]);
		buf_release(&it[i].bytes);
		free(it[i].rpath);
	}
	free(it);
	return 0;
}

static int smtp_threads(void *state)
{
	struct smtp *s = state;
	return s ? (int)s->concurrency : DEFAULT_CONCURRENCY;
}

static size_t smtp_batch(void *state)
{
	struct smtp *s = state;
	return s ? (size_t)s->per_session : DEFAULT_PER_SESSION;
}

static void wipe_free(char *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

static void smtp_free(void *state)
{
	struct smtp *s = state;
	if (!s)
		return;
	free(s->name);
	free(s->host);
	free(s->hostport);
	free(s->url);
	free(s->helo);
	free(s->from_addr);
	free(s->rp_head);
	free(s->rp_tail);
	wipe_free(s->user);
	wipe_free(s->pass);
	free(s->ca_file);
	SSL_CTX_free(s->ssl);
	dkim_signer_free(s->dkim);
	free(s);
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	auth_client_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* make_ssl - the SSL_CTX for STARTTLS: verify the peer and its name */
static SSL_CTX *make_ssl(const struct smtp *s, struct err *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		err_set(e, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* and at most 1.2: see "TLS 1.3" in the opening comment */
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	int ok = s->ca_file ? SSL_CTX_load_verify_locations(ctx, s->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		err_set(e, "cannot load CA certificates%s%s", s->ca_file ? " from " : "",
			s->ca_file ? s->ca_file : "");
		return NULL;
	}
	ERR_clear_error(); /* loading may queue errors even when it succeeds */
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	ok = is_ipv4(s->host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, s->host)
			      : X509_VERIFY_PARAM_set1_host(vp, s->host, 0);
	if (ok != 1) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		err_set(e, "cannot set the host name to verify");
		return NULL;
	}
	ERR_clear_error();
	return ctx;
}

/* dkim_opts - the `dkim` mapping */
static int dkim_opts(const struct config *cfg, const struct transport_conf *conf, int flags,
		     struct smtp *s, struct err *e)
{
	json_t *v = conf->opts ? json_object_get(conf->opts, "dkim") : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return transport_conf_err(cfg, conf, "dkim", e,
					  "dkim must be a mapping {key_file, domain, selector}");
	const char *keys[] = {"key_file", "domain", "selector"};
	const char *val[3];
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_object_get(v, keys[i]);
		char ptr[32];
		snprintf(ptr, sizeof(ptr), "dkim/%s", keys[i]);
		if (!x || !json_is_string(x) || json_string_length(x) == 0)
			return transport_conf_err(cfg, conf, x ? ptr : "dkim", e,
						  "dkim needs %s (a non-empty string)", keys[i]);
		val[i] = json_string_value(x);
	}
	const char *key;
	json_t *x;
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "key_file") && strcmp(key, "domain") && strcmp(key, "selector") &&
		    strcmp(key, "headers")) {
			char ptr[300];
			snprintf(ptr, sizeof(ptr), "dkim/%s", key);
			return transport_conf_err(cfg, conf, ptr, e,
						  "unknown dkim option \"%s\" (key_file, domain, "
						  "selector, headers)",
						  key);
		}
	}
	json_t *h = json_object_get(v, "headers");
	struct buf hl = BUF_INIT;
	if (h && json_is_string(h)) {
		buf_puts(&hl, json_string_value(h));
	} else if (h && json_is_array(h) && json_array_size(h) > 0) {
		size_t i;
		json_t *x;
		json_array_foreach(h, i, x)
		{
			if (!json_is_string(x)) {
				buf_release(&hl);
				return transport_conf_err(cfg, conf, "dkim/headers", e,
							  "dkim headers must be field names");
			}
			if (i)
				buf_putc(&hl, ':');
			buf_puts(&hl, json_string_value(x));
		}
	} else if (h && !json_is_null(h)) {
		return transport_conf_err(cfg, conf, "dkim/headers", e,
					  "dkim headers must be a list or a colon-separated "
					  "string of field names");
	}
	/* `check` may run where the key is not (like the secrets): it checks
	 * the other values and loads no key */
	struct err de = {{0}};
	s->dkim = dkim_signer_create((flags & TRANSPORT_CHECK) ? NULL : val[0], val[1], val[2],
				     hl.len ? hl.data : NULL, &de);
	buf_release(&hl);
	if (!s->dkim) {
		const char *where = strstr(de.msg, "key_file")	 ? "dkim/key_file"
				    : strstr(de.msg, "domain")	 ? "dkim/domain"
				    : strstr(de.msg, "selector") ? "dkim/selector"
				    : strstr(de.msg, "headers")	 ? "dkim/headers"
								 : "dkim";
		return transport_conf_err(cfg, conf, where, e, "%s", de.msg);
	}
	return 0;
}

static int smtp_create(const struct config *cfg, const struct transport_conf *conf, int flags,
		       void **state, struct err *e)
{
	const char *host, *tls, *from, *rp, *ca, *helo, *user, *pass;
	long timeout;
	struct smtp *s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(conf->name ? conf->name : "smtp");

	if (transport_opt_str(cfg, conf, "host", &host, e) < 0)
		goto fail;
	if (!host) {
		transport_conf_err(cfg, conf, NULL, e, "host is required for kind smtp");
		goto fail;
	}
	if (!hostname_ok(host)) {
		transport_conf_err(cfg, conf, "host", e,
				   "host \"%s\" must be a host name or an IPv4 address", host);
		goto fail;
	}
	s->host = xstrdup(host);

	if (transport_opt_str(cfg, conf, "tls", &tls, e) < 0)
		goto fail;
	if (!tls || strcmp(tls, "starttls") == 0)
		s->tls = TLS_STARTTLS;
	else if (strcmp(tls, "none") == 0)
		s->tls = TLS_NONE;
	else if (strcmp(tls, "implicit") == 0)
		s->tls = TLS_IMPLICIT;
	else {
		transport_conf_err(cfg, conf, "tls", e,
				   "tls must be none, starttls or implicit, not \"%s\"", tls);
		goto fail;
	}
	long defport = s->tls == TLS_STARTTLS ? 587 : s->tls == TLS_NONE ? 25 : 465;
	if (transport_opt_int(cfg, conf, "port", defport, 1, 65535, &s->port, e) < 0)
		goto fail;

	if (transport_opt_str(cfg, conf, "from", &from, e) < 0)
		goto fail;
	if (!from) {
		transport_conf_err(cfg, conf, NULL, e,
				   "from is required for kind smtp (\"Name <addr@domain>\")");
		goto fail;
	}
	if (strpbrk(from, "\r\n") || !(s->from_addr = mailbox_addr(from))) {
		transport_conf_err(cfg, conf, "from", e,
				   "from \"%s\" has no plain address (\"Name <addr@domain>\")",
				   from);
		goto fail;
	}

	if (transport_opt_str(cfg, conf, "return_path", &rp, e) < 0)
		goto fail;
	if (rp) {
		const char *tok = strstr(rp, "{token}");
		if (tok && strstr(tok + 1, "{token}")) {
			transport_conf_err(cfg, conf, "return_path", e,
					   "return_path may hold {token} only once");
			goto fail;
		}
		char *probe =
		    tok ? xasprintf("%.*sx%s", (int)(tok - rp), rp, tok + 7) : xstrdup(rp);
		const char *at = strrchr(rp, '@');
		int good = addr_ok(probe) && (!tok || (at && tok < at));
		free(probe);
		if (!good) {
			transport_conf_err(cfg, conf, "return_path", e,
					   "return_path must be a plain address, with {token} in "
					   "its local part for VERP (bounces+{token}@example.com)");
			goto fail;
		}
		if (tok) {
			s->rp_head = xstrndup(rp, (size_t)(tok - rp));
			s->rp_tail = xstrdup(tok + 7);
		} else {
			s->rp_head = xstrdup(rp);
		}
	}

	if (transport_opt_str(cfg, conf, "ca_file", &ca, e) < 0)
		goto fail;
	if (ca && s->tls == TLS_NONE) {
		transport_conf_err(cfg, conf, "ca_file", e,
				   "ca_file needs tls: starttls or implicit");
		goto fail;
	}
	if (ca && !(flags & TRANSPORT_CHECK) && access(ca, R_OK) < 0) {
		transport_conf_err(cfg, conf, "ca_file", e, "cannot read ca_file \"%s\": %s", ca,
				   strerror(errno));
		goto fail;
	}
	s->ca_file = xstrdup(ca);

	if (transport_opt_str(cfg, conf, "helo", &helo, e) < 0)
		goto fail;
	if (helo && !hostname_ok(helo)) {
		transport_conf_err(cfg, conf, "helo", e, "helo \"%s\" must be a host name", helo);
		goto fail;
	}
	if (!helo) {
		char hn[256] = "";
		if (gethostname(hn, sizeof(hn) - 1) < 0 || !hostname_ok(hn))
			snprintf(hn, sizeof(hn), "localhost");
		s->helo = xstrdup(hn);
	} else {
		s->helo = xstrdup(helo);
	}

	if (transport_opt_int(cfg, conf, "concurrency", DEFAULT_CONCURRENCY, 1, 64, &s->concurrency,
			      e) < 0 ||
	    transport_opt_int(cfg, conf, "per_session", DEFAULT_PER_SESSION, 1, 10000,
			      &s->per_session, e) < 0 ||
	    transport_opt_duration_ms(cfg, conf, "timeout", DEFAULT_TIMEOUT_MS, &timeout, e) < 0)
		goto fail;
	s->timeout_ms = timeout < 1000 ? 1000 : timeout; /* libesmtp's floor */

	/* AUTH: both names or neither */
	const char *uname, *pname;
	if (transport_opt_str(cfg, conf, "username_env", &uname, e) < 0 ||
	    transport_opt_str(cfg, conf, "password_env", &pname, e) < 0)
		goto fail;
	if (!uname != !pname) {
		transport_conf_err(cfg, conf, uname ? "username_env" : "password_env", e,
				   "username_env and password_env go together");
		goto fail;
	}
	if (uname && s->tls == TLS_NONE && !is_loopback(s->host)) {
		transport_conf_err(cfg, conf, "tls", e,
				   "AUTH with tls: none would send the password in clear to %s; "
				   "use starttls or implicit",
				   s->host);
		goto fail;
	}
	if (transport_secret(cfg, conf, "username_env", flags, &user, e) < 0 ||
	    transport_secret(cfg, conf, "password_env", flags, &pass, e) < 0)
		goto fail;

	if (dkim_opts(cfg, conf, flags, s, e) < 0)
		goto fail;

	if (flags & TRANSPORT_CHECK) {
		smtp_free(s);
		*state = NULL;
		return 0;
	}
	s->user = xstrdup(user);
	s->pass = xstrdup(pass);
	s->hostport = xasprintf("%s:%ld", s->host, s->port);
	s->url = xasprintf("smtps://%s:%ld/%s", s->host, s->port, s->helo);
	pthread_once(&lib_once, lib_init);
	if (s->tls == TLS_STARTTLS) {
		struct err te = {{0}};
		if (!(s->ssl = make_ssl(s, &te))) {
			transport_conf_err(cfg, conf, s->ca_file ? "ca_file" : "tls", e, "%s",
					   te.msg);
			goto fail;
		}
	}
	*state = s;
	return 0;
fail:
	smtp_free(s);
	return -1;
}

static const char *const smtp_keys[] = {"host", "port", "tls", "username_env", "password_env", "from", "return_path", "ca_file", "helo", "concurrency", "per_session", "timeout", "dkim", NULL};

const struct transport_ops transport_smtp = {
    .kind = "smtp",
    .keys = smtp_keys,
    .create = smtp_create,
    .deliver_acked = smtp_deliver,
    .threads = smtp_threads,
    .batch = smtp_batch,
    .free = smtp_free,
};
