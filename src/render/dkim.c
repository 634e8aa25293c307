/* dkim.c - DKIM signatures (RFC 6376): rsa-sha256, relaxed/relaxed
 *
 * dkim_sign splits a finished message (mime_build's CRLF output) into
 * header fields and body, hashes the relaxed canonical body (bh=), picks
 * the configured header fields that are present, bottom-up for repeated
 * names as section 5.4.2 says, and signs their canonical forms followed by
 * the canonical DKIM-Signature field with an empty b= (section 3.7) using
 * OpenSSL's EVP_DigestSign (RSASSA-PKCS1-v1_5 with SHA-256). The field is
 * folded so that no line passes 76 columns; relaxed header
 * canonicalization makes the folding irrelevant to the signature, and the
 * hashed text is canonicalized from exactly the text that goes out, so
 * signer and verifier cannot disagree about it.
 *
 * Security: the private key is read once at create, only PEM without a
 * passphrase (OpenSSL would otherwise prompt on the terminal), and must be
 * RSA of at least 1024 bits (RFC 8301). Errors name the file, never the
 * key. The key is only read after that, so one signer serves any number
 * of threads (each signature has its own EVP_MD_CTX).
 */
#include "dkim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "xmalloc.h"

#define DKIM_DEFAULT_HEADERS                                                                       \
	"from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe:"              \
	"list-unsubscribe-post:reply-to"
#define FOLD_COLS 76 /* DKIM-Signature lines, CRLF excluded */
#define MIN_BITS 1024

struct dkim_signer {
	EVP_PKEY *key;
	char *domain;
	char *selector;
	char **headers; /* lowercase names, in signing order */
	size_t nheaders;
};

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- relaxed canonicalization (RFC 6376 section 3.4.2 and 3.4.4) ---- */

void dkim_canon_header(const char *field, size_t len, struct buf *out)
{
	size_t i = 0;
	/* the name, lowercased, without the whitespace before the colon */
	const char *colon = memchr(field, ':', len);
	size_t nend = colon ? (size_t)(colon - field) : len;
	while (nend > 0 && is_wsp(field[nend - 1]))
		nend--;
	for (; i < nend; i++)
		buf_putc(out, (char)tolower((unsigned char)field[i]));
	buf_putc(out, ':');
	if (!colon) {
		buf_puts(out, "\r\n");
		return;
	}
	/* the value: unfolded, runs of WSP as one SP, none at either end */
	int pending = 0, started = 0;
	for (i = (size_t)(colon - field) + 1; i < len; i++) {
		char c = field[i];
		if (c == '\r' || c == '\n' || is_wsp(c)) {
			pending = 1;
			continue;
		}
		if (pending && started)
			buf_putc(out, ' ');
		pending = 0;
		started = 1;
		buf_putc(out, c);
	}
	buf_puts(out, "\r\n");
}

void dkim_canon_body(const char *body, size_t len, struct buf *out)
{
	size_t blank = 0; /* empty lines seen and not yet written */
	size_t i = 0;
	buf_puts(out, ""); /* an empty body is "", not NULL */
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - body) : len; /* the LF, or the end */
		size_t stop = end;
		if (nl && stop > i && body[stop - 1] == '\r')
			stop--;
		/* the line body[i, stop): WSP runs as one SP, none at its end */
		struct buf line = BUF_INIT;
		int pending = 0;
		for (size_t k = i; k < stop; k++) {
			if (is_wsp(body[k])) {
				pending = 1;
				continue;
			}
			if (pending)
				buf_putc(&line, ' ');
			pending = 0;
			buf_putc(&line, body[k]);
		}
		if (line.len == 0) {
			blank++;
		} else {
			for (; blank > 0; blank--)
				buf_puts(out, "\r\n");
			buf_append(out, line.data, line.len);
			buf_puts(out, "\r\n"); /* a last line without CRLF gets one */
		}
		buf_release(&line);
		i = nl ? end + 1 : len;
	}
	/* empty lines at the end are dropped: nothing more to do */
}

/* ---- the signer ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':' ||
		    s[i] == ';')
			return 0;
	return 1;
}

static int domain_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

struct dkim_signer *dkim_signer_create(const char *key_file, const char *domain,
				       const char *selector, const char *headers, struct err *e)
{
	if (!domain_ok(domain)) {
		err_set(e, "dkim domain \"%s\" is not a domain name", domain ? domain : "");
		return NULL;
	}
	if (!domain_ok(selector)) {
		err_set(e, "dkim selector \"%s\" is not a valid selector",
			selector ? selector : "");
		return NULL;
	}
	struct dkim_signer *s = xcalloc(1, sizeof(*s));
	const char *list = headers ? headers : DKIM_DEFAULT_HEADERS;
	int have_from = 0;
	for (const char *p = list; *p;) {
		const char *q = strchr(p, ':');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		while (n > 0 && is_wsp(*p)) {
			p++;
			n--;
		}
		while (n > 0 && is_wsp(p[n - 1]))
			n--;
		if (!name_ok(p, n)) {
			err_set(e,
				"dkim headers: \"%s\" is not a colon-separated list of field names",
				list);
			dkim_signer_free(s);
			return NULL;
		}
		char *name = xstrndup(p, n);
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (strcmp(name, "from") == 0)
			have_from = 1;
		if (strcmp(name, "dkim-signature") == 0) {
			free(name);
			err_set(e, "dkim headers: a signature cannot sign dkim-signature");
			dkim_signer_free(s);
			return NULL;
		}
		s->headers = xrealloc(s->headers, (s->nheaders + 1) * sizeof(*s->headers));
		s->headers[s->nheaders++] = name;
		if (!q)
			break;
		p = q + 1;
	}
	if (!have_from) {
		err_set(e, "dkim headers must include from (RFC 6376 section 5.4)");
		dkim_signer_free(s);
		return NULL;
	}

	if (!key_file) /* checking the rest only: this signer cannot sign */
		goto done;
	BIO *bio = BIO_new_file(key_file, "r");
	if (!bio) {
		ERR_clear_error();
		err_set(e, "dkim key_file \"%s\": cannot open", key_file);
		dkim_signer_free(s);
		return NULL;
	}
	s->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!s->key) {
		err_set(e, "dkim key_file \"%s\": not a PEM private key without a passphrase",
			key_file);
		dkim_signer_free(s);
		return NULL;
	}
	if (!EVP_PKEY_is_a(s->key, "RSA")) {
		err_set(e, "dkim key_file \"%s\": not an RSA key (rsa-sha256 needs one)", key_file);
		dkim_signer_free(s);
		return NULL;
	}
	if (EVP_PKEY_get_bits(s->key) < MIN_BITS) {
		err_set(e, "dkim key_file \"%s\": RSA key of %d bits, at least %d needed", key_file,
			EVP_PKEY_get_bits(s->key), MIN_BITS);
		dkim_signer_free(s);
		return NULL;
	}
done:
	s->domain = xstrdup(domain);
	s->selector = xstrdup(selector);
	return s;
}

void dkim_signer_free(struct dkim_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	for (size_t i = 0; i < s->nheaders; i++)
		free(s->headers[i]);
	free(s->headers);
	free(s->domain);
	free(s->selector);
	free(s);
}

/* ---- signing ---- */

struct field {
	const char *p; /* "Name: value\r\n" with its continuation lines */
	size_t len;
	size_t namelen;
	int used;
};

/* split - the header fields of msg and the offset of the body (len when
 * there is no blank line); -1 on a line that is neither a field nor a
 * continuation */
static int split(const char *msg, size_t len, struct field **fields, size_t *n, size_t *body)
{
	size_t i = 0;
	*fields = NULL;
	*n = 0;
	*body = len;
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - msg) + 1 : len;
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			*body = i + 2;
			return 0;
		}
		if (msg[i] == '\n') {
			*body = i + 1;
			return 0;
		}
		if (is_wsp(msg[i])) {
			if (*n == 0)
				return -1;
			(*fields)[*n - 1].len = next - (size_t)((*fields)[*n - 1].p - msg);
		} else {
			const char *colon = memchr(msg + i, ':', next - i);
			if (!colon)
				return -1;
			size_t nl_ = (size_t)(colon - (msg + i));
			while (nl_ > 0 && is_wsp(msg[i + nl_ - 1]))
				nl_--;
			*fields = xrealloc(*fields, (*n + 1) * sizeof(**fields));
			(*fields)[*n] = (struct field){msg + i, next - i, nl_, 0};
			(*n)++;
		}
		i = next;
	}
	return 0;
}

static void b64(const unsigned char *p, size_t n, struct buf *out)
{
	char *tmp = xmalloc(4 * ((n + 2) / 3) + 1);
	int k = EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
	buf_append(out, tmp, (size_t)k);
	free(tmp);
}

/* fold - a header being written with a column count */
struct fold {
	struct buf *out;
	size_t col;
};

/* fold_put - s, after a space or on a new line when it would pass the
 * limit; sep 0 glues it to what precedes (never breaking there) */
static void fold_put(struct fold *f, const char *s, size_t n, int sep)
{
	if (sep) {
		if (f->col + 1 + n > FOLD_COLS) {
			buf_puts(f->out, "\r\n ");
			f->col = 1;
		} else {
			buf_putc(f->out, ' ');
			f->col++;
		}
	}
	buf_append(f->out, s, n);
	f->col += n;
}

int dkim_sign(const struct dkim_signer *s, const char *msg, size_t len, int64_t now,
	      struct buf *out, struct err *e)
{
	struct field *fields = NULL;
	size_t nfields = 0, body = 0;
	struct buf hdata = BUF_INIT, cbody = BUF_INIT, sig = BUF_INIT, h = BUF_INIT, tmp = BUF_INIT;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	unsigned char *rsa = NULL;
	int rc = -1;
	EVP_MD_CTX *md = NULL;

	if (!s->key) {
		err_set(e, "dkim: the signer was created without a key");
		goto out;
	}
	if (split(msg, len, &fields, &nfields, &body) < 0) {
		err_set(e, "dkim: the message does not start with header fields");
		goto out;
	}

	/* the fields to sign, each name's last unused instance first */
	int have_from = 0;
	for (size_t k = 0; k < s->nheaders; k++) {
		const char *name = s->headers[k];
		size_t nn = strlen(name);
		for (size_t j = nfields; j-- > 0;) {
			struct field *f = &fields[j];
			if (f->used || f->namelen != nn || strncasecmp(f->p, name, nn) != 0)
				continue;
			f->used = 1;
			dkim_canon_header(f->p, f->len, &hdata);
			if (h.len)
				buf_putc(&h, ':');
			buf_puts(&h, name);
			if (strcmp(name, "from") == 0)
				have_from = 1;
			break;
		}
	}
	if (!have_from) {
		err_set(e, "dkim: the message has no From field to sign");
		goto out;
	}

	/* bh= */
	dkim_canon_body(msg + body, len - body, &cbody);
	if (!EVP_Digest(cbody.data, cbody.len, digest, &dlen, EVP_sha256(), NULL)) {
		err_set(e, "dkim: sha-256 failed");
		goto out;
	}

	/* the field with an empty b= */
	struct fold f = {&sig, 0};
	buf_puts(&sig, "DKIM-Signature:");
	f.col = sig.len;
	const char *fixed = "v=1; a=rsa-sha256; c=relaxed/relaxed;";
	fold_put(&f, fixed, strlen(fixed), 1);
	buf_reset(&tmp);
	buf_printf(&tmp, "d=%s;", s->domain);
	fold_put(&f, tmp.data, tmp.len, 1);
	buf_reset(&tmp);
	buf_printf(&tmp, "s=%s;", s->selector);
	fold_put(&f, tmp.data, tmp.len, 1);
	buf_reset(&tmp);
	buf_printf(&tmp, "t=%lld;", (long long)now);
	fold_put(&f, tmp.data, tmp.len, 1);
	/* h=, broken after a colon where a line would pass the limit */
	{
		const char *p = h.data;
		int first = 1;
		while (*p) {
			const char *q = strchr(p, ':');
			size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
			buf_reset(&tmp);
			if (first)
				buf_puts(&tmp, "h=");
			buf_append(&tmp, p, n);
			if (!q)
				buf_putc(&tmp, ';');
			if (first || f.col + tmp.len <= FOLD_COLS) {
				fold_put(&f, tmp.data, tmp.len, first);
			} else {
				/* FWS is allowed after the colon of an h= list */
				buf_puts(&sig, "\r\n ");
				f.col = 1;
				fold_put(&f, tmp.data, tmp.len, 0);
			}
			first = 0;
			p += n;
		}
	}
	buf_reset(&tmp);
	buf_puts(&tmp, "bh=");
	b64(digest, dlen, &tmp);
	buf_putc(&tmp, ';');
	fold_put(&f, tmp.data, tmp.len, 1);
	fold_put(&f, "b=", 2, 1);

	/* the hashed form of this field has no CRLF (section 3.7) */
	buf_reset(&tmp);
	dkim_canon_header(sig.data, sig.len, &tmp);
	buf_append(&hdata, tmp.data, tmp.len - 2);

	size_t rlen = 0;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
	    EVP_DigestSign(md, NULL, &rlen, (const unsigned char *)hdata.data, hdata.len) != 1) {
		ERR_clear_error();
		err_set(e, "dkim: cannot start an rsa-sha256 signature");
		goto out;
	}
	rsa = xmalloc(rlen);
	if (EVP_DigestSign(md, rsa, &rlen, (const unsigned char *)hdata.data, hdata.len) != 1) {
		ERR_clear_error();
		err_set(e, "dkim: rsa-sha256 signature failed");
		goto out;
	}

	/* b=, cut to fill each line */
	buf_reset(&tmp);
	b64(rsa, rlen, &tmp);
	for (size_t i = 0; i < tmp.len;) {
		size_t room = FOLD_COLS > f.col ? FOLD_COLS - f.col : 0;
		if (room < 8) {
			buf_puts(&sig, "\r\n ");
			f.col = 1;
			continue;
		}
		size_t n = tmp.len - i < room ? tmp.len - i : room;
		buf_append(&sig, tmp.data + i, n);
		f.col += n;
		i += n;
	}
	buf_puts(&sig, "\r\n");
	buf_append(out, sig.data, sig.len);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(rsa);
	free(fields);
	buf_release(&hdata);
	buf_release(&cbody);
	buf_release(&sig);
	buf_release(&h);
	buf_release(&tmp);
	return rc;
}
